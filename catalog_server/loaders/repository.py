"""Files a catalog holds for its chart repository as a whole: `artifacthub-repo.yml`.

Artifact Hub reads `artifacthub-repo.yml` beside a repository's index.yaml (repositoryID,
owners, ignore). A catalog keeps it at its root or in the folder holding its charts (the
Helm folder's root, `charts/` say); the chart repository serves it as written.
"""

from __future__ import annotations

from collections.abc import Mapping

from catalog_server.loaders.detect import snapshot_templates
from catalog_server.problems import Problem, SourceError
from catalog_server.sources import Snapshot
from catalog_server.yamlfile import load_yaml

ARTIFACTHUB_REPO = "artifacthub-repo.yml"
MAX_REPO_FILE = 64 * 1024
KNOWN_KEYS = {"repositoryID", "owners", "ignore"}
RULE = "helm.artifacthub-repo"


def _candidates(snapshot: Snapshot) -> list[str]:
    """Where the file may be, the catalog root first, then each folder holding charts."""
    entries = snapshot.entries()
    roots, _ = snapshot_templates(snapshot)
    folders = sorted({r.folder.rpartition("/")[0] for r in roots if r.kind == "helm"})
    paths = [ARTIFACTHUB_REPO] + [f"{f}/{ARTIFACTHUB_REPO}" for f in folders if f]
    return [p for p in dict.fromkeys(paths) if p in entries]


def artifacthub_repo(snapshot: Snapshot) -> tuple[str | None, list[Problem]]:
    """The catalog's artifacthub-repo.yml text, or None; and its problems (warnings).

    The file is served as written when it is UTF-8 YAML holding a mapping of at most
    `MAX_REPO_FILE` bytes; otherwise it is not served and a problem says why. Unknown keys
    and wrongly shaped ones are reported and the file is still served (Artifact Hub
    ignores what it does not read).
    """
    found = _candidates(snapshot)
    if not found:
        return None, []
    path, problems = found[0], []

    def warn(message: str, line: int | None = None) -> None:
        problems.append(Problem(RULE, "warning", message, file=path, line=line))

    for other in found[1:]:
        problems.append(
            Problem(
                RULE,
                "warning",
                f"{other} is not served: {path} is; keep one artifacthub-repo.yml",
                file=other,
            )
        )
    try:
        data = snapshot.read(path, MAX_REPO_FILE)
    except SourceError as exc:
        warn(f"{path} is not served: {exc}")
        return None, problems
    result = load_yaml(data, path)
    errors = [p for p in result.problems if p.severity == "error"]
    if errors or not isinstance(result.value, Mapping):
        reason = errors[0].message if errors else "it does not hold a mapping"
        warn(f"{path} is not served: {reason}", errors[0].line if errors else 1)
        return None, problems
    value = result.value
    for key in value:
        if key not in KNOWN_KEYS:
            warn(
                f"{path}: unknown key {key!r}; Artifact Hub reads {', '.join(sorted(KNOWN_KEYS))}",
                result.positions.get((key,), (None,))[0],
            )
    if "repositoryID" in value and not isinstance(value["repositoryID"], str):
        warn(
            f"{path}: repositoryID must be a string (the repository's id on Artifact Hub)",
            result.positions.get(("repositoryID",), (None,))[0],
        )
    for key in ("owners", "ignore"):
        if key in value and not (
            isinstance(value[key], list) and all(isinstance(i, Mapping) for i in value[key])
        ):
            warn(
                f"{path}: {key} must be a list of mappings",
                result.positions.get((key,), (None,))[0],
            )
    return data.decode("utf-8"), problems
