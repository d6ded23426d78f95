"""Policy rules: what a catalog's maintainers choose not to ship without a reason.

- `policy.image-latest`: an image with no tag or `:latest` (compose services; Helm values,
  read with the sibling keys that pin them, and images a chart's templates run with the
  default values, when the version was rendered: `catalog_server.images`).
- `policy.privileged`, `policy.host-namespace`, `policy.docker-socket`, `policy.cap-add-all`:
  powers a container should only get on purpose. A service label, or a template label
  (config.yml `labels`, Chart.yaml `annotations`), named `io.catalog.privileged-reason`
  with a non-empty value says why and silences them.
- `policy.secret-default`: a password or secret question with a default.
- `policy.literal-secret`: a literal value in an environment variable named like a secret.

Severities can be changed, or rules turned off, per catalog in `.catalog-lint.yaml` (see
`validation.overrides`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from catalog_server.images import unpinned, values_images
from catalog_server.manifests.interpolate import InterpolationError, variable_uses
from catalog_server.problems import Problem
from catalog_server.validation.compose import ComposeDocument, compose_documents, mount_source
from catalog_server.validation.content import VersionFiles, line_of
from catalog_server.validation.questions import SECRET_TYPES, VersionQuestions

REASON_LABEL = "io.catalog.privileged-reason"
# Rancher 1.x service kinds written as image names: Rancher creates a load balancer, an
# alias or an external service for them and pulls no such image.
RANCHER_SERVICE_IMAGES = frozenset(
    {"rancher/load-balancer-service", "rancher/dns-service", "rancher/external-service"}
)
DOCKER_SOCKETS = frozenset({"/var/run/docker.sock", "/run/docker.sock"})
_SECRET_NAME = re.compile(r"(?:^|_)(?:PASSWORD|PASSWD|PASS|TOKEN|SECRET|KEY)S?(?:_|$)", re.I)
# Names that hold where a secret is, or what it is called, not the secret itself.
_SECRET_REFERENCE = re.compile(r"_(?:FILE|PATH|DIR|NAME|ID)$", re.I)


def validate_policy(
    files: VersionFiles, found: VersionQuestions, template_reason: bool
) -> Iterator[Problem]:
    """Policy problems of one version. `template_reason`: the template states a reason."""
    for entry in found.entries:
        default = entry.spec.get("default")
        if entry.spec.get("type") in SECRET_TYPES and default not in (None, ""):
            yield files.report(
                "policy.secret-default",
                f"question {entry.variable!r} is a "
                f"{entry.spec['type']} with a default; remove the default so "
                "every install sets its own",
                found.file,
                found.line(entry, "default"),
            )
    if files.template.kind == "compose":
        for doc in compose_documents(files, found):
            yield from _compose(files, doc, template_reason)
    else:
        yield from _helm_values(files, template_reason)


def labels_state_reason(labels: Any) -> bool:
    """True when `labels` (a mapping or a list of `k=v`) hold a non-empty reason label."""
    if isinstance(labels, dict):
        return bool(str(labels.get(REASON_LABEL) or "").strip())
    if isinstance(labels, list):
        return any(
            isinstance(item, str)
            and item.startswith(REASON_LABEL + "=")
            and item.split("=", 1)[1].strip()
            for item in labels
        )
    return False


def _compose(files: VersionFiles, doc: ComposeDocument, template_reason: bool):
    originals = doc.services(resolved=False)
    for name, service in doc.services().items():
        base = ("services", name)

        def at(rule: str, message: str, key: str, *more: Any, name=name, base=base) -> Problem:
            return files.report(
                rule, f"service {name!r}: {message}", doc.file, doc.line((*base, key, *more))
            )

        image = service.get("image")
        if (
            isinstance(image, str)
            and image
            and unpinned(image)
            and image.strip() not in RANCHER_SERVICE_IMAGES
        ):
            yield at(
                "policy.image-latest",
                f"image {image!r} is not pinned (no tag, or `latest`); "
                "pin a released version (`name:1.2.3`) so installs are repeatable",
                "image",
            )
        original = originals.get(name, {})
        reason = template_reason or labels_state_reason(original.get("labels"))
        if not reason:
            yield from _powers(service, at)
        environment = original.get("environment")
        for key, value, where in _environment(environment):
            if _SECRET_NAME.search(key) and not _SECRET_REFERENCE.search(key) and _literal(value):
                yield at(
                    "policy.literal-secret",
                    f"environment {key} holds a literal value; "
                    f"ask for it with a password question and write ${{{key}}}",
                    "environment",
                    where,
                )


def _powers(service: dict, at) -> Iterator[Problem]:
    why = f"; if it is needed, say why in a `{REASON_LABEL}` label"
    if str(service.get("privileged")).lower() == "true":
        yield at("policy.privileged", "runs privileged" + why, "privileged")
    for key in ("network_mode", "net", "pid"):
        if service.get(key) == "host":
            what = "PID" if key == "pid" else "network"
            yield at("policy.host-namespace", f"uses the host {what} namespace" + why, key)
    for i, volume in enumerate(service.get("volumes") or ()):
        if (mount_source(volume) or "").rstrip("/") in DOCKER_SOCKETS:
            yield at(
                "policy.docker-socket",
                "mounts the Docker socket, which gives root on the host" + why,
                "volumes",
                i,
            )
    caps = service.get("cap_add")
    if isinstance(caps, list) and any(str(c).upper() in ("ALL", "CAP_ALL") for c in caps):
        yield at(
            "policy.cap-add-all",
            "adds every capability (cap_add: ALL); add only the ones it needs" + why,
            "cap_add",
        )


def _environment(environment: Any) -> Iterator[tuple[str, Any, Any]]:
    """(name, value, path key) for a mapping or a list of NAME=value."""
    if isinstance(environment, dict):
        for key, value in environment.items():
            yield str(key), value, key
    elif isinstance(environment, list):
        for i, item in enumerate(environment):
            if isinstance(item, str) and "=" in item:
                key, value = item.split("=", 1)
                yield key, value, i


def _literal(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        return not variable_uses(value)
    except InterpolationError:
        return False


def _helm_values(files: VersionFiles, template_reason: bool) -> Iterator[Problem]:
    rel = files.first("values.yaml", "values.yml")
    parsed = files.yaml(rel) if rel else None
    if parsed is not None:
        yield from _helm_images(files, rel, parsed)
        if not template_reason:
            yield from _helm_powers(files, rel, parsed)
    yield from _rendered_images(files, parsed)


def _helm_images(files: VersionFiles, rel: str, parsed) -> Iterator[Problem]:
    """Images the values do not pin, understood with their sibling keys (`images`)."""
    for found in values_images(parsed.value):
        if not found.pinned:
            shown = ".".join(map(str, found.path)) or "values"
            yield files.report(
                "policy.image-latest",
                f"{shown}: image {found.reference!r} is not pinned (no tag, or `latest`); pin a "
                "released version (a tag beside it, or in the reference) so installs are "
                "repeatable",
                rel,
                line_of(parsed, found.path),
            )


def _rendered_images(files: VersionFiles, parsed) -> Iterator[Problem]:
    """Images the chart's templates run unpinned with the default values, that the values
    do not name (a tag-less image written in a template)."""
    found = files.version.images
    if found is None or found.source != "rendered":
        return
    named = {_repository(i.reference) for i in values_images(parsed.value)} if parsed else set()
    for image, template in found.unpinned:
        repository = _repository(image)
        if any(repository == n or repository.endswith("/" + n) for n in named if n):
            continue  # the values name it: judged above
        rel = template.split("/", 1)[1] if "/" in template else template
        what = "has no name" if not repository else "is not pinned (no tag, or `latest`)"
        yield files.report(
            "policy.image-latest",
            f"image {image!r}, which {rel} runs with the default values, {what}; pin a "
            "released version so installs are repeatable",
            rel if files.has(rel) else None,
        )


def _repository(reference: str) -> str:
    name = reference.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def _helm_powers(files: VersionFiles, rel: str, parsed) -> Iterator[Problem]:
    why = f"; if it is needed, say why in a `{REASON_LABEL}` Chart.yaml annotation"
    stack: list[tuple[tuple[Any, ...], Any]] = [((), parsed.value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in enumerate(node))
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            where = (*path, key)
            if value is True and key in ("privileged", "hostNetwork", "hostPID"):
                message = "runs privileged" if key == "privileged" else f"{key} is on"
                rule = "policy.privileged" if key == "privileged" else "policy.host-namespace"
                yield files.report(rule, f"{'.'.join(map(str, where))}: {message}{why}", rel,
                                   line_of(parsed, where))  # fmt: skip
            stack.append((where, value))
