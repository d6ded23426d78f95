{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "neuvector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release name plus chart name, unless the release already carries it. */}}
{{- define "neuvector.fullname" -}}
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
{{- define "neuvector.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "neuvector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels; a component label is added per workload. */}}
{{- define "neuvector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "neuvector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Image reference of a component: registry/repository:tag. */}}
{{- define "neuvector.image" -}}
{{- $root := index . 0 -}}
{{- $img := index . 1 -}}
{{- printf "%s/%s:%s" $root.Values.registry $img.repository (default $root.Values.tag $img.tag) -}}
{{- end }}

{{/* Environment shared by the controller, enforcer and scanner to form the cluster. */}}
{{- define "neuvector.clusterEnv" -}}
- name: CLUSTER_JOIN_ADDR
  value: {{ include "neuvector.fullname" . }}-controller.{{ .Release.Namespace }}
- name: CLUSTER_ADVERTISED_ADDR
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: CLUSTER_BIND_ADDR
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end }}
