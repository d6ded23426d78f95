"""Where a catalog added over the admin API may make the server connect (SSRF rules).

A catalog URL names a host; the server's git then connects to it, from inside the network
the server runs in. Over the admin API that host must be a public one: every address it
resolves to is refused when it is loopback, link-local (169.254.0.0/16 and fe80::/10, where
cloud metadata services answer), private (10/8, 172.16/12, 192.168/16, fc00::/7), shared
(100.64/10), multicast, reserved or unspecified, or an address of this machine; IPv4
addresses inside IPv6 ones (``::ffff:127.0.0.1``, 6to4, NAT64) are judged by the address
they carry. ``CATALOG_ALLOW_PRIVATE_URLS=true`` lifts the rule; the catalogs file, written
by the operator, is never held to it.

DNS rebinding: a name can resolve to a public address when it is checked and to a private
one a moment later, when git connects. So the check runs when the catalog is added or
changed and again before every fetch, and the fetch then uses the very addresses that were
checked: git is told them (curl's resolve list for http(s), ssh's ``HostName`` for ssh, an
address in place of the name for git://), so it never resolves the name itself; and it
follows no redirect, whose target nobody checked.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from catalog_server.problems import SourceError

__all__ = ["Destination", "check_destination", "forbidden_reason", "pinned_fetch", "resolve"]

DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
_SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+|\[[0-9A-Fa-f:.]+\]):(?P<path>.*)$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# How names are resolved: socket.getaddrinfo, replaceable for tests.
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).partition("%")[0] for info in infos))


@dataclass(frozen=True)
class Destination:
    """A remote catalog URL's host, port and the addresses that were checked."""

    scheme: str  # https, http, ssh, git
    host: str
    port: int
    addresses: tuple[str, ...]


def _split(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a remote git URL, or None for a local path or file://."""
    match = _SCP_LIKE.match(url)
    if match and "://" not in url:
        return "ssh", match.group("host").strip("[]"), 22
    if "://" not in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SourceError(f"the catalog URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == "file":
        return None
    if not parts.hostname:
        raise SourceError("the catalog URL names no host")
    return scheme, parts.hostname, port or DEFAULT_PORTS.get(scheme, 0)


def _own_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True when ``address`` belongs to this machine: only then can a socket bind to it."""
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:
            return False
    return True


def forbidden_reason(text: str) -> str | None:
    """Why a catalog fetch may not connect to the address ``text``, or None when it may."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "not an IP address"
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is None and address in _NAT64:
            carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is None and address.teredo:
            carried = address.teredo[0]
        if carried is not None:
            reason = forbidden_reason(str(carried))
            if reason:
                return f"{reason} (inside {address})"
    for reason, hit in (
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("an unspecified address", address.is_unspecified),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved or not address.is_global),
    ):
        if hit:
            return reason
    if _own_address(address):
        return "an address of this server"
    return None


def check_destination(
    url: str, *, allow_private: bool, resolver: Resolver | None = None, must_resolve: bool = True
) -> Destination | None:
    """Resolve a remote catalog URL's host and check every address it resolves to.

    Returns the Destination (None for a local path or file://). Raises SourceError when an
    address is forbidden (unless ``allow_private``), or when the name does not resolve and
    ``must_resolve`` (with ``must_resolve=False`` such a URL is let through with no
    addresses: it is checked again before each fetch).
    """
    split = _split(url)
    if split is None:
        return None
    scheme, host, port = split
    try:
        addresses = (resolver or resolve)(host, port)
    except (OSError, UnicodeError) as exc:
        if not must_resolve:
            return Destination(scheme, host, port, ())
        raise SourceError(f"the catalog host {host} does not resolve: {exc}") from None
    if not addresses:
        raise SourceError(f"the catalog host {host} resolves to no address")
    if not allow_private:
        for address in addresses:
            reason = forbidden_reason(address)
            if reason:
                shown = host if host == address else f"{host} resolves to {address}, which"
                raise SourceError(
                    f"{shown} is {reason}; catalogs added over the admin API must be on "
                    "public hosts (CATALOG_ALLOW_PRIVATE_URLS=true allows private ones)"
                )
    return Destination(scheme, host, port, tuple(addresses))


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def pinned_fetch(
    url: str, destination: Destination, env: Mapping[str, str]
) -> tuple[str, list[str], dict[str, str]]:
    """How git fetches ``url`` connecting only to ``destination``'s checked addresses.

    Returns the URL to give git, ``-c`` settings for the command line, and the environment
    (``env`` with ssh's options added). No redirect is followed.
    """
    env = dict(env)
    first = destination.addresses[0]
    if destination.scheme in ("https", "http"):
        addresses = ",".join(_bracketed(a) for a in destination.addresses)
        return url, [
            f"http.curloptResolve={destination.host}:{destination.port}:{addresses}",
            "http.followRedirects=false",
        ], env  # fmt: skip
    if destination.scheme == "ssh":
        ssh = env.get("GIT_SSH_COMMAND", "ssh")
        env["GIT_SSH_COMMAND"] = (
            f"{ssh} -o HostName={shlex.quote(first)} "
            f"-o HostKeyAlias={shlex.quote(destination.host)} -o CheckHostIP=no"
        )
        return url, [], env
    # git:// has no resolve option: the address goes in place of the name.
    parts = urlsplit(url)
    netloc = _bracketed(first) + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), [], env
