"""Finding the template folders of a catalog snapshot, and naming them.

Three layouts are recognised from paths alone (no file is read):

- `rancher`: Rancher compose templates, `templates/<name>/` and `<base>-templates/<name>/`
  where the container is a top-level folder (`infra-templates`, `kubernetes-templates`, ...).
- `helm-versioned`: Rancher 2.x chart catalogs, `<container>/<name>/<version>/Chart.yaml` where
  `<container>/<name>/` has no Chart.yaml and at least one of its chart folders is named like
  a version (`v1.6.9`, `104.1.2+up57.0.3`, `0.1`); the template is `<container>/<name>/`.
- `helm-plain`: any other folder holding a Chart.yaml that is not inside another chart (a
  chart's `charts/` subcharts belong to it), including the catalog root itself. A chart at
  the catalog root makes the whole catalog that one chart (its `templates/` folder is Helm's).

Template ids follow Rancher's: the folder with `/` written as `*`, except that the compose
container `templates/` is dropped and `<base>-templates/` becomes `<base>`
(`templates/neuvector` -> `neuvector`, `infra-templates/ipsec` -> `infra*ipsec`,
`charts/neuvector` -> `charts*neuvector`). A chart at the catalog root has the id `chart`
(`ROOT_CHART_ID`): ids come from paths so that detection and loading always agree, and the
indexer can tell a template that moved from one that changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from weakref import WeakKeyDictionary

from catalog_server.loaders.model import Kind
from catalog_server.problems import Problem, SourceError
from catalog_server.sources import Snapshot, SnapshotEntry, clean_relpath
from catalog_server.versions import version_key

Layout = Literal["rancher", "helm-versioned", "helm-plain"]
ROOT_CHART_ID = "chart"
COMPOSE_CONTAINER = "templates"
COMPOSE_SUFFIX = "-templates"
CHART_FILE = "Chart.yaml"


@dataclass(frozen=True, slots=True)
class TemplateRoot:
    """A template folder found in a snapshot (`folder` relative to the catalog root)."""

    id: str
    folder: str
    kind: Kind
    layout: Layout
    base: str | None


def compose_base(container: str) -> str | None:
    """ "infra" for `infra-templates`; None for `templates` and for non-compose folders."""
    if container.endswith(COMPOSE_SUFFIX) and len(container) > len(COMPOSE_SUFFIX):
        return container[: -len(COMPOSE_SUFFIX)]
    return None


def is_compose_container(name: str) -> bool:
    return name == COMPOSE_CONTAINER or compose_base(name) is not None


def template_id(folder: str) -> str:
    """The template id of a template folder (see the module docstring)."""
    if not folder:
        return ROOT_CHART_ID
    parts = folder.split("/")
    if len(parts) == 2 and parts[0] == COMPOSE_CONTAINER:
        return parts[1]
    if len(parts) == 2 and compose_base(parts[0]) is not None:
        return f"{compose_base(parts[0])}*{parts[1]}"
    return "*".join(parts)


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _is_within(path: str, folder: str) -> bool:
    return not folder or path == folder or path.startswith(folder + "/")


def find_templates(
    entries: Mapping[str, SnapshotEntry],
) -> tuple[list[TemplateRoot], list[Problem]]:
    """Every template folder of a snapshot, sorted by folder, and catalog-level problems.

    Problems: `catalog.duplicate-id` (error, blocking for the later folder, which is left
    out) when two folders map to one id, e.g. `infra-templates/x` and a chart at `infra/x`;
    `file.unsafe-path` (error, not blocking: the path is ignored) for a path that is not a
    plain relative path (absolute, `..`, backslash, NUL), which a crafted git tree can hold.
    """
    entries, unsafe = safe_entries(entries)
    roots, problems = _find(entries)
    return roots, unsafe + problems


# One scan per snapshot, however many callers ask (the indexer, the artifacthub-repo.yml
# check and the indexer again): a scan of a catalog of 50,000 files costs about 0.1 s, three
# of them most of an incremental sync. Weak keys: the scan goes with its snapshot.
_scans: WeakKeyDictionary[Snapshot, tuple[list[TemplateRoot], list[Problem]]] = WeakKeyDictionary()


def snapshot_templates(snapshot: Snapshot) -> tuple[list[TemplateRoot], list[Problem]]:
    """:func:`find_templates` of the snapshot's entries, scanned once per snapshot (a
    snapshot's entries never change); the lists returned are the caller's own."""
    found = _scans.get(snapshot)
    if found is None:
        found = _scans[snapshot] = find_templates(snapshot.entries())
    return list(found[0]), list(found[1])


def chart_folders(paths: Iterable[str]) -> set[str]:
    """The folders holding a Chart.yaml (a string test first: a catalog can hold 500,000
    paths)."""
    return {_parent(p) for p in paths if p.endswith(CHART_FILE) and _name(p) == CHART_FILE}


def _name(path: str) -> str:
    return path.rpartition("/")[2]


def _find(entries: Mapping[str, SnapshotEntry]) -> tuple[list[TemplateRoot], list[Problem]]:
    charts = chart_folders(entries)
    if "" in charts:
        return [TemplateRoot(ROOT_CHART_ID, "", "helm", "helm-plain", None)], []

    roots: list[TemplateRoot] = []
    # A compose template is the second level of a compose container, with files below it:
    # one test per first-level folder, not per path.
    containers: dict[str, bool] = {}
    compose_folders: set[str] = set()
    for path in entries:
        top, _, rest = path.partition("/")
        if "/" not in rest:
            continue
        container = containers.get(top)
        if container is None:
            container = containers[top] = is_compose_container(top)
        if container:
            compose_folders.add(f"{top}/{rest.partition('/')[0]}")
    for folder in compose_folders:
        container = folder.split("/")[0]
        roots.append(
            TemplateRoot(template_id(folder), folder, "compose", "rancher", compose_base(container))
        )

    # Charts inside a compose template belong to it; charts inside charts are subcharts.
    top = [
        f
        for f in charts
        if not ("/" in f and is_compose_container(f.split("/")[0]))
        and not any(_is_within(f, a) for a in _ancestors(f) if a in charts)
    ]
    by_parent: dict[str, list[str]] = {}
    for folder in top:
        if folder.count("/") == 2:
            by_parent.setdefault(_parent(folder), []).append(folder)
    versioned = {
        parent
        for parent, children in by_parent.items()
        if any(version_key(c.rpartition("/")[2]) is not None for c in children)
    }
    for parent in versioned:
        roots.append(
            TemplateRoot(
                template_id(parent), parent, "helm", "helm-versioned", parent.split("/")[0]
            )
        )
    for folder in top:
        if _parent(folder) in versioned:
            continue
        base = folder.split("/")[0] if "/" in folder else None
        roots.append(TemplateRoot(template_id(folder), folder, "helm", "helm-plain", base))
    return _unique(sorted(roots, key=lambda r: (r.kind != "compose", r.folder)))


def _ancestors(folder: str) -> Iterable[str]:
    parts = folder.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])


def _unique(roots: list[TemplateRoot]) -> tuple[list[TemplateRoot], list[Problem]]:
    seen: dict[str, TemplateRoot] = {}
    problems: list[Problem] = []
    for root in roots:
        first = seen.get(root.id)
        if first is None:
            seen[root.id] = root
            continue
        problems.append(
            Problem(
                "catalog.duplicate-id",
                "error",
                f"folder {root.folder}/ has the template id {root.id!r}, already taken by "
                f"{first.folder}/; it is not loaded: rename one of the two folders",
                file=root.folder,
                blocking=True,
            )
        )
    return sorted(seen.values(), key=lambda r: r.folder), problems


def is_safe_path(path: str) -> bool:
    try:
        return clean_relpath(path) == path
    except SourceError:
        return False


def safe_entries(
    entries: Mapping[str, SnapshotEntry],
) -> tuple[dict[str, SnapshotEntry], list[Problem]]:
    """The entries with safe paths, and a `file.unsafe-path` problem for each other one."""
    safe: dict[str, SnapshotEntry] = {}
    problems: list[Problem] = []
    for path, entry in entries.items():
        if is_safe_path(path):
            safe[path] = entry
            continue
        problems.append(
            Problem(
                "file.unsafe-path",
                "error",
                f"path {path!r} is not a plain relative path "
                "(absolute, `..`, backslash or NUL) and is ignored",
                file=path.encode("unicode_escape").decode("ascii"),
            )
        )
    return safe, problems
