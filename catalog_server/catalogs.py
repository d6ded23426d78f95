"""Which catalogs to index: the catalogs file, the bundled default, and opening a source.

A catalogs file is YAML:

    catalogs:
      - name: library
        url: https://git.example.com/platform/catalog.git   # or ssh://, git@host:path,
        branch: main                                        # a local path, file://
        subdir: ""                                          # optional
        refresh_interval: 300                               # seconds, optional
        preview_forks: false      # previews of pull requests from forks too, optional

With no catalogs file configured, the bundled `catalog/` folder is catalog `library`: read
from the project's git repository at HEAD when it is a checkout, else as a plain folder.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from catalog_server.config import BUNDLED_CATALOG, ConfigError, Settings
from catalog_server.credentials import SecretRules, check_credentials_ref, check_secret_ref
from catalog_server.problems import SourceError

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# A preview's id (catalog_server.previews): with "~" and a catalog name (at most 63
# characters), at most 100 (the column).
PREVIEW_ID_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,34}[a-z0-9])?$")
DEFAULT_REFRESH_INTERVAL = 300
MIN_REFRESH_INTERVAL = 10
MAX_REFRESH_INTERVAL = 86400  # a day
# What a catalog source is made of, in the catalogs file and in the admin API alike, as
# the OpenAPI document describes it (`SOURCE_SCHEMA`); each field's rule is one function
# below (`check_name`, `check_git_url`, `check_branch`, `check_subdir`,
# `check_refresh_interval`, and `credentials.check_credentials_ref` / `check_secret_ref`),
# called by both.
SOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Lower-case letters, digits and '-'."},
        "url": {
            "type": "string",
            "description": "https://, ssh://, git@host:path or git://; no credentials, query "
            "or fragment in the URL, no spaces or control characters. The host must resolve "
            "to public addresses only (not loopback, link-local, private or this server's) "
            "unless CATALOG_ALLOW_PRIVATE_URLS is set.",
        },
        "branch": {"type": ["string", "null"]},
        "subdir": {"type": ["string", "null"]},
        "refresh_interval": {
            "type": "integer",
            "minimum": MIN_REFRESH_INTERVAL,
            "maximum": MAX_REFRESH_INTERVAL,
        },
        "credentials": {
            "type": ["object", "null"],
            "description": "username, and password_env or password_file (https:// URLs only), "
            "or ssh_key_file (ssh URLs only): references, never values. Variables must start "
            "with CATALOG_API_SECRET_ENV_PREFIX (CATALOG_GIT_), files lie in "
            "CATALOG_API_SECRET_DIR.",
        },
        "webhook_secret": {
            "type": ["object", "null"],
            "description": "{env: NAME} or {file: /path}: where the secret comes from; never "
            "the secret itself. Over the API, as for credentials: the prefix and folder rules.",
        },
        "preview_forks": {
            "type": "boolean",
            "description": "Preview pull requests from forks too (GitHub pull_request webhook).",
        },
    },
}
SOURCE_FIELDS = frozenset(SOURCE_SCHEMA["properties"])
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
# Anything that looks like a URL inside a message: scheme, optional user info, the rest.
_URL_IN_TEXT = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/@'\"]*@)?"
    r"(?P<rest>[^\s?#'\"]*)(?P<query>[?#][^\s'\"]*)?"
)


@dataclass(frozen=True)
class ApiRestrictions:
    """What a catalog added over the admin API may do, beyond the catalogs file's rules:
    which secrets it may name, and whether it may reach private hosts (see egress)."""

    secrets: SecretRules
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiRestrictions:
        return cls(
            SecretRules(settings.api_secret_env_prefix, settings.api_secret_dir),
            settings.allow_private_urls,
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
    # Set for catalogs added over the admin API: the rules their fetches obey.
    restrictions: ApiRestrictions | None = field(default=None, compare=False)
    # Pull requests from forks get previews too (catalog_server.previews).
    preview_forks: bool = field(default=False, compare=False)
    # A preview's: the branch of the catalog it previews, fetched beside its own ref.
    base_branch: str | None = field(default=None, compare=False)

    @property
    def is_local(self) -> bool:
        """A plain path: read in place. `file://` URLs are fetched like remote ones."""
        return is_local_url(self.url) and not self.url.startswith("file://")

    @property
    def public_url(self) -> str:
        """The URL with any user name or password removed (what the database keeps)."""
        return strip_credentials(self.url)


def is_local_url(url: str) -> bool:
    return url.startswith("file://") or "://" not in url and not _SCP_LIKE.match(url)


def strip_credentials(url: str) -> str:
    if "://" not in url:
        # scp-like `user@host:path`: the user name is not a secret, keep it.
        return url
    try:
        parts = urlsplit(url)
        if parts.password is None and (parts.username is None or parts.scheme == "ssh"):
            return url  # an ssh user name (ssh://git@host) is not a secret either
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if parts.port:
            host = f"{host}:{parts.port}"
        if parts.scheme == "ssh" and parts.username:
            host = f"{parts.username}@{host}"
    except ValueError:  # a malformed URL: keep nothing that may be a secret
        return shown_url(url)
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def shown_url(url: str | None) -> str | None:
    """The URL as shown to anyone: no user name, password, query or fragment (where
    tokens hide: ``?access_token=...``)."""
    if url is None:
        return None
    return scrub(url)


def scrub(text: str | None, secrets: tuple[str, ...] = ()) -> str | None:
    """A message with every URL in it shown as `shown_url` shows it, and each of
    ``secrets`` (values that must never be shown) replaced by ``***``."""
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _URL_IN_TEXT.sub(lambda m: m.group("scheme") + m.group("rest"), text)


def _is_control_or_space(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "CZ"


def check_git_url(url: str, *, allow_local: bool, from_api: bool = False) -> None:
    """Raise SourceError unless `url` is a git URL this service may fetch.

    Accepted: https://, http://, ssh://, git://, scp-like `user@host:path`, and local paths
    or file:// when `allow_local`. Refused: transport helpers (`ext::`, `fd::`, any
    `name::`), anything starting with `-` (option injection), spaces and control
    characters anywhere, malformed URLs; with `from_api`, also user names, passwords,
    query strings and fragments (secrets go in credentials references, never in a URL).
    """
    if not url:
        raise SourceError("the catalog URL is empty")
    if url.startswith("-"):
        raise SourceError(f"the catalog URL {url!r} starts with '-': refused")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*::", url):
        raise SourceError(f"the catalog URL {url!r} names a git transport helper: refused")
    if url != url.strip() or any(_is_control_or_space(c) and c != " " for c in url):
        raise SourceError(f"the catalog URL {url!r} holds spaces or control characters")
    if is_local_url(url):
        if not allow_local:
            raise SourceError(
                f"the catalog URL {url!r} is a local path; local catalogs are allowed only "
                "from the catalogs file or with CATALOG_ALLOW_LOCAL_URLS=true"
            )
        return
    if " " in url:
        raise SourceError(f"the catalog URL {url!r} holds spaces")
    if _SCP_LIKE.match(url):
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError as exc:
        raise SourceError(f"the catalog URL {url!r} is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http", "ssh", "git"):
        raise SourceError(f"the catalog URL scheme {scheme!r} is not supported")
    if not parts.hostname:
        raise SourceError(f"the catalog URL {url!r} names no host")
    if from_api and (
        parts.password is not None or (parts.username is not None and scheme != "ssh")
    ):
        raise SourceError("put no credentials in the URL; use a credentials reference")
    if from_api and (parts.query or parts.fragment or "?" in url or "#" in url):
        raise SourceError(
            "a catalog URL holds no query string or fragment (tokens go in a credentials "
            "reference, never in the URL)"
        )


_BRANCH_FORBIDDEN = re.compile(r"[~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)")


def check_branch(branch: Any) -> None:
    """Raise SourceError unless ``branch`` is a branch name git accepts
    (`git check-ref-format --branch`): no spaces, control characters, ``~^:?*[\\``,
    ``..``, ``@{``, no leading ``-``, ``/`` or ``.``, no trailing ``/``, ``.`` or ``.lock``."""
    if not isinstance(branch, str) or not branch or len(branch) > 255:
        raise SourceError("the branch must be a branch name (1 to 255 characters)")
    if (
        any(_is_control_or_space(c) for c in branch)
        or _BRANCH_FORBIDDEN.search(branch)
        or branch.startswith(("-", "/", "."))
        or branch.endswith(("/", "."))
        or branch == "@"
    ):
        raise SourceError(f"the branch {branch!r} is not a branch name git accepts")


def check_name(name: Any) -> str:
    """Raise ValueError unless ``name`` is a catalog name (it names the catalog's URLs)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError("must be lower-case letters, digits and '-', at most 63 characters")
    return name


def check_subdir(subdir: Any) -> str:
    """The folder of the repository the catalog is in ("" for the top), without leading or
    trailing '/'; ValueError unless it is a relative path inside the repository."""
    subdir = subdir or ""
    if not isinstance(subdir, str) or subdir.startswith("/") or ".." in subdir.split("/"):
        raise ValueError("must be a relative path inside the repository")
    return subdir.strip("/")


def check_refresh_interval(interval: Any) -> int:
    """Raise ValueError unless ``interval`` is a whole number of seconds within bounds."""
    if (
        not isinstance(interval, int)
        or isinstance(interval, bool)
        or not MIN_REFRESH_INTERVAL <= interval <= MAX_REFRESH_INTERVAL
    ):
        raise ValueError(
            f"must be a number of seconds from {MIN_REFRESH_INTERVAL} to {MAX_REFRESH_INTERVAL}"
        )
    return interval


def credentials_transport_error(url: str, credentials: dict[str, str] | None) -> str | None:
    """Why ``credentials`` may not be used with ``url``, or None: a password (or user
    name) only ever goes over https://, an SSH key only over ssh:// or ``user@host:path``."""
    if not credentials:
        return None
    scheme = "ssh" if _SCP_LIKE.match(url) and "://" not in url else url.partition("://")[0]
    scheme = scheme.lower()
    if {"password_env", "password_file", "username"} & set(credentials) and scheme != "https":
        return "a password or user name is only ever sent over https://; use an https:// URL"
    if "ssh_key_file" in credentials and scheme != "ssh":
        return "an SSH key is only used with ssh:// or user@host:path URLs"
    return None


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
    try:
        check_name(name)
    except ValueError as exc:
        raise ConfigError(f"{where}: name {exc} (got {name!r})") from None
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
    if branch is not None:
        try:
            check_branch(branch)
        except SourceError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    try:
        subdir = check_subdir(item.get("subdir"))
    except ValueError as exc:
        raise ConfigError(f"{where}: subdir {exc}") from None
    try:
        interval = check_refresh_interval(item.get("refresh_interval", DEFAULT_REFRESH_INTERVAL))
    except ValueError as exc:
        raise ConfigError(f"{where}: refresh_interval {exc}") from None
    try:
        credentials = check_credentials_ref(item.get("credentials"))
        secret = check_secret_ref(item.get("webhook_secret"))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    transport = credentials_transport_error(url, credentials)
    if transport:
        raise ConfigError(f"{where}: credentials: {transport}")
    forks = item.get("preview_forks", False)
    if not isinstance(forks, bool):
        raise ConfigError(f"{where}: preview_forks must be true or false")
    return CatalogSource(
        name, url, branch, subdir, interval, credentials, secret, preview_forks=forks
    )


def configured_sources(sources_file: Path | None) -> list[CatalogSource]:
    if sources_file is None:
        return [bundled_source()]
    return read_catalogs_file(sources_file)
