"""JSON Schemas that content is checked against, each compiled once.

Most content is valid, so every validator first asks jsonschema-rs (compiled, fast) whether
the instance is valid, and only for an invalid one runs Python's jsonschema, whose errors
(messages, paths) are what problems report. Both are set up alike: formats are annotations,
not assertions, and no `$ref` is fetched from the network. A schema that jsonschema-rs
cannot compile is checked by Python's jsonschema alone.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema.exceptions import ValidationError


class CheckedSchema:
    """A schema ready to validate many instances: `errors(instance)` lists what is wrong."""

    def __init__(self, schema: dict[str, Any], python: jsonschema.protocols.Validator):
        self.schema = schema
        self.python = python
        try:
            self.fast = jsonschema_rs.validator_for(schema, validate_formats=False, offline=True)
        except Exception:  # a construct or regex jsonschema-rs does not take: Python only
            self.fast = None

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        if self.fast is not None:
            try:
                if self.fast.is_valid(instance):
                    return iter(())
            except Exception:  # values jsonschema-rs cannot take (non-JSON types)
                pass
        return self.python.iter_errors(instance)


def _validator_class(schema: dict[str, Any]):
    with warnings.catch_warnings():
        # An unknown `$schema` warns and falls back to the newest draft, as Helm's does.
        warnings.simplefilter("ignore", DeprecationWarning)
        return jsonschema.validators.validator_for(schema)


@functools.cache
def compose_schema() -> CheckedSchema:
    """The Compose Specification schema that check-jsonschema ships and maintains."""
    source = resources.files("check_jsonschema").joinpath(
        "builtin_schemas/vendor/compose-spec.json"
    )
    schema = json.loads(source.read_text(encoding="utf-8"))
    return CheckedSchema(schema, _validator_class(schema)(schema))


@functools.lru_cache(maxsize=256)
def document_schema(text: bytes) -> CheckedSchema:
    """A schema from a catalog file (values.schema.json), checked against its metaschema
    once per distinct content. Raises ValueError for bad JSON, jsonschema.SchemaError for a
    schema that breaks its metaschema."""
    schema = json.loads(text)
    if not isinstance(schema, dict):
        raise jsonschema.SchemaError(f"a schema must be an object, not {type(schema).__name__}")
    cls = _validator_class(schema)
    cls.check_schema(schema)
    return CheckedSchema(schema, cls(schema))
