"""Loaders: turn a catalog snapshot into plain data (templates, versions, files, questions).

Pure Python over a `sources.Snapshot`: no Flask, no database, no file system or git access
of their own. Bad content never raises; it comes back as problems on the template, its
versions, or the catalog.

    templates, problems = load_catalog(snapshot)
    template = load_template(snapshot, root)       # one folder found by find_templates
"""

from __future__ import annotations

from collections.abc import Mapping

from catalog_server.loaders.compose import load_compose_template
from catalog_server.loaders.detect import TemplateRoot, find_templates
from catalog_server.loaders.folder import internal_problem
from catalog_server.loaders.helm import load_helm_template
from catalog_server.loaders.model import LoadedTemplate
from catalog_server.problems import Problem
from catalog_server.sources import Snapshot, SnapshotEntry

__all__ = ["TemplateRoot", "find_templates", "load_catalog", "load_template"]


def load_template(
    snapshot: Snapshot,
    root: TemplateRoot,
    entries: Mapping[str, SnapshotEntry] | None = None,
) -> LoadedTemplate:
    """Load the template at `root` with the loader of its kind. Never raises.

    `entries`, when given, are the snapshot entries below the template folder keyed
    relative to it (by default they are looked up in a per-snapshot sorted index). An
    unexpected exception becomes a blocking `loader.internal` problem on an otherwise empty
    template, so one broken template never stops the rest.
    """
    try:
        if root.kind == "compose":
            return load_compose_template(snapshot, root, entries)
        return load_helm_template(snapshot, root, entries)
    except Exception as exc:
        return LoadedTemplate(
            id=root.id,
            folder=root.folder,
            kind=root.kind,
            base=root.base,
            problems=[internal_problem(root.folder, exc)],
        )


def load_catalog(snapshot: Snapshot) -> tuple[list[LoadedTemplate], list[Problem]]:
    """Find and load every template of a snapshot.

    Returns the templates sorted by id and the catalog-level problems (unsafe paths,
    duplicate template ids). Never raises for bad content; a `SourceError` from listing the
    snapshot itself propagates.
    """
    roots, problems = find_templates(snapshot.entries())
    templates = [load_template(snapshot, root) for root in roots]
    return sorted(templates, key=lambda t: t.id), problems
