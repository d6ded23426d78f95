"""The OpenAPI document describes every route, and the API keeps to it under fuzzing."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from catalog_server.openapi import openapi_document


def _route_to_openapi(rule: str) -> str:
    return rule.replace("<path:", "{").replace("<", "{").replace(">", "}")


def test_every_api_route_is_in_the_document(app):
    paths = openapi_document()["paths"]
    routes = {
        (_route_to_openapi(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes, "no API routes registered"
    documented = {(path, method) for path, ops in paths.items() for method in ops}
    assert routes - documented == set()
    assert documented - routes == set()


def test_the_document_is_served_and_valid(client):
    from jsonschema import Draft202012Validator

    body = client.get("/api/v1/openapi.json").json
    assert body["openapi"].startswith("3.1")
    for schema in body["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_api_conforms_to_its_document(app, client, make_catalog_repo, sync, monkeypatch):
    """Fuzzed requests to every operation, admin and webhooks included, with a valid admin
    token: no 5xx, and every response matches the document (status code, content type,
    body schema). Half the cases name things that exist (the indexed catalog's templates
    and versions, a catalog added over the API), so the fuzzing goes past the 404s."""
    from sqlalchemy import select

    from catalog_server.auth import create_token
    from catalog_server.db import db
    from catalog_server.models import AuditEntry

    sync(make_catalog_repo(fixture="api-catalog").source("lib"))
    with app.app_context():
        token = create_token(db.session, "fuzz")
    auth = {"Authorization": f"Bearer {token}"}
    monkeypatch.setenv("CATALOG_GIT_FUZZ_HOOK", "fuzz-secret")
    team = {"name": "team", "url": "https://git.example.com/team/catalog.git",
            "webhook_secret": {"env": "CATALOG_GIT_FUZZ_HOOK"}}  # fmt: skip
    assert client.post("/api/v1/catalogs", json=team, headers=auth).status_code == 201
    versions = [v["version"] for v in client.get("/api/v1/templates/lib/web").json["versions"]]
    real = {"template": "web", "version": versions[0], "other": versions[-1],
            "path": "docker-compose.yml"}  # fmt: skip

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = sum(len(ops) for ops in openapi_document()["paths"].values())
    assert len(operations) == documented - 1  # schemathesis leaves out the document itself
    # Rules no schema can state: catalog settings (the host a name resolves to, which
    # secrets a reference may name) and a manifest's answers (each template's own questions,
    # values only for charts): schema-valid requests there may be refused with 422.
    semantic = {
        ("POST", "/catalogs"),
        ("PATCH", "/catalogs/{catalog}"),
        ("POST", "/templates/{catalog}/{template}/versions/{version}/manifest"),
    }
    for operation in operations:
        fuzz(operation, real, auth, semantic)
    # The token was used: admin operations were served, not only refused.
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEntry.action)))
    assert actions & {"catalog.update", "catalog.refresh", "catalog.delete"}


def fuzz(operation, real: dict[str, str], auth: dict[str, str], semantic: set) -> None:
    """25 fuzzed cases of one operation; in half of them, path parameters name what exists."""
    route = operation.path.removeprefix("/api/v1")
    excluded = [positive_data_acceptance] if (operation.method.upper(), route) in semantic else []
    existing = real | {"catalog": "lib" if route.startswith("/templates") else "team"}

    @given(case=operation.as_strategy(), aim=st.booleans())
    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(case, aim):
        if aim and case.path_parameters:
            case.path_parameters = {k: existing.get(k, v) for k, v in case.path_parameters.items()}
        # The WSGI transport hands back bodies as sent; gzip is tested on its own.
        case.call_and_validate(
            headers={"Accept-Encoding": "identity", **auth}, excluded_checks=excluded
        )

    check()
