"""Just enough OpenPGP (RFC 4880 / RFC 9580) to publish the key that signs chart archives.

The signing itself is Helm's (the Helm SDK's ``sign``, as ``helm package --sign``); what is
needed here is what Helm does not offer: from the binary secret keyring that Helm signs with,
find the key Helm will pick for an identity, its fingerprint, and its public half as an
ASCII-armored key block that ``gpg --import`` and (dearmored) ``helm verify --keyring`` read.

Only packet framing and the public part of key packets are read; no secret material is ever
parsed, decrypted or copied. The public key block is the keyring's own packets for that key
(user IDs, self-signatures, subkeys and their binding signatures, byte for byte) with each
secret key packet cut down to the public key packet it begins with, as ``gpg --export`` writes
it. Keys of version 4 (every key GnuPG 2.x makes), 5 and 6 are read; version 3 is refused.

Raises :class:`KeyringError` with a message a person can act on for anything it cannot use.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

__all__ = ["KeyringError", "SigningKey", "armor_public_key", "find_key", "read_keyring"]

# Packet tags (RFC 9580 section 5).
SIGNATURE, SECRET_KEY, SECRET_SUBKEY, MARKER, TRUST = 2, 5, 7, 10, 12
PUBLIC_KEY, USER_ID, PUBLIC_SUBKEY, USER_ATTRIBUTE = 6, 13, 14, 17
_PUBLIC_OF = {SECRET_KEY: PUBLIC_KEY, SECRET_SUBKEY: PUBLIC_SUBKEY}
_PRIMARY = (SECRET_KEY, PUBLIC_KEY)

# Public key material of a version 4 key, per algorithm: "m" an MPI, "o" a curve OID (a
# length octet and the OID), "k" ECDH's KDF parameters (a length octet and the fields), or a
# fixed number of octets (RFC 9580 section 5.5.5).
_V4_FIELDS: dict[int, tuple[str | int, ...]] = {
    1: ("m", "m"),  # RSA
    2: ("m", "m"),  # RSA encrypt-only
    3: ("m", "m"),  # RSA sign-only
    16: ("m", "m", "m"),  # Elgamal
    17: ("m", "m", "m", "m"),  # DSA
    18: ("o", "m", "k"),  # ECDH
    19: ("o", "m"),  # ECDSA
    20: ("m", "m", "m"),  # Elgamal (formerly sign and encrypt)
    22: ("o", "m"),  # EdDSA (legacy)
    25: (32,),  # X25519
    26: (56,),  # X448
    27: (32,),  # Ed25519
    28: (57,),  # Ed448
}


class KeyringError(ValueError):
    """The keyring cannot be read, or holds no usable key for the identity."""


@dataclass(frozen=True)
class Packet:
    tag: int
    body: bytes
    raw: bytes  # header and body as stored
    new_format: bool


@dataclass
class SigningKey:
    """One key of a keyring: its primary key, user IDs and every packet that belongs to it."""

    fingerprint: str  # lowercase hex of the primary key's fingerprint
    user_ids: list[str]
    has_secret: bool  # the primary key packet carries secret material
    packets: list[Packet] = field(repr=False)


def _packets(data: bytes) -> list[Packet]:
    """Split ``data`` into OpenPGP packets. Raises KeyringError on malformed framing."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        ctb = data[pos]
        if not ctb & 0x80:
            raise KeyringError(
                f"byte {pos} is not the start of an OpenPGP packet: the keyring must be binary "
                "(gpg --export-secret-keys without --armor)"
            )
        pos += 1
        if ctb & 0x40:  # new format
            tag = ctb & 0x3F
            if pos >= len(data):
                raise KeyringError("the keyring ends inside a packet header")
            first = data[pos]
            if first < 192:
                length, pos = first, pos + 1
            elif first < 224:
                if pos + 1 >= len(data):
                    raise KeyringError("the keyring ends inside a packet header")
                length, pos = ((first - 192) << 8) + data[pos + 1] + 192, pos + 2
            elif first == 255:
                length, pos = int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
            else:
                raise KeyringError("partial-length packets do not occur in keyrings")
            new_format = True
        else:
            tag = (ctb >> 2) & 0x0F
            kind = ctb & 0x03
            if kind == 3:  # indeterminate: to the end of the data
                length = len(data) - pos
            else:
                size = (1, 2, 4)[kind]
                length, pos = int.from_bytes(data[pos : pos + size], "big"), pos + size
            new_format = False
        end = pos + length
        if end > len(data):
            raise KeyringError("the keyring is truncated (a packet runs past its end)")
        out.append(Packet(tag, data[pos:end], data[start:end], new_format))
        pos = end
    return out


