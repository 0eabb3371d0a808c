"""The genesis hash covers the fields a genesis file sets: a release that adds a param (at its
default) must not change the hash of a chain whose genesis file predates the param."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chainfin import codec
from chainfin.genesis import Genesis, GenesisParams

_V = "11" * 32


def _doc(**params: object) -> dict[str, object]:
    return {"chain_id": "c", "genesis_time_ms": 1, "fingerprint_key": os.urandom(32).hex(),
            "validators": [{"name": "v0", "public_key": _V, "bank": None}], "identities": [],
            "currencies": [], "regulators": [], "params": params}


def test_a_file_without_a_later_param_hashes_as_it_did_before_the_param_existed() -> None:
    doc = _doc(block_interval_ms=20, window=2)
    g = Genesis.model_validate(doc)
    assert g.params.pacing_knee_tps == GenesisParams().pacing_knee_tps  # the default applies ...
    # ... but the hash is the document's: what it was when the file was written
    assert g.hash() == codec.hash_value(doc)
    assert json.loads(g.to_json_text()) == doc
    assert "pacing_knee_tps" not in g.to_json_text()


def test_the_file_written_reloads_to_the_same_hash() -> None:
    g = Genesis.model_validate(_doc(pacing_knee_tps=300))
    again = Genesis.model_validate_json(g.to_json_text())
    assert again.hash() == g.hash()
    assert again.params.pacing_knee_tps == 300


def test_setting_a_param_changes_the_hash() -> None:
    doc = _doc()
    a = Genesis.model_validate(doc)
    b = Genesis.model_validate({**doc, "params": {"pacing_knee_tps": 300}})
    assert a.hash() != b.hash()


# ---------------------------------------------------------------- the two forms of the key field

VECTOR_KEY = "33" * 32
_VECTOR = {"chain_id": "chainfin-vector", "genesis_time_ms": 1764129600000,
           "validators": [{"name": "v0", "public_key": "11" * 32, "bank": "CHFNUS33"}],
           "regulators": ["22" * 32], "params": {"ledger_format": 3}}
#: the older form (the key itself) and the current one (its SHA-256; the key in its own file)
VECTOR_OLD = {**_VECTOR, "fingerprint_key": VECTOR_KEY}
VECTOR_NEW = {**_VECTOR, "fingerprint_key_sha256":
              hashlib.sha256(bytes.fromhex(VECTOR_KEY)).hexdigest()}
#: VECTOR_OLD's hash is the one it had before ``fingerprint_key_sha256`` existed
HASH_OLD = "b38e69c9c976777fe5ead4012c29d76a6e18746c5f4cac804804b538450e27ab"
HASH_NEW = "3ca47d34b3bde3d79f85581f0424b923ff8afcdf516edb048825aa139548c7e8"
_UPPER_NEW = {**VECTOR_NEW, "fingerprint_key_sha256": VECTOR_NEW["fingerprint_key_sha256"].upper()}


def test_both_forms_hash_to_their_vectors_and_an_old_file_as_before() -> None:
    assert Genesis.model_validate(VECTOR_OLD).hash().hex() == HASH_OLD
    assert Genesis.model_validate(VECTOR_NEW).hash().hex() == HASH_NEW
    assert Genesis.model_validate(_UPPER_NEW).hash().hex() == HASH_NEW  # hex is lowercased
    assert VECTOR_NEW["fingerprint_key_sha256"] == (
        "deb0e38ced1e41de6f92e70e80c418d2d356afaaa99e26f5939dbc7d3ef4772a")


_JS = """
require(process.argv[1]);
const V = globalThis.ChainfinVerify;
const docs = JSON.parse(require("fs").readFileSync(0, "utf8"));
Promise.all(docs.map((d) => V.loadGenesis(JSON.stringify(d)).then(
  (g) => ({ hash: g.hash }), (e) => ({ error: e.message }))))
  .then((out) => console.log(JSON.stringify(out)));
"""


def test_the_explorers_verifier_hashes_both_forms_as_python() -> None:
    """node/static/verify.js (the explorer's offline verifier) on the vectors, under Node.js:
    the browser test (tests/browser) checks the same on a live testnet's genesis."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("needs Node.js to run verify.js outside a browser")
    js = Path(__file__).resolve().parents[2] / "node" / "static" / "verify.js"
    neither = {**_VECTOR}
    both = {**VECTOR_OLD, **VECTOR_NEW}
    r = subprocess.run([node, "-e", _JS, str(js)], capture_output=True, text=True, timeout=60,
                       input=json.dumps([VECTOR_OLD, VECTOR_NEW, _UPPER_NEW, neither, both]))
    assert r.returncode == 0, r.stderr
    old, new, upper, e_neither, e_both = json.loads(r.stdout)
    assert old == {"hash": HASH_OLD} and new == {"hash": HASH_NEW} and upper == {"hash": HASH_NEW}
    assert "neither" in e_neither["error"] and "both" in e_both["error"]
