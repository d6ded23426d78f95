"""The catalogs file and catalog URLs."""

from __future__ import annotations

import pytest

from catalog_server.catalogs import (
    CatalogSource,
    check_git_url,
    configured_sources,
    read_catalogs_file,
    strip_credentials,
)
from catalog_server.config import BUNDLED_CATALOG, ConfigError
from catalog_server.problems import SourceError


def test_no_catalogs_file_means_the_bundled_catalog():
    [source] = configured_sources(None)
    assert source.name == "library"
    assert source.url == str(BUNDLED_CATALOG)


def test_catalogs_file_resolves_relative_paths(tmp_path):
    (tmp_path / "cat").mkdir()
    path = tmp_path / "catalogs.yml"
    path.write_text(
        "catalogs:\n"
        "  - name: local\n    url: ./cat\n    branch: main\n    subdir: sub/\n"
        "  - name: remote\n    url: https://git.example.com/c.git\n    refresh_interval: 60\n"
    )
    local, remote = read_catalogs_file(path)
    assert local == CatalogSource("local", str(tmp_path / "cat"), "main", "sub")
    assert remote.refresh_interval == 60 and not remote.is_local


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("catalogs: nope\n", "'catalogs' list"),
        ("catalogs:\n  - name: a\n", "url is required"),
        ("catalogs:\n  - name: A B\n    url: /x\n", "name must be"),
        ("catalogs:\n  - {name: a, url: /x}\n  - {name: a, url: /y}\n", "used twice"),
        ("catalogs:\n  - {name: a, url: /x, colour: red}\n", "unknown keys colour"),
        ("catalogs:\n  - {name: a, url: /x, subdir: ../up}\n", "subdir"),
        ("catalogs:\n  - {name: a, url: '-uhoh'}\n", "starts with '-'"),
        ("catalogs:\n  - {name: a, url: 'ext::sh -c id'}\n", "transport helper"),
        ("catalogs: [\n", "not valid YAML"),
        # The admin API's rules, which the catalogs file shares.
        ("catalogs:\n  - {name: a, url: /x, refresh_interval: 999999}\n", "from 10 to 86400"),
        ("catalogs:\n  - {name: a, url: /x, refresh_interval: 5}\n", "from 10 to 86400"),
        ("catalogs:\n  - {name: a, url: /x, branch: 'a..b c'}\n", "not a branch name"),
    ],
)
def test_bad_catalogs_files_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "catalogs.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        read_catalogs_file(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/rancher/community-catalog.git",
        "ssh://git@example.com/cat.git",
        "git@example.com:platform/cat.git",
        "git://example.com/cat.git",
    ],
)
def test_remote_urls_are_accepted(url):
    check_git_url(url, allow_local=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ext::sh -c touch% /tmp/x", "transport helper"),
        ("fd::17", "transport helper"),
        ("--upload-pack=touch /tmp/x", "starts with '-'"),
        ("/srv/catalog", "local path"),
        ("file:///srv/catalog", "local path"),
        ("ftp://example.com/x.git", "not supported"),
        ("https://example.com/x.git\n", "control characters"),
    ],
)
def test_hostile_urls_are_refused(url, message):
    with pytest.raises(SourceError, match=message):
        check_git_url(url, allow_local=False)


def test_credentials_are_stripped_from_shown_urls():
    assert strip_credentials("https://user:s3cret@git.example.com/c.git") == (
        "https://git.example.com/c.git"
    )
    assert strip_credentials("https://git.example.com:8443/c.git") == (
        "https://git.example.com:8443/c.git"
    )
    source = CatalogSource("a", "https://tok@git.example.com/c.git")
    assert "tok" not in source.public_url


def test_the_openapi_document_describes_the_catalog_source_both_interfaces_check():
    from catalog_server.catalogs import (
        MAX_REFRESH_INTERVAL,
        MIN_REFRESH_INTERVAL,
        SOURCE_FIELDS,
    )
    from catalog_server.openapi import openapi_document

    post = openapi_document()["paths"]["/api/v1/catalogs"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == SOURCE_FIELDS
    interval = schema["properties"]["refresh_interval"]
    assert (interval["minimum"], interval["maximum"]) == (
        MIN_REFRESH_INTERVAL,
        MAX_REFRESH_INTERVAL,
    )
