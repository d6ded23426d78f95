"""Plain data produced by the loaders: what a template folder holds, before indexing.

Loaders import nothing from Flask or the database; the indexer turns these objects into rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from catalog_server.problems import Problem

Kind = Literal["compose", "helm"]

# What a template is, which decides what installing it means. Rancher 1.x told its
# template kinds apart by the folder they live in (`<base>-templates/`), and so does this.
TEMPLATE_TYPES = {
    "stack": "a compose stack: services that `docker compose` (or Rancher 1.x) runs",
    "chart": "a Helm chart",
    "machine-driver": "a Docker Machine driver (machine-templates/): Rancher 1.x installed it "
    "as a host driver from its url and checksum; it is not a stack and has no compose file",
    "kubernetes-manifests": "Kubernetes manifests (kubernetes-templates/) for a Rancher 1.x "
    "Kubernetes environment; not a compose stack",
    "environment-template": "a Rancher 1.x environment template (project-templates/): which "
    "infrastructure stacks an environment starts with; not a stack itself",
}
INSTALLABLE_TYPES = frozenset({"stack", "chart"})
_BASE_TYPES = {
    "machine": "machine-driver",
    "kubernetes": "kubernetes-manifests",
    "project": "environment-template",
}


def template_type(kind: str, base: str | None) -> str:
    """The template's type (a TEMPLATE_TYPES key) from its loader kind and base folder."""
    if kind == "helm":
        return "chart"
    return _BASE_TYPES.get(base or "", "stack")


# The fields a version carries as its files write them (text or None), from the loader
# through the database to the API and the OpenAPI document: one list for all of them.
VERSION_TEXT_FIELDS = (
    "app_version",
    "upgrade_from",
    "minimum_rancher_version",
    "maximum_rancher_version",
    "kube_version",
    "chart_kube_version",
    "rancher_version",
)


@dataclass(slots=True)
class FileEntry:
    """A file of a version folder, path relative to that folder."""

    path: str
    size: int
    content: bytes | None  # None when the file was too large or unsafe to keep
    sha256: str = ""


@dataclass(slots=True)
class LoadedVersion:
    version: str  # the version string (catalog metadata / Chart.yaml), folder name as fallback
    folder: str  # the version folder's name ("0", "1.2.0", "v1.6.9"); "" for a plain chart
    revision: int | None = None  # numbered compose folders: the folder number
    name: str | None = None
    description: str | None = None
    app_version: str | None = None
    minimum_rancher_version: str | None = None
    maximum_rancher_version: str | None = None
    upgrade_from: str | None = None
    # Helm charts: Kubernetes and Rancher version ranges (catalog.cattle.io/kube-version,
    # Chart.yaml's kubeVersion, catalog.cattle.io/rancher-version), as written.
    kube_version: str | None = None
    chart_kube_version: str | None = None
    rancher_version: str | None = None
    questions: list[dict[str, Any]] = field(default_factory=list)
    # Everything else worth keeping: the parsed Chart.yaml or catalog block, labels, ...
    metadata: dict[str, Any] = field(default_factory=dict)
    readme: str | None = None
    files: list[FileEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # The YAML files the loader parsed (yamlfile.YamlResult, by path relative to the version
    # folder), so validation can name lines without parsing again. Not stored.
    parsed: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # A chart version's images (`catalog_server.images.ChartImages`): not the loader's; the
    # indexer and lint find them before validation, which reads them.
    images: Any = field(default=None, repr=False, compare=False)

    @property
    def usable(self) -> bool:
        return not any(p.blocking for p in self.problems)


@dataclass(slots=True)
class LoadedTemplate:
    id: str  # unique in its catalog, see catalog_server.loaders.detect.template_id
    folder: str  # path of the template folder relative to the catalog root
    kind: Kind
    base: str | None = None  # "infra" for infra-templates/, the container folder for charts
    name: str | None = None  # display name
    description: str | None = None
    categories: list[str] = field(default_factory=list)
    maintainer: str | None = None
    license: str | None = None
    project_url: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    icon_path: str | None = None  # relative to the template folder
    icon: bytes | None = None
    icon_media_type: str | None = None
    default_version: str | None = None
    readme: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Not listed by default (catalog.cattle.io/hidden of the newest usable version).
    hidden: bool = False
    # What a card shows about the template: certified, experimental, deprecated, featured,
    # type, os (from the newest usable version's annotations).
    flags: dict[str, Any] = field(default_factory=dict)
    versions: list[LoadedVersion] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # template-level problems
    # Parsed YAML files of the template folder itself (config.yml), as on LoadedVersion.
    parsed: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def usable(self) -> bool:
        """False when the template itself could not be loaded (its versions say nothing)."""
        return not any(p.blocking for p in self.problems)

    def all_problems(self) -> list[Problem]:
        out = [p.at(template=self.id) for p in self.problems]
        for v in self.versions:
            out.extend(p.at(template=self.id, version=v.version) for p in v.problems)
        return out
