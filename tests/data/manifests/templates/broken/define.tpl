{{ define "name" }}web{{ end }}
services:
  {{ template "name" }}: {}
