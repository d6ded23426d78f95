{{- define "backup.fullname" -}}
{{- printf "%s-backup" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
