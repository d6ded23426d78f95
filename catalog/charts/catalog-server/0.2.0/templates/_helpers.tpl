{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "catalog-server.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release name plus chart name, unless the release already carries it. */}}
{{- define "catalog-server.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "catalog-server.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "catalog-server.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels; a component label is added per workload. */}}
{{- define "catalog-server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "catalog-server.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Environment of every catalog-server container. */}}
{{- define "catalog-server.env" -}}
- name: CATALOG_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "catalog-server.fullname" . }}
      key: database-url
- name: CATALOG_SOURCES
  value: /etc/catalog/catalogs.yml
- name: CATALOG_INSTANCE_DIR
  value: /var/lib/catalog
- name: CATALOG_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
{{- end }}
