"""Admin tokens and the audit log.

A token is `cat_` followed by 43 URL-safe characters (256 random bits). Only its SHA-256
is stored; comparing hashes of a random 256-bit secret is safe and keeps every request to
one indexed lookup. Revoked tokens stay listed, so the audit log keeps naming them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_server.models import ApiToken, AuditEntry

TOKEN_PREFIX = "cat_"
TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class TokenError(ValueError):
    """A token name that cannot be used, or a token that does not exist."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def create_token(session: Session, name: str) -> str:
    """Create a token named `name` and return it; it is shown this once and never again."""
    if not TOKEN_NAME.match(name):
        raise TokenError("a token name is letters, digits, '.', '_' and '-' (at most 100)")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenError(f"a token named {name!r} exists already (revoke it or pick another)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=token_hash(token), created_at=datetime.now(UTC)))
    session.commit()
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.name)))


def revoke_token(session: Session, name: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise TokenError(f"no token named {name!r}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.commit()


def authenticate(session: Session, token: str | None) -> ApiToken | None:
    """The live token `token` is, or None (unknown, revoked, or not a token at all)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def audit(
    session: Session,
    *,
    token_name: str | None,
    action: str,
    target: str | None,
    client_address: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the session; it is committed with the action it records."""
    session.add(
        AuditEntry(
            at=datetime.now(UTC),
            token_name=token_name,
            action=action,
            target=target,
            client_address=client_address,
            details=details,
        )
    )
