version: '2'
services:
  web:
    image: nginx:{{ .Values.TAG }}
    # ${COMMENTED} is in a comment
    {{/* .Values.IN_TEMPLATE_COMMENT is in a template comment */}}
    ports:
      - "{{ index .Values "PORT" }}:80"
    labels:
      host: {{ $.Values.HOST }}
      db: "${DB_HOST}:$DB_PORT"
      fallback: "${FALLBACK:-${NESTED}}"
      bare: "$${LITERAL} ${BARE}"
      undeclared: "{{ .Values.MISSPELT }}"
    environment:
      - EULA
{{- range $i, $e := until 2 }}
      - REPLICA_{{ $i }}=yes
{{- end }}
