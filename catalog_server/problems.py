"""Problems found in catalog content, and the exceptions that carry them.

A problem is what a contributor must fix: a stable rule id, a severity, where (template,
version, file, line, column) and a message that says what to do. Loaders and validation
return lists of problems; they never stop at the first one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
# The fields of a problem, in the order the API and the lint's JSON show them.
PROBLEM_FIELDS = (
    "template",
    "version",
    "file",
    "line",
    "column",
    "rule",
    "severity",
    "message",
    "blocking",
)
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Problem:
    rule: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    template: str | None = None
    version: str | None = None
    # True when the problem makes the version (or the whole template, when version is
    # None) unusable: it could not be read, parsed or loaded. Only such problems keep
    # content from being served; everything else is shown next to it.
    blocking: bool = False

    def at(self, **where: Any) -> Problem:
        """Return a copy with location fields filled in where they are still empty."""
        fill = {k: v for k, v in where.items() if getattr(self, k) is None and v is not None}
        return replace(self, **fill) if fill else self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CatalogError(Exception):
    """Base of the domain errors the service raises."""


class SourceError(CatalogError):
    """A catalog source could not be read (clone, fetch, bad URL, missing folder)."""


class TemplateNotFound(CatalogError):
    """No such catalog, template, version or file."""
