"""Signed charts: a provenance file for every chart archive, made at sync with the configured
key the way ``helm package --sign`` makes it, and the key's public half for clients.

The sync process holds the key (``CATALOG_SIGNING_KEYRING``, a binary GnuPG secret keyring;
``CATALOG_SIGNING_KEY``, the key's user ID or a unique part of it; optionally
``CATALOG_SIGNING_PASSPHRASE_FILE``). Web processes never sign: they serve what the sync
stored in the database, so every replica serves the same ``.prov`` bytes.

- :class:`Signer` reads the keyring once, finds the key Helm will sign with, and checks
  with a trial signature that the Helm SDK can use it (a locked key, a wrong passphrase or a
  missing SDK fail the sync at once, with a clear message, rather than chart by chart).
- :func:`sign_catalog` runs inside a catalog's sync transaction: every archive the catalog
  serves gets a provenance file for the current key unless it has one (they are kept by
  archive digest and key, so an unchanged archive is never signed twice), the catalog
  records which key signs it, and provenance files no archive needs any more are dropped.
  Without a signer, the catalog is marked unsigned and nothing else changes.
- :func:`catalog_key`, :func:`provenance` and :func:`signed_versions` are what readers use;
  :func:`sign_key_annotation` gives the key in Artifact Hub's ``artifacthub.io/signKey`` form.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from catalog_server import helmsdk, openpgp
from catalog_server.config import Settings
from catalog_server.helmrepo import ChartNotPackable, archive_name, chart_digest, package_chart
from catalog_server.helmrepo.stored import packaged_versions, stored_archive
from catalog_server.models import (
    Catalog,
    ChartProvenance,
    SigningKeyRow,
    Template,
    TemplateVersion,
)
from catalog_server.problems import CatalogError

__all__ = [
    "Signer",
    "SigningError",
    "catalog_key",
    "provenance",
    "sign_catalog",
    "sign_key_annotation",
    "signed_versions",
    "signer_from_settings",
]

log = logging.getLogger("catalog_server.signing")

# A chart Helm can load, signed once when the key is read, to prove the key works.
_TRIAL_CHART = b"apiVersion: v2\nname: signing-check\nversion: 0.0.0\n"


class SigningError(CatalogError):
    """The signing key cannot be used: a bad keyring, no such key, a locked key, no SDK."""


@dataclass(frozen=True)
class Signer:
    keyring: Path
    identity: str
    passphrase_file: Path | None
    fingerprint: str  # lowercase hex
    user_id: str
    public_key: str  # ASCII-armored

    @classmethod
    def load(cls, keyring: Path, identity: str, passphrase_file: Path | None = None) -> Signer:
        """Read ``keyring``, pick the key for ``identity`` and check that Helm signs with it.

        Raises:
            SigningError: the keyring cannot be read or is not a binary secret keyring, no
                key (or several) matches, the key is locked, or the Helm SDK is missing.
        """
        try:
            data = keyring.read_bytes()
        except OSError as exc:
            raise SigningError(f"cannot read the signing keyring {keyring}: {exc}") from None
        if passphrase_file is not None and not passphrase_file.is_file():
            raise SigningError(f"the signing passphrase file {passphrase_file} does not exist")
        try:
            key = openpgp.find_key(openpgp.read_keyring(data), identity)
        except openpgp.KeyringError as exc:
            raise SigningError(f"signing keyring {keyring}: {exc}") from None
        user_id = next((uid for uid in key.user_ids if identity in uid), key.user_ids[0])
        signer = cls(
            keyring,
            identity,
            passphrase_file,
            key.fingerprint,
            user_id,
            openpgp.armor_public_key(key),
        )
        trial = package_chart("signing-check", [("Chart.yaml", _TRIAL_CHART)], 0)
        try:
            signer.provenance(trial, "signing-check-0.0.0.tgz")
        except helmsdk.HelmSDKMissing as exc:
            raise SigningError(f"signing charts {exc}") from None
        except helmsdk.HelmError as exc:
            hint = (
                ""
                if passphrase_file
                else " (a protected key needs CATALOG_SIGNING_PASSPHRASE_FILE)"
            )
            raise SigningError(f"Helm cannot sign with key {identity!r}: {exc}{hint}") from None
        return signer

    def provenance(self, archive: bytes, filename: str) -> str:
        """The provenance file of ``archive`` published as ``filename``, as ``helm package
        --sign`` writes it. Raises HelmError (Helm cannot load the chart) or HelmSDKMissing."""
        with tempfile.TemporaryDirectory(prefix="catalog-sign-") as folder:
            path = Path(folder) / filename
            path.write_bytes(archive)
            prov = helmsdk.sign(path, self.identity, self.keyring, self.passphrase_file)
            return prov.read_text(encoding="utf-8")


def signer_from_settings(settings: Settings) -> Signer | None:
    """The signer the settings describe, or None when no signing key is configured.
    Raises SigningError when one is configured but cannot be used."""
    if settings.signing_keyring is None:
        return None
    return Signer.load(
        settings.signing_keyring, settings.signing_key or "", settings.signing_passphrase_file
    )


def _record_key(session: Session, signer: Signer) -> None:
    if session.get(SigningKeyRow, signer.fingerprint) is None:
        session.add(
            SigningKeyRow(
                fingerprint=signer.fingerprint,
                user_id=signer.user_id,
                public_key=signer.public_key,
                added_at=datetime.now(UTC),
            )
        )
        session.flush()


def sign_catalog(
    session: Session, catalog: Catalog, signer: Signer | None, *, reindexed: bool = True
) -> int:
    """Give every chart archive of ``catalog`` its provenance file for ``signer``'s key and
    record the key on the catalog (None: no key, the catalog is unsigned). Writes in the
    caller's transaction; the caller commits (and bumps the generation when anything
    changed). Returns how many provenance files were made.

    An archive Helm cannot load is left unsigned, with a warning in the log; it is tried
    again at the next sync. Provenance files no archive needs any more are dropped when the
    catalog was ``reindexed`` (versions may have gone) or its signing changed.
    """
    if signer is None:
        if catalog.signing_key is not None:
            catalog.signing_key = None
            _drop_unused(session)
        return 0
    _record_key(session, signer)
    changed = reindexed or catalog.signing_key != signer.fingerprint
    catalog.signing_key = signer.fingerprint
    missing = session.execute(
        packaged_versions(catalog.id)
        .where(
            ~exists().where(
                ChartProvenance.digest == TemplateVersion.chart_digest,
                ChartProvenance.fingerprint == signer.fingerprint,
            ),
        )
        .order_by(TemplateVersion.id)
    ).all()
    made: set[str] = set()
    for version, slug in missing:
        if version.chart_digest in made:
            continue  # one archive, given by two versions
        name, filename = archive_name(
            (version.meta or {}).get("chart") or {}, slug, version.version
        )
        try:
            data = stored_archive(session, version, name)
            if chart_digest(data) != version.chart_digest:
                raise ChartNotPackable("the rebuilt archive does not match its recorded digest")
            text = signer.provenance(data, filename)
        except (ChartNotPackable, helmsdk.HelmError) as exc:
            log.warning("catalog %s: %s is not signed: %s", catalog.name, filename, exc)
            continue
        session.add(
            ChartProvenance(
                digest=version.chart_digest,
                fingerprint=signer.fingerprint,
                provenance=text,
                created_at=datetime.now(UTC),
            )
        )
        made.add(version.chart_digest)
    session.flush()
    if changed or made:
        _drop_unused(session)
    return len(made)


def _drop_unused(session: Session) -> None:
    """Drop provenance files that no served archive needs under its catalog's key. (A sync of
    another catalog running at the same time can, rarely, lose one it reuses; its next sync
    signs that archive again.) Keys stay recorded: they are few, and small."""
    for fingerprint in session.scalars(select(ChartProvenance.fingerprint).distinct()).all():
        needed = (
            select(TemplateVersion.chart_digest)
            .join(Template, TemplateVersion.template_id == Template.id)
            .join(Catalog, Template.catalog_id == Catalog.id)
            .where(Catalog.signing_key == fingerprint, TemplateVersion.chart_digest.is_not(None))
        )
        session.execute(
            delete(ChartProvenance).where(
                ChartProvenance.fingerprint == fingerprint, ChartProvenance.digest.not_in(needed)
            )
        )


# --- readers -----------------------------------------------------------------------------


def catalog_key(session: Session, catalog: str) -> SigningKeyRow | None:
    """The key that signs ``catalog``'s charts, or None when they are not signed."""
    return session.scalar(
        select(SigningKeyRow)
        .join(Catalog, Catalog.signing_key == SigningKeyRow.fingerprint)
        .where(Catalog.name == catalog)
    )


