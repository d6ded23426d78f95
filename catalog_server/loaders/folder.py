"""Reading a template folder out of a snapshot: what the compose and Helm loaders share.

Every function here returns problems instead of raising for bad content. Problem files are
paths relative to the catalog root; `FileEntry.path` is relative to the version folder.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from catalog_server.loaders.detect import is_safe_path
from catalog_server.loaders.model import FileEntry, LoadedTemplate, LoadedVersion
from catalog_server.problems import Problem
from catalog_server.sources import (
    FileTooLarge,
    NotARegularFile,
    Snapshot,
    SnapshotEntry,
    sha256_hex,
)
from catalog_server.versions import sort_versions
from catalog_server.yamlfile import YamlResult, decode_text, load_yaml

ICON_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}
# The file extension an icon of each media type is served under.
ICON_EXTENSIONS = {
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
}


def join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def entries_under(entries: Mapping[str, SnapshotEntry], folder: str) -> dict[str, SnapshotEntry]:
    """The entries below `folder`, keyed by path relative to it."""
    if not folder:
        return dict(entries)
    prefix = folder + "/"
    return {p[len(prefix) :]: e for p, e in entries.items() if p.startswith(prefix)}


# Sorted paths per snapshot, so that loading each of T templates costs O(log N + k) rather
# than a scan of all N entries (the indexer loads templates one by one).
_SORTED: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()


def snapshot_entries_under(snapshot: Snapshot, folder: str) -> dict[str, SnapshotEntry]:
    """`entries_under(snapshot.entries(), folder)` without unsafe paths, from a cached index."""
    entries = snapshot.entries()
    try:
        paths = _SORTED.get(snapshot)
        if paths is None or len(paths) != len(entries):
            paths = _SORTED[snapshot] = sorted(p for p in entries if is_safe_path(p))
    except TypeError:  # a snapshot that cannot be weakly referenced
        paths = sorted(p for p in entries if is_safe_path(p))
    if not folder:
        return {p: entries[p] for p in paths}
    prefix = folder + "/"
    # Every path starting with "folder/" sorts in ["folder/", "folder0"): "0" follows "/".
    lo, hi = bisect_left(paths, prefix), bisect_left(paths, folder + "0")
    return {p[len(prefix) :]: entries[p] for p in paths[lo:hi]}


def child_folders(entries: Mapping[str, SnapshotEntry]) -> set[str]:
    """Names of the folders directly in a folder, given its entries (relative paths)."""
    return {p.split("/", 1)[0] for p in entries if "/" in p}


def read_entry(
    snapshot: Snapshot, path: str, entry: SnapshotEntry, needed: bool
) -> tuple[bytes | None, Problem | None]:
    """Read one file; symlinks, non-regular and too-large files give a problem instead.

    Rules: `file.symlink`, `file.not-regular`, `file.too-large`, `file.unreadable`. They are
    blocking errors when the file is `needed` (the version cannot be served without it) and
    non-blocking warnings otherwise; the content is never kept.
    """

    def problem(rule: str, message: str) -> Problem:
        return Problem(rule, "error" if needed else "warning", message, file=path, blocking=needed)

    if entry.kind == "symlink":
        return None, problem(
            "file.symlink",
            f"{path} is a symbolic link; links are never "
            "followed (they may point outside the repository): commit the "
            "file itself",
        )
    if entry.kind != "file":
        return None, problem(
            "file.not-regular",
            f"{path} is not a regular file (a submodule or special file) and is ignored",
        )
    try:
        return snapshot.read(path), None
    except FileTooLarge as exc:
        return None, problem(
            "file.too-large",
            f"{path} is {exc.size} bytes; files over {exc.limit} bytes are not read",
        )
    except NotARegularFile:
        return None, problem("file.symlink", f"{path} is not a regular file and is ignored")
    except Exception as exc:  # a vanished file or a git object error: report, carry on
        return None, problem("file.unreadable", f"{path} could not be read: {exc}")


def read_files(
    snapshot: Snapshot,
    folder: str,
    entries: Mapping[str, SnapshotEntry],
    needed: Callable[[str], bool],
) -> tuple[list[FileEntry], dict[str, bytes], list[Problem]]:
    """Read every file of a version folder (`entries` keyed relative to `folder`).

    Returns the file entries (content None for files not kept), the contents by relative
    path, and the problems of files not kept.
    """
    files: list[FileEntry] = []
    contents: dict[str, bytes] = {}
    problems: list[Problem] = []
    for rel in sorted(entries):
        entry = entries[rel]
        data, problem = read_entry(snapshot, join(folder, rel), entry, needed(rel))
        if problem is not None:
            problems.append(problem)
            files.append(FileEntry(rel, entry.size, None))
        else:
            assert data is not None
            contents[rel] = data
            files.append(FileEntry(rel, len(data), data, sha256_hex(data)))
    return files, contents, problems


def tolerate_template(result: YamlResult, data: bytes) -> YamlResult:
    """Turn a failed parse of a `.yml` holding `{{ }}` into one non-blocking warning.

    Such files are Go templates that Rancher renders before reading them, so the YAML error
    is expected; rule `yaml.go-template` (warning) keeps the first error's line.
    """
    if result.ok or b"{{" not in data:
        return result
    first = next(p for p in result.problems if p.blocking)
    kept = [p for p in result.problems if not p.blocking]
    kept.append(
        Problem(
            "yaml.go-template",
            "warning",
            f"{first.file} holds Go template syntax ({{{{ }}}}) and is not plain YAML until "
            f"rendered ({first.message}); name it with a .tpl suffix if it is a template",
            file=first.file,
            line=first.line,
            column=first.column,
        )
    )
    return YamlResult(None, kept, {}, {})


def parse_yaml(data: bytes | None, path: str, *, templated: bool = False) -> YamlResult:
    """Parse a file's bytes (None: not kept, an empty result with no problem of its own)."""
    if data is None:
        return YamlResult()
    result = load_yaml(data, path)
    return tolerate_template(result, data) if templated else result


