"""Synthetic catalogs with a realistic shape, written as git repositories.

A catalog mixes Rancher compose templates (``templates/<name>/`` with ``config.yml``, a
``catalogIcon-*.svg``, ``README.md`` and version folders ``0/``, ``1/``, ... holding
``docker-compose.yml``, ``rancher-compose.yml`` with questions and ``README.md``) and
versioned Helm charts (``charts/<name>/<version>/`` with ``Chart.yaml``, ``values.yaml``,
``values.schema.json``, ``questions.yml``, ``README.md`` and ``templates/*.yaml``).

Everything is derived from a seeded RNG, so a size always gives the same files. Commit
times are pinned, so the same size gives the same commit ids too.

Sizes (templates x versions):

- ``small``: 100 x 3 (65 compose, 35 Helm)
- ``large``: 2,000 x 5 = 10,000 versions (1,300 compose, 700 Helm = 3,500 chart versions),
  about 48,000 files: just under the indexer's 50,000-file cap (``MAX_CATALOG_FILES``).
- ``huge`` (opt-in: ``bench/run.py --only search --size huge``): 10,000 x 10 = 100,000
  versions (5,000 compose, 5,000 Helm = 50,000 chart versions), about 515,000 files and
  540 MB: indexed with ``CATALOG_MAX_FILES`` raised (the default cap is 200,000 files).

``helm-<size>`` is a Helm-only catalog holding the same chart versions as ``<size>``, and
``packaged(size)`` writes those versions as ``.tgz`` archives (``helmrepo.package_chart``)
for the ``helm repo index`` baseline.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from catalog_server.helmrepo import package_chart

GENERATOR_VERSION = "3"  # bump when the generated content changes: the cache is rebuilt
COMMIT_TIME = "2025-01-15T12:00:00+00:00"


@dataclass(frozen=True)
class Size:
    name: str
    compose: int
    helm: int
    versions: int

    @property
    def templates(self) -> int:
        return self.compose + self.helm


SIZES = {
    "small": Size("small", compose=65, helm=35, versions=3),
    "large": Size("large", compose=1300, helm=700, versions=5),
    "huge": Size("huge", compose=5000, helm=5000, versions=10),
}

WORDS = [
    "cache",
    "queue",
    "proxy",
    "gateway",
    "monitor",
    "scanner",
    "backup",
    "vault",
    "mesh",
    "broker",
    "ledger",
    "index",
    "search",
    "stream",
    "metrics",
    "tracing",
    "registry",
    "mirror",
    "relay",
    "balancer",
    "agent",
    "collector",
    "exporter",
    "operator",
    "builder",
    "runner",
    "notifier",
    "scheduler",
    "store",
    "bucket",
    "portal",
    "sentinel",
]
CATEGORIES = [
    "Load Balancing", "Databases", "Monitoring", "Security", "Logging", "Storage",
    "Networking", "CI/CD", "Messaging", "Caching", "External DNS", "Registries",
]  # fmt: skip
IMAGES = ["nginx", "redis", "postgres", "grafana/grafana", "prom/prometheus", "traefik",
          "haproxy", "neuvector/controller", "bitnami/kafka", "minio/minio"]  # fmt: skip
QUESTION_KINDS = ["string", "int", "boolean", "enum", "password", "multiline"]

SENTENCES = [
    "It runs as a single service with a health check and restarts on failure.",
    "Answers choose the published ports, the image tag and the resource limits.",
    "Data lives in a named volume, so upgrades keep it.",
    "TLS is optional: give a certificate folder on the host to turn it on.",
    "Metrics are exposed on a separate port for Prometheus to scrape.",
    "The default settings suit a small installation; raise the limits for production.",
    "Upgrades from the previous minor version are supported in place.",
    "Logs go to standard output, in JSON when the log format answer says so.",
]


def _readme(rng: random.Random, title: str, paragraphs: int) -> str:
    out = [f"# {title}", ""]
    for i in range(paragraphs):
        out.append(" ".join(rng.choice(SENTENCES) for _ in range(rng.randint(3, 7))))
        out.append("")
        if i == 1:
            out += ["## Settings", "", "| answer | meaning |", "| --- | --- |"]
            out += [f"| `{w.upper()}_{j}` | {rng.choice(SENTENCES)} |" for j, w in
                    enumerate(rng.sample(WORDS, 5))]  # fmt: skip
            out.append("")
    out += ["```sh", "curl -s http://localhost:8080/healthz", "```", ""]
    return "\n".join(out)


def _icon(rng: random.Random) -> str:
    color = f"#{rng.randrange(0x1000000):06x}"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">'
        f'<rect width="64" height="64" rx="12" fill="{color}"/>'
        f'<circle cx="32" cy="32" r="{rng.randint(10, 24)}" fill="#ffffff"/></svg>\n'
    )


def _questions(rng: random.Random, dotted: bool) -> list[dict]:
    questions = []
    for j, word in enumerate(rng.sample(WORDS, rng.randint(8, 14))):
        kind = rng.choice(QUESTION_KINDS)
        var = f"{word}.setting{j}" if dotted else f"{word.upper()}_SETTING_{j}"
        q = {"variable": var, "label": f"{word.title()} setting {j}",
             "description": rng.choice(SENTENCES), "type": kind,
             "group": rng.choice(["General", "Resources", "Security", "Storage"])}  # fmt: skip
        if kind == "int":
            q.update(default=rng.randint(1, 100), min=0, max=1000)
        elif kind == "boolean":
            q["default"] = rng.random() < 0.5
        elif kind == "enum":
            q.update(options=["low", "medium", "high"], default="medium")
        elif kind == "string":
            q["default"] = f"{word}-value"
        elif kind == "multiline":
            q["default"] = f"line one of {word}\nline two of {word}\n"
        if rng.random() < 0.3:
            q["required"] = True
        questions.append(q)
    return questions


def _yaml(data) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100)


def compose_template(rng: random.Random, name: str, versions: int) -> dict[str, str]:
    """Files of one Rancher compose template, paths relative to ``templates/<name>/``."""
    image = rng.choice(IMAGES)
    category = rng.choice(CATEGORIES)
    files = {
        "config.yml": _yaml(
            {
                "name": name.replace("-", " ").title(),
                "description": f"{name} packaged as a compose stack. {rng.choice(SENTENCES)}",
                "version": f"1.{versions - 1}.0",
                "category": category,
                "maintainer": "Platform Team <platform@example.com>",
                "license": rng.choice(["Apache-2.0", "MIT", "BSD-2-Clause"]),
                "projectURL": f"https://example.com/{name}",
                "labels": {"io.catalog.tier": rng.choice(["edge", "data", "ops"])},
            }
        ),
        f"catalogIcon-{name}.svg": _icon(rng),
        "README.md": _readme(rng, name, 3),
    }
    for i in range(versions):
        version = f"1.{i}.0"
        questions = _questions(rng, dotted=False)
        catalog = {
            "name": name,
            "version": version,
            "description": f"{name} {version}. {rng.choice(SENTENCES)}",
            "minimum_rancher_version": "v1.6.0",
            "questions": questions,
        }
        if i:
            catalog["upgrade_from"] = f">=1.0.0 <{version}"
        files[f"{i}/rancher-compose.yml"] = _yaml(
            {
                ".catalog": catalog,
                "services": {
                    "app": {
                        "scale": 1,
                        "health_check": {
                            "port": 8080,
                            "interval": 5000,
                            "response_timeout": 2000,
                            "healthy_threshold": 2,
                            "unhealthy_threshold": 3,
                        },
                    }
                },
            }  # fmt: skip
        )
        env = {q["variable"]: f"${{{q['variable']}}}" for q in questions[:6]}
        files[f"{i}/docker-compose.yml"] = _yaml(
            {
                "services": {
                    "app": {
                        "image": f"{image}:{i + 1}.{rng.randint(0, 9)}",
                        "restart": "unless-stopped",
                        "ports": ["8080:8080"],
                        "environment": env,
                        "volumes": ["data:/var/lib/app"],
                        "labels": {"io.catalog.component": name},
                        "healthcheck": {"test": ["CMD-SHELL", "true"], "interval": "10s"},
                    }
                },
                "volumes": {"data": {}},
            }
        )
        files[f"{i}/README.md"] = _readme(rng, f"{name} {version}", 2)
    return files


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Chart.Name }}
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: 8080
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
"""

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
spec:
  type: {{ .Values.service.type }}
  selector:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
