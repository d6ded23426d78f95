"""Signed charts: with a throwaway GnuPG key, every archive the server serves comes with a
provenance file that the Helm SDK's `verify` accepts against the served public key, over the
chart repository and over OCI; a tampered archive is refused; the provenance is made once,
at sync, and served the same by every replica; without a key nothing changes."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from catalog_server import helmsdk, scheduler
from catalog_server.app import create_app
from catalog_server.cli import main
from catalog_server.config import ConfigError, Settings
from catalog_server.db import db
from catalog_server.docs.pages import page_dir
from catalog_server.docs.store import update_site
from catalog_server.models import (
    Catalog,
    ChartProvenance,
    SigningKeyRow,
    Template,
    TemplateVersion,
)
from catalog_server.oci import PROVENANCE_LAYER
from catalog_server.signing import Signer, SigningError, sign_key_annotation

ROOT = Path(__file__).resolve().parents[1]
SIGNER = "Catalog Signing <signing@example.com>"
ROTATED = "Rotated Key <rotated@example.com>"
LOCKED = "Locked Key <locked@example.com>"
PASSPHRASE = "correct horse battery staple"
CHARTS = 6  # chart versions in the oci-catalog fixture

pytestmark = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)


@dataclasses.dataclass
class Keys:
    keyring: Path  # binary secret keyring: SIGNER and ROTATED
    locked: Path  # binary secret keyring: LOCKED, protected by PASSPHRASE
    passphrase_file: Path
    fingerprints: dict[str, str]


@pytest.fixture(scope="module")
def keys(module_gpg, tmp_path_factory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    fingerprints = {
        SIGNER: module_gpg.make_key(SIGNER, "rsa2048"),  # as Helm's own docs make one
        ROTATED: module_gpg.make_key(ROTATED, "ed25519"),
        LOCKED: module_gpg.make_key(LOCKED, "ed25519", passphrase=PASSPHRASE),
    }
    keyring = module_gpg.secret_keyring(folder / "secring.gpg", SIGNER, ROTATED)
    locked = module_gpg.secret_keyring(folder / "locked.gpg", LOCKED, passphrase=PASSPHRASE)
    passphrase_file = folder / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    return Keys(keyring, locked, passphrase_file, fingerprints)


def signing(settings: Settings, keys: Keys, identity: str | None = SIGNER, **kw) -> Settings:
    if identity is None:
        return dataclasses.replace(settings, signing_keyring=None, signing_key=None)
    return dataclasses.replace(settings, signing_keyring=keys.keyring, signing_key=identity, **kw)


def sync_with(app, settings: Settings, source, **kw):
    with app.app_context():
        summary = scheduler.sync_one(db.session, settings, source, **kw)
    assert summary.status != "failed", summary
    return summary


def index_of(client, catalog: str) -> dict:
    return yaml.safe_load(client.get(f"/helm/{catalog}/index.yaml").get_data(True))["entries"]


def keyring_from_server(client, gpg, catalog: str, target: Path) -> Path:
    """What a user does: fetch the armored public key and dearmor it with gpg."""
    response = client.get(f"/helm/{catalog}/public-key.asc")
    assert response.status_code == 200
    assert response.content_type == "application/pgp-keys"
    target.write_bytes(gpg.dearmor(response.data))
    return target


@pytest.fixture
def bundled(make_catalog_repo):
    repo = make_catalog_repo()
    shutil.copytree(ROOT / "catalog", repo.path, dirs_exist_ok=True)
    repo.commit("the bundled catalog")
    return repo


def test_helm_verifies_every_served_archive(app, client, settings, keys, bundled, gpg, tmp_path):
    summary = sync_with(app, signing(settings, keys), bundled.source("library"))
    chart_versions = len(list((ROOT / "catalog" / "charts").glob("*/*/Chart.yaml")))
    assert summary.signed == chart_versions
    assert summary.signing_key == keys.fingerprints[SIGNER]
    keyring = keyring_from_server(client, gpg, "library", tmp_path / "library.gpg")
    checked = 0
    for name, versions in index_of(client, "library").items():
        for entry in versions:
            folder = tmp_path / name / entry["version"]
            folder.mkdir(parents=True)
            archive = folder / entry["urls"][0].rpartition("/")[2]
            archive.write_bytes(client.get(f"/helm/library/{entry['urls'][0]}").data)
            prov = client.get(f"/helm/library/{entry['urls'][0]}.prov")
            assert prov.status_code == 200
            archive.with_name(archive.name + ".prov").write_bytes(prov.data)
            verified = helmsdk.verify(archive, keyring)
            assert verified["signed_by"] == [SIGNER]
            assert verified["file_hash"] == "sha256:" + entry["digest"]
            assert verified["file_name"] == archive.name
            checked += 1
    assert checked == chart_versions

    # A tampered archive is refused, and so is a good one checked against another key.
    good = tmp_path / "grafana/1.1.0/grafana-1.1.0.tgz"
    stranger = gpg.make_key("Stranger <stranger@example.com>")
    other = gpg.public_keyring(tmp_path / "other.gpg", stranger)
    with pytest.raises(helmsdk.HelmError, match="unknown entity|signature"):
        helmsdk.verify(good, other)
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    good.write_bytes(bytes(data))
    with pytest.raises(helmsdk.HelmError, match="sha256 sum does not match"):
        helmsdk.verify(good, keyring)


def test_oci_carries_the_provenance_layer(
    app, client, settings, keys, make_catalog_repo, gpg, tmp_path, helm_home, http_server
):
    repo = make_catalog_repo(fixture="oci-catalog")
    sync_with(app, signing(settings, keys), repo.source("odd"))
    keyring = keyring_from_server(client, gpg, "odd", tmp_path / "odd.gpg")
    with http_server(app) as host:
        for name, versions in index_of(client, "odd").items():
            for entry in versions:
                manifest = json.loads(
                    client.get(
                        f"/v2/odd/{name}/manifests/{entry['version'].replace('+', '_')}"
                    ).data
                )
                [layer] = [x for x in manifest["layers"] if x["mediaType"] == PROVENANCE_LAYER]
                prov = client.get(f"/v2/odd/{name}/blobs/{layer['digest']}").data
                assert prov == client.get(f"/helm/odd/{entry['urls'][0]}.prov").data
                archive = helmsdk.pull_oci(
                    f"oci://{host}/odd/{name}",
                    entry["version"],
                    tmp_path / name / entry["version"],
                    plain_http=True,
                )
                archive.with_name(archive.name + ".prov").write_bytes(prov)
                assert helmsdk.verify(archive, keyring)["signed_by"] == [SIGNER]


def test_provenance_is_made_once_and_served_alike_by_every_replica(
    app, client, settings, keys, make_catalog_repo
):
    repo = make_catalog_repo(fixture="oci-catalog")
    signed = signing(settings, keys)
    assert sync_with(app, signed, repo.source("odd")).signed == CHARTS
    url = "/helm/odd/charts/plus-1.1.0.tgz.prov"
    first = client.get(url).data
    assert client.get(url).data == first
    # Another replica: its own app and process state, the same database.
    replica = create_app({"TESTING": True}, settings=settings)
    try:
        assert replica.test_client().get(url).data == first
    finally:
        with replica.app_context():
            db.session.remove()
            db.engine.dispose()
    # Syncing again, even reloading everything, signs nothing again.
    assert sync_with(app, signed, repo.source("odd"), force=True).signed == 0
    assert client.get(url).data == first
    # A change to one chart signs only its new archive.
    chart = repo.path / "charts/legacy/0.1.0/Chart.yaml"
    chart.write_text(chart.read_text().replace("A Helm 2 chart", "An old chart"))
    repo.commit("legacy: describe it")
    assert sync_with(app, signed, repo.source("odd")).signed == 1
    assert client.get(url).data == first
    with app.app_context():
        assert db.session.query(ChartProvenance).count() == CHARTS  # the old archive's is gone


def test_without_a_key_nothing_changes_and_signing_follows_the_settings(
    app, client, settings, keys, make_catalog_repo, gpg, tmp_path
):
    repo = make_catalog_repo(fixture="oci-catalog")
    source = repo.source("odd")
    plain = sync_with(app, signing(settings, keys, None), source)
    assert (plain.signed, plain.signing_key) == (0, None)
    manifest = client.get("/v2/odd/plus/manifests/1.1.0").data
    assert client.get("/helm/odd/charts/plus-1.1.0.tgz.prov").status_code == 404
    assert client.get("/helm/odd/public-key.asc").status_code == 404
    assert PROVENANCE_LAYER not in manifest.decode()
    with app.app_context():
        assert db.session.query(SigningKeyRow).count() == 0

    # A key configured later: the unchanged catalog is signed at the next sync.
    later = sync_with(app, signing(settings, keys), source)
    assert (later.status, later.signed, later.served_changed) == ("up to date", CHARTS, True)
    signed_manifest = json.loads(client.get("/v2/odd/plus/manifests/1.1.0").data)
    assert [layer["mediaType"] for layer in signed_manifest["layers"]].count(PROVENANCE_LAYER) == 1
    assert sync_with(app, signing(settings, keys), source).served_changed is False

    # Rotating the key signs everything again with the new one.
    rotated = sync_with(app, signing(settings, keys, ROTATED), source)
    assert (rotated.signed, rotated.signing_key) == (CHARTS, keys.fingerprints[ROTATED])
    keyring = keyring_from_server(client, gpg, "odd", tmp_path / "rotated.gpg")
    archive = tmp_path / "plus-1.1.0.tgz"
    archive.write_bytes(client.get("/helm/odd/charts/plus-1.1.0.tgz").data)
    archive.with_name("plus-1.1.0.tgz.prov").write_bytes(
        client.get("/helm/odd/charts/plus-1.1.0.tgz.prov").data
    )
    assert helmsdk.verify(archive, keyring)["signed_by"] == [ROTATED]

    # Turning signing off again: no provenance, no key, the manifest as it was unsigned.
    off = sync_with(app, signing(settings, keys, None), source)
    assert (off.signing_key, off.served_changed) == (None, True)
    assert client.get("/helm/odd/charts/plus-1.1.0.tgz.prov").status_code == 404
    assert client.get("/v2/odd/plus/manifests/1.1.0").data == manifest
    with app.app_context():
        assert db.session.query(ChartProvenance).count() == 0


def test_a_protected_key_needs_its_passphrase_file(
    app, client, cli_env, keys, make_catalog_repo, tmp_path, gpg
):
    repo = make_catalog_repo(fixture="oci-catalog")
    sources = tmp_path / "catalogs.yaml"
    sources.write_text(f"catalogs:\n  - name: odd\n    url: {repo.path}\n")
    env = cli_env | {
        "CATALOG_SOURCES": str(sources),
        "CATALOG_SIGNING_KEYRING": str(keys.locked),
        "CATALOG_SIGNING_KEY": "locked@example.com",
    }
    refused = CliRunner().invoke(main, ["sync"], env=env)
    assert refused.exit_code == 1
    assert "CATALOG_SIGNING_PASSPHRASE_FILE" in refused.output
    assert client.get("/helm/odd/index.yaml").status_code == 404  # nothing was indexed
    env["CATALOG_SIGNING_PASSPHRASE_FILE"] = str(keys.passphrase_file)
    done = CliRunner().invoke(main, ["sync", "--json"], env=env)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output.splitlines()[0])
    assert (summary["signed"], summary["signing_key"]) == (CHARTS, keys.fingerprints[LOCKED])
    keyring = keyring_from_server(client, gpg, "odd", tmp_path / "locked-pub.gpg")
    archive = tmp_path / "bigapp-1.0.0.tgz"
    archive.write_bytes(client.get("/helm/odd/charts/bigapp-1.0.0.tgz").data)
    archive.with_name(archive.name + ".prov").write_bytes(
        client.get("/helm/odd/charts/bigapp-1.0.0.tgz.prov").data
    )
    assert helmsdk.verify(archive, keyring)["signed_by"] == [LOCKED]


def test_signing_settings_that_cannot_work_say_why(keys, tmp_path, module_gpg):
    with pytest.raises(ConfigError, match="go together"):
        Settings.from_env({"CATALOG_SIGNING_KEYRING": str(keys.keyring)})
    with pytest.raises(ConfigError, match="go together"):
        Settings.from_env({"CATALOG_SIGNING_KEY": SIGNER})
    with pytest.raises(SigningError, match="cannot read the signing keyring"):
        Signer.load(tmp_path / "missing.gpg", SIGNER)
    armored = tmp_path / "armored.asc"
    armored.write_bytes(module_gpg.run("--armor", "--export-secret-keys", SIGNER))
    with pytest.raises(SigningError, match="ASCII-armored"):
        Signer.load(armored, SIGNER)
    with pytest.raises(SigningError, match="no key in the keyring has a user ID containing"):
        Signer.load(keys.keyring, "nobody@example.com")
    with pytest.raises(SigningError, match="2 keys"):
        Signer.load(keys.keyring, "example.com")
    signer = Signer.load(keys.keyring, "signing@")
    assert (signer.fingerprint, signer.user_id) == (keys.fingerprints[SIGNER], SIGNER)
    assert sign_key_annotation(signer.fingerprint, "https://h/helm/x/public-key.asc") == (
        f"fingerprint: {signer.fingerprint.upper()}\nurl: https://h/helm/x/public-key.asc\n"
    )


def test_the_site_shows_the_signed_mark_and_the_fingerprint(app, settings, keys, make_catalog_repo):
    """The served site follows the signing: signing is not a change of any template, so the
    stored pages must notice it by themselves."""
    repo = make_catalog_repo(fixture="oci-catalog")
    source = repo.source("odd")
    client = app.test_client()

    def page() -> str:
        with app.app_context():
            update_site(db.session, settings.cache_dir)  # as `catalog-server sync` does
        response = client.get(f"/{page_dir('odd', 'charts%2Aplus')}/")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    sync_with(app, signing(settings, keys, None), source)
    unsigned = page()
    assert "badge-signed" not in unsigned and "--verify" not in unsigned
    assert "oci://" in unsigned and "helm repo add odd" in unsigned
    sync_with(app, signing(settings, keys), source)
    signed = page()
    fingerprint = keys.fingerprints[SIGNER].upper()
    grouped = " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4))
    assert grouped in signed
    assert signed.count('class="badge badge-signed"') == 1 + 2  # the section and each version
    assert "--verify --keyring odd-keyring.gpg" in signed
    assert "/helm/odd/public-key.asc | gpg --dearmor > odd-keyring.gpg" in signed

    # One archive loses its provenance file (another catalog's sync can drop one it shares,
    # see signing._drop_unused) and the catalog's generation moves on without the template
    # being written again: its page drops that version's mark.
    with app.app_context():
        plus = select(TemplateVersion.chart_digest).join(Template).where(
            Template.slug == "charts*plus", TemplateVersion.version == "1.1.0")  # fmt: skip
        db.session.execute(delete(ChartProvenance).where(ChartProvenance.digest.in_(plus)))
        db.session.execute(update(Catalog).where(Catalog.name == "odd").values(
            generation=Catalog.generation + 1))  # fmt: skip
        db.session.commit()
    assert page().count('class="badge badge-signed"') == 1 + 1
    # Signing turned off: every mark goes.
    sync_with(app, signing(settings, keys, None), source)
    assert "badge-signed" not in page()


def test_a_signed_catalog_does_not_publish_its_charts_ahead(
    app, settings, keys, make_catalog_repo, client, monkeypatch
):
    """Its archives are served with their provenance files from the first answer on."""
    from catalog_server import indexer
    from catalog_server.indexer import early

    monkeypatch.setattr(early, "EARLY_VERSIONS", 1)
    seen = []
    real = indexer.index_batch

    def first_batch(*args, **kw):
        seen.append(index_of(client, "oci"))
        return real(*args, **kw)

    monkeypatch.setattr(indexer, "index_batch", first_batch)
    repo = make_catalog_repo(fixture="oci-catalog")
    sync_with(app, signing(settings, keys), repo.source("oci"))
    assert seen[0] == {}
    entries = index_of(client, "oci")
    assert sum(len(v) for v in entries.values()) == CHARTS
    for versions in entries.values():
        for entry in versions:
            assert client.get(f"/helm/oci/{entry['urls'][0]}.prov").status_code == 200