def _public_length(body: bytes) -> int:
    """How many octets at the start of a key packet's body are its public key."""
    if not body:
        raise KeyringError("an empty key packet")
    version = body[0]
    if version in (5, 6):
        if len(body) < 10:
            raise KeyringError("a truncated key packet")
        return 10 + int.from_bytes(body[6:10], "big")
    if version != 4:
        raise KeyringError(f"version {version} keys are not supported; make a new key with gpg")
    if len(body) < 6:
        raise KeyringError("a truncated key packet")
    algorithm = body[5]
    fields = _V4_FIELDS.get(algorithm)
    if fields is None:
        raise KeyringError(f"public key algorithm {algorithm} is not supported")
    pos = 6
    for kind in fields:
        if isinstance(kind, int):
            pos += kind
        elif kind == "m":
            if pos + 2 > len(body):
                raise KeyringError("a truncated key packet")
            pos += 2 + (int.from_bytes(body[pos : pos + 2], "big") + 7) // 8
        else:  # "o" and "k": a length octet, then that many octets
            if pos >= len(body):
                raise KeyringError("a truncated key packet")
            pos += 1 + body[pos]
    if pos > len(body):
        raise KeyringError("a truncated key packet")
    return pos


def _fingerprint(public: bytes) -> str:
    if public[0] == 4:
        return hashlib.sha1(b"\x99" + len(public).to_bytes(2, "big") + public).hexdigest()
    prefix = b"\x9a" if public[0] == 5 else b"\x9b"
    return hashlib.sha256(prefix + len(public).to_bytes(4, "big") + public).hexdigest()


def read_keyring(data: bytes) -> list[SigningKey]:
    """Every key in a binary keyring (public or secret), in the keyring's order.

    Raises:
        KeyringError: the data is ASCII-armored, malformed, or holds no key.
    """
    if data.lstrip().startswith(b"-----BEGIN PGP"):
        raise KeyringError(
            "the keyring is ASCII-armored; Helm reads binary keyrings: export it with "
            "`gpg --export-secret-keys KEY > secring.gpg` (without --armor)"
        )
    keys: list[SigningKey] = []
    for packet in _packets(data):
        if packet.tag in _PRIMARY:
            public = packet.body[: _public_length(packet.body)]
            keys.append(SigningKey(_fingerprint(public), [], packet.tag == SECRET_KEY, [packet]))
        elif packet.tag in (MARKER, TRUST):
            continue  # GnuPG's own bookkeeping, never part of an exported key
        elif not keys:
            raise KeyringError(f"packet of type {packet.tag} before any key")
        else:
            keys[-1].packets.append(packet)
            if packet.tag == USER_ID:
                keys[-1].user_ids.append(packet.body.decode("utf-8", "replace"))
    if not keys:
        raise KeyringError("the keyring holds no key")
    return keys


def find_key(keys: list[SigningKey], identity: str) -> SigningKey:
    """The key Helm signs with for ``identity`` (``helm package --sign --key``).

    Helm's rule: a key with a user ID equal to ``identity`` wins; otherwise the one key with
    a user ID containing it; several such keys are an error. The key must hold its secret.

    Raises:
        KeyringError: no key matches, several do, or the match has no secret key.
    """
    if not identity:
        raise KeyringError("the signing key's identity is empty")
    chosen = next((k for k in keys if identity in k.user_ids), None)
    if chosen is None:
        matches = [k for k in keys if any(identity in uid for uid in k.user_ids)]
        if not matches:
            known = "; ".join(uid for k in keys for uid in k.user_ids) or "none"
            raise KeyringError(
                f"no key in the keyring has a user ID containing {identity!r} (user IDs: {known})"
            )
        if len(matches) > 1:
            raise KeyringError(
                f"{len(matches)} keys have a user ID containing {identity!r}; give the whole "
                "user ID ('Name <email>')"
            )
        chosen = matches[0]
    if not chosen.has_secret:
        raise KeyringError(
            f"the key {chosen.fingerprint.upper()} in the keyring is a public key; Helm signs "
            "with a secret keyring (gpg --export-secret-keys)"
        )
    return chosen


def _header(tag: int, length: int, new_format: bool) -> bytes:
    if new_format or tag > 15:
        if length < 192:
            return bytes([0xC0 | tag, length])
        if length < 8384:
            length -= 192
            return bytes([0xC0 | tag, (length >> 8) + 192, length & 0xFF])
        return bytes([0xC0 | tag, 255]) + length.to_bytes(4, "big")
    if length < 1 << 8:
        return bytes([0x80 | tag << 2]) + length.to_bytes(1, "big")
    if length < 1 << 16:
        return bytes([0x80 | tag << 2 | 1]) + length.to_bytes(2, "big")
    return bytes([0x80 | tag << 2 | 2]) + length.to_bytes(4, "big")


def public_packets(key: SigningKey) -> bytes:
    """The key's transferable public key, binary: what ``gpg --export`` writes for it."""
    out = []
    for packet in key.packets:
        public_tag = _PUBLIC_OF.get(packet.tag)
        if public_tag is None:
            out.append(packet.raw)
            continue
        body = packet.body[: _public_length(packet.body)]
        out.append(_header(public_tag, len(body), packet.new_format) + body)
    return b"".join(out)


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor_public_key(key: SigningKey) -> str:
    """The key's public half as an ASCII-armored ``PGP PUBLIC KEY BLOCK``."""
    data = public_packets(key)
    text = base64.b64encode(data).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    checksum = base64.b64encode(_crc24(data).to_bytes(3, "big")).decode("ascii")
    return "\n".join(
        [
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "",
            *lines,
            "=" + checksum,
            "-----END PGP PUBLIC KEY BLOCK-----",
            "",
        ]
    )
