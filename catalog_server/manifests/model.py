"""What every install manifest is made of, whatever renders it (compose or Helm).

Plain data, one exception and the YAML writer, so that the API and the command line can
name them without loading a renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["TARGETS", "Manifest", "ManifestError", "ManifestFile", "dump_yaml"]

# What a compose manifest is for: today's `docker compose` (the default), or Rancher 1.x.
TARGETS = ("compose", "rancher")


@dataclass
class ManifestFile:
    path: str
    content: str


@dataclass
class Manifest:
    """What an install needs: files to write, commands to run, warnings to show, and notes
    on what was converted to make the files (compose target)."""

    files: list[ManifestFile] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ManifestError(ValueError):
    """The manifest cannot be made. ``status`` is the HTTP status the API answers with.

    Codes: ``invalid_answers`` (422, details ``{VAR: [message, ...]}``), ``render_error``
    (422, details ``{"file", "line", ...}``), ``invalid_compose`` (422, details
    ``{"file", "format", "errors": [{"path", "line", "rule", "message"}]}``),
    ``not_installable`` (422, details ``{"type"}``: the template is not a stack or chart),
    ``helm_sdk_missing`` (501).
    """

    def __init__(self, code: str, message: str, details: Any = None, status: int = 422):
        super().__init__(message)
        self.code, self.message, self.details, self.status = code, message, details, status


# --- YAML out --------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line text as literal blocks, as a person would write it."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(value: Any) -> str:
    """YAML text of ``value``, keys in their given order. PyYAML falls back from the literal
    style to a quoted one by itself when the text cannot be written as a block."""
    return yaml.dump(
        value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 16,
        default_flow_style=False,
    )  # fmt: skip
