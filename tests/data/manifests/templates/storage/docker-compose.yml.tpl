{{- /* Disks per server, named from a volume driver prefix or numbered volumes. */ -}}
version: '2'
services:
  {{- $servers := atoi .Values.SERVERS }}
  {{- range $i, $e := until $servers }}
  store-{{ add1 $i }}:
    image: example/store:{{ $.Values.VERSION }}
    volumes:
    {{- if eq (printf "%.1s" $.Values.VOLUME_DRIVER) "/" }}
      {{- range $idx, $d := atoi $.Values.DISKS | until }}
      - ${VOLUME_DRIVER}/disk{{ $idx }}:/data/disk{{ $idx }}
      {{- end }}
    {{- else }}
      {{- range $idx, $d := atoi $.Values.DISKS | until }}
      - {{ printf "store-%d-data-%d" $e $idx }}:/data/disk{{ $idx }}
      {{- end }}
    {{- end }}
    command: {{ printf "%q" (printf "serve --peers=%d" $servers) }}
    {{- if contains "debug" $.Values.EXTRA_FLAGS }}
    environment:
      - LOG_LEVEL=debug
    {{- end }}
  {{- else }}
  placeholder:
    image: example/pause
  {{- end }}