def provenance(session: Session, digest: str, fingerprint: str | None) -> str | None:
    """The provenance file of the archive with sha256 ``digest`` under the key, if any."""
    if fingerprint is None:
        return None
    return session.scalar(
        select(ChartProvenance.provenance).where(
            ChartProvenance.digest == digest, ChartProvenance.fingerprint == fingerprint
        )
    )


def _signed_query(catalog: str):
    """(template id, version) of the versions of ``catalog`` whose archive has a provenance
    file under the catalog's key."""
    return (
        select(Template.slug, TemplateVersion.version)
        .join(Template, TemplateVersion.template_id == Template.id)
        .join(Catalog, Template.catalog_id == Catalog.id)
        .join(
            ChartProvenance,
            (ChartProvenance.digest == TemplateVersion.chart_digest)
            & (ChartProvenance.fingerprint == Catalog.signing_key),
        )
        .where(Catalog.name == catalog)
    )


def signed_versions(session: Session, catalog: str, slug: str) -> set[str]:
    """The versions of a template whose archive has a provenance file under the catalog's key."""
    return {
        version
        for _, version in session.execute(_signed_query(catalog).where(Template.slug == slug))
    }


def signed_versions_by_template(session: Session, catalog: str) -> dict[str, set[str]]:
    """:func:`signed_versions` of every template of ``catalog`` that has any, in one query."""
    found: dict[str, set[str]] = {}
    for slug, version in session.execute(_signed_query(catalog)):
        found.setdefault(slug, set()).add(version)
    return found


def sign_key_annotation(fingerprint: str, url: str) -> str:
    """Artifact Hub's ``artifacthub.io/signKey`` value for the key: the fingerprint (upper
    case hex) and where its public key is served."""
    return f"fingerprint: {fingerprint.upper()}\nurl: {url}\n"
