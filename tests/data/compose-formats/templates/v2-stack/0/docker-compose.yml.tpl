version: '2'
services:
  db:
    image: postgres:9.6.24
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
    volumes:
      - db-data:/var/lib/postgresql/data
      - scratch:/scratch
    secrets:
      - source: db-password
        target: db-password
    labels:
      io.rancher.sidekicks: db-net
    network_mode: "container:db-net"
    retain_ip: true
  db-net:
    image: busybox:1.36
    command: sleep 1000000
    lb_config:
      port_rules:
        - source_port: 5432
          target_port: 5432
    upgrade_strategy:
      start_first: true
    metadata:
      role: network
volumes:
  db-data:
    driver: ${STORAGE_DRIVER}
    per_container: true
    driver_opts:
{{- if ne .Values.STORAGE_OPT "" }}
      {{ .Values.STORAGE_OPT }}
{{- end }}
secrets:
  db-password:
    external: 'true'
