"""The engine's write-ahead records: their keys, their shapes, and reading them back.

Every ``Persist(key, record)`` the engine emits is built here; after a restart the driver hands
back the ``(key, record)`` pairs not pruned and :func:`scan` sorts out what the replica signed.
The records are plain dicts (the store encodes them with the canonical codec):

========  ====  ==========================================================================
record    tag   fields
========  ====  ==========================================================================
pp        P     ``v, s, d, payload`` (the PRE-PREPARE envelope the primary signed)
p         p     ``v, s, d``
c         c     ``v, s, d, pc`` (the prepared certificate behind the COMMIT, or None)
state     S     the view, whether in a view change and its VIEW-CHANGE / NEW-VIEW, the floor,
                the stable checkpoint and its proof, the genesis and the last certificate
========  ====  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chainfin.consensus.messages import COMMIT, PRE_PREPARE, PREPARE, MessageCodec, PreparedCert
from chainfin.types import Block

__all__ = ["Scanned", "commit_record", "prepare_record", "pre_prepare_record", "record_key",
           "scan", "state_record"]


def record_key(seq: int, view: int, tag: bytes) -> bytes:
    """Persist keys: 8-byte big-endian sequence, 8-byte view, a tag; ordered by sequence."""
    return seq.to_bytes(8, "big") + view.to_bytes(8, "big") + tag


def pre_prepare_record(v: int, s: int, d: bytes, payload: bytes) -> dict[str, Any]:
    return {"k": "pp", "v": v, "s": s, "d": d, "payload": payload}


def prepare_record(v: int, s: int, d: bytes) -> dict[str, Any]:
    return {"k": "p", "v": v, "s": s, "d": d}


def commit_record(v: int, s: int, d: bytes, pc: dict[str, Any] | None) -> dict[str, Any]:
    return {"k": "c", "v": v, "s": s, "d": d, "pc": pc}


def state_record(v: int, in_vc: bool, vc: bytes | None, nv: bytes | None, floor: int, low: int,
                 low_hash: bytes, low_proof: dict[str, Any] | None, genesis: bytes | None,
                 tip: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "k": "state", "v": v, "in_vc": in_vc, "vc": vc, "nv": nv, "floor": floor, "low": low,
        "low_hash": low_hash, "low_proof": low_proof, "genesis": genesis, "tip": tip,
    }


def initial_state_record(v: int, low: int, low_hash: bytes, low_proof: dict[str, Any] | None,
                         genesis: bytes | None) -> dict[str, Any]:
    """The state record of a replica's very first start (no floor, no certificate yet)."""
    return {"k": "state", "v": v, "in_vc": False, "vc": None, "nv": None,
            "low": low, "low_hash": low_hash, "low_proof": low_proof, "genesis": genesis}


@dataclass(slots=True)
class Scanned:
    """What the vote records say: what was signed, the primary's own proposals, the best
    prepared certificate per height, the latest state record and the highest view seen."""

    max_view: int
    state: dict[str, Any] | None = None
    signed: dict[tuple[str, int, int], bytes] = field(default_factory=dict)
    own_pp: dict[tuple[int, int], Block] = field(default_factory=dict)
    prepared: dict[int, PreparedCert] = field(default_factory=dict)


def scan(records: Iterable[tuple[bytes, Any]], view: int, codec: MessageCodec) -> Scanned:
    """Read the records back in key order (``view``: the view the replica was started in)."""
    out = Scanned(view)
    for _key, rec in sorted(records, key=lambda kr: kr[0]):
        if not isinstance(rec, dict):
            continue
        k = rec.get("k")
        if k == "state":
            st = out.state
            if st is None or (rec["v"], rec["low"]) >= (st["v"], st["low"]):
                out.state = rec
            continue
        v, s, d = rec["v"], rec["s"], rec["d"]
        out.max_view = max(out.max_view, v)
        if k == "pp":
            out.signed[(PRE_PREPARE, v, s)] = d
            out.own_pp[(v, s)] = codec.decode(rec["payload"]).body
        elif k == "p":
            out.signed[(PREPARE, v, s)] = d
        elif k == "c":
            out.signed[(COMMIT, v, s)] = d
            if rec.get("pc") is not None:
                pc = PreparedCert.from_wire(rec["pc"])
                old = out.prepared.get(s)
                if old is None or pc.view > old.view:
                    out.prepared[s] = pc
    return out
