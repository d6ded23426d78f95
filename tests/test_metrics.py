"""Prometheus metrics and JSON logs."""

from __future__ import annotations

import json
import logging

from catalog_server.logs import JsonFormatter


def test_metrics_report_catalogs_syncs_and_requests(client, make_catalog_repo, sync, tmp_path):
    sync(make_catalog_repo(fixture="api-catalog").source("lib"))
    from catalog_server.catalogs import CatalogSource

    sync(CatalogSource("gone", str(tmp_path / "missing")))
    assert client.get("/api/v1/templates").status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    assert 'catalog_templates{catalog="lib"} 5.0' in text
    assert 'catalog_last_sync_success{catalog="lib"} 1.0' in text
    assert 'catalog_last_sync_success{catalog="gone"} 0.0' in text
    assert 'catalog_sync_failures{catalog="gone"} 1.0' in text
    assert 'catalog_problems{catalog="lib",severity="error"}' in text
    assert 'catalog_last_sync_duration_seconds{catalog="lib"}' in text
    assert (
        'catalog_http_request_duration_seconds_count{method="GET",route="/api/v1/templates",'
        'status="200"}' in text
    )


def test_json_log_lines_carry_the_sync_summary():
    record = logging.LogRecord(
        "catalog_server.sync", logging.INFO, "x", 1, "sync %s: %s", ("lib", "updated"), None
    )
    record.event, record.templates_total = "sync", 5
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "sync lib: updated"
    assert line["level"] == "info" and line["logger"] == "catalog_server.sync"
    assert line["event"] == "sync" and line["templates_total"] == 5


def _cache_counts(client) -> dict[str, float]:
    counts = {"hit": 0.0, "miss": 0.0, "revalidated": 0.0}
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith("catalog_answer_cache_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            counts[result] = float(line.rsplit(" ", 1)[1])
    return counts


def test_metrics_count_what_the_answer_cache_did(client, make_catalog_repo, sync):
    sync(make_catalog_repo(fixture="api-catalog").source("lib"))
    before = _cache_counts(client)
    first = client.get("/api/v1/templates?q=web")
    client.get("/api/v1/templates?q=web")
    client.get("/api/v1/templates?q=proxy")
    client.get("/api/v1/templates?q=web", headers={"If-None-Match": first.headers["ETag"]})
    after = _cache_counts(client)
    assert after["miss"] - before["miss"] == 2
    assert after["hit"] - before["hit"] == 1
    assert after["revalidated"] - before["revalidated"] == 1
