"""One JSON error shape for the whole API: {"error": {"code", "message", "details"}}.

Domain exceptions are raised inside and translated here, once, at the edge.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from catalog_server.problems import TemplateNotFound


class ApiError(Exception):
    """An error answered as JSON with `status`; `code` is a stable machine-readable id."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers: dict[str, str] = {}


class BadParameter(ApiError):
    def __init__(self, name: str, message: str):
        super().__init__(400, "bad_parameter", f"{name}: {message}", {"parameter": name})


MAX_JSON_DEPTH = 64


def json_body() -> Any:
    """The request body as JSON (None when there is none, or it is not sent as JSON).

    Raises ApiError 400 ``bad_request`` when the body is not JSON, nests deeper than
    MAX_JSON_DEPTH, or holds text that is not Unicode (a lone surrogate escape such as
    ``"\\ud800"``, which nothing downstream could encode).
    """
    data = request.get_data(cache=True)
    if not data or not request.is_json:
        return None
    try:
        value = json.loads(data)
    except RecursionError:
        raise ApiError(400, "bad_request", f"the body nests deeper than {MAX_JSON_DEPTH}") from None
    except ValueError as exc:  # not JSON, not UTF-8
        raise ApiError(400, "bad_request", f"the body is not JSON: {exc}") from None
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ApiError(400, "bad_request", f"the body nests deeper than {MAX_JSON_DEPTH}")
        if isinstance(item, str):
            if not _is_unicode(item):
                raise ApiError(400, "bad_request", "the body holds text that is not Unicode")
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return value


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def error_response(status: int, code: str, message: str, details: Any = None):
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(TemplateNotFound)
    def _not_found(exc: TemplateNotFound):
        return error_response(404, "not_found", str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not request.path.startswith("/api/") and exc.code == 404:
            return exc  # the web site's own 404 page
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal server error")
