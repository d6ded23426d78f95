"""Compose file formats: which one a file is written in, and which keys each one has.

Four families of compose files meet in catalogs (FORMATS.md):

- **v1**: services at the top level, no ``version`` (docker-compose 1.x, Rancher 1.x);
- **2.x**: ``version: '2'`` … ``'2.4'``, services under ``services:``;
- **3.x**: ``version: '3'`` … ``'3.9'``;
- the **Compose Specification**: no ``version``, ``services:`` at the top level (a
  ``version`` there is obsolete and ignored by today's Compose).

The key tables below are this project's own list of what each format defines, written from
the formats' documentation and checked against the published schemas of docker-compose 1.x
on real catalogs. Rancher 1.x read v1 and ``'2'`` files through its own compose library,
which accepted more keys (``RANCHER_SERVICE_KEYS``, ``per_container`` on volumes, top-level
``secrets``); these count as part of v1 and 2.x here, since the catalogs were written for
Rancher.

:func:`detect_format` names a document's format; :mod:`.composeconvert` uses the tables to
turn a file of any format into the Compose Specification's layout.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RANCHER_BLKIO_KEYS",
    "RANCHER_ONLY_KEYS",
    "RANCHER_SAME_KEYS",
    "RANCHER_SERVICE_KEYS",
    "RANCHER_VOLUME_KEYS",
    "SPEC",
    "ComposeFormat",
    "detect_format",
    "is_v1_layout",
    "spec_keys",
]


@dataclass(frozen=True)
class ComposeFormat:
    """A compose file format. ``family`` is "1", "2", "3" or "spec"; ``minor`` orders the
    formats of a family (2.0 … 2.4, 3.0 … 3.9); ``declared`` is the file's `version` text."""

    family: str
    minor: int = 0
    declared: str | None = None

    @property
    def legacy(self) -> bool:
        return self.family != "spec"

    @property
    def rancher(self) -> bool:
        """Formats Rancher 1.x read, with its extensions (v1 and 2.x)."""
        return self.family in ("1", "2")

    @property
    def label(self) -> str:
        if self.family == "spec":
            return "the Compose Specification"
        if self.family == "1":
            return "compose file format v1"
        return f"compose file format {self.family}.{self.minor}"

    def service_keys(self) -> frozenset[str]:
        """Service keys the format defines (Rancher's extensions apart)."""
        if self.family == "1":
            return _V1
        if self.family == "2":
            return _since(_V2, self.minor)
        if self.family == "3":
            return _since(_V3, self.minor)
        return frozenset()

    def top_keys(self) -> frozenset[str]:
        if self.family == "2":
            keys = {"version", "services", "volumes", "networks"}
            return frozenset(keys | ({"secrets"} if self.rancher else set()))
        if self.family == "3":
            keys = {"version", "services", "volumes", "networks"}
            keys |= {"secrets"} if self.minor >= 1 else set()
            keys |= {"configs"} if self.minor >= 3 else set()
            return frozenset(keys)
        return frozenset()

    def volume_keys(self) -> frozenset[str]:
        if self.family == "2":
            keys = {"driver", "driver_opts", "external"}
            return frozenset(keys | ({"labels", "name"} if self.minor >= 1 else set()))
        if self.family == "3":
            keys = {"driver", "driver_opts", "external", "labels"}
            return frozenset(keys | ({"name"} if self.minor >= 4 else set()))
        return frozenset()

    def network_keys(self) -> frozenset[str]:
        base = {"driver", "driver_opts", "external", "internal", "ipam"}
        if self.family == "2":
            return frozenset(
                base | ({"enable_ipv6", "labels", "name"} if self.minor >= 1 else set())
            )
        if self.family == "3":
            keys = base | {"labels"}
            keys |= {"attachable"} if self.minor >= 2 else set()
            keys |= {"name"} if self.minor >= 5 else set()
            return frozenset(keys)
        return frozenset()

    def added_in(self, key: str) -> str | None:
        """The first format of this family that has service key ``key``, as "2.1"."""
        table = _V2 if self.family == "2" else _V3 if self.family == "3" else None
        for minor, keys in enumerate(table or ()):
            if key in keys:
                return f"{self.family}.{minor}"
        return None


SPEC = ComposeFormat("spec")

