"""State chunks (chainfin/snapshot.py, SparseMerkleTree.chunk): every region of a tree verifies
against its root on its own, and any change to a chunk (one byte, an entry left out or added,
a sibling's kind) is refused. The snapshot header is checked through certified set changes."""

from __future__ import annotations

import dataclasses
import hashlib
import random

import pytest

from chainfin.errors import InvalidMessage
from chainfin.smt import EMPTY, SparseMerkleTree
from chainfin.snapshot import (
    S_LEAF,
    S_NODE,
    Chunk,
    SetChangeBlock,
    decode_chunk,
    encode_chunk,
    verify_chunk,
    verify_snapshot_header,
)
from tests.unit.test_proofs import ADD_AT, CHAIN_ID, REMOVE_AT, VALS, build_chain, sign_cert


def _tree(n: int, seed: int) -> tuple[SparseMerkleTree, bytes, dict[bytes, bytes]]:
    rng = random.Random(seed)
    kv = {rng.randbytes(rng.randint(1, 24)): rng.randbytes(rng.randint(0, 40)) for _ in range(n)}
    nodes: dict[bytes, bytes] = {}
    tree = SparseMerkleTree(nodes)
    return tree, tree.update(EMPTY, kv, nodes), kv


def _chunk(tree: SparseMerkleTree, root: bytes, kv: dict[bytes, bytes], prefix: int,
           depth: int) -> Chunk:
    by_hash = {hashlib.sha256(k).digest(): k for k in kv}
    got = tree.chunk(root, prefix, depth, 10**6)
    assert got is not None
    sibs, leaves = got
    return Chunk(7, prefix, depth, tuple(sibs), tuple((by_hash[kh], v) for kh, v in leaves))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 600])
@pytest.mark.parametrize("depth", [0, 1, 3, 4, 5, 8])
def test_every_region_verifies_and_the_regions_hold_the_state(n: int, depth: int) -> None:
    tree, root, kv = _tree(n, n * 31 + depth)
    seen: dict[bytes, bytes] = {}
    for prefix in range(1 << depth):
        c = decode_chunk(encode_chunk(_chunk(tree, root, kv, prefix, depth)))
        verify_chunk(root, c)
        seen.update(c.entries)
    assert seen == kv


def _tampered(c: Chunk) -> list[Chunk]:
    """Chunks that differ from ``c`` by one byte, one entry or one sibling."""
    out = []
    for i, (k, v) in enumerate(c.entries):
        ents = list(c.entries)
        ents[i] = (k, v + b"\0") if not v else (k, v[:-1] + bytes([v[-1] ^ 1]))
        out.append(dataclasses.replace(c, entries=tuple(ents)))
        ents[i] = (k[:-1] + bytes([k[-1] ^ 0x80]), v)
        out.append(dataclasses.replace(c, entries=tuple(ents)))
        out.append(dataclasses.replace(c, entries=c.entries[:i] + c.entries[i + 1:]))
    for j, (kind, a, b) in enumerate(c.siblings):
        sibs = list(c.siblings)
        if kind == S_NODE:
            sibs[j] = (kind, a[:-1] + bytes([a[-1] ^ 1]), b)
        elif kind == S_LEAF:
            sibs[j] = (kind, a, b[:-1] + bytes([b[-1] ^ 1]))
        else:
            sibs[j] = (S_NODE, b"\x01" * 32, b"")
        out.append(dataclasses.replace(c, siblings=tuple(sibs)))
    return out


@pytest.mark.parametrize("n", [1, 2, 5, 200])
def test_a_chunk_changed_anywhere_is_refused(n: int) -> None:
    tree, root, kv = _tree(n, n)
    for depth in (0, 2, 4):
        for prefix in range(1 << depth):
            c = _chunk(tree, root, kv, prefix, depth)
            for bad in _tampered(c):
                with pytest.raises(InvalidMessage):
                    verify_chunk(root, bad)


def test_one_byte_changed_on_the_wire_is_refused() -> None:
    tree, root, kv = _tree(300, 5)
    raw = encode_chunk(_chunk(tree, root, kv, 2, 2))
    verify_chunk(root, decode_chunk(raw))
    refused = 0
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        try:
            c = decode_chunk(bytes(bad))
            verify_chunk(root, c)
        except InvalidMessage:
            refused += 1
        else:  # the height is not hashed into the chunk: the installer compares it
            assert c.height != 7, i
            refused += 1
    assert refused == len(raw)


