"""Settings: every `CATALOG_*` environment variable is read and coerced here, and only here.

Nothing reads configuration at import time; `Settings.from_env()` is called by the app
factory and the CLI. Every variable is documented in the README's configuration table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent
# Where the bundled catalog (`catalog/`), the project docs (`docs/`), `mkdocs.yml` and the
# site's theme (`site/`) are: beside the package in a checkout or an editable install;
# inside it (`bundled/`, copied there by setup.py) when installed from a wheel.
_IN_WHEEL = (_PACKAGE / "bundled" / "mkdocs.yml").is_file()
PROJECT_ROOT = _PACKAGE / "bundled" if _IN_WHEEL else _CHECKOUT
BUNDLED_CATALOG = PROJECT_ROOT / "catalog"
# The instance folder without CATALOG_INSTANCE_DIR: the checkout's `instance/`, or the
# current folder's when installed from a wheel.
DEFAULT_INSTANCE_DIR = Path("instance") if _IN_WHEEL else _CHECKOUT / "instance"


class ConfigError(ValueError):
    """A setting has a value that cannot be used."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 <= value <= 3600:
        raise ConfigError(f"{name} must be from 0 to 3600 seconds")
    return value


def _auto_bool(env: Mapping[str, str], name: str, default: str) -> str:
    """ "auto", "true" or "false" (1/yes/on and 0/no/off are taken too)."""
    raw = (env.get(name) or default).lower()
    if raw in ("auto", "true", "false"):
        return raw
    if raw in ("1", "yes", "on"):
        return "true"
    if raw in ("0", "no", "off"):
        return "false"
    raise ConfigError(f"{name} must be auto, true or false, not {raw!r}")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _positive(value: float, name: str) -> float:
    if value <= 0:
        raise ConfigError(f"{name} must be more than 0 seconds")
    return value


def _at_least(env: Mapping[str, str], name: str, default: int, low: int) -> int:
    value = _int(env, name, default)
    if value < low:
        raise ConfigError(f"{name} must be at least {low}")
    return value


def _env_prefix(env: Mapping[str, str]) -> str:
    raw = env.get("CATALOG_API_SECRET_ENV_PREFIX")
    if raw is None or raw == "":
        return "CATALOG_GIT_"
    # A prefix that every variable has (or that names the server's own settings) would
    # hand the whole environment to whoever holds an admin token.
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*_", raw) or raw.upper() == "CATALOG_":
        raise ConfigError(
            "CATALOG_API_SECRET_ENV_PREFIX must be a variable name prefix ending in '_', "
            f"more specific than CATALOG_ (got {raw!r})"
        )
    return raw


