"""Argument parsers for contract method declarations (``Contract.method(params=...)``).

Each parser takes ``(value, argument name)`` and returns the normalised value or raises
:class:`~chainfin.errors.ContractError` ``bad_field``. Re-exported by :mod:`chainfin.execution`,
where contracts import them from; a module of their own keeps execution.py short.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from chainfin.errors import ContractError

__all__ = ["MAX_AMOUNT", "MAX_INT", "bic_key", "Parser", "bad_field", "p_pubkey", "p_id", "p_amount", "p_int",
           "p_time_ms", "p_currency", "p_text", "p_hex", "p_dict", "p_list", "p_any"]

#: Largest amount (and largest total issued per currency), 10^18 - 1 minor units: an ISO 20022
#: amount holds 18 digits (totalDigits, fractions included), so every amount, balance and
#: supply fits a pacs.008 or a camt statement (decision 118); sums of a few stay inside
#: msgpack's signed 64-bit range.
MAX_AMOUNT = 10**18 - 1
#: Largest other integer argument (block times in ms, windows): msgpack's signed 64-bit range.
MAX_INT = 2**63 - 1

Parser = Callable[[Any, str], Any]


def bad_field(name: str, what: str) -> ContractError:
    """The ``bad_field`` error of argument ``name``."""
    return ContractError(f"{name}: {what}", "bad_field")


_bad = bad_field

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_CCY = re.compile(r"^[A-Z]{3}$")


def p_pubkey(v: Any, name: str) -> str:
    """An Ed25519 public key: 64 hex chars (or 32 bytes) -> lowercase hex."""
    if type(v) is bytes and len(v) == 32:
        return v.hex()
    if type(v) is str and _HEX64.match(v):
        return v.lower()
    raise _bad(name, "must be a 32-byte public key in hex")


p_id = p_pubkey  # ids derived from tx ids are 32-byte hex too
p_id.__doc__ = "A 32-byte id in hex (doc_id, lc_id, offer_id, ...)."


def p_amount(v: Any, name: str) -> int:
    """An amount in integer minor units, 1 ..= MAX_AMOUNT (no floats, no bools)."""
    if type(v) is not int:
        raise _bad(name, "must be an integer number of minor units")
    if v < 1 or v > MAX_AMOUNT:
        raise _bad(name, f"must be between 1 and {MAX_AMOUNT}")
    return v


def p_int(lo: int = 0, hi: int = MAX_INT) -> Parser:
    def parse(v: Any, name: str) -> int:
        if type(v) is not int or v < lo or v > hi:
            raise _bad(name, f"must be an integer between {lo} and {hi}")
        return v

    return parse


p_time_ms = p_int(0, MAX_INT)


def p_currency(v: Any, name: str) -> str:
    """An ISO 4217 alphabetic code (three upper-case letters)."""
    if type(v) is not str or not _CCY.match(v):
        raise _bad(name, "must be an ISO 4217 code like 'USD'")
    return v


def p_text(max_len: int = 128) -> Parser:
    def parse(v: Any, name: str) -> str:
        if type(v) is not str:
            raise _bad(name, "must be a string")
        s = " ".join(v.split())
        if not s or len(s) > max_len:
            raise _bad(name, f"must be 1..{max_len} characters")
        return s

    return parse


def p_hex(nbytes: int | None = None, max_bytes: int = 16 * 1024) -> Parser:
    def parse(v: Any, name: str) -> str:
        if type(v) is bytes:
            b = v
        elif type(v) is str:
            try:
                b = bytes.fromhex(v)
            except ValueError:
                raise _bad(name, "must be hex") from None
        else:
            raise _bad(name, "must be hex")
        if nbytes is not None and len(b) != nbytes:
            raise _bad(name, f"must be {nbytes} bytes")
        if not b or len(b) > max_bytes:
            raise _bad(name, f"must be 1..{max_bytes} bytes")
        return b.hex()

    return parse


def p_dict(v: Any, name: str) -> dict[str, Any]:
    if not isinstance(v, Mapping):
        raise _bad(name, "must be an object")
    return dict(v)


def p_list(item: Parser, max_len: int = 64) -> Parser:
    def parse(v: Any, name: str) -> list[Any]:
        if type(v) is not list and type(v) is not tuple:
            raise _bad(name, "must be a list")
        if not v or len(v) > max_len:
            raise _bad(name, f"must hold 1..{max_len} items")
        return [item(x, name) for x in v]

    return parse


def p_any(v: Any, name: str) -> Any:
    return v


_BIC8 = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}$")


def bic_key(bank: str) -> str:
    """How a bank's BIC/LEI is compared, claimed and indexed everywhere (governance's
    ``bic/`` claims and home banks, the REST home-bank rule, genesis): NFKC (fullwidth letters
    are the letters), invisible format characters and all whitespace dropped, upper case, and
    an 8-character BIC as its primary office (``+ "XXX"``), as trade documents read a BIC."""
    s = unicodedata.normalize("NFKC", bank)
    s = "".join(c for c in s if not c.isspace() and unicodedata.category(c) != "Cf").upper()
    return s + "XXX" if _BIC8.match(s) else s
