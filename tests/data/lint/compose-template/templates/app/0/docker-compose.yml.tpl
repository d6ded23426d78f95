services:
  web:
    image: nginx:1.27.5
{{- if eq .Values.HTTP_PORT "80" }}
    ports:
      - "{{ .Values.HTTP_PORT }}:80"