def _folder(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    if not os.path.isabs(raw) or Path(raw).resolve() == Path("/"):
        raise ConfigError(f"{name} must be an absolute path to a folder (not /), not {raw!r}")
    return Path(raw).resolve()


@dataclass(frozen=True)
class Settings:
    instance_dir: Path
    database_url: str
    sources_file: Path | None
    cache_dir: Path
    log_format: str = "text"
    git_timeout: int = 120
    allow_local_urls: bool = False
    # How long (seconds) a server process trusts its last read of the catalogs' state: a
    # sync's result is served within this time; hot reads cost no query meanwhile.
    state_ttl: float = 0.25
    # Run Helm's own lint (the Helm SDK) on chart versions at sync, as the lint does:
    # "true", "false", or "auto" (catalogs of at most validation.HELM_LINT_AUTO_LIMIT charts).
    server_helm_lint: str = "auto"
    # Chart signing (the sync process): a binary GnuPG secret keyring, the key's identity,
    # and optionally a file whose first line unlocks it.
    signing_keyring: Path | None = None
    signing_key: str | None = None
    signing_passphrase_file: Path | None = None
    # Find chart versions' images by rendering them with the Helm SDK at sync (else: values).
    render_images: bool = True
    # Catalogs added over the admin API may reach hosts on private networks only when allowed.
    allow_private_urls: bool = False
    # Secret references given over the admin API: environment variables with this prefix,
    # and files in this folder (none when unset). The catalogs file may name any.
    api_secret_env_prefix: str = "CATALOG_GIT_"
    api_secret_dir: Path | None = None
    # Helm rendering and lint run in a child process under these limits.
    helm_timeout: float = 20.0
    helm_memory_mb: int = 512
    helm_output_mb: int = 16
    # Serving: a request's headers, then its body, must arrive within these seconds.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    # Pull-request previews (catalog_server.previews): how long one lives after its last
    # refresh (seconds), and how many one catalog may have at once.
    preview_ttl: int = 7 * 86400
    preview_max: int = 10
    max_catalog_files: int = 200_000  # a catalog with more files is refused whole

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        instance = Path(env.get("CATALOG_INSTANCE_DIR") or DEFAULT_INSTANCE_DIR).absolute()
        database_url = env.get("CATALOG_DATABASE_URL") or f"sqlite:///{instance / 'catalog.db'}"
        sources = env.get("CATALOG_SOURCES")
        log_format = env.get("CATALOG_LOG_FORMAT", "text")
        if log_format not in ("text", "json"):
            raise ConfigError(f"CATALOG_LOG_FORMAT must be text or json, not {log_format!r}")
        keyring, key = env.get("CATALOG_SIGNING_KEYRING"), env.get("CATALOG_SIGNING_KEY")
        passphrase = env.get("CATALOG_SIGNING_PASSPHRASE_FILE")
        if bool(keyring) != bool(key):
            raise ConfigError(
                "CATALOG_SIGNING_KEYRING and CATALOG_SIGNING_KEY go together: set both to sign "
                "charts, or neither"
            )
        if passphrase and not keyring:
            raise ConfigError("CATALOG_SIGNING_PASSPHRASE_FILE needs CATALOG_SIGNING_KEYRING")
        return cls(
            instance_dir=instance,
            database_url=normalise_database_url(database_url),
            sources_file=Path(sources).absolute() if sources else None,
            cache_dir=Path(env.get("CATALOG_CACHE_DIR") or instance / "cache").absolute(),
            log_format=log_format,
            git_timeout=_int(env, "CATALOG_GIT_TIMEOUT", 120),
            allow_local_urls=_bool(env, "CATALOG_ALLOW_LOCAL_URLS", False),
            state_ttl=_float(env, "CATALOG_STATE_TTL", 0.25),
            server_helm_lint=_auto_bool(env, "CATALOG_SERVER_HELM_LINT", "auto"),
            signing_keyring=Path(keyring).absolute() if keyring else None,
            signing_key=key or None,
            signing_passphrase_file=Path(passphrase).absolute() if passphrase else None,
            render_images=_bool(env, "CATALOG_RENDER_IMAGES", True),
            allow_private_urls=_bool(env, "CATALOG_ALLOW_PRIVATE_URLS", False),
            api_secret_env_prefix=_env_prefix(env),
            api_secret_dir=_folder(env, "CATALOG_API_SECRET_DIR"),
            helm_timeout=_positive(
                _float(env, "CATALOG_HELM_TIMEOUT", 20.0), "CATALOG_HELM_TIMEOUT"
            ),
            helm_memory_mb=_at_least(env, "CATALOG_HELM_MEMORY_MB", 512, 128),
            helm_output_mb=_at_least(env, "CATALOG_HELM_OUTPUT_MB", 16, 1),
            header_timeout=_positive(
                _float(env, "CATALOG_HEADER_TIMEOUT", 10.0), "CATALOG_HEADER_TIMEOUT"
            ),
            body_timeout=_positive(
                _float(env, "CATALOG_BODY_TIMEOUT", 30.0), "CATALOG_BODY_TIMEOUT"
            ),
            preview_ttl=_at_least(env, "CATALOG_PREVIEW_TTL", 7 * 86400, 60),
            preview_max=_at_least(env, "CATALOG_PREVIEW_MAX", 10, 1),
            max_catalog_files=_at_least(env, "CATALOG_MAX_FILES", 200_000, 1),
        )


def normalise_database_url(url: str) -> str:
    """The URL with SQLAlchemy's psycopg 3 driver for `postgresql://` and `postgres://`
    (to SQLAlchemy they mean psycopg2, which is not installed); other URLs as they are."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url
