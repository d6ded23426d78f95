"""Version parsing and ordering: one order for the index, the API, Helm and upgrades."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from catalog_server.manifests.upgrades import satisfies
from catalog_server.versions import (
    helm_sort_key,
    is_semver,
    parse_version,
    semver_key,
    sort_versions,
    version_key,
)


@pytest.mark.parametrize(
    "text, ok",
    [
        ("1.2.3", True),
        ("v1.6.9", True),
        ("104.1.2+up57.0.3", True),
        ("1.0.0-rc.1", True),
        ("1.2", False),
        ("0.3.000", False),
        ("2016-06-26a", False),
        ("1.3.1.1-oci", False),
        ("01.2.3", False),
        ("", False),
    ],
)
def test_is_semver(text, ok):
    assert is_semver(text) is ok
    assert (semver_key(text) is not None) is ok


@pytest.mark.parametrize("text", ["0.1", "1.3.1.1-oci", "0.3.000", "v2"])
def test_lenient_forms_parse(text):
    assert version_key(text) is not None


def test_semver_precedence_not_text_order():
    got = sort_versions(
        ["1.9.0", "v1.10.0", "1.10.0-rc.2", "1.10.0-rc.10", "104.1.2+up57.0.3", "1.2.0"]
    )
    assert got == ["104.1.2+up57.0.3", "v1.10.0", "1.10.0-rc.10", "1.10.0-rc.2", "1.9.0", "1.2.0"]


def test_two_and_four_part_versions_sort_with_semver():
    assert sort_versions(["0.1", "1.3.1.1-oci", "1.3.1", "1.3.1.1", "0.3.000"]) == [
        "1.3.1.1",
        "1.3.1.1-oci",
        "1.3.1",
        "0.3.000",
        "0.1",
    ]


def test_build_metadata_only_breaks_ties_deterministically():
    assert sort_versions(["1.0.0+up1", "1.0.0+up2"]) == sort_versions(["1.0.0+up2", "1.0.0+up1"])


def test_numbered_folders_with_gaps_order_by_revision_when_versions_do_not_parse():
    versions = [
        SimpleNamespace(version=v, revision=r, folder=str(r))
        for v, r in [("0.1", 0), ("2016-06-26a", 5), ("1.3.1.1-oci", 2)]
    ]
    assert [v.version for v in sort_versions(versions)] == ["2016-06-26a", "1.3.1.1-oci", "0.1"]


def test_callables_read_other_shapes():
    items = [("a", "1.0.0", None), ("b", "2.0.0", None)]
    assert sort_versions(items, version=lambda i: i[1], revision=lambda i: i[2])[0][0] == "b"


def test_mixed_set_without_revisions_is_total_and_stable():
    versions = ["latest", "1.0.0", "zeta", "2.0.0"]
    first = sort_versions(versions)
    assert first[:2] == ["2.0.0", "1.0.0"]
    assert sort_versions(reversed(versions)) == first


# --- one order for the index, the API, the Helm repository and upgrades -----------------

ODD_ORDERED = [  # oldest first, from real catalogs
    "v0.2.5",
    "1.3.1",
    "1.3.1.1",
    "1.3.2",
    "2.3.1-3",
    "2.3.1-3.1",
    "2.3.1",
    "103.0.0+up0.4.2",
    "103.0.1+up0.4.1",
]


def test_odd_real_versions_have_one_order():
    assert [parse_version(v) for v in ODD_ORDERED] == sorted(parse_version(v) for v in ODD_ORDERED)
    assert sort_versions(ODD_ORDERED) == list(reversed(ODD_ORDERED))
    keys = [version_key(v) for v in ODD_ORDERED]
    assert keys == sorted(keys)


def test_the_helm_index_orders_what_helm_reads_the_same_way():
    helm_readable = [v for v in ODD_ORDERED if v != "1.3.1.1"]
    assert sorted(reversed(helm_readable), key=helm_sort_key) == helm_readable
    # Four release numbers are not a version to Helm: such an entry sorts as Helm's do.
    assert helm_sort_key("1.3.1.1") < helm_sort_key("v0.2.5")


def test_build_metadata_and_a_leading_v_do_not_change_precedence():
    assert parse_version("v0.2.5") == parse_version("0.2.5")
    assert parse_version("103.0.1+up0.4.1") == parse_version("103.0.1")
    assert parse_version("1.3.1.1") != parse_version("1.3.1")
    assert parse_version("1.2") == parse_version("1.2.0") == parse_version("1.2.0.0")


def test_upgrades_read_versions_as_the_index_orders_them():
    assert satisfies("1.3.1.1", ">=1.3.1 <1.3.2")
    assert not satisfies("1.3.1", ">1.3.1")
    assert satisfies("2.3.1-3.1", ">2.3.1-3 <2.3.1")
    assert satisfies("103.0.1+up0.4.1", "=103.0.1")
    assert satisfies("v0.2.5", "0.2.x")
