version: '2'
services:
  proxy:
    image: example/proxy:1.7.0
    ports:
    - ${http_port}:${http_port}/tcp
  {{- if ne .Values.https_enable "false" }}
    - ${https_port}:${https_port}/tcp
  {{- end }}
    labels:
      io.rancher.scheduler.global: 'true'
      io.rancher.container.agent.role: {{ if eq .Values.integration "api" "metadata" }}environment{{ else }}none{{ end }}
    {{- if or (eq .Values.integration "external") (eq .Values.acme_enable "true") }}
      io.rancher.sidekicks:
        {{- if eq .Values.integration "external" }} proxy-conf
            {{- if eq .Values.acme_enable "true" -}},{{- end -}}
        {{- end -}}
        {{- if eq .Values.acme_enable "true" -}}
            {{- if ne .Values.integration "external" }} proxy-acme
            {{- else -}}proxy-acme
            {{- end -}}
        {{- end -}}
    {{- end }}
    environment:
    - PROXY_HTTP_PORT=${http_port}
  {{- if ne .Values.trusted_ips "" }}
    - PROXY_TRUSTED_IPS=${trusted_ips}
  {{- end }}
  {{- /* the ACME settings only matter with a sidekick */}}
  {{- if eq .Values.acme_enable "true" }}
    - PROXY_ACME_EMAIL=${acme_email}
  {{- end }}
  {{- if eq .Values.integration "external" }}
  proxy-conf:
    image: example/proxy-conf:1.6.0
    network_mode: none
  {{- end }}
  {{- if eq .Values.acme_enable "true" }}
  proxy-acme:
    image: example/volume:0.0.2
    network_mode: none
  {{- end }}
