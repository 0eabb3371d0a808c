"""``POST /v1/tx``'s envelope check: the plain-envelope shortcut (node/api.py ``_plain_envelope``)
must take exactly envelopes the pydantic model accepts, and give the same transaction."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chainfin.crypto import Identity
from chainfin.errors import InvalidTransaction
from chainfin.types import Transaction
from node import envelope
from node.envelope import TxEnvelope, _plain_envelope, envelope_tx

IDENT = Identity.generate("envelope-fastpath")


def _good() -> dict[str, Any]:
    tx = Transaction.create(IDENT, "chain-x", 7, "token", "transfer",
                            {"to": "ab" * 32, "amount": 5, "memo": "é"})
    return tx.to_json()


def _via_model(body: Any) -> Transaction:
    """The path every envelope took before the shortcut."""
    return Transaction.from_wire(TxEnvelope.model_validate(body).model_dump())


MUTATIONS: list[tuple[str, Any]] = [
    ("as is", lambda e: None),
    ("upper-case hex", lambda e: e.update(sender=e["sender"].upper(),
                                          signature=e["signature"].upper())),
    ("names at the limit", lambda e: e.update(chain_id="c" * 64, contract="k" * 64,
                                              method="m" * 64)),
    ("non-ascii names", lambda e: e.update(contract="é" * 64)),
    ("lone surrogate in chain_id", lambda e: e.update(chain_id="\ud800")),
    ("lone surrogate in contract", lambda e: e.update(contract="a\udfff")),
    ("lone surrogate in method", lambda e: e.update(method="\ud800")),
    ("lone surrogate in args", lambda e: e.update(args={"\ud800": 1})),
    ("nonce 0", lambda e: e.update(nonce=0)),
    ("nonce 2^63-1", lambda e: e.update(nonce=2**63 - 1)),
    ("empty args", lambda e: e.update(args={})),
    ("nonce 2^63", lambda e: e.update(nonce=2**63)),
    ("nonce -1", lambda e: e.update(nonce=-1)),
    ("nonce bool", lambda e: e.update(nonce=True)),
    ("nonce float", lambda e: e.update(nonce=1.0)),
    ("nonce str", lambda e: e.update(nonce="1")),
    ("chain_id 65", lambda e: e.update(chain_id="c" * 65)),
    ("contract empty", lambda e: e.update(contract="")),
    ("method None", lambda e: e.update(method=None)),
    ("args list", lambda e: e.update(args=[])),
    ("sender 63 bytes", lambda e: e.update(sender=e["sender"][:-2])),
    ("sender newline", lambda e: e.update(sender=e["sender"][:-1] + "\n")),
    ("sender trailing newline", lambda e: e.update(sender=e["sender"] + "\n")),
    ("sender non-hex", lambda e: e.update(sender="zz" + e["sender"][2:])),
    ("signature short", lambda e: e.update(signature=e["signature"][:-2])),
    ("signature bytes", lambda e: e.update(signature=[1, 2])),
    ("extra key", lambda e: e.update(extra=1)),
    ("missing key", lambda e: e.pop("args")),
    ("not a dict", lambda e: e.clear()),
]


def _outcome(f: Any, body: Any) -> tuple[str, Any]:
    try:
        tx = f(copy.deepcopy(body))
    except InvalidTransaction as e:
        return ("refused", (e.code, str(e)))
    except Exception as e:  # noqa: BLE001 - the model's own error: compared by type
        return ("error", type(e).__name__)
    return ("tx", (tx, tx.body, tx.tx_id))


@pytest.mark.parametrize("case,mutate", MUTATIONS, ids=[c for c, _ in MUTATIONS])
def test_shortcut_agrees_with_the_model(case: str, mutate: Any) -> None:
    body = _good()
    mutate(body)
    plain = _plain_envelope(body)
    assert not plain or _model_accepts(body), f"{case}: the shortcut takes what the model refuses"
    assert _outcome(envelope_tx, body) == _outcome(envelope_tx_model_only, body)


def _model_accepts(body: Any) -> bool:
    try:
        TxEnvelope.model_validate(body)
    except Exception:  # noqa: BLE001
        return False
    return True


def envelope_tx_model_only(body: Any) -> Transaction:
    """``envelope_tx`` with the shortcut turned off."""
    saved = envelope._plain_envelope
    envelope._plain_envelope = lambda b: False  # type: ignore[assignment]
    try:
        return envelope_tx(body)
    finally:
        envelope._plain_envelope = saved  # type: ignore[assignment]


def test_a_client_envelope_takes_the_shortcut() -> None:
    """The shortcut is what a client sends (else it saves nothing), and its transaction is
    the model path's, field for field, with the same body bytes and id."""
    body = _good()
    assert _plain_envelope(body)
    tx = envelope_tx(copy.deepcopy(body))
    ref = _via_model(copy.deepcopy(body))
    assert tx == ref and tx.body == ref.body and tx.tx_id == ref.tx_id
    tx.verify_signature()
