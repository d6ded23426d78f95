version: '2'
services:
  web:
    image: example/web:1.0
{{ template "extra" . }}
