"""Our index.yaml against Helm's own ``repo index``, entry by entry.

Every chart version is packaged through the server (GET .../charts/NAME-VERSION.tgz), the
Helm SDK's ``repo_index_generate`` indexes those archives, and each entry Helm writes must
equal ours field by field apart from ``urls`` and ``created``. One more difference is
deliberate: a chart whose Chart.yaml names a catalog file as its icon
(``file://assets/logos/x.svg``, as rancher/charts does) gets a URL of this server that
serves it, where Helm copies the path no client can fetch.

Cases: every version of the bundled catalog, and ``tests/data/chart-metadata``: an
apiVersion v1 chart with requirements.yaml, a chart without apiVersion, numbers, booleans
and nulls where Helm wants text, descriptions over several lines, every Rancher and
Artifact Hub annotation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from catalog_server import helmsdk
from catalog_server.catalogs import bundled_source
from catalog_server.loaders.helm import local_icon

pytestmark = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)
ROOT = Path(__file__).parents[2]


def entries(index: dict) -> dict[tuple[str, str], dict]:
    return {(e["name"], e["version"]): e for es in index["entries"].values() for e in es}


def compare_with_helm(client, catalog: str, folder: Path) -> dict[tuple[str, str], dict]:
    """Download every archive of ``catalog``'s index into ``folder``, index them with
    Helm, and check every entry; returns our entries."""
    ours = yaml.safe_load(client.get(f"/helm/{catalog}/index.yaml").data)
    folder.mkdir()
    for listed in ours["entries"].values():
        for entry in listed:
            archive = client.get(f"/helm/{catalog}/{entry['urls'][0]}")
            assert archive.status_code == 200, entry["urls"]
            (folder / Path(entry["urls"][0]).name).write_bytes(archive.data)
    helm = yaml.safe_load(helmsdk.repo_index_generate(folder, "http://h/charts").read_text())
    ours_by_version, helm_by_version = entries(ours), entries(helm)
    assert sorted(ours_by_version) == sorted(helm_by_version)
    for key, theirs in helm_by_version.items():
        mine = ours_by_version[key]
        for field in sorted((set(mine) | set(theirs)) - {"urls", "created"}):
            if field == "icon" and local_icon(theirs.get("icon")):
                icon = client.get(f"/helm/{catalog}/{mine['icon']}")
                assert icon.status_code == 200, (key, mine["icon"])
                assert icon.content_type.startswith("image/")
                continue
            assert mine.get(field) == theirs.get(field), (key, field)
    return ours_by_version


@pytest.fixture
def bundled(app, settings):
    from catalog_server.db import db
    from catalog_server.indexer import sync_catalog

    with app.app_context():
        summary = sync_catalog(db.session, bundled_source(), cache_dir=settings.cache_dir)
    assert summary.status == "updated", summary
    return app.test_client()


def test_every_bundled_chart_version_as_helm_indexes_it(bundled, tmp_path):
    ours = compare_with_helm(bundled, "library", tmp_path / "archives")
    expected = {
        (p.parent.parent.name, p.parent.name)
        for p in (ROOT / "catalog").glob("charts/*/*/Chart.yaml")
    }
    assert set(ours) == expected


def test_fixture_charts_as_helm_indexes_them(make_catalog_repo, sync, client, tmp_path):
    repo = make_catalog_repo(fixture="chart-metadata")
    assert sync(repo.source("lib")).status == "updated"
    ours = compare_with_helm(client, "lib", tmp_path / "archives")
    legacy = ours[("legacy", "1.0.0")]
    # requirements.yaml's dependencies, as Helm reads them for apiVersion v1 charts.
    assert [d["name"] for d in legacy["dependencies"]] == ["redis", "common"]
    assert legacy["dependencies"][1]["repository"] == ""
    assert legacy["appVersion"] == "1.1" and legacy["keywords"] == ["legacy", "2", ""]
    assert legacy["description"] == "A chart written for Helm 2, over several lines. "
    assert ours[("bare", "0.1.0")]["apiVersion"] == "v1"
    assert ours[("annotated", "1.1.0")]["icon"] == "icons/charts*annotated.svg"
