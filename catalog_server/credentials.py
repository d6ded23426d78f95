"""Secrets for private catalogs and webhooks: referenced, never stored.

A catalog names where its secrets come from, never the secrets themselves:

    credentials:                        # HTTPS
      username: deploy                  # not a secret
      password_env: CATALOG_GIT_TOKEN   # or password_file: /run/secrets/git-token
    credentials:                        # SSH
      ssh_key_file: /run/secrets/catalog-deploy-key
    webhook_secret:
      env: CATALOG_HOOK_SECRET          # or file: /run/secrets/hook

Values are read when needed and handed to git only for the one call, through its
environment (an askpass script reads them back), so they never reach the database, a log
line, a process's arguments or an API answer.

The catalogs file, written by the operator, may name any variable or file. A reference
given over the admin API obeys :class:`SecretRules`: only variables with a configured
prefix (``CATALOG_GIT_`` by default) and files inside a configured folder (none by
default), checked when the reference is given and again whenever it is read, so an admin
token cannot make the server read ``/etc/passwd`` or ``CATALOG_DATABASE_URL`` and send it
to a URL of its choosing.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog_server.problems import SourceError

CREDENTIAL_KEYS = {"username", "password_env", "password_file", "ssh_key_file"}
SECRET_KEYS = {"env", "file"}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# git asks this script for a user name and a password; it answers from its environment.
ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$CATALOG_GIT_USERNAME" ;;
  *) printf '%s\\n' "$CATALOG_GIT_PASSWORD" ;;
esac
"""


@dataclass(frozen=True)
class SecretRules:
    """Which secrets a reference given over the admin API may name."""

    env_prefix: str
    folder: Path | None = None

    def check_env(self, name: str, what: str) -> None:
        """Raise ValueError unless the variable ``name`` may be read."""
        if not name.startswith(self.env_prefix) or name == self.env_prefix:
            raise ValueError(
                f"{what} may only name environment variables starting with "
                f"{self.env_prefix} (CATALOG_API_SECRET_ENV_PREFIX), not {name}"
            )

    def check_file(self, path: str, what: str) -> Path:
        """The file's real path; ValueError unless it lies inside the secrets folder
        (symbolic links resolved, so a link cannot point out of it)."""
        if self.folder is None:
            raise ValueError(
                f"{what} may not name a file: no secrets folder is configured "
                "(CATALOG_API_SECRET_DIR)"
            )
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(self.folder.resolve()) or real == self.folder.resolve():
            raise ValueError(f"{what} must name a file inside {self.folder}, not {path}")
        return real


def check_credentials_ref(ref: Any, rules: SecretRules | None = None) -> dict[str, str] | None:
    """Validate a credentials reference; raise ValueError saying what is wrong. With
    ``rules`` (a reference given over the admin API), also what it may name."""
    if ref is None:
        return None
    if not isinstance(ref, Mapping) or not ref:
        raise ValueError("credentials must be a mapping such as {password_env: NAME}")
    unknown = set(ref) - CREDENTIAL_KEYS
    if unknown:
        raise ValueError(
            f"credentials: unknown keys {', '.join(sorted(map(str, unknown)))} "
            f"(use {', '.join(sorted(CREDENTIAL_KEYS))})"
        )
    if not all(isinstance(v, str) and v for v in ref.values()):
        raise ValueError("credentials: every value must be a non-empty string")
    if "password_env" in ref and not ENV_NAME.match(ref["password_env"]):
        raise ValueError("credentials.password_env must be an environment variable name")
    if "password_env" in ref and "password_file" in ref:
        raise ValueError("credentials: give password_env or password_file, not both")
    for key in ("password_file", "ssh_key_file"):
        if key in ref and not os.path.isabs(ref[key]):
            raise ValueError(f"credentials.{key} must be an absolute path")
    if rules is not None:
        if "password_env" in ref:
            rules.check_env(ref["password_env"], "credentials.password_env")
        for key in ("password_file", "ssh_key_file"):
            if key in ref:
                rules.check_file(ref[key], f"credentials.{key}")
    return dict(ref)


