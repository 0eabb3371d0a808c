"""The genesis hash covers the fields a genesis file sets: a release that adds a param (at its
default) must not change the hash of a chain whose genesis file predates the param."""

from __future__ import annotations

import json
import os

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
