"""A genesis for in-process clusters and testnet tools: ``node{i}`` validators that are admin
banks, a few named members, one currency (USD). Tests (``tests/fixtures.py``) and
``testnet/fuzz.py`` both build theirs with it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chainfin.crypto import Identity
from chainfin.genesis import Genesis


def bank_genesis(chain_id: str, validators: Sequence[Identity],
                 members: Iterable[tuple[str, Identity, str, str | None]], usd_issuer: Identity,
                 regulators: Iterable[Identity] = (), fingerprint_key: str | None = None,
                 params: Mapping[str, Any] | None = None) -> Genesis:
    """Validators ``node{i}`` (bank ``BANK{i}US33XXX``, admins), then ``members`` as
    (name, identity, role, legal name or None); USD (exponent 2) issued by ``usd_issuer``;
    genesis time a second ago; a random fingerprint key unless one is given."""
    return Genesis.model_validate({
        "chain_id": chain_id,
        "genesis_time_ms": int(time.time() * 1000) - 1000,
        "validators": [{"name": f"node{i}", "public_key": v.public_key.hex(),
                        "bank": f"BANK{i}US33XXX"} for i, v in enumerate(validators)],
        "identities": [{"name": f"node{i}", "public_key": v.public_key.hex(), "role": "bank",
                        "admin": True, "bank": f"BANK{i}US33XXX"}
                       for i, v in enumerate(validators)]
        + [{"name": name, "public_key": ident.public_key.hex(), "role": role,
            "legal_name": legal_name} for name, ident, role, legal_name in members],
        "currencies": [{"code": "USD", "exponent": 2, "issuer": usd_issuer.public_key.hex()}],
        "regulators": [r.public_key.hex() for r in regulators],
        "fingerprint_key": fingerprint_key or os.urandom(32).hex(),
        "params": {"ledger_format": 2, **(params or {})},  # what a new chain uses (decision 95)
    })
