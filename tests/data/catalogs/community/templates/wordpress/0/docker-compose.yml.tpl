version: '2'
services:
  wordpress:
    image: wordpress:{{ .Values.TAG }}
{{- if eq .Values.DB "mysql" }}
    links:
      - db
{{- end }}
{{- range $i, $e := atoi .Values.N | until }}
  worker{{ $i }}:
    image: busybox
{{- end }}
