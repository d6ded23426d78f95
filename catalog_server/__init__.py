"""Catalog server: index git catalogs of compose templates and Helm charts, and serve them.

Importing the package loads nothing else: `create_app` (the app factory, for
`gunicorn 'catalog_server:create_app()'`) is looked up from `catalog_server.app` when first
asked for, so the pipeline stages and the command line do not pay for Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog_server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from catalog_server.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
