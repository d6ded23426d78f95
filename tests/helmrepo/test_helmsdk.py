"""Our archives and index against Helm's own code, through the optional Helm SDK.

Without the SDK only the "missing" behaviour is tested; the rest skips. To run it all:
``pip install 'catalog-server[helm]'`` (``make helm``).
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from catalog_server import helmsdk
from catalog_server.helmrepo import (
    chart_digest,
    index_entry,
    package_chart,
    render_index,
    rfc3339,
)
from catalog_server.problems import CatalogError

MTIME = 1_700_000_000


def chart_files(name: str, version: str) -> list[tuple[str, bytes]]:
    chart_yaml = (
        f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '1.0'\n"
        "description: 'A chart: for tests'\nicon: https://example.com/icon.svg\n"
    )
    return [
        ("Chart.yaml", chart_yaml.encode()),
        ("values.yaml", b"replicas: 1\n"),
        (
            "templates/configmap.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
            b"  namespace: {{ .Release.Namespace }}\ndata:\n"
            b"  replicas: {{ .Values.replicas | quote }}\n",
        ),
        ("templates/NOTES.txt", b"Installed {{ .Release.Name }}.\n"),
        ("templates/.hidden", b"left out by Helm's default rule"),
    ]


def test_missing_sdk_is_reported_clearly(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(helmsdk, "_import", lambda: (None, "No module named 'helm_python'"))
    assert not helmsdk.available()
    assert "pip install 'catalog-server[helm]'" in helmsdk.missing_message()
    assert "make helm" in helmsdk.missing_message()
    for call in (
        lambda: helmsdk.lint("."),
        lambda: helmsdk.render(".", {}, "r", "n"),
        lambda: helmsdk.repo_index_generate(".", "http://x"),
        lambda: helmsdk.repo_index("http://x"),
        lambda: helmsdk.pull("a", "http://x", None, "."),
    ):
        with pytest.raises(helmsdk.HelmSDKMissing) as info:
            call()
        assert isinstance(info.value, CatalogError)


@pytest.fixture
def sdk():
    # Rather than pytest.importorskip("helm_python"): an installed wheel whose native
    # library fails to load raises HelmLibraryError on import, which importorskip would
    # turn into an error; helmsdk.available() treats it as missing, as the service does.
    if not helmsdk.available():
        pytest.skip(f"Helm SDK tests: {helmsdk.missing_message()}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on localhost, as a chart repository."""
    root = tmp_path / "repo"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.usefixtures("sdk")
def test_helm_loads_and_renders_our_archive(tmp_path: Path):
    archive = tmp_path / "demo-1.2.3.tgz"
    archive.write_bytes(package_chart("demo", chart_files("demo", "1.2.3"), MTIME))
    manifests = helmsdk.render(archive, {"replicas": 3}, "rel", "ns")
    assert 'replicas: "3"' in manifests["demo/templates/configmap.yaml"]
    assert "namespace: ns" in manifests["demo/templates/configmap.yaml"]
    # From bytes too, and Helm lints the archive clean of errors.
    assert helmsdk.render(archive.read_bytes(), {}, "rel", "ns").keys() == manifests.keys()
    assert [f for f in helmsdk.lint(archive) if f["severity"] == "error"] == []


@pytest.mark.usefixtures("sdk")
def test_lint_reports_findings_and_unreadable_charts(tmp_path: Path):
    chart = tmp_path / "bad"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: bad\nversion: 1.0.0\nappVersion: 1.1\n"
    )
    (chart / "templates" / "x.yaml").write_text("{{ .Values.a.b }}\n")
    findings = helmsdk.lint(chart)
    assert {"severity": "info", "path": "Chart.yaml", "message": "icon is recommended"} in findings
    assert any(f["severity"] == "error" and "appVersion" in f["message"] for f in findings)
    missing = helmsdk.lint(tmp_path / "nowhere")
    assert missing and missing[0]["severity"] == "error" and missing[0]["path"] == ""


@pytest.mark.usefixtures("sdk")
def test_render_failure_carries_helms_message(tmp_path: Path):
    files = [*chart_files("demo", "1.0.0"), ("templates/bad.yaml", b"{{ .Values.a.b }}\n")]
    with pytest.raises(helmsdk.HelmError, match="nil pointer"):
        helmsdk.render(package_chart("demo", files, MTIME), {}, "rel", "ns")


@pytest.mark.usefixtures("sdk")
def test_helm_repo_index_agrees_with_our_digests(served: tuple[Path, str]):
    root, url = served
    ours: dict[str, list[dict]] = {}
    for name, version in [("alpha", "1.0.0"), ("alpha", "1.10.0"), ("beta", "0.1.0-rc.1")]:
        data = package_chart(name, chart_files(name, version), MTIME)
        (root / f"{name}-{version}.tgz").write_bytes(data)
        chart = yaml.safe_load(dict(chart_files(name, version))["Chart.yaml"])
        ours.setdefault(name, []).append(
            index_entry(
                chart,
                digest=chart_digest(data),
                created=rfc3339(MTIME),
                urls=[f"{url}/{name}-{version}.tgz"],
            )
        )
    helm_index = yaml.safe_load(helmsdk.repo_index_generate(root, url).read_text())
    for name, versions in ours.items():
        helm_versions = helm_index["entries"][name]
        assert {v["version"]: v["digest"] for v in helm_versions} == {
            v["version"]: v["digest"] for v in versions
        }

    # Helm's strict client parses our index.yaml and sees what we wrote, in our order.
    (root / "index.yaml").write_text(render_index(ours, rfc3339(MTIME)))
    parsed = helmsdk.repo_index(url)
    assert [v["version"] for v in parsed["entries"]["alpha"]] == ["1.10.0", "1.0.0"]
    for name, versions in ours.items():
        for mine, helms in zip(versions, parsed["entries"][name], strict=False):
            if mine["version"] == helms["version"]:
                assert {k: helms[k] for k in mine if k != "created"} == {
                    k: v for k, v in mine.items() if k != "created"
                }

    pulled = helmsdk.pull("alpha", url, "1.0.0", root / "pulled")
    assert pulled.name == "alpha-1.0.0.tgz"
    assert chart_digest(pulled.read_bytes()) == ours["alpha"][0]["digest"]
    with pytest.raises(helmsdk.HelmError, match="not found"):
        helmsdk.pull("nope", url, None, root / "pulled")
