"""How Rancher installs a chart: the release name and the namespace it picks.

Plain Python, shared by the install manifests, the web pages, the images found at sync
and the survey, so all of them name a chart's release the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_RELEASE", "default_namespace", "default_release"]

MAX_RELEASE = 53  # Helm release names are DNS labels of at most 53 characters


def _annotations(chart: Mapping[str, Any]) -> Mapping[str, Any]:
    annotations = chart.get("annotations")
    return annotations if isinstance(annotations, Mapping) else {}


def default_release(name: str, chart: Mapping[str, Any]) -> str:
    """The release name Rancher installs a chart as: its `catalog.cattle.io/release-name`
    annotation, else the chart's name, else `name`; made a DNS label ("release" if empty)."""
    text = str(
        _annotations(chart).get("catalog.cattle.io/release-name") or chart.get("name") or name
    )
    text = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:MAX_RELEASE].strip("-")
    return text or "release"


def default_namespace(chart: Mapping[str, Any]) -> str:
    """The namespace Rancher installs a chart into: `catalog.cattle.io/namespace`, else
    `default`."""
    return str(_annotations(chart).get("catalog.cattle.io/namespace") or "default")
