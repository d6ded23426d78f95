"""Turn a compose file of any format into the Compose Specification's layout.

:func:`convert` takes a parsed (usually interpolated) compose document and returns a
:class:`Conversion`: the document as today's `docker compose` reads it, one :class:`Note`
per thing worth telling about the file's format, and a map from paths in the converted
document back to paths in the file, so that whatever is found in the converted document is
reported at the file's own line.

What is converted (each one a Note with ``change`` set, listed in install manifests):

- v1 layout: services moved under ``services:``; ``version`` left out (today's Compose
  ignores it);
- ``net`` -> ``network_mode``; ``log_driver``/``log_opt`` -> ``logging``; ``dockerfile`` ->
  ``build.dockerfile``; ``volume_driver`` -> the ``driver`` of the named volumes the service
  mounts; Rancher's ``blkio_weight``/``device_*_bps``… -> ``blkio_config``;
- ``container:S`` network modes that name a service S of the file -> ``service:S`` (Rancher
  and docker-compose 1.x meant the service; today's Compose would look for a container);
- Rancher-only keys (``health_check``, ``lb_config``, ``per_container``…) left out;
- named volumes that v1 and Rancher created on the fly, declared under ``volumes:``.

Notes carry the lint rule they stand for: ``compose.legacy-v1``, ``compose.legacy-key``,
``compose.rancher-extension`` (info: valid in the file's format), ``compose.format-key``
(warning: a key the declared format lacks but today's Compose has), ``compose.version``
(warning); ``rule`` is None for conversions that say nothing about the file (dropping
``version: '2'``, declaring a v1 file's volumes). Keys in no format are left in place for
the Compose Specification schema to report. Pure: the input is never changed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog_server.manifests.composeformat import (
    RANCHER_BLKIO_KEYS,
    RANCHER_ONLY_KEYS,
    RANCHER_SERVICE_KEYS,
    RANCHER_VOLUME_KEYS,
    SPEC_TOP_KEYS,
    ComposeFormat,
    detect_format,
    spec_keys,
)

__all__ = ["Conversion", "Note", "convert", "named_volume"]

Path = tuple[Any, ...]
# What today's Compose has instead of a legacy key, for the notes.
REPLACED = {
    "net": "`network_mode`",
    "log_driver": "`logging.driver`",
    "log_opt": "`logging.options`",
    "dockerfile": "`build.dockerfile`",
    "volume_driver": "the `driver` of each named volume under the top-level `volumes:`",
}


@dataclass
class Note:
    """Something about a file's format: ``rule`` (None: only a conversion), where (a path
    in the file), the lint ``message``, and ``change``: what conversion did, or None."""

    rule: str | None
    path: Path
    message: str
    change: str | None = None
    service: str | None = None  # the service the note is about, if any


@dataclass
class Conversion:
    format: ComposeFormat
    document: dict[str, Any]
    notes: list[Note] = field(default_factory=list)
    origin: dict[Path, Path] = field(default_factory=dict)

    def original_path(self, path: Path) -> Path:
        """The path in the file of ``path`` in the converted document."""
        path = tuple(path)
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.origin:
                return self.origin[path[:cut]] + path[cut:]
        return path

    def note(
        self,
        rule: str | None,
        path: Path,
        message: str,
        change: str | None = None,
        service: str | None = None,
    ) -> None:
        self.notes.append(Note(rule, self.original_path(path), message, change, service))


def convert(document: Mapping[str, Any]) -> Conversion:
    """``document`` in the Compose Specification's layout, with notes (module docstring)."""
    fmt, version_problem = detect_format(document)
    out: dict[str, Any] = copy.deepcopy(dict(document))
    conv = Conversion(fmt, out)
    if fmt.family == "1":
        conv.document = out = {"services": out}
        conv.origin[("services",)] = ()
        conv.note(
            "compose.legacy-v1",
            (),
            f"{fmt.label} (services at the top level); today's "
            "Compose reads services under `services:`",
            "services moved under `services:` (compose file format v1)",
        )
    if version_problem:
        conv.note("compose.version", ("version",), version_problem)
    if "version" in out:
        conv.note(
            None,
            ("version",),
            "",
            f"`version: {out['version']!r}` left out: today's Compose ignores it",
        )
        del out["version"]
    if fmt.legacy:
        _top_level(conv, fmt)
    services = out.get("services")
    if isinstance(services, dict):
        names = {str(name) for name in services}
        for name, service in services.items():
            if isinstance(service, dict):
                _service(conv, fmt, ("services", name), service, names)
        if fmt.rancher:
            _declare_volumes(conv, fmt, services)
    return conv


