"""Which catalogs to index: the catalogs file, the bundled default, and opening a source.

A catalogs file is YAML:

    catalogs:
      - name: library
        url: https://git.example.com/platform/catalog.git   # or ssh://, git@host:path,
        branch: main                                        # a local path, file://
        subdir: ""                                          # optional
        refresh_interval: 300                               # seconds, optional

With no catalogs file configured, the bundled `catalog/` folder is catalog `library`: read
from the project's git repository at HEAD when it is a checkout, else as a plain folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from catalog_server.config import BUNDLED_CATALOG, ConfigError
from catalog_server.credentials import check_credentials_ref, check_secret_ref
from catalog_server.problems import SourceError

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_REFRESH_INTERVAL = 300
# What a catalog source is made of, in the catalogs file and in the admin API alike.
SOURCE_FIELDS = frozenset(
    {"name", "url", "branch", "subdir", "refresh_interval", "credentials", "webhook_secret"}
)


@dataclass(frozen=True)
class CatalogSource:
    name: str
    url: str
    branch: str | None = None
    subdir: str = ""
    refresh_interval: int = DEFAULT_REFRESH_INTERVAL
    # References to secrets (see catalog_server.credentials), never the secrets.
    credentials: dict[str, str] | None = field(default=None, compare=False)
    webhook_secret: dict[str, str] | None = field(default=None, compare=False)

    @property
    def is_local(self) -> bool:
        """A plain path: read in place. `file://` URLs are fetched like remote ones."""
        return is_local_url(self.url) and not self.url.startswith("file://")

    @property
    def public_url(self) -> str:
        """The URL with any user name or password removed, safe to show."""
        return strip_credentials(self.url)


def is_local_url(url: str) -> bool:
    return url.startswith("file://") or "://" not in url and not re.match(r"^[\w.-]+@[\w.-]+:", url)


def strip_credentials(url: str) -> str:
    if "://" not in url:
        # scp-like `user@host:path`: the user name is not a secret, keep it.
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def check_git_url(url: str, *, allow_local: bool) -> None:
    """Raise SourceError unless `url` is a git URL this service may fetch.

    Accepted: https://, http://, ssh://, git://, scp-like `user@host:path`, and local paths
    or file:// when `allow_local`. Refused: transport helpers (`ext::`, `fd::`, any
    `name::`), anything starting with `-` (option injection), control characters.
    """
    if not url or url != url.strip() or any(ord(c) < 32 for c in url):
        raise SourceError("the catalog URL is empty or has spaces or control characters")
    if url.startswith("-"):
        raise SourceError(f"the catalog URL {url!r} starts with '-': refused")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*::", url):
        raise SourceError(f"the catalog URL {url!r} names a git transport helper: refused")
    if is_local_url(url):
        if not allow_local:
            raise SourceError(
                f"the catalog URL {url!r} is a local path; local catalogs are allowed only "
                "from the catalogs file or with CATALOG_ALLOW_LOCAL_URLS=true"
            )
        return
    if re.match(r"^[\w.-]+@[\w.-]+:", url):
        return
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("https", "http", "ssh", "git"):
        raise SourceError(f"the catalog URL scheme {scheme!r} is not supported")


def bundled_source() -> CatalogSource:
    return CatalogSource(name="library", url=str(BUNDLED_CATALOG))


def read_catalogs_file(path: Path) -> list[CatalogSource]:
    """Parse a catalogs file. Raises ConfigError with the file name and what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the catalogs file {path}: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the catalogs file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("catalogs"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'catalogs' list")
    sources: list[CatalogSource] = []
    seen: set[str] = set()
    for i, item in enumerate(data["catalogs"]):
        where = f"{path}: catalogs[{i}]"
        source = _source_from_mapping(item, where, base=path.parent)
        if source.name in seen:
            raise ConfigError(f"{where}: the catalog name {source.name!r} is used twice")
        seen.add(source.name)
        sources.append(source)
    return sources


def _source_from_mapping(item: Any, where: str, base: Path) -> CatalogSource:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a mapping with name and url")
    unknown = set(item) - SOURCE_FIELDS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    name, url = item.get("name"), item.get("url")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(
            f"{where}: name must be lower-case letters, digits and '-' (got {name!r})"
        )
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}: url is required")
    try:
        check_git_url(url, allow_local=True)
    except SourceError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if is_local_url(url) and not url.startswith("file://"):
        local = Path(url)
        url = str(local if local.is_absolute() else (base / local).resolve())
    branch = item.get("branch")
    subdir = item.get("subdir") or ""
    interval = item.get("refresh_interval", DEFAULT_REFRESH_INTERVAL)
    if branch is not None and (not isinstance(branch, str) or branch.startswith("-")):
        raise ConfigError(f"{where}: branch must be a branch name")
    if not isinstance(subdir, str) or subdir.startswith("/") or ".." in subdir.split("/"):
        raise ConfigError(f"{where}: subdir must be a relative path inside the repository")
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 10:
        raise ConfigError(f"{where}: refresh_interval must be a number of seconds >= 10")
    try:
        credentials = check_credentials_ref(item.get("credentials"))
        secret = check_secret_ref(item.get("webhook_secret"))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return CatalogSource(name, url, branch, subdir.strip("/"), interval, credentials, secret)


def configured_sources(sources_file: Path | None) -> list[CatalogSource]:
    if sources_file is None:
        return [bundled_source()]
    return read_catalogs_file(sources_file)