_V1 = frozenset({
    "build", "cap_add", "cap_drop", "cgroup_parent", "command", "container_name", "cpu_quota",
    "cpu_shares", "cpuset", "devices", "dns", "dns_search", "dockerfile", "domainname",
    "entrypoint", "env_file", "environment", "expose", "extends", "external_links",
    "extra_hosts", "hostname", "image", "ipc", "labels", "links", "log_driver", "log_opt",
    "mac_address", "mem_limit", "mem_swappiness", "memswap_limit", "net", "pid", "ports",
    "privileged", "read_only", "restart", "security_opt", "shm_size", "stdin_open",
    "stop_signal", "tty", "ulimits", "user", "volume_driver", "volumes", "volumes_from",
    "working_dir",
})  # fmt: skip
# Keys each minor format added: index 0 is x.0.
_V2 = (
    (_V1 - {"dockerfile", "log_driver", "log_opt", "net"}) | {
        "blkio_config", "depends_on", "dns_opt", "group_add", "logging", "mem_reservation",
        "network_mode", "networks", "oom_score_adj", "stop_grace_period", "tmpfs",
    },
    frozenset({"cpu_period", "healthcheck", "isolation", "oom_kill_disable", "pids_limit",
               "storage_opt", "sysctls", "userns_mode"}),
    frozenset({"cpu_count", "cpu_percent", "cpu_rt_period", "cpu_rt_runtime", "cpus", "init",
               "scale"}),
    frozenset({"device_cgroup_rules", "runtime"}),
    frozenset({"platform"}),
)  # fmt: skip
_V3 = (
    frozenset({
        "build", "cap_add", "cap_drop", "cgroup_parent", "command", "container_name",
        "depends_on", "deploy", "devices", "dns", "dns_search", "domainname", "entrypoint",
        "env_file", "environment", "expose", "external_links", "extra_hosts", "healthcheck",
        "hostname", "image", "ipc", "labels", "links", "logging", "mac_address",
        "network_mode", "networks", "pid", "ports", "privileged", "read_only", "restart",
        "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal",
        "sysctls", "tmpfs", "tty", "ulimits", "user", "userns_mode", "volumes", "working_dir",
    }),
    frozenset({"secrets"}),
    frozenset(),
    frozenset({"configs", "credential_spec"}),
    frozenset(),
    frozenset({"isolation"}),
    frozenset(),
    frozenset({"init"}),
    frozenset(),
    frozenset(),
)  # fmt: skip


def _since(table: tuple[frozenset[str], ...], minor: int) -> frozenset[str]:
    out: set[str] = set()
    for keys in table[: minor + 1]:
        out |= keys
    return frozenset(out)


# Service keys Rancher 1.x accepted in v1 and 2.x files beyond Docker's (its compose
# library's schema): those today's Compose has under the same name stay as they are; the
# blkio ones become `blkio_config`; the rest are Rancher's own and have no counterpart.
RANCHER_SAME_KEYS = frozenset({
    "cpu_period", "dns_opt", "group_add", "isolation", "mem_reservation", "oom_kill_disable",
    "oom_score_adj", "scale", "secrets", "sysctls", "tmpfs", "uts",
})  # fmt: skip
RANCHER_BLKIO_KEYS = {
    "blkio_weight": "weight",
    "blkio_weight_device": "weight_device",
    "device_read_bps": "device_read_bps",
    "device_read_iops": "device_read_iops",
    "device_write_bps": "device_write_bps",
    "device_write_iops": "device_write_iops",
}
RANCHER_ONLY_KEYS = frozenset({
    "certs", "config", "default_cert", "disks", "drain_timeout_ms", "external_ips",
    "health_check", "lb_config", "load_balancer_config", "memory", "metadata",
    "network_driver", "port_rules", "retain_ip", "scale_policy", "service_schemas",
    "start_on_create", "stickiness_policy", "storage_driver", "type", "update_strategy",
    "upgrade_strategy", "userdata", "vcpu",
})  # fmt: skip
RANCHER_SERVICE_KEYS = RANCHER_SAME_KEYS | frozenset(RANCHER_BLKIO_KEYS) | RANCHER_ONLY_KEYS
RANCHER_VOLUME_KEYS = frozenset({"per_container"})

# Top-level keys of the Compose Specification; a mapping with none of them is v1.
SPEC_TOP_KEYS = frozenset({
    "version", "name", "include", "services", "networks", "volumes", "secrets", "configs",
    "models",
})  # fmt: skip
_FAMILY_MINORS = {"2": len(_V2) - 1, "3": len(_V3) - 1}


def is_v1_layout(document: Mapping[str, Any]) -> bool:
    """Services at the top level: a non-empty mapping with no Compose top-level key."""
    keys = [str(k) for k in document]
    return (
        bool(keys) and not set(keys) & SPEC_TOP_KEYS and not all(k.startswith("x-") for k in keys)
    )


def detect_format(document: Mapping[str, Any]) -> tuple[ComposeFormat, str | None]:
    """The format ``document`` is written in, and a message when its ``version`` names no
    format (then it is read as the Compose Specification, as today's Compose does).

    ``version`` may be text or a number (``2``, ``2.1``: Rancher read those too).
    """
    if is_v1_layout(document):
        return ComposeFormat("1"), None
    if "version" not in document:
        return SPEC, None
    raw = document["version"]
    text = _version_text(raw)
    family, _, minor = (text or "").partition(".")
    if family in _FAMILY_MINORS and (minor == "" or minor.isdigit()):
        number = int(minor or 0)
        if number <= _FAMILY_MINORS[family]:
            return ComposeFormat(family, number, text), None
    return SPEC, (
        f"`version: {raw!r}` names no compose file format (2.0 to 2.4, 3.0 to 3.9); read as "
        "the Compose Specification, which ignores `version`"
    )


def _version_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return value.strip() if isinstance(value, str) else None


@functools.cache
def spec_keys(definition: str) -> frozenset[str]:
    """Keys the Compose Specification schema defines for ``definition`` ("service",
    "volume", "network"), read from the schema itself so the two never disagree."""
    from catalog_server.jsonschemas import compose_schema

    defs = compose_schema().schema.get("$defs", {})
    keys: set[str] = set()
    pending = [defs.get(definition, {})]
    while pending:
        node = pending.pop()
        keys |= set(node.get("properties", {}))
        for part in node.get("allOf", ()):
            ref = part.get("$ref", "")
            if ref.startswith("#/$defs/"):
                pending.append(defs.get(ref.rsplit("/", 1)[1], {}))
    return frozenset(keys)