def check_secret_ref(
    ref: Any, what: str = "webhook_secret", rules: SecretRules | None = None
) -> dict[str, str] | None:
    """Validate a secret reference ({env: NAME} or {file: PATH}); raise ValueError. With
    ``rules`` (a reference given over the admin API), also what it may name."""
    if ref is None:
        return None
    if not isinstance(ref, Mapping) or len(ref) != 1 or set(ref) - SECRET_KEYS:
        raise ValueError(f"{what} must be {{env: NAME}} or {{file: /absolute/path}}")
    ((kind, value),) = ref.items()
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what}.{kind} must be a non-empty string")
    if kind == "env" and not ENV_NAME.match(value):
        raise ValueError(f"{what}.env must be an environment variable name")
    if kind == "file" and not os.path.isabs(value):
        raise ValueError(f"{what}.file must be an absolute path")
    if rules is not None and kind == "env":
        rules.check_env(value, f"{what}.env")
    if rules is not None and kind == "file":
        rules.check_file(value, f"{what}.file")
    return {kind: value}


MAX_SECRET_BYTES = 64 * 1024


def _read_secret_file(path: str, what: str, rules: SecretRules | None = None) -> str:
    try:
        real = rules.check_file(path, what) if rules is not None else Path(path)
        with open(real, "rb") as fh:
            return fh.read(MAX_SECRET_BYTES).decode("utf-8").strip()
    except ValueError as exc:
        raise SourceError(str(exc)) from None
    except OSError as exc:
        raise SourceError(f"cannot read {what} file {path}: {exc.strerror}") from None


def _read_env(name: str, what: str, rules: SecretRules | None) -> str | None:
    if rules is not None:
        try:
            rules.check_env(name, what)
        except ValueError as exc:
            raise SourceError(str(exc)) from None
    return os.environ.get(name)


def resolve_secret(
    ref: Mapping[str, str] | None, what: str = "webhook secret", rules: SecretRules | None = None
) -> str | None:
    """The secret a reference names, or None when there is no reference or no value.
    Raises SourceError when the file cannot be read or ``rules`` refuse the reference."""
    if not ref:
        return None
    if "env" in ref:
        return _read_env(ref["env"], what, rules) or None
    return _read_secret_file(ref["file"], what, rules) or None


def git_environment(
    ref: Mapping[str, str] | None, cache_dir: Path, rules: SecretRules | None = None
) -> dict[str, str]:
    """Environment variables that give git the catalog's credentials for one call.

    Raises SourceError when a referenced variable or file is missing, or ``rules`` (a
    catalog added over the admin API) refuse it, naming the reference (never a value).
    """
    if not ref:
        return {}
    env: dict[str, str] = {}
    if "ssh_key_file" in ref:
        key = ref["ssh_key_file"]
        if rules is not None:
            try:
                key = str(rules.check_file(key, "credentials.ssh_key_file"))
            except ValueError as exc:
                raise SourceError(str(exc)) from None
        if not os.path.isfile(key):
            raise SourceError(f"the SSH key file {key} does not exist")
        env["GIT_SSH_COMMAND"] = (
            f"ssh -i {shlex.quote(key)} -o IdentitiesOnly=yes -o BatchMode=yes "
            "-o StrictHostKeyChecking=accept-new"
        )
    password = None
    if "password_env" in ref:
        password = _read_env(ref["password_env"], "credentials.password_env", rules)
        if not password:
            raise SourceError(
                f"the environment variable {ref['password_env']} named by the catalog's "
                "credentials is not set"
            )
    elif "password_file" in ref:
        password = _read_secret_file(ref["password_file"], "credentials password", rules)
    if password is not None or "username" in ref:
        env["GIT_ASKPASS"] = str(_askpass_script(cache_dir))
        env["CATALOG_GIT_USERNAME"] = ref.get("username", "git")
        env["CATALOG_GIT_PASSWORD"] = password or ""
    return env


def _askpass_script(cache_dir: Path) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    script = cache_dir / "git-askpass.sh"
    if not script.exists() or script.read_text() != ASKPASS_SCRIPT:
        tmp = script.with_suffix(".tmp")
        tmp.write_text(ASKPASS_SCRIPT)
        tmp.chmod(stat.S_IRWXU)
        tmp.replace(script)
    return script
