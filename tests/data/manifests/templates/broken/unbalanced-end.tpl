{{ if eq .Values.A "1" }}
one
{{ end }}
two
{{ end }}