def _top_level(conv: Conversion, fmt: ComposeFormat) -> None:
    out = conv.document
    if fmt.family != "1":
        for key in list(out):
            if _extension(key) or key in fmt.top_keys():
                continue
            if key in SPEC_TOP_KEYS:
                conv.note("compose.format-key", (key,), _format_key(fmt, f"top-level `{key}`"))
    for section, definition, allowed in (
        ("volumes", "volume", fmt.volume_keys()),
        ("networks", "network", fmt.network_keys()),
    ):
        entries = out.get(section)
        if not isinstance(entries, dict):
            continue
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                continue
            for key in list(entry):
                path = (section, name, key)
                if fmt.rancher and entry[key] is None:
                    # Rancher read an empty setting (`driver_opts:` rendered empty) as unset.
                    conv.note(None, path, "", f"{definition} {name!r}: empty `{key}` left out")
                    del entry[key]
                    continue
                if _extension(key) or key in allowed:
                    continue
                if fmt.rancher and section == "volumes" and key in RANCHER_VOLUME_KEYS:
                    conv.note(
                        "compose.rancher-extension",
                        path,
                        f"`{key}` on volume {name!r} "
                        "is a Rancher 1.x extension; today's Compose has no counterpart",
                        f"volume {name!r}: Rancher's `{key}` left out",
                    )
                    del entry[key]
                elif key in spec_keys(definition):
                    conv.note(
                        "compose.format-key",
                        path,
                        _format_key(fmt, f"`{key}` on {definition} {name!r}"),
                    )


def _service(
    conv: Conversion, fmt: ComposeFormat, base: Path, service: dict[str, Any], names: set[str]
) -> None:
    if not fmt.legacy:
        return
    name = base[1]
    allowed = fmt.service_keys() | (RANCHER_SERVICE_KEYS if fmt.rancher else frozenset())
    for key in list(service):
        if not isinstance(key, str) or _extension(key):
            continue
        path = (*base, key)
        if key not in allowed:
            if key in spec_keys("service"):
                conv.note(
                    "compose.format-key", path, _format_key(fmt, f"`{key}`", key), service=name
                )
        elif key in RANCHER_ONLY_KEYS and key not in fmt.service_keys():
            hint = (
                " (today's `healthcheck` runs a command in the container instead)"
                if key == "health_check"
                else ""
            )
            conv.note(
                "compose.rancher-extension",
                path,
                f"`{key}` is a Rancher 1.x key; today's Compose has no counterpart{hint}",
                f"service {name!r}: Rancher's `{key}` left out",
                service=name,
            )
            del service[key]
        elif key in RANCHER_BLKIO_KEYS and key not in fmt.service_keys():
            _blkio(conv, base, service, key)
    own = fmt.service_keys()
    if "net" in service and "net" in own:
        value = service.pop("net")
        conv.origin[(*base, "network_mode")] = conv.original_path((*base, "net"))
        conv.note(
            "compose.legacy-key",
            (*base, "network_mode"),
            f"`net` is {REPLACED['net']} in today's Compose",
            f"service {name!r}: `net: {value}` became `network_mode: {value}`",
            service=name,
        )
        service["network_mode"] = value
    mode = service.get("network_mode")
    if (
        fmt.rancher
        and isinstance(mode, str)
        and mode.startswith("container:")
        and mode[len("container:") :] in names
    ):
        target = mode[len("container:") :]
        service["network_mode"] = f"service:{target}"
        conv.note(
            None,
            (*base, "network_mode"),
            "",
            f"service {name!r}: `network_mode: "
            f"{mode}` became `service:{target}` ({target} is a service of the file)",
        )
    if "log_driver" in own:
        _logging(conv, base, service)
    if "dockerfile" in own:
        _build(conv, base, service)
    if "volume_driver" in own:
        _volume_driver(conv, base, service)


def _logging(conv: Conversion, base: Path, service: dict[str, Any]) -> None:
    present = [key for key in ("log_driver", "log_opt") if key in service]
    if not present:
        return
    name = base[1]
    for key in present:
        conv.note(
            "compose.legacy-key",
            (*base, key),
            f"`{key}` is {REPLACED[key]} in today's Compose",
            service=name,
        )
    where = {key: conv.original_path((*base, key)) for key in present}
    driver, options = service.pop("log_driver", None), service.pop("log_opt", None)
    logging: dict[str, Any] = {}
    if driver not in (None, ""):
        logging["driver"] = driver
        conv.origin[(*base, "logging", "driver")] = where["log_driver"]
    if options not in (None, {}, ""):
        logging["options"] = options
        conv.origin[(*base, "logging", "options")] = where["log_opt"]
    first = where[present[0]]
    if logging:
        conv.origin[(*base, "logging")] = first
        service["logging"] = logging
        conv.notes.append(
            Note(None, first, "", f"service {name!r}: `log_driver`/`log_opt` became `logging`")
        )
    else:
        conv.notes.append(
            Note(None, first, "", f"service {name!r}: empty `log_driver`/`log_opt` left out")
        )


def _build(conv: Conversion, base: Path, service: dict[str, Any]) -> None:
    if "dockerfile" not in service:
        return
    name = base[1]
    dockerfile = service.pop("dockerfile")
    context = service.get("build")
    conv.note(
        "compose.legacy-key",
        (*base, "dockerfile"),
        f"`dockerfile` is {REPLACED['dockerfile']} in today's Compose",
        f"service {name!r}: `dockerfile` moved to `build.dockerfile`",
        service=name,
    )
    build = {"context": context if isinstance(context, str) else ".", "dockerfile": dockerfile}
    conv.origin[(*base, "build", "dockerfile")] = conv.original_path((*base, "dockerfile"))
    conv.origin[(*base, "build", "context")] = conv.original_path((*base, "build"))
    service["build"] = build