def test_an_entry_of_the_next_region_is_refused() -> None:
    tree, root, kv = _tree(100, 9)
    a = _chunk(tree, root, kv, 0, 1)
    b = _chunk(tree, root, kv, 1, 1)
    with pytest.raises(InvalidMessage, match="outside"):
        verify_chunk(root, dataclasses.replace(a, entries=a.entries + b.entries[:1]))


def test_entries_out_of_order_are_refused() -> None:
    tree, root, kv = _tree(50, 11)
    c = _chunk(tree, root, kv, 0, 0)
    with pytest.raises(InvalidMessage, match="order"):
        verify_chunk(root, dataclasses.replace(c, entries=tuple(reversed(c.entries))))


def test_a_key_moved_to_a_leaf_sibling_is_refused() -> None:
    """A lone key's leaf moves up to the root. A server claims the key's region is empty and
    presents the leaf as the sibling at some depth: the folded root is the same leaf hash, so
    only the check that a leaf sibling's key lies in the sibling's region refuses it."""
    kv = {b"only": b"1"}
    nodes: dict[bytes, bytes] = {}
    tree = SparseMerkleTree(nodes)
    root = tree.update(EMPTY, kv, nodes)
    kh = hashlib.sha256(b"only").digest()
    vh = hashlib.sha256(b"1").digest()
    for depth in (1, 2, 5):
        prefix = int.from_bytes(kh, "big") >> (256 - depth)
        c = _chunk(tree, root, kv, prefix, depth)
        verify_chunk(root, c)
        for j in range(depth):
            sibs = list(c.siblings)
            sibs[j] = (S_LEAF, kh, vh)
            with pytest.raises(InvalidMessage, match="outside its region"):
                verify_chunk(root, dataclasses.replace(c, entries=(), siblings=tuple(sibs)))


def test_malformed_chunks_are_refused_by_the_parser() -> None:
    tree, root, kv = _tree(10, 1)
    c = _chunk(tree, root, kv, 1, 2)
    for bad in (b"", b"\x80", encode_chunk(c)[:-3],
                encode_chunk(dataclasses.replace(c, siblings=c.siblings[:1])),
                encode_chunk(dataclasses.replace(c, prefix=4)),
                encode_chunk(dataclasses.replace(c, depth=40, prefix=0, siblings=()))):
        with pytest.raises(InvalidMessage):
            decode_chunk(bad)


# --------------------------------------------------------------------------- the header


def _changes(chain, upto: int) -> list[SetChangeBlock]:  # type: ignore[no-untyped-def]
    return [SetChangeBlock(chain.blocks[c.height], c.cert, c.validators)
            for c in chain.changes if c.height <= upto]


def test_the_snapshot_header_is_checked_through_the_set_changes() -> None:
    chain = build_chain()
    gset = chain.genesis.validator_set()
    for h in (1, ADD_AT - 1, ADD_AT, ADD_AT + 1, REMOVE_AT, REMOVE_AT + 3):
        after = verify_snapshot_header(CHAIN_ID, gset, _changes(chain, h), chain.blocks[h],
                                       chain.certs[h])
        assert after == chain.in_force.get(h + 1, after)
    # a change left out: the next header names another set
    with pytest.raises(InvalidMessage):
        verify_snapshot_header(CHAIN_ID, gset, [], chain.blocks[ADD_AT + 2],
                               chain.certs[ADD_AT + 2])
    with pytest.raises(InvalidMessage):
        verify_snapshot_header(CHAIN_ID, gset, _changes(chain, ADD_AT), chain.blocks[REMOVE_AT],
                               chain.certs[REMOVE_AT])


def test_a_snapshot_certified_by_a_set_the_server_names_is_refused() -> None:
    """A server that signs with keys of its own, naming them as the set (TRAPS #12)."""
    chain = build_chain()
    gset = chain.genesis.validator_set()
    h = ADD_AT + 1
    block = chain.blocks[h]
    forged = sign_cert(block.header, VALS[:1])  # one signer: below quorum of the set in force
    with pytest.raises(InvalidMessage):
        verify_snapshot_header(CHAIN_ID, gset, _changes(chain, h), block, forged)
