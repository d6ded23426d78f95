"""Catalog server: index git catalogs of compose templates and Helm charts, and serve them."""

from catalog_server.app import create_app

__all__ = ["create_app"]