"""


def helm_versions(rng: random.Random, name: str, versions: int) -> dict[str, dict[str, str]]:
    """Files of each version of one versioned Helm chart: {version: {path: text}}."""
    image = rng.choice(IMAGES)
    keywords = rng.sample(WORDS, 3)
    out = {}
    for i in range(versions):
        version = f"1.{i}.{rng.randint(0, 3)}"
        app_version = f"{i + 2}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        chart = {
            "apiVersion": "v2",
            "name": name,
            "description": f"{name}: {rng.choice(SENTENCES)}",
            "type": "application",
            "version": version,
            "appVersion": app_version,
            "kubeVersion": ">=1.25.0-0",
            "keywords": keywords,
            "home": f"https://example.com/{name}",
            "sources": [f"https://github.com/example/{name}"],
            "maintainers": [{"name": "Platform Team", "email": "platform@example.com"}],
            "icon": f"https://example.com/{name}/icon.svg",
            "annotations": {"catalog.cattle.io/display-name": name.replace("-", " ").title()},
        }
        values = {
            "replicaCount": rng.randint(1, 3),
            "image": {"repository": image, "tag": app_version, "pullPolicy": "IfNotPresent"},
            "service": {"type": "ClusterIP", "port": 80},
            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
        }
        for word in rng.sample(WORDS, 6):
            values[word] = {"enabled": rng.random() < 0.5, "setting": f"{word}-default"}
        schema = {
            "$schema": "https://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "replicaCount": {"type": "integer", "minimum": 1, "maximum": 20},
                "image": {
                    "type": "object",
                    "properties": {k: {"type": "string"} for k in values["image"]},
                },
                "service": {
                    "type": "object",
                    "properties": {
                        "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                        "port": {"type": "integer"},
                    },
                },
            },
        }
        questions = [
            {"variable": "replicaCount", "label": "Replicas", "type": "int", "default": 1,
             "min": 1, "max": 20, "required": True, "group": "Deployment"},
            {"variable": "service.type", "label": "Service type", "type": "enum",
             "options": ["ClusterIP", "NodePort", "LoadBalancer"], "default": "ClusterIP",
             "group": "Deployment"},
        ]  # fmt: skip
        for word in [w for w in values if isinstance(values[w], dict) and "enabled" in values[w]]:
            questions.append({"variable": f"{word}.enabled", "label": f"Enable {word}",
                              "type": "boolean", "default": values[word]["enabled"],
                              "group": "Features"})  # fmt: skip
            questions.append({"variable": f"{word}.setting", "label": f"{word} setting",
                              "type": "string", "default": values[word]["setting"],
                              "show_if": f"{word}.enabled=true", "group": "Features"})  # fmt: skip
        out[version] = {
            "Chart.yaml": _yaml(chart),
            "values.yaml": _yaml(values),
            "values.schema.json": json.dumps(schema, indent=2) + "\n",
            "questions.yml": _yaml(
                {
                    "categories": [rng.choice(CATEGORIES)],
                    "namespace": name,
                    "questions": questions,
                }  # fmt: skip
            ),
            "README.md": _readme(rng, f"{name} chart {version}", 3),
            "templates/deployment.yaml": DEPLOYMENT,
            "templates/service.yaml": SERVICE,
        }
    return out


def _names(size: Size) -> tuple[list[str], list[str]]:
    compose = [f"{WORDS[i % len(WORDS)]}-{i:04d}" for i in range(size.compose)]
    helm = [f"{WORDS[(i * 7) % len(WORDS)]}-chart-{i:04d}" for i in range(size.helm)]
    return compose, helm


def catalog_files(size: Size, *, compose: bool = True, helm: bool = True):
    """Yield (path, text) of every file of the catalog."""
    compose_names, helm_names = _names(size)
    yield "README.md", f"# Synthetic catalog {size.name}\n\nGenerated by bench/catalog_gen.py.\n"
    if compose:
        for name in compose_names:
            rng = random.Random(f"compose:{name}")
            for rel, text in compose_template(rng, name, size.versions).items():
                yield f"templates/{name}/{rel}", text
    if helm:
        for name in helm_names:
            rng = random.Random(f"helm:{name}")
            for version, files in helm_versions(rng, name, size.versions).items():
                for rel, text in files.items():
                    yield f"charts/{name}/{version}/{rel}", text


def git(repo: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_DATE=COMMIT_TIME, GIT_COMMITTER_DATE=COMMIT_TIME,
               GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
               GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")  # fmt: skip
    done = subprocess.run(
        ["git", "-c", "gc.auto=0", *args], cwd=repo, env=env, check=True, capture_output=True
    )
    return done.stdout.decode().strip()


def build_repo(target: Path, files) -> str:
    """Write ``files`` into a new git repository at ``target``; return the commit id.

    The repository is packed (``git gc``), as a fetched catalog is.
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    git(target, "init", "-q", "-b", "main")
    for rel, text in files:
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "synthetic catalog")
    git(target, "gc", "-q")
    git(target, "tag", "base")
    (target / ".git" / "bench-generator").write_text(GENERATOR_VERSION)
    return git(target, "rev-parse", "HEAD")


