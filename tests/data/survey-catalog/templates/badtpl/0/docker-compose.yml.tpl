services:
  web:
    image: nginx:{{ .Values.NAME | nosuchfunction }}
