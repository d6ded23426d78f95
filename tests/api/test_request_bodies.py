"""Request bodies an attacker shapes: nested deeper than any parser should follow, or
holding text that is not Unicode. Each is a 400 with the JSON error shape, never a 500."""

from __future__ import annotations

import pytest

from catalog_server.auth import create_token
from catalog_server.db import db

MANIFEST = "/api/v1/templates/lib/stack/versions/1.0.0/manifest"


@pytest.fixture
def indexed(make_catalog_repo, sync):
    assert sync(make_catalog_repo(fixture="manifest-catalog").source("lib")).status == "updated"


@pytest.fixture
def admin(app):
    with app.app_context():
        return {"Authorization": f"Bearer {create_token(db.session, 'ops')}"}


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [65, 1000, 100_000])
def test_answers_nested_too_deep_are_a_400(client, indexed, levels):
    body = '{"answers": {"ADMIN_PASSWORD": ' + deep(levels) + "}}"
    response = client.post(MANIFEST, data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    assert response.json["error"]["code"] == "bad_request"
    assert "nests deeper" in response.json["error"]["message"]


@pytest.mark.parametrize("fmt", ["json", "yaml", "tar"])
def test_a_lone_surrogate_is_a_400_in_every_format(client, indexed, fmt):
    body = '{"answers": {"ADMIN_PASSWORD": "pass\\ud800word"}, "format": "' + fmt + '"}'
    response = client.post(MANIFEST, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/catalogs", '{"name": "x", "url": ' + deep(100_000) + "}"),
        ("/api/v1/catalogs", '{"name": "x\\udfff", "url": "https://e.com/c.git"}'),
        ("/api/v1/hooks/github", '{"repository": ' + deep(100_000) + "}"),
    ],
)
def test_admin_and_webhook_bodies_are_checked_alike(client, admin, url, body):
    response = client.post(url, data=body, content_type="application/json", headers=admin)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"


def test_a_body_within_the_limits_still_works(client, indexed):
    answers = {"ADMIN_PASSWORD": "correct-horse", "EXTRA": {"a": [[[["deep enough"]]]]}}
    response = client.post(MANIFEST, json={"answers": answers, "format": "tar"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/gzip"