def ensure_repo(out: Path, name: str) -> Path:
    """The catalog repository ``name`` (``small``, ``large``, ``helm-large``, ...) under
    ``out``, generated once and reused while the generator is unchanged; always reset to
    its generated commit (the incremental runs add commits)."""
    target = out / name
    marker = target / ".git" / "bench-generator"
    helm_only = name.startswith("helm-")
    size = SIZES[name.removeprefix("helm-")]
    if not (marker.exists() and marker.read_text() == GENERATOR_VERSION):
        build_repo(target, catalog_files(size, compose=not helm_only))
    else:
        git(target, "reset", "-q", "--hard", "base")
        git(target, "clean", "-qfdx")
    return target


def packaged(out: Path, name: str) -> tuple[Path, int]:
    """Every chart version of size ``name`` as ``<chart>-<version>.tgz`` in one folder
    (made once, like ensure_repo). Returns the folder and the number of archives."""
    size = SIZES[name]
    target = out / f"helm-{name}-packages"
    marker = target / ".bench-generator"
    if marker.exists() and marker.read_text() == GENERATOR_VERSION:
        return target, len(list(target.glob("*.tgz")))
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    _, helm_names = _names(size)
    count = 0
    for chart in helm_names:
        rng = random.Random(f"helm:{chart}")
        for version, files in helm_versions(rng, chart, size.versions).items():
            items = [(rel, text.encode()) for rel, text in sorted(files.items())]
            data = package_chart(chart, items, 1736942400)
            (target / f"{chart}-{version}.tgz").write_bytes(data)
            count += 1
    marker.write_text(GENERATOR_VERSION)
    return target, count


