"""The application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from catalog_server.config import Settings
from catalog_server.db import MIGRATIONS_DIR, db


def create_app(config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """Build the Flask app. `settings` defaults to the `CATALOG_*` environment; `config`
    overrides Flask settings (tests pass SQLALCHEMY_DATABASE_URI this way)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.json.sort_keys = False
    if config:
        app.config.update(config)
    app.extensions["catalog_settings"] = settings
    from catalog_server import helmsdk

    helmsdk.configure_from(settings)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        settings.instance_dir.mkdir(parents=True, exist_ok=True)

    db.init_app(app)

    from flask_migrate import Migrate

    Migrate(app, db, directory=str(MIGRATIONS_DIR))

    # The route modules add their routes to the API's blueprint as they are imported.
    from catalog_server.api import admin, api, manifests, previews, views  # noqa: F401

    app.register_blueprint(api)
    from catalog_server.api.helm import helm

    app.register_blueprint(helm)
    from catalog_server.api.oci import oci

    app.register_blueprint(oci)
    from catalog_server.web import web

    app.register_blueprint(web)
    from catalog_server.api.errors import register_error_handlers

    register_error_handlers(app)
    from catalog_server.logs import configure_logging
    from catalog_server.metrics import init_metrics

    configure_logging(settings.log_format)
    init_metrics(app)
    from catalog_server.responsecache import init_cache

    with app.app_context():  # the engine's URL: a relative SQLite path resolved as Flask does
        database_url = db.engine.url.render_as_string(hide_password=False)
    init_cache(app, settings.state_ttl, database_url)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    # Cascading deletes need foreign keys on; WAL lets readers see the last committed
    # catalog while a sync writes the next one.
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
