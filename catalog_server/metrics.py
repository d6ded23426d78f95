"""`GET /metrics` in Prometheus text format (logging is set up in :mod:`.logs`).

Catalog figures (templates, problems, the last sync's duration and outcome) are read from
the database at scrape time, so every replica reports the same and the sync process needs
no metrics port of its own. HTTP request latency is measured in the serving process; under
gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR to a shared empty folder so
that the workers' figures are added up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from catalog_server.db import db
from catalog_server.models import Catalog, ProblemRow, Template

metrics = Blueprint("metrics", __name__)

REQUEST_SECONDS = Histogram(
    "catalog_http_request_duration_seconds",
    "HTTP request latency by route, method and status.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

# Reads by what the answer cache (catalog_server.responsecache) did: "hit" (a kept answer),
# "revalidated" (a 304) or "miss" (computed, then kept).
ANSWER_CACHE = Counter(
    "catalog_answer_cache",
    "Cacheable reads by what the answer cache did: hit, revalidated or miss.",
    ["result"],
)


class CatalogCollector:
    """Per-catalog gauges read from the index at each scrape."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        templates = GaugeMetricFamily(
            "catalog_templates", "Templates served per catalog.", labels=["catalog"]
        )
        problems = GaugeMetricFamily(
            "catalog_problems", "Problems per catalog and severity.", labels=["catalog", "severity"]
        )
        seconds = GaugeMetricFamily(
            "catalog_last_sync_duration_seconds",
            "How long the last sync that did work took.",
            labels=["catalog"],
        )
        success = GaugeMetricFamily(
            "catalog_last_sync_success",
            "1 when the last sync attempt succeeded, 0 when it failed.",
            labels=["catalog"],
        )
        failures = GaugeMetricFamily(
            "catalog_sync_failures", "Failed sync attempts in a row.", labels=["catalog"]
        )
        indexed = GaugeMetricFamily(
            "catalog_indexed_timestamp_seconds",
            "When the catalog was last indexed (Unix time).",
            labels=["catalog"],
        )
        with self.app.app_context():
            session = db.session
            counts = dict(
                session.execute(
                    select(Template.catalog_id, func.count()).group_by(Template.catalog_id)
                ).all()
            )
            by_severity = session.execute(
                select(ProblemRow.catalog_id, ProblemRow.severity, func.count()).group_by(
                    ProblemRow.catalog_id, ProblemRow.severity
                )
            ).all()
            catalogs = session.scalars(select(Catalog).order_by(Catalog.name)).all()
            names = {c.id: c.name for c in catalogs}
            for c in catalogs:
                templates.add_metric([c.name], counts.get(c.id, 0))
                failures.add_metric([c.name], c.failures or 0)
                if c.last_sync_seconds is not None:
                    seconds.add_metric([c.name], c.last_sync_seconds)
                if c.last_sync_status is not None or c.last_error is not None:
                    success.add_metric([c.name], 0 if c.sync_state == "failed" else 1)
                if c.indexed_at is not None:
                    indexed.add_metric([c.name], c.indexed_at.timestamp())
            for catalog_id, severity, count in by_severity:
                problems.add_metric([names.get(catalog_id, "?"), severity], count)
            db.session.remove()
        yield from (templates, problems, seconds, success, failures, indexed)


def init_metrics(app: Flask) -> None:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
        registry.register(ANSWER_CACHE)
    registry.register(CatalogCollector(app))
    app.extensions["metrics_registry"] = registry

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.pop("request_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "unmatched"
            REQUEST_SECONDS.labels(route, request.method, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response

    app.register_blueprint(metrics)


@metrics.get("/metrics")
def scrape():
    from flask import current_app

    body = generate_latest(current_app.extensions["metrics_registry"])
    return Response(body, content_type=CONTENT_TYPE_LATEST)
