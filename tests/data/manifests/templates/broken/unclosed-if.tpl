services:
  web:
    image: nginx
{{ if eq .Values.A "1" }}
    tty: true
