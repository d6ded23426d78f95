version: '2'
services:
  web:
    image: example/web:{{ .Values.IMAGE_TAG }}
    ports:
    - ${HTTP_PORT}:8080/tcp
  {{- if eq .Values.TLS_ENABLED "true" }}
    - ${HTTPS_PORT}:8443/tcp
  {{- end }}
    labels:
      io.rancher.container.agent.role: {{ if eq .Values.MODE "fast" "turbo" }}environment{{ else }}none{{ end }}
    {{- if or (eq .Values.TLS_ENABLED "true") (ne .Values.EXTRA_FLAGS "") }}
      io.rancher.sidekicks: {{ if eq .Values.TLS_ENABLED "true" }}tls{{ end }}
    {{- end }}
    environment:
    - STACK={{ .Stack.Name }}
    {{- if contains "debug" .Values.EXTRA_FLAGS }}
    - LOG_LEVEL=debug
    {{- end }}
  {{- range $i, $e := atoi .Values.WORKERS | until }}
  worker-{{ add1 $i }}:
    image: example/worker:{{ $.Values.IMAGE_TAG }}
    command: {{ printf "%q" (printf "work --shard=%d" $i) }}
  {{- end }}
  {{- if eq .Values.TLS_ENABLED "true" }}
  tls:
    image: example/tls:2.0
    network_mode: none
  {{- end }}
