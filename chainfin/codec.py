"""Canonical msgpack encoding: the only place where chainfin shapes bytes.

Canonical means one value has exactly one encoding:
- map keys are strings and are written sorted (by their UTF-8 bytes), whatever the insertion order;
- integers use msgpack's smallest form (the msgpack library already does this);
- lists and tuples are both arrays;
- floats (and NaN), sets and unknown types are refused: they have no place in consensus data.

Decoding is bounded: a frame above ``MAX_FRAME`` bytes, nesting deeper than ``MAX_DEPTH``, or any
string/bin/array/map longer than the limits is refused with :class:`CodecError` before it can
exhaust memory. ``decode(..., canonical=True)`` also refuses bytes that are not the canonical form.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

import msgpack

from chainfin.errors import CodecError

MAX_FRAME = 4 * 1024 * 1024
MAX_DEPTH = 32
MAX_STR = 1024 * 1024
MAX_BIN = 2 * 1024 * 1024
MAX_ARRAY = 100_000
MAX_MAP = 10_000

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1

__all__ = [
    "CodecError",
    "decode",
    "encode",
    "encode_local",
    "encode_with_value",
    "canonicalize",
    "sha256",
    "hash_value",
    "to_json",
    "MAX_FRAME",
    "MAX_DEPTH",
]


def canonicalize(value: Any, _depth: int = 0) -> Any:
    """Return ``value`` rebuilt with sorted map keys; raise CodecError for what cannot be encoded."""
    if _depth > MAX_DEPTH:
        raise CodecError(f"value nested deeper than {MAX_DEPTH}")
    t = type(value)
    if t is str or t is bytes or value is None or t is bool:
        return value
    if t is int:
        if value < _INT_MIN or value > _INT_MAX:
            raise CodecError(f"integer out of the 64-bit range: {value}")
        return value
    if t is dict:
        if value and _depth >= MAX_DEPTH:
            raise CodecError(f"value nested deeper than {MAX_DEPTH}")
        if len(value) > MAX_MAP:  # what decode refuses is never encoded (a peer could not read it)
            raise CodecError(f"map of {len(value)} entries (at most {MAX_MAP})")
        out = {}
        try:
            keys = sorted(value)
        except TypeError as e:
            raise CodecError("map keys must all be strings") from e
        for k in keys:
            if type(k) is not str:
                raise CodecError(f"map key must be a string, not {type(k).__name__}")
            v = value[k]
            tv = type(v)  # scalars inline: most values are flat maps of them
            if tv is str or tv is bytes or v is None or tv is bool or (
                    tv is int and _INT_MIN <= v <= _INT_MAX):
                out[k] = v
            else:
                out[k] = canonicalize(v, _depth + 1)
        return out
    if t is list or t is tuple:
        if value and _depth >= MAX_DEPTH:
            raise CodecError(f"value nested deeper than {MAX_DEPTH}")
        if len(value) > MAX_ARRAY:
            raise CodecError(f"array of {len(value)} items (at most {MAX_ARRAY})")
        lst = []
        flat_ok = _depth + 1 < MAX_DEPTH  # an item list may hold scalars without a call
        for v in value:
            tv = type(v)
            if tv is str or tv is bytes or v is None or tv is bool or (
                    tv is int and _INT_MIN <= v <= _INT_MAX):
                lst.append(v)
            elif tv is list and flat_ok:  # a pair or counter: its scalars inline, no call
                inner: Any = []
                for x in v:
                    tx = type(x)
                    if tx is str or tx is bytes or x is None or tx is bool or (
                            tx is int and _INT_MIN <= x <= _INT_MAX):
                        inner.append(x)
                    else:  # anything else: the general path (which raises or converts)
                        inner = canonicalize(v, _depth + 1)
                        break
                lst.append(inner)
            else:
                lst.append(canonicalize(v, _depth + 1))
        return lst
    if t is float:
        raise CodecError("floats are not allowed in canonical encoding (use integer minor units)")
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # IntEnum and other int subclasses
        return canonicalize(int(value), _depth)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise CodecError(f"cannot encode a value of type {type(value).__name__}")


_local = threading.local()


def _packb(value: Any) -> bytes:
    """``msgpack.packb(value, use_bin_type=True)`` (the same bytes) with this thread's Packer:
    constructing one per call costs as much as packing a small value. One per thread because
    a Packer is not thread-safe; it resets itself after an error."""
    try:
        pack: Callable[[Any], bytes] = _local.pack
    except AttributeError:
        pack = _local.pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack
    return pack(value)


def encode(value: Any) -> bytes:
    """Canonical bytes of ``value``.

    Raises:
        CodecError: the value holds a float, a non-string map key, an unknown type, an integer
            outside 64 bits, a map or array larger than :func:`decode` reads (``MAX_MAP``,
            ``MAX_ARRAY``), or nests too deep.
    """
    try:
        return _packb(canonicalize(value))
    except (OverflowError, ValueError, TypeError) as e:  # defensive: canonicalize should catch all
        raise CodecError(str(e)) from e


def encode_with_value(value: Any) -> tuple[bytes, Any]:
    """``(encode(value), v)`` where ``v`` equals ``decode(encode(value))``: the canonical form,
    a fresh structure (new dicts and lists; scalars shared) that callers may keep as the decoded
    value without decoding or copying again.

    Raises:
        CodecError: as :func:`encode`.
    """
    canon = canonicalize(value)
    try:
        return _packb(canon), canon
    except (OverflowError, ValueError, TypeError) as e:
        raise CodecError(str(e)) from e


_pack: Callable[[Any], bytes] = msgpack.Packer(use_bin_type=True, autoreset=True).pack


def encode_local(value: Any) -> bytes:
    """msgpack bytes of a value this process built itself, for its own storage (block records,
    the tx index): no canonical re-walk, so map keys stay in insertion order. Never hash or sign
    these bytes and never compare them across nodes; ``decode`` reads them like any frame.

    Raises:
        CodecError: a type msgpack cannot pack.
    """
    try:
        return _pack(value)
    except (OverflowError, ValueError, TypeError) as e:
        raise CodecError(str(e)) from e


def _refuse_ext(code: int, data: bytes) -> Any:
    raise CodecError(f"msgpack extension type {code} is not allowed")


def _check(value: Any, depth: int) -> None:
    """Refuse floats, non-string map keys and nesting deeper than MAX_DEPTH.

    Only containers and floats (and anything below the depth limit) cost a call: most values
    are flat maps of scalars. Same checks in the same order as one call per item, so the same
    error for the same frame.
    """
    if depth > MAX_DEPTH:
        raise CodecError(f"frame nested deeper than {MAX_DEPTH}")
    t = type(value)
    if t is dict:
        d1 = depth + 1
        deep = d1 > MAX_DEPTH
        for k, v in value.items():
            if type(k) is not str:
                raise CodecError("map key must be a string")
            tv = type(v)
            if tv is dict or tv is list or tv is float or deep:
                _check(v, d1)
    elif t is list:
        d1 = depth + 1
        deep = d1 > MAX_DEPTH
        for v in value:
            tv = type(v)
            if tv is dict or tv is list or tv is float or deep:
                _check(v, d1)
    elif t is float:
        raise CodecError("floats are not allowed")


def decode(data: object, *, canonical: bool = False) -> Any:
    """Decode one bounded frame.

    Raises:
        CodecError: the frame is too large, malformed, truncated, has trailing bytes, nests too deep,
            holds floats/extension types/non-string keys, or (with ``canonical``) is not the
            canonical encoding of its value.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CodecError(f"expected bytes, got {type(data).__name__}")
    if len(data) > MAX_FRAME:
        raise CodecError(f"frame of {len(data)} bytes exceeds the limit of {MAX_FRAME}")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_refuse_ext,
            max_str_len=MAX_STR,
            max_bin_len=MAX_BIN,
            max_array_len=MAX_ARRAY,
            max_map_len=MAX_MAP,
            max_ext_len=0,
        )
    except CodecError:
        raise
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as e:
        raise CodecError(f"malformed frame: {e.__class__.__name__}") from e
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError) as e:
        raise CodecError(f"malformed frame: {e}") from e
    except Exception as e:  # msgpack raises a few plain Exceptions for corrupt input
        raise CodecError(f"malformed frame: {e}") from e
    _check(value, 0)
    if canonical and encode(value) != bytes(data):
        raise CodecError("frame is not in canonical form")
    return value


def to_json(value: Any) -> Any:
    """The JSON form of a canonical value: bytes as lowercase hex, tuples as lists. Used by every
    JSON surface (REST, proofs, transaction envelopes)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {k: to_json(x) for k, x in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(x) for x in value]
    return value


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def hash_value(value: Any) -> bytes:
    """SHA-256 of the canonical encoding of ``value``."""
    return hashlib.sha256(encode(value)).digest()
