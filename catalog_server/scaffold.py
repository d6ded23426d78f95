"""`catalog-server new compose NAME` / `new helm NAME`: start a template that passes lint.

The compose template goes to `templates/<name>/` (config.yml, icon, README, version `0/`
with docker-compose.yml and rancher-compose.yml); the Helm chart to
`charts/<name>/0.1.0/` (Chart.yaml, values.yaml, questions.yml, templates/, README.md).
Both pass `catalog-server lint --strict` as written; an existing folder is never touched.
"""

from __future__ import annotations

import re
from pathlib import Path

# A template name: lower-case letters, digits and '-', at most 53 characters.
TEMPLATE_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?")

_ICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">
  <rect x="4" y="4" width="56" height="56" rx="10" fill="#2453ff"/>
  <text x="32" y="42" font-size="28" text-anchor="middle" fill="#fff">{letter}</text>
</svg>
"""


def compose_files(name: str) -> dict[str, str]:
    """The files of a new compose template, by path relative to the catalog root."""
    title = name.replace("-", " ").title()
    base = f"templates/{name}"
    return {
        f"{base}/config.yml": (
            f"name: {title}\n"
            f"description: {title}, served by nginx. Replace with what the template installs.\n"
            "version: 0.1.0\n"
            "category: Uncategorized\n"
            "maintainer: Your Team <team@example.com>\n"
            "license: Apache-2.0\n"
            "projectURL: https://example.com/\n"
        ),
        f"{base}/catalogIcon-{name}.svg": _ICON.format(letter=title[:1]),
        f"{base}/README.md": f"# {title}\n\nWhat it installs, what to answer, how to use it.\n",
        f"{base}/0/README.md": f"# {title} 0.1.0\n\nFirst version.\n",
        f"{base}/0/docker-compose.yml": (
            "services:\n"
            "  web:\n"
            "    image: nginx:1.27.5\n"
            "    restart: unless-stopped\n"
            "    ports:\n"
            '      - "${HTTP_PORT:-8080}:80"\n'
        ),
        f"{base}/0/rancher-compose.yml": (
            "version: '2'\n"
            ".catalog:\n"
            f"  name: {title}\n"
            "  version: 0.1.0\n"
            f"  description: {title} 0.1.0\n"
            "  minimum_rancher_version: v1.6.0\n"
            "  questions:\n"
            "    - variable: HTTP_PORT\n"
            "      label: HTTP port\n"
            "      description: Host port the web server listens on.\n"
            "      type: int\n"
            "      default: 8080\n"
            "      min: 1\n"
            "      max: 65535\n"
            "      required: true\n"
        ),
    }


def helm_files(name: str) -> dict[str, str]:
    """The files of a new versioned Helm chart, by path relative to the catalog root."""
    title = name.replace("-", " ").title()
    base = f"charts/{name}/0.1.0"
    return {
        f"{base}/Chart.yaml": (
            "apiVersion: v2\n"
            f"name: {name}\n"
            f"description: {title}. Replace with what the chart installs.\n"
            "type: application\n"
            "version: 0.1.0\n"
            'appVersion: "1.27.5"\n'
            "home: https://example.com/\n"
            "icon: https://example.com/icon.svg\n"
            "maintainers:\n"
            "  - name: Your Team\n"
            "    email: team@example.com\n"
        ),
        f"{base}/values.yaml": ('image:\n  repository: nginx\n  tag: "1.27.5"\nreplicaCount: 1\n'),
        f"{base}/questions.yml": (
            "questions:\n"
            "  - variable: replicaCount\n"
            "    label: Replicas\n"
            "    description: How many pods to run.\n"
            "    type: int\n"
            "    default: 1\n"
            "    min: 1\n"
            "    max: 10\n"
        ),
        f"{base}/README.md": f"# {title}\n\nWhat it installs, what to answer, how to use it.\n",
        f"{base}/app-readme.md": f"{title}: one paragraph for the catalog page.\n",
        f"{base}/templates/deployment.yaml": (
            "apiVersion: apps/v1\n"
            "kind: Deployment\n"
            "metadata:\n"
            "  name: {{ .Release.Name }}\n"
            "spec:\n"
            "  replicas: {{ .Values.replicaCount }}\n"
            "  selector:\n"
            "    matchLabels:\n"
            "      app: {{ .Release.Name }}\n"
            "  template:\n"
            "    metadata:\n"
            "      labels:\n"
            "        app: {{ .Release.Name }}\n"
            "    spec:\n"
            "      containers:\n"
            "        - name: web\n"
            '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
        ),
    }


def write_template(catalog: Path, files: dict[str, str]) -> list[Path]:
    """Write `files` under `catalog`; raise FileExistsError, writing nothing, if the
    template's folder exists."""
    top = catalog / Path(next(iter(files))).parts[0] / Path(next(iter(files))).parts[1]
    if top.exists():
        raise FileExistsError(f"{top} already exists; pick another name")
    written = []
    for rel, text in files.items():
        target = catalog / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
