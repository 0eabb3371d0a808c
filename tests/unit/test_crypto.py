import os
import stat

import pytest

from chainfin import crypto
from chainfin.errors import ConfigError, InvalidSignature


def test_sign_verify_and_domain_separation():
    ident = crypto.Identity.generate("a")
    sig = ident.sign("tx", b"hello")
    crypto.verify(ident.public_key, "tx", b"hello", sig)
    with pytest.raises(InvalidSignature):
        crypto.verify(ident.public_key, "consensus", b"hello", sig)
    with pytest.raises(InvalidSignature):
        crypto.verify(ident.public_key, "tx", b"hellO", sig)
    other = crypto.Identity.generate()
    with pytest.raises(InvalidSignature):
        crypto.verify(other.public_key, "tx", b"hello", sig)
    assert not crypto.is_valid(b"short", "tx", b"x", sig)
    with pytest.raises(ValueError):
        ident.sign("nope", b"x")


def test_key_file_round_trip_mode_0600(tmp_path):
    ident = crypto.Identity.generate("bank")
    p = tmp_path / "k.json"
    crypto.save_identity(ident, p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    back = crypto.load_identity(p)
    assert back.public_key == ident.public_key and back.name == "bank"
    with pytest.raises(FileExistsError):
        crypto.save_identity(ident, p)
    assert ident.seed.hex() not in repr(ident)


def test_bad_key_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError):
        crypto.load_identity(p)
    with pytest.raises(ConfigError):
        crypto.load_identity(tmp_path / "missing.json")


def test_sealed_box():
    alice = crypto.Identity.generate()
    box = crypto.seal(crypto.box_public_from_ed25519(alice.public_key), b"secret record")
    assert alice.box_public_key == crypto.box_public_from_ed25519(alice.public_key)
    assert alice.unseal(box) == b"secret record"
    with pytest.raises(InvalidSignature):
        crypto.Identity.generate().unseal(box)
