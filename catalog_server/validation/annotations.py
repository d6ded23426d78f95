"""Rules for the Chart.yaml annotations Rancher 2 and Artifact Hub read.

The syntax of every `catalog.cattle.io/...` and `artifacthub.io/...` annotation the loader
reads (`loaders.annotations`): version ranges parse, booleans are "true" or "false", names
and quantities are valid, YAML inside Artifact Hub annotations parses and has the expected
shape. Each finding is a warning on Chart.yaml at the annotation's line: Rancher and
Artifact Hub skip what they cannot read, and so does the server.
"""

from __future__ import annotations

from collections.abc import Iterator

from catalog_server.loaders.annotations import RANCHER, read_annotations
from catalog_server.problems import Problem
from catalog_server.validation.content import VersionFiles, line_of

CHART_FILE = "Chart.yaml"


def validate_annotations(files: VersionFiles) -> Iterator[Problem]:
    """Every malformed Rancher or Artifact Hub annotation of one chart version."""
    if files.template.kind != "helm":
        return
    parsed = files.yaml(CHART_FILE)
    if parsed is None or not isinstance(parsed.value, dict):
        return
    for key, message in read_annotations(parsed.value.get("annotations")).issues:
        rule = (
            "helm.rancher-annotation" if key.startswith(RANCHER) else "helm.artifacthub-annotation"
        )
        yield files.report(rule, message, CHART_FILE, line_of(parsed, ("annotations", key)))
