"""index.yaml: strict ChartVersion entries, newest-first ordering, valid deterministic YAML."""

from __future__ import annotations

import random

import pytest
import semver
import yaml

from catalog_server.helmrepo import (
    CHART_VERSION_KEYS,
    IndexEntries,
    index_entry,
    render_index,
    rfc3339,
)
from catalog_server.versions import helm_sort_key

DIGEST = "0" * 63 + "1"
CREATED = "2024-01-02T03:04:05Z"
GENERATED = "2024-01-02T03:04:05.123456789Z"

FULL_CHART = {
    "apiVersion": "v2",
    "name": "demo",
    "version": "1.2.3",
    "kubeVersion": ">=1.22.0-0",
    "description": "A demo: with colons, 'quotes' and \"double quotes\"",
    "type": "application",
    "keywords": ["yes", "1.0", "monitoring"],
    "home": "https://example.com",
    "sources": ["https://github.com/example/demo"],
    "dependencies": [
        {
            "name": "redis",
            "version": "~17.0.0",
            "repository": "https://charts.example.com",
            "condition": "redis.enabled",
            "tags": ["cache"],
            "enabled": True,
            "import-values": [{"child": "a", "parent": "b"}, "c"],
            "alias": "cache",
            "unknown": "dropped",
        }
    ],
    "maintainers": [{"name": "Jane", "email": "jane@example.com", "url": "", "x": 1}],
    "icon": "https://example.com/icon.svg",
    "appVersion": 1.1,
    "deprecated": True,
    "annotations": {"category": "Monitoring", "artifacthub.io/license": "Apache-2.0"},
    "x-custom": "dropped",
    "engine": "gotpl",
}


def entry(chart: dict, **overrides):
    args = {"digest": DIGEST, "created": CREATED, "urls": ["charts/demo-1.2.3.tgz"]}
    return index_entry(chart, **{**args, **overrides})


def test_entry_keeps_every_field_helm_reads_and_nothing_else():
    got = entry(FULL_CHART)
    assert set(got) <= CHART_VERSION_KEYS
    assert "x-custom" not in got and "engine" not in got
    assert got["appVersion"] == "1.1"  # a string, as Helm requires
    assert got["dependencies"][0] == {
        "alias": "cache",
        "condition": "redis.enabled",
        "enabled": True,
        "import-values": [{"child": "a", "parent": "b"}, "c"],
        "name": "redis",
        "repository": "https://charts.example.com",
        "tags": ["cache"],
        "version": "~17.0.0",
    }
    assert got["maintainers"] == [{"email": "jane@example.com", "name": "Jane"}]
    assert (got["digest"], got["created"], got["urls"]) == (
        DIGEST,
        CREATED,
        ["charts/demo-1.2.3.tgz"],
    )
    assert list(got) == sorted(got)


def test_entry_omits_empty_fields():
    chart = {
        "name": "demo",
        "version": "1.0.0",
        "description": "",
        "keywords": [],
        "deprecated": False,
        "annotations": {},
        "maintainers": None,
    }
    # apiVersion is not empty: Helm reads a chart without one as v1 and writes that.
    assert set(entry(chart)) == {"apiVersion", "name", "version", "digest", "created", "urls"}


@pytest.mark.parametrize(
    ("chart", "overrides", "message"),
    [
        ({"name": "demo"}, {}, "name and a version"),
        ({"name": "demo", "version": "1.0.0"}, {"digest": "sha256:" + "0" * 64}, "digest"),
        ({"name": "demo", "version": "1.0.0"}, {"created": "2024-01-02 03:04"}, "created"),
        ({"name": "demo", "version": "1.0.0"}, {"urls": []}, "urls"),
        ({"name": "demo", "version": "1.0.0", "keywords": "a,b"}, {}, "keywords"),
        ({"name": "demo", "version": "1.0.0", "deprecated": "yes"}, {}, "deprecated"),
        ({"name": "demo", "version": "1.0.0", "home": ["x"]}, {}, "home"),
    ],
)
def test_entry_refuses_what_helm_would_choke_on(chart, overrides, message):
    with pytest.raises(ValueError, match=message):
        entry(chart, **overrides)


def test_rfc3339():
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(1_700_000_000.5) == "2023-11-14T22:13:20.5Z"


VALID_ORDERED = [
    "0.0.1",
    "0.3.0-alpha",
    "0.3.0-alpha.1",
    "0.3.0-alpha.beta",
    "0.3.0-beta",
    "0.3.0-beta.2",
    "0.3.0-beta.11",
    "0.3.0-rc.1",
    "0.3.0",
    "1.0.0",
    "1.2.0",
    "1.10.0",
    "2.0.0",
]


def test_version_order_agrees_with_semver():
    shuffled = VALID_ORDERED[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=helm_sort_key) == VALID_ORDERED
    by_semver = sorted(shuffled, key=semver.Version.parse)
    assert by_semver == VALID_ORDERED


def test_versions_helm_accepts_but_semver_does_not():
    # Helm's parser takes a leading v, missing parts and leading zeros.
    order = ["0.2.9", "0.3.000", "v0.3.1", "1.2", "v2"]
    assert sorted(reversed(order), key=helm_sort_key) == order


def render(entries):
    return yaml.safe_load(render_index(entries, GENERATED))


