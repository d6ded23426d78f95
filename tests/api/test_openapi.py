"""The OpenAPI document describes every route, and the API keeps to it under fuzzing."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from catalog_server.api.openapi import openapi_document


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


def test_api_conforms_to_its_document(app, make_catalog_repo, sync):
    """Fuzzed requests to every operation: no 5xx, and every response matches the document
    (status code, content type, body schema)."""
    sync(make_catalog_repo(fixture="api-catalog").source("lib"))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = sum(len(ops) for ops in openapi_document()["paths"].values())
    assert len(operations) == documented - 1  # schemathesis leaves out the document itself
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            # The WSGI transport hands back bodies as sent; gzip is tested on its own.
            case.call_and_validate(headers={"Accept-Encoding": "identity"})

        check()