def _blkio(conv: Conversion, base: Path, service: dict[str, Any], key: str) -> None:
    name, target = base[1], RANCHER_BLKIO_KEYS[key]
    value = service.pop(key)
    config = service.setdefault("blkio_config", {})
    if not isinstance(config, dict):
        return
    if key == "blkio_weight":
        converted: Any = value
    else:
        items = (
            value.items()
            if isinstance(value, dict)
            else (str(item).rsplit(":", 1) for item in value or () if ":" in str(item))
        )
        field_name = "weight" if key == "blkio_weight_device" else "rate"
        converted = [{"path": str(path), field_name: rate} for path, rate in items]
    config[target] = converted
    conv.origin[(*base, "blkio_config", target)] = conv.original_path((*base, key))
    conv.note(
        "compose.legacy-key",
        (*base, "blkio_config", target),
        f"Rancher's `{key}` is `blkio_config.{target}` in today's Compose",
        f"service {name!r}: `{key}` became `blkio_config.{target}`",
        service=name,
    )


def _volume_driver(conv: Conversion, base: Path, service: dict[str, Any]) -> None:
    if "volume_driver" not in service:
        return
    name = base[1]
    where = conv.original_path((*base, "volume_driver"))
    driver = service.pop("volume_driver")
    conv.notes.append(
        Note(
            "compose.legacy-key",
            where,
            f"`volume_driver` is {REPLACED['volume_driver']} in today's Compose",
            service=name,
        )
    )
    mounted = [v for v in map(named_volume, service.get("volumes") or ()) if v]
    volumes = conv.document.setdefault("volumes", {}) if mounted else None
    if not isinstance(volumes, dict) or driver in (None, ""):
        conv.notes.append(
            Note(
                None,
                where,
                "",
                f"service {name!r}: `volume_driver` left out (no named volume to apply it to)"
                if driver
                else f"service {name!r}: empty `volume_driver` left out",
            )
        )
        return
    for volume in mounted:
        entry = volumes.get(volume)
        if entry is None:
            volumes[volume] = entry = {}
            conv.origin[("volumes", volume)] = where
        if isinstance(entry, dict) and entry.get("driver") in (None, ""):
            entry["driver"] = driver
            conv.notes.append(
                Note(
                    None,
                    where,
                    "",
                    f"volume {volume!r}: driver {driver!r} from service {name!r}'s `volume_driver`",
                )
            )
        elif isinstance(entry, dict) and entry.get("driver") != driver:
            conv.notes.append(
                Note(
                    None,
                    where,
                    "",
                    f"volume {volume!r} keeps driver "
                    f"{entry['driver']!r}; service {name!r}'s `volume_driver` "
                    f"{driver!r} is not applied",
                )
            )


def _declare_volumes(conv: Conversion, fmt: ComposeFormat, services: dict[str, Any]) -> None:
    """Declare the named volumes that Rancher (and v1) created on the fly."""
    declared = conv.document.get("volumes")
    if declared is None:
        declared = {}
    if not isinstance(declared, dict):
        return
    added = []
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        for i, mount in enumerate(service.get("volumes") or ()):
            volume = named_volume(mount)
            if volume is None or volume in declared:
                continue
            declared[volume] = {}
            added.append(volume)
            path = ("services", name, "volumes", i)
            conv.origin[("volumes", volume)] = conv.original_path(path)
            change = f"volume {volume!r} declared under `volumes:` (created on the fly before)"
            if fmt.family == "1":
                conv.note(None, path, "", change)
            else:
                conv.note(
                    "compose.rancher-extension",
                    path,
                    f"volume {volume!r} is not declared "
                    "under the top-level `volumes:`; Rancher 1.x created it on the fly, "
                    "today's Compose needs it declared",
                    change,
                    service=name,
                )
    if added or declared:
        conv.document["volumes"] = declared


def _format_key(fmt: ComposeFormat, what: str, service_key: str | None = None) -> str:
    since = fmt.added_in(service_key) if service_key else None
    fix = (
        f"declare `version: '{since}'`"
        if since
        else "move the services under `services:` and write the Compose Specification"
        if fmt.family == "1"
        else "leave out `version:` to write the Compose Specification"
    )
    return (
        f"{what} is not part of {fmt.label}"
        + (f" (it came with {since})" if since else "")
        + "; today's Compose accepts it, Rancher 1.x and docker-compose 1.x refuse it: "
        + fix
    )


def _extension(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("x-")


def named_volume(volume: Any) -> str | None:
    """The named volume a service mount uses, or None for paths, tmpfs and anonymous ones."""
    if isinstance(volume, dict):
        source = volume.get("source")
        kind = volume.get("type", "volume")
        return source if kind == "volume" and isinstance(source, str) and source else None
    if not isinstance(volume, str) or ":" not in volume:
        return None
    source = volume.split(":", 1)[0]
    if not source or source.startswith(("/", ".", "~", "$")) or "/" in source or "\\" in source:
        return None
    return source
