services:
  web:
    image: {{ .Values.IMAGE | toYaml }}
