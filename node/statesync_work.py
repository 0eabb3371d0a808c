"""The part of installing a state-sync chunk that needs no store: decode it, check it is the one
asked for, verify it against the certified root while building its tree records
(``chainfin.snapshot_tree``), and lay out its batch. ``node.statesync`` runs it in a worker
process so that it overlaps the joiner's fetching and writing; this module imports little, so
the worker starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainfin import codec
from chainfin.errors import InvalidMessage
from chainfin.snapshot import decode_chunk
from chainfin.snapshot_tree import Region, verify_build_region
from chainfin.store import META, SMT_NODES, STATE, STATE_HASH_BYTES, nonce_keys_of_state

__all__ = ["P_REGION", "Prepared", "decode_region", "encode_region", "prepare_chunk",
           "region_key"]

#: + a region's start (32 bytes): the region's summary, from its chunk's batch until ``finish``
P_REGION = META + b"statesync/r/"


def prepare_chunk(state_root: bytes, height: int, depth: int, cursor: int,
                  raw: bytes, digest_leaves: bool = False) -> Prepared:
    """Decode a chunk, check it is the one asked for (``height``, region at ``cursor`` of
    ``depth`` bits) and against the certified ``state_root``, and make everything its batch
    writes (tree leaves as digest leaves with ``digest_leaves``). Pure (no store):
    ``node.statesync`` runs it in a worker process.

    Raises:
        InvalidMessage: it is not the chunk asked for, or it does not verify.
    """
    c = decode_chunk(raw)
    if c.height != height or c.depth != depth or c.start != cursor:
        raise InvalidMessage(f"got chunk {c.prefix}/{c.depth} of height {c.height}, not the one "
                             "asked for")
    rb = verify_build_region(state_root, c, digest_leaves)
    puts: list[bytes] = []
    for (k, v), kh in zip(c.entries, rb.key_hashes, strict=True):
        puts += (STATE + kh[:STATE_HASH_BYTES] + k, v)  # store.state_db_key, hash known
        if k[:1] == b"_":
            for nk in nonce_keys_of_state(k):
                puts += (nk, b"")
    for h, rec in rb.records.items():
        puts += (SMT_NODES + h, rec)
    r = rb.region
    puts += (region_key(r.start), encode_region(r))
    return Prepared(r.start, r.depth, len(c.entries), puts)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A verified chunk, ready to write: its region and the flat (key, value, key, value, ...)
    list of its batch (state, key index, tree records, region summary)."""

    start: int
    depth: int
    entries: int
    puts: list[bytes]


def region_key(start: int) -> bytes:
    return P_REGION + start.to_bytes(32, "big")


def encode_region(r: Region) -> bytes:
    return codec.encode([r.depth, r.hash, r.kind, [list(u) for u in r.upper]])


def decode_region(key: bytes, raw: bytes) -> Region:
    depth, h, kind, upper = codec.decode(raw)
    return Region(int.from_bytes(key[len(P_REGION):], "big"), depth, h, kind,
                  tuple((a, b, c, d, e) for a, b, c, d, e in upper))
