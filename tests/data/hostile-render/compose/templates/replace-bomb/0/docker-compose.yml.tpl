services:
  web:
    image: example/web:1.0
{{- $long := replace "" (printf "%10000s" "") (printf "%100000s" "") }}
    labels:
      size: "{{ len $long }}"