def test_index_lists_charts_by_name_and_versions_newest_first():
    versions = ["1.0.0", "not-a-version", "1.10.0", "1.2.0", "2.0.0-rc.1", "v1.9.9"]
    entries = {
        "zeta": [entry({"name": "zeta", "version": "0.1.0"})],
        # index_entry refuses a version Helm cannot parse; an index may still hold one.
        "alpha": [
            entry({"name": "alpha", "version": v})
            if v != "not-a-version"
            else {**entry({"name": "alpha", "version": "1.0.0"}), "version": v}
            for v in versions
        ],
        "empty": [],
    }
    doc = render(entries)
    assert doc["apiVersion"] == "v1"
    assert doc["generated"] == GENERATED
    assert list(doc["entries"]) == ["alpha", "zeta"]
    assert [e["version"] for e in doc["entries"]["alpha"]] == [
        "2.0.0-rc.1",
        "1.10.0",
        "v1.9.9",
        "1.2.0",
        "1.0.0",
        "not-a-version",  # unparsable last, as Helm sorts them
    ]


def test_index_round_trips_every_value():
    full = entry(FULL_CHART)
    doc = render({"demo": [full]})
    assert doc["entries"]["demo"] == [full]


def test_index_text_is_deterministic_and_sorted():
    a = entry({"name": "a", "version": "1.0.0"})
    b = entry({"name": "b", "version": "1.0.0"})
    text = render_index({"b": [b], "a": [a]}, GENERATED)
    assert text == render_index({"a": [a], "b": [b]}, GENERATED)
    assert text.startswith("apiVersion: v1\nentries:\n  a:\n  - apiVersion: v1\n    created:")
    assert text.endswith(f'generated: "{GENERATED}"\n')
    assert "&id" not in render_index({"a": [a, a]}, GENERATED)  # no YAML anchors


def test_empty_index():
    assert render({}) == {"apiVersion": "v1", "entries": {}, "generated": GENERATED}


def test_index_refuses_unknown_keys_and_bad_times():
    with pytest.raises(ValueError, match="not ChartVersion fields"):
        render_index({"a": [{"name": "a", "version": "1.0.0", "engine": "gotpl"}]}, GENERATED)
    with pytest.raises(ValueError, match="generated"):
        render_index({}, "yesterday")


def test_entries_added_one_at_a_time_in_any_order_give_the_same_index():
    # As a large repository is built: one entry per row read, rows in template order, so
    # one chart's versions arrive apart and charts arrive out of name order.
    grouped = {
        name: [entry({"name": name, "version": v, "description": f"{name} {v}"}) for v in vs]
        for name, vs in {
            "zeta": ["0.1.0", "0.10.0", "0.2.0"],
            "alpha": ["1.0.0", "2.0.0-rc.1", "1.10.0", "v1.9.9"],
            "needs quoting: yes": ["3.0.0"],
        }.items()
    }
    expected = render_index(grouped, GENERATED)
    rows = [(name, e) for name, es in grouped.items() for e in es]
    for seed in range(5):
        random.Random(seed).shuffle(rows)
        index = IndexEntries()
        for name, e in rows:
            index.add(name, e)
        assert "".join(index.chunks(GENERATED)) == expected
    doc = yaml.safe_load(expected)
    assert list(doc["entries"]) == ["alpha", "needs quoting: yes", "zeta"]
    assert [e["version"] for e in doc["entries"]["zeta"]] == ["0.10.0", "0.2.0", "0.1.0"]


def test_entries_refuse_unknown_keys_and_bad_times_at_once():
    index = IndexEntries()
    with pytest.raises(ValueError, match="not ChartVersion fields"):
        index.add("a", {"name": "a", "version": "1.0.0", "engine": "gotpl"})
    with pytest.raises(ValueError, match="generated"):
        index.chunks("yesterday")  # before any piece is asked for
    assert "".join(index.chunks(GENERATED)) == render_index({}, GENERATED)


TRICKY = [
    "yes", "No", "y", "n", "on", "OFF", "true", "null", "~", "", " ", "=", "<<",
    "1", "1.0", "1e3", "0x1F", "0o17", "0b101", "1_000", ".5", "+1", "-1", ".inf", ".NaN",
    "1:30", "2024-01-02", "2024-01-02T03:04:05Z", "@at", "`tick", "!tag", "&anchor", "*ref",
    "- dash", "-", "? q", ": colon", "a: b", "a:", "a #b", "#c", "[x]", "{y}", "a, b",
    "'single'", '"double"', "back\\slash", "tab\there", "line\nbreak", "trail ", " lead",
    "multi\n\nparagraph\n", "nbsp\u00a0x", "nel\u0085x", "ls\u2028x", "del\x7fx", "bell\x07",
    "emoji \U0001f600", "caf\u00e9", "日本語", "%percent", "|pipe", ">gt", ">=1.22.0-0",
    "~17.0.0", "^1.2", "https://example.com/a?b=c&d=e#f", "C:\\path",
]  # fmt: skip


@pytest.mark.parametrize("text", TRICKY)
def test_strings_survive_a_yaml_round_trip(text: str):
    value = entry({"name": "demo", "version": "1.0.0", "description": text, "keywords": [text]})
    value["annotations"] = {text or "empty": text}
    doc = render({text or "empty": [value]})
    assert doc["entries"][text or "empty"] == [value]
    # The YAML 1.1 reader PyYAML implements is stricter about booleans than YAML 1.2, so
    # passing it covers Helm's goyaml too; libyaml's C reader must agree as well.
    c_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert yaml.load(render_index({"d": [value]}, GENERATED), Loader=c_loader)["entries"] == {
        "d": [value]
    }


def test_random_strings_survive_a_yaml_round_trip():
    rng = random.Random(42)
    alphabet = "ab09 :#-'\"\\\t\n{}[],&*!|>%@`?~=.+_/\u00e9\u2028\x85\x7f\x00"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        value = entry({"name": "demo", "version": "1.0.0", "description": text})
        assert render({"demo": [value]})["entries"]["demo"] == [value], repr(text)