def mapping(result: YamlResult, path: str, *, blocking: bool = True) -> dict[str, Any]:
    """The parsed value as a mapping; a non-mapping document adds `yaml.not-mapping`."""
    if isinstance(result.value, dict):
        return result.value
    if result.value is not None:
        result.problems.append(
            Problem(
                "yaml.not-mapping",
                "error" if blocking else "warning",
                f"{path} must hold a mapping (key: value lines), not a "
                f"{type(result.value).__name__}",
                file=path,
                line=1,
                blocking=blocking,
            )
        )
    return {}


def read_text(data: bytes | None, path: str) -> tuple[str | None, list[Problem]]:
    """Decode a README or similar; problems are non-blocking (only the text is lost)."""
    if data is None:
        return None, []
    text, problems = decode_text(data, path)
    return text, [_non_blocking(p) for p in problems]


def _non_blocking(p: Problem) -> Problem:
    return Problem(p.rule, "warning", p.message, file=p.file, line=p.line, column=p.column)


def text(value: Any) -> str | None:
    """A scalar metadata field as text; None for absent values and collections."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def text_list(value: Any) -> list[str]:
    """A field that should be a list of strings (a single string counts as one)."""
    if isinstance(value, list):
        return [t for t in (text(v) for v in value) if t]
    single = text(value)
    return [single] if single else []


def text_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): text(v) or "" for k, v in value.items()}


def find_icon(
    snapshot: Snapshot,
    folder: str,
    entries: Mapping[str, SnapshotEntry],
    names: Callable[[str], bool],
) -> tuple[str | None, bytes | None, str | None, list[Problem]]:
    """The first icon file directly in `folder` whose name passes `names`.

    Returns (path relative to `folder`, bytes, media type, problems); problems are
    non-blocking (a template without an icon is served with a placeholder).
    """
    for rel in sorted(entries):
        if "/" in rel or not names(rel):
            continue
        media = ICON_TYPES.get(rel[rel.rfind(".") :].lower()) if "." in rel else None
        if media is None:
            continue
        data, problem = read_entry(snapshot, join(folder, rel), entries[rel], needed=False)
        if problem is not None:
            return None, None, None, [problem]
        return rel, data, media, []
    return None, None, None, []


def order_versions(versions: Iterable[LoadedVersion]) -> list[LoadedVersion]:
    """Sort newest first; a version string declared again by an older folder is blocked.

    Rule `version.duplicate` (error, blocking for the older folder): two folders declaring
    one version would make the version ambiguous, so only the newest folder is served.
    """
    ordered = sort_versions(list(versions))
    seen: dict[str, LoadedVersion] = {}
    for v in ordered:
        first = seen.get(v.version)
        if first is None:
            seen[v.version] = v
            continue
        v.problems.append(
            Problem(
                "version.duplicate",
                "error",
                f"version {v.version} is also declared by folder {first.folder or '.'}/; this "
                f"folder ({v.folder or '.'}/) is not served: give it a distinct version",
                blocking=True,
            )
        )
    return ordered


def newest_usable(template: LoadedTemplate) -> LoadedVersion | None:
    """The newest usable version of a template whose versions are already ordered."""
    return next((v for v in template.versions if v.usable), None)


def internal_problem(where: str, exc: BaseException) -> Problem:
    """An unexpected exception while loading `where`, as a blocking `loader.internal` error."""
    return Problem(
        "loader.internal",
        "error",
        f"{where or 'the catalog root'} could not be loaded ({type(exc).__name__}: {exc}); "
        "this is a bug in the catalog server, please report it",
        file=where or None,
        blocking=True,
    )
