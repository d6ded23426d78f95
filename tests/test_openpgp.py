"""Reading the signing keyring: the key Helm would pick, its fingerprint and its public half,
checked against what the real gpg says and exports for the same keys."""

from __future__ import annotations

import pytest

from catalog_server import openpgp


@pytest.fixture(scope="module")
def keyring(module_gpg, tmp_path_factory):
    """Keys of every kind GnuPG makes by default or on request, with encryption subkeys."""
    gpg = module_gpg
    keys = {
        "rsa": gpg.make_key("Rsa Signer <rsa@example.com>", "rsa2048"),
        "ed25519": gpg.make_key("Ed Signer <ed@example.com>", "ed25519"),
        "nistp256": gpg.make_key("Nist Signer <nist@example.com>", "nistp256"),
        "dsa": gpg.make_key("Dsa Signer <dsa@example.com>", "dsa2048"),
    }
    gpg.run("--quick-add-key", keys["ed25519"], "cv25519", "encr", "never")
    gpg.run("--quick-add-key", keys["dsa"], "elg2048", "encr", "never")
    gpg.run("--quick-add-uid", keys["rsa"], "Rsa Second <rsa2@example.com>")
    path = gpg.secret_keyring(tmp_path_factory.mktemp("keys") / "secring.gpg")
    return keys, path


def test_fingerprints_and_public_keys_are_what_gpg_exports(module_gpg, keyring):
    fingerprints, path = keyring
    keys = openpgp.read_keyring(path.read_bytes())
    assert sorted(k.fingerprint for k in keys) == sorted(fingerprints.values())
    for key in keys:
        assert key.has_secret
        exported = module_gpg.run("--export", key.fingerprint)
        assert openpgp.public_packets(key) == exported
        armored = openpgp.armor_public_key(key)
        assert armored.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
        assert "PRIVATE" not in armored
        assert module_gpg.dearmor(armored.encode()) == exported


def test_the_armored_key_imports_into_a_fresh_gpg(module_gpg, keyring, tmp_path):
    fingerprints, path = keyring
    key = openpgp.find_key(openpgp.read_keyring(path.read_bytes()), "ed@example.com")
    other = type(module_gpg)(tmp_path / "other-home")
    other.path.mkdir(mode=0o700)
    try:
        other.run("--import", stdin=openpgp.armor_public_key(key).encode())
        listed = other.run("--with-colons", "--list-keys").decode()
        secret = other.run("--with-colons", "--list-secret-keys").decode()
    finally:
        other.stop()
    assert fingerprints["ed25519"].upper() in listed
    assert len([line for line in listed.splitlines() if line.startswith("sub:")]) == 1
    assert secret.strip() == ""


def test_the_key_is_chosen_as_helm_chooses_it(keyring):
    fingerprints, path = keyring
    keys = openpgp.read_keyring(path.read_bytes())
    # An exact user ID, a unique part of one, a second user ID of the same key.
    assert (
        openpgp.find_key(keys, "Ed Signer <ed@example.com>").fingerprint == fingerprints["ed25519"]
    )
    assert openpgp.find_key(keys, "nist@").fingerprint == fingerprints["nistp256"]
    assert openpgp.find_key(keys, "rsa2@example.com").fingerprint == fingerprints["rsa"]
    with pytest.raises(openpgp.KeyringError, match="4 keys have a user ID containing"):
        openpgp.find_key(keys, "Signer")
    with pytest.raises(openpgp.KeyringError, match="no key in the keyring.*nobody"):
        openpgp.find_key(keys, "nobody")


def test_keyrings_helm_cannot_sign_with_are_refused_with_a_reason(module_gpg, keyring, tmp_path):
    fingerprints, path = keyring
    public = module_gpg.public_keyring(tmp_path / "pubring.gpg")
    with pytest.raises(openpgp.KeyringError, match="is a public key"):
        openpgp.find_key(openpgp.read_keyring(public.read_bytes()), "ed@example.com")
    armored = module_gpg.run("--armor", "--export-secret-keys")
    with pytest.raises(openpgp.KeyringError, match="ASCII-armored"):
        openpgp.read_keyring(armored)
    data = path.read_bytes()
    with pytest.raises(openpgp.KeyringError, match="truncated"):
        openpgp.read_keyring(data[: len(data) // 2])
    with pytest.raises(openpgp.KeyringError, match="not the start of an OpenPGP packet"):
        openpgp.read_keyring(b"hello, not a keyring")
    with pytest.raises(openpgp.KeyringError, match="no key"):
        openpgp.read_keyring(b"")