def change_one_template(repo: Path, n: int) -> str:
    """Commit a change to one compose template (a question default and its README).
    Returns the commit id."""
    templates = sorted(p for p in (repo / "templates").iterdir() if p.is_dir())
    folder = templates[(n * 37) % len(templates)]
    readme = folder / "0" / "README.md"
    readme.write_text(readme.read_text() + f"\nChanged by bench run {n}.\n")
    config = folder / "config.yml"
    config.write_text(config.read_text().replace("description: ", f"description: (rev {n}) ", 1))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"change {folder.name} ({n})")
    return git(repo, "rev-parse", "HEAD")


def change_one_chart(repo: Path, n: int) -> str:
    """Commit a change to one chart version (its README, which its archive holds, so its
    digest changes). Returns the commit id."""
    charts = sorted(p for p in (repo / "charts").iterdir() if p.is_dir())
    chart = charts[(n * 37) % len(charts)]
    version = sorted(p for p in chart.iterdir() if p.is_dir())[0]
    readme = version / "README.md"
    readme.write_text(readme.read_text() + f"\nChanged by bench run {n}.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"change {chart.name} {version.name} ({n})")
    return git(repo, "rev-parse", "HEAD")


if __name__ == "__main__":
    import sys
    import time

    out = Path(__file__).resolve().parent / "out"
    for which in sys.argv[1:] or ["small"]:
        started = time.monotonic()
        path = ensure_repo(out, which)
        print(f"{which}: {path} in {time.monotonic() - started:.1f}s")
