"""What a plain install brings: the Helm SDK wherever PyPI has its wheel.

`make run` installs the package without the extras; Helm install manifests must render
there. The marker on the default dependency is checked against the wheels PyPI has for
helm-python-sdk 0.2.2, and an environment holding only the default dependencies (no extra)
is built from this one and renders every bundled chart version through the manifest API.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import textwrap
import tomllib
import venv
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.tags import parse_tag, sys_tags
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
SDK = "helm-python-sdk"
# The wheels of helm-python-sdk 0.2.2 on PyPI (its file list); the sdist needs Go to build.
SDK_WHEELS = [
    "helm_python_sdk-0.2.2-py3-none-manylinux_2_28_x86_64.whl",
    "helm_python_sdk-0.2.2-py3-none-manylinux_2_28_aarch64.whl",
    "helm_python_sdk-0.2.2-py3-none-macosx_15_0_x86_64.whl",
    "helm_python_sdk-0.2.2-py3-none-macosx_11_0_arm64.whl",
    "helm_python_sdk-0.2.2-py3-none-win_amd64.whl",
]


def default_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def sdk_requirement() -> Requirement:
    found = [r for r in default_requirements() if canonicalize_name(r.name) == SDK]
    assert len(found) == 1, "helm-python-sdk must be a default dependency"
    return found[0]


def wheel_fits_here() -> bool:
    here = set(sys_tags())
    for wheel in SDK_WHEELS:
        tag = wheel.removesuffix(".whl").split("-", 2)[2]
        if parse_tag(tag) & here:
            return True
    return False


def test_the_sdk_is_a_default_dependency_where_its_wheel_installs():
    requirement = sdk_requirement()
    assert requirement.marker is not None
    # On this machine: in the default set exactly when one of PyPI's wheels fits.
    assert requirement.marker.evaluate() == wheel_fits_here()
    # The installed package declares it too, outside any extra.
    declared = [
        Requirement(line)
        for line in importlib.metadata.requires("catalog-server") or []
        if canonicalize_name(Requirement(line).name) == SDK
    ]
    assert any(r.marker is None or r.marker.evaluate({"extra": ""}) for r in declared) == (
        wheel_fits_here()
    )


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"sys_platform": "linux", "platform_machine": "x86_64"}, True),
        ({"sys_platform": "linux", "platform_machine": "aarch64"}, True),
        ({"sys_platform": "linux", "platform_machine": "armv7l"}, False),
        ({"sys_platform": "linux", "platform_machine": "ppc64le"}, False),
        (
            {"sys_platform": "darwin", "platform_machine": "arm64", "platform_release": "20.1.0"},
            True,
        ),
        (
            {"sys_platform": "darwin", "platform_machine": "x86_64", "platform_release": "24.0.0"},
            True,
        ),
        # macOS 14 (Darwin 23) on Intel: the x86_64 wheel needs macOS 15.
        (
            {"sys_platform": "darwin", "platform_machine": "x86_64", "platform_release": "23.6.0"},
            False,
        ),
        ({"sys_platform": "win32", "platform_machine": "AMD64"}, True),
        ({"sys_platform": "win32", "platform_machine": "ARM64"}, False),
        ({"sys_platform": "freebsd14", "platform_machine": "amd64"}, False),
    ],
)
def test_the_marker_follows_the_wheels(environment, expected):
    marker: Marker = sdk_requirement().marker
    assert marker.evaluate({"platform_release": "", **environment}) is expected


def _closure() -> list[importlib.metadata.Distribution]:
    """catalog-server and every distribution its default requirements pull in, here."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = ["catalog-server"]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        dist = importlib.metadata.distribution(name)
        seen[name] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(seen.values())


def _default_environment(folder: Path) -> Path:
    """A virtual environment holding only the default dependency closure (no extras),
    linked from this one's installed files. Returns its python."""
    venv.create(folder, with_pip=False, symlinks=True)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    for dist in _closure():
        base = Path(dist.locate_file(""))
        tops = {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            if (base / top).exists() and not (site / top).exists():
                (site / top).symlink_to(base / top)
    return python


SCRIPT = textwrap.dedent(
    """
    import importlib.util, json, sys
    from flask_migrate import upgrade
    from catalog_server.app import create_app
    from catalog_server.catalogs import bundled_source
    from catalog_server.config import Settings
    from catalog_server.db import db
    from catalog_server.indexer import sync_catalog

    absent = [m for m in ("kubernetes_validate", "playwright", "pytest")
              if importlib.util.find_spec(m) is not None]
    settings = Settings.from_env({"CATALOG_INSTANCE_DIR": sys.argv[1], "CATALOG_STATE_TTL": "0"})
    app = create_app({"TESTING": True}, settings=settings)
    results = {}
    with app.app_context():
        upgrade()
        sync_catalog(db.session, bundled_source(), cache_dir=settings.cache_dir)
    client = app.test_client()
    listing = client.get("/api/v1/templates?kind=helm&per_page=100").get_json()
    for item in listing["items"]:
        for v in client.get(item["links"]["self"]).get_json()["versions"]:
            detail = client.get(v["links"]["self"]).get_json()
            answers = {}
            for q in detail["questions"]:
                if q.get("type") == "password":
                    answers[q["variable"]] = "correct-horse-battery"
                elif q.get("required") and q.get("default") in (None, ""):
                    answers[q["variable"]] = "https://git.example.com/an-example.git"
            answer = client.post(v["links"]["self"] + "/manifest", json={"answers": answers})
            body = answer.get_json()
            rendered = [f["path"] for f in body.get("files", [])
                        if f["path"].startswith("manifests/") and f["content"].strip()]
            results[item["id"] + "@" + v["version"]] = [answer.status_code, len(rendered),
                                                       body.get("error")]
    print(json.dumps({"unexpected_modules": absent, "results": results}))
    """
)


@pytest.mark.skipif(not wheel_fits_here(), reason="no helm-python-sdk wheel for this platform")
def test_a_plain_install_renders_every_bundled_chart_version(tmp_path):
    python = _default_environment(tmp_path / "env")
    script = tmp_path / "render_all.py"
    script.write_text(SCRIPT)
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CATALOG_", "PYTHON"))}
    done = subprocess.run(
        [python, script, str(instance)], capture_output=True, text=True, env=env, timeout=600,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # The environment really is the default set: no extra's module is importable.
    assert report["unexpected_modules"] == []
    chart_versions = sorted(
        f"charts*{p.parent.parent.name}@{p.parent.name}"
        for p in (ROOT / "catalog").glob("charts/*/*/Chart.yaml")
    )
    assert sorted(report["results"]) == chart_versions
    failed = {k: v for k, v in report["results"].items() if v[0] != 200 or v[1] == 0}
    assert failed == {}
