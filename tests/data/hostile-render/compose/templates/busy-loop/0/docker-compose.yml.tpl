services:
  web:
    image: example/web:1.0
{{- range until 10000 }}{{ $x := printf "%50000s" "" }}{{ end }}
