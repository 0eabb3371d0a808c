"""The JSON envelope of a signed transaction (``POST /v1/tx``, ``/v1/tx/stream``): parsed and
checked into a :class:`~chainfin.types.Transaction`, every refusal an ``InvalidTransaction``
with the code the REST API answers with. Part of :mod:`node.api` (which re-exports it).
"""

from __future__ import annotations

import gc
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chainfin.errors import InvalidTransaction
from chainfin.types import Transaction

__all__ = ["MAX_NAME", "TxEnvelope", "envelope_tx", "loads_untrusted", "parse_envelope"]

MAX_NAME = 64  # contract (and method) names: Transaction.from_wire's limit


class TxEnvelope(BaseModel):
    """A signed transaction as JSON (bytes as hex)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    chain_id: str = Field(min_length=1, max_length=64)
    sender: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    nonce: int = Field(ge=0, lt=2**63)
    contract: str = Field(min_length=1, max_length=64)
    method: str = Field(min_length=1, max_length=64)
    args: dict[str, Any]
    signature: str = Field(pattern=r"^[0-9a-fA-F]{128}$")


def parse_envelope(raw: bytes | str) -> Transaction:
    """A transaction from a JSON envelope (the body of ``POST /v1/tx``, a message of
    ``/v1/tx/stream``).

    Raises:
        InvalidTransaction: ``malformed_json``, ``invalid_envelope`` (the message names the
            field) or one of ``Transaction.from_wire``'s codes.
    """
    return envelope_tx(_json_body(raw))


def loads_untrusted(raw: bytes | str) -> Any:
    """``json.loads`` of bytes from outside (a request body, a peer's answer), with the cyclic
    GC paused. The parser recurses once per level of nesting, so a body like ``[[[[...`` takes
    it to the interpreter's recursion limit before it gives up (``RecursionError``). Nothing
    else may run down there: a collection triggered by the parser's allocations would call the
    process's GC callbacks (:class:`node.metrics.GcPauses`) with no stack left, and their error
    would be lost to ``sys.unraisablehook`` (decision 101). The collector runs at the next
    allocation after.

    Raises:
        ValueError, UnicodeDecodeError: not JSON. RecursionError: nested too deeply.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return json.loads(raw)
    finally:
        if collecting:
            gc.enable()


def _json_body(raw: bytes | str) -> Any:
    """A request body's JSON, or ``malformed_json``."""
    try:
        return loads_untrusted(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidTransaction("body is not valid JSON", "malformed_json") from None
    except RecursionError:
        raise InvalidTransaction("body is nested too deeply", "malformed_json") from None


def envelope_tx(body: Any) -> Transaction:
    """A transaction from a decoded JSON envelope.

    Raises:
        InvalidTransaction: ``invalid_envelope`` (the message names the field) or one of
            ``Transaction.from_wire``'s codes.
    """
    if _plain_envelope(body):
        return Transaction.from_wire(body)
    try:
        env = TxEnvelope.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "body"
        raise InvalidTransaction(f"{loc}: {first['msg']}", "invalid_envelope") from None
    # (args a peer's bounded decoder could not read, such as a map over codec.MAX_MAP
    # entries, are refused by the canonical encoder itself: ``bad_encoding``)
    return Transaction.from_wire(env.model_dump())


_ENVELOPE_KEYS = frozenset(TxEnvelope.model_fields)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEX128 = re.compile(r"[0-9a-fA-F]{128}")


def _plain_envelope(body: Any) -> bool:
    """True when ``body`` certainly passes :class:`TxEnvelope` (every field present, of its
    exact JSON type and within its bounds, nothing else): nearly every envelope a client sends,
    which then skips the model's validation and dump (a fifth of the REST parse). Anything
    else goes through the model, so a bad envelope gets the model's error as before."""
    if type(body) is not dict or body.keys() != _ENVELOPE_KEYS:
        return False
    chain_id, sender, nonce = body["chain_id"], body["sender"], body["nonce"]
    contract, method, sig = body["contract"], body["method"], body["signature"]
    # ASCII names only: the model refuses a name holding a lone surrogate (valid JSON) with
    # its own error, so any other name is left to it
    return (type(chain_id) is str and 0 < len(chain_id) <= MAX_NAME and chain_id.isascii()
            and type(contract) is str and 0 < len(contract) <= MAX_NAME and contract.isascii()
            and type(method) is str and 0 < len(method) <= MAX_NAME and method.isascii()
            and type(nonce) is int and 0 <= nonce < 2**63
            and type(body["args"]) is dict
            and type(sender) is str and _HEX64.fullmatch(sender) is not None
            and type(sig) is str and _HEX128.fullmatch(sig) is not None)
