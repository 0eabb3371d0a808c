"""The consortium's fingerprint key lives in its own file; the genesis commits to it by its
SHA-256 (``fingerprint_key_sha256``), so the public genesis no longer hands it out (decision
133). An older genesis that holds the key itself loads, hashes and executes as before."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from chainfin.errors import ConfigError
from chainfin.execution import BlockContext
from chainfin.genesis import (
    FINGERPRINT_KEY_FILE,
    Genesis,
    key_commitment,
    load_genesis,
    load_keyed_genesis,
    read_fingerprint_key,
    write_fingerprint_key,
)
from contracts.testing import make_genesis

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def _doc(**key_fields: Any) -> dict[str, Any]:
    return {"chain_id": "c", "genesis_time_ms": 1,
            "validators": [{"name": "v0", "public_key": "11" * 32}], **key_fields}


def _files(tmp_path: Path, key: bytes | None = KEY) -> tuple[Path, Genesis]:
    """A genesis of the current form on disk, and (unless ``key`` is None) its key file."""
    g = Genesis.model_validate(_doc(fingerprint_key_sha256=key_commitment(KEY)))
    path = tmp_path / "genesis.json"
    path.write_text(g.to_json_text())
    if key is not None:
        write_fingerprint_key(tmp_path / FINGERPRINT_KEY_FILE, key)
    return path, g


@pytest.mark.parametrize(("fields", "why"), [
    ({}, "neither"),
    ({"fingerprint_key": KEY.hex(), "fingerprint_key_sha256": key_commitment(KEY)}, "both"),
    ({"fingerprint_key_sha256": "zz" * 32}, "must be hex"),
    ({"fingerprint_key_sha256": "ab" * 31}, "32 bytes"),
    ({"fingerprint_key": "ab" * 33}, "32 bytes"),
])
def test_a_genesis_has_exactly_one_well_formed_key_field(tmp_path: Path, fields: dict[str, Any],
                                                         why: str) -> None:
    p = tmp_path / "genesis.json"
    p.write_text(json.dumps(_doc(**fields)))
    with pytest.raises(ConfigError, match=why) as e:
        load_genesis(p)
    assert str(p) in str(e.value) and "Value error" not in str(e.value)


def test_the_keyed_genesis_reads_the_key_beside_it_and_checks_it(tmp_path: Path) -> None:
    path, g = _files(tmp_path)
    kf = tmp_path / FINGERPRINT_KEY_FILE
    assert stat.S_IMODE(kf.stat().st_mode) == 0o600
    keyed = load_keyed_genesis(path)
    assert keyed.fingerprint_key_bytes() == KEY
    assert keyed.hash() == g.hash() == load_genesis(path).hash()  # the key is not in the hash
    assert keyed.document() == g.document() and KEY.hex() not in keyed.to_json_text()
    assert KEY.hex() not in repr(keyed) and KEY.hex() not in str(keyed)
    ctx = BlockContext.from_genesis(keyed, 1, 2)
    assert ctx.fingerprint_key == KEY and KEY.hex() not in repr(ctx) and repr(KEY) not in repr(ctx)


def test_a_missing_key_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path, _ = _files(tmp_path, key=None)
    with pytest.raises(ConfigError, match="not found") as e:
        load_keyed_genesis(path)
    assert str(tmp_path / FINGERPRINT_KEY_FILE) in str(e.value)
    elsewhere = tmp_path / "keys" / "fk.hex"
    with pytest.raises(ConfigError, match="not found") as e:
        load_keyed_genesis(path, elsewhere)
    assert str(elsewhere) in str(e.value)


def test_a_key_file_of_another_key_is_refused_without_showing_either(tmp_path: Path) -> None:
    path, _ = _files(tmp_path, key=OTHER)
    with pytest.raises(ConfigError, match="does not match") as e:
        load_keyed_genesis(path)
    msg = str(e.value)
    assert str(tmp_path / FINGERPRINT_KEY_FILE) in msg
    assert OTHER.hex() not in msg and KEY.hex() not in msg


@pytest.mark.parametrize("content", ["", "not hex\n", "ab" * 16 + "\n", "ab" * 33])
def test_a_malformed_key_file_is_refused(tmp_path: Path, content: str) -> None:
    path, g = _files(tmp_path, key=None)
    kf = tmp_path / FINGERPRINT_KEY_FILE
    kf.write_text(content)
    with pytest.raises(ConfigError, match="32 bytes of hex") as e:
        read_fingerprint_key(kf, g, path)
    assert str(kf) in str(e.value)


def test_an_unkeyed_genesis_of_the_current_form_executes_nothing(tmp_path: Path) -> None:
    """Never a silent empty key (which the documents contract would refuse at the first
    registration, stopping the chain): the context refuses to be built without it."""
    path, _ = _files(tmp_path)
    with pytest.raises(ConfigError, match="fingerprint key"):
        BlockContext.from_genesis(load_genesis(path), 1, 2)
    with pytest.raises(ConfigError, match="commits to"):
        load_genesis(path).with_fingerprint_key(OTHER)


def test_an_older_genesis_holds_its_key_and_needs_no_file(tmp_path: Path) -> None:
    old = make_genesis()
    path = tmp_path / "genesis.json"
    path.write_text(old.to_json_text())
    g = load_keyed_genesis(path)  # no fingerprint.key anywhere
    assert g.key_inline and g.hash() == old.hash()
    assert g.fingerprint_key_bytes() == bytes.fromhex(old.fingerprint_key or "")
    assert BlockContext.from_genesis(g, 1, 2).fingerprint_key == g.fingerprint_key_bytes()


def test_an_older_genesis_moved_to_the_key_file_form_is_a_new_document() -> None:
    old = make_genesis()
    new = old.with_key_committed()
    assert "fingerprint_key" not in new.document()
    assert new.document()["fingerprint_key_sha256"] == hashlib.sha256(
        old.fingerprint_key_bytes()).hexdigest()
    assert new.fingerprint_key_bytes() == old.fingerprint_key_bytes()
    assert new.hash() != old.hash()  # another chain: a consortium moves by a new genesis


def test_write_fingerprint_key_never_overwrites(tmp_path: Path) -> None:
    kf = write_fingerprint_key(tmp_path / "k", KEY)
    with pytest.raises(ConfigError, match="exists"):
        write_fingerprint_key(kf, OTHER)
    assert kf.read_text() == KEY.hex() + "\n"
    assert not os.access(kf, os.X_OK)
