"""The read log's hash chain, shared by the node that keeps it (``node.access.ReadLog``) and
the auditor's client that checks it (``chainfin audit reads --verify``).

Entry ``n``: ``{"seq", "time_ms", "reader", "what", "rule", "prev", "hash"}`` where ``hash`` is
SHA-256 of the canonical msgpack of the other fields and ``prev`` the previous entry's hash (32
zero bytes, hex, for the first): changing, dropping or inserting an entry breaks the chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from chainfin import codec

__all__ = ["FIELDS", "GENESIS_PREV", "entry_hash", "verify_chain"]

#: the fields an entry's hash covers
FIELDS = ("seq", "time_ms", "reader", "what", "rule", "prev")
#: ``prev`` of the first entry
GENESIS_PREV = "00" * 32


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hex SHA-256 of an entry's :data:`FIELDS`."""
    return hashlib.sha256(codec.encode({k: entry[k] for k in FIELDS})).hexdigest()


def verify_chain(entries: Iterable[Mapping[str, Any]], prev: str = GENESIS_PREV) -> bool:
    """Does every entry hash its fields and link to the one before?"""
    for e in entries:
        if e["prev"] != prev or entry_hash(e) != e["hash"]:
            return False
        prev = e["hash"]
    return True
