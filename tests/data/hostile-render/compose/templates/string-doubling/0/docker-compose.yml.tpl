services:
  web:
    image: example/web:1.0
{{- $x := "ab" }}
{{- range until 27 }}{{ $x = printf "%s%s" $x $x }}{{ end }}
    labels:
      size: "{{ len $x }}"
