"""Proof documents: build them on a synthetic certified chain (no node), verify offline, and show
that tampering with any byte, truncating the set-change chain, short or foreign certificates and
forged non-inclusion are all refused with a reason."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chainfin import codec, merkle, smt
from chainfin.consensus.quorum import quorum
from chainfin.crypto import Identity
from chainfin.execution import Event, Receipt, receipts_root, storage_key
from chainfin.genesis import Genesis, GenesisValidator
from chainfin.proofs import (
    NOT_PROVEN,
    STATE_PROOF,
    TX_PROOF,
    ProofError,
    SetChange,
    Verified,
    build_state_proof,
    build_state_proof_from_tree,
    build_tx_proof,
    build_tx_proof_from_ids,
    cli_verify,
    inclusion_only,
    parse_document,
    set_changes_from,
    verify_proof,
)
from chainfin.smt import SparseMerkleTree
from chainfin.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    Transaction,
    ValidatorSet,
    Vote,
    vote_message,
)

CHAIN_ID = "proof-test-1"
GENESIS_TIME = 1_764_000_000_000
VALS = [Identity.from_seed_text(f"proof-validator-{i}") for i in range(5)]
CLIENTS = [Identity.from_seed_text(f"proof-client-{i}") for i in range(4)]
OUTSIDERS = [Identity.from_seed_text(f"proof-outsider-{i}") for i in range(5)]
BY_KEY = {i.public_key: i for i in VALS + OUTSIDERS}
HEIGHTS = 16
ADD_AT = 4  # block 4 adds VALS[4]: 4 -> 5 validators from height 5
REMOVE_AT = 9  # block 9 removes VALS[1]: 5 -> 4 validators from height 10
REMOVED = VALS[1]


def make_genesis(chain_id: str = CHAIN_ID, vals: list[Identity] = VALS[:4]) -> Genesis:
    return Genesis(
        chain_id=chain_id,
        genesis_time_ms=GENESIS_TIME,
        validators=[GenesisValidator(name=f"val{i}", public_key=v.public_key.hex())
                    for i, v in enumerate(vals)],
        fingerprint_key="11" * 32,
    )


def sign_cert(header: BlockHeader, signers: list[Identity], view: int | None = None,
              chain_id: str = CHAIN_ID) -> CommitCertificate:
    view = header.view if view is None else view
    msg = vote_message(chain_id, "commit", view, header.height, header.hash())
    votes = tuple(Vote(s.public_key, s.sign("consensus", msg)) for s in signers)
    return CommitCertificate(chain_id, header.height, view, header.hash(), votes)


def _value(rng: random.Random) -> Any:
    return rng.choice([
        rng.randint(0, 10**12),
        f"text-{rng.randint(0, 999)}",
        [rng.randint(0, 9), "x", None, True],
        {"amount": rng.randint(1, 10**6), "ccy": rng.choice(["USD", "HKD", "JPY"]), "ok": False},
        True,
        None,
        "",
    ])


@dataclass
class Chain:
    genesis: Genesis
    blocks: dict[int, Block] = field(default_factory=dict)
    certs: dict[int, CommitCertificate] = field(default_factory=dict)
    states: dict[int, dict[bytes, bytes]] = field(default_factory=dict)
    in_force: dict[int, ValidatorSet] = field(default_factory=dict)
    changes: list[SetChange] = field(default_factory=list)
    receipts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # format 2 only
    nodes: dict[bytes, bytes] = field(default_factory=dict)
    keys: set[tuple[str, str]] = field(default_factory=set)

    @property
    def tree(self) -> SparseMerkleTree:
        return SparseMerkleTree(self.nodes)

    def header(self, h: int) -> BlockHeader:
        return self.blocks[h].header

    def tx_proof(self, h: int, i: int) -> dict[str, Any]:
        return build_tx_proof(self.blocks[h], self.certs[h], i, self.changes,
                              self.receipts.get(h))

    def state_proof(self, h: int, contract: str, key: str) -> dict[str, Any]:
        return build_state_proof_from_tree(self.header(h), self.certs[h], contract, key,
                                           self.tree, self.changes)

    def all_txs(self) -> list[tuple[int, int]]:
        return [(h, i) for h, b in sorted(self.blocks.items()) for i in range(len(b.txs))]


def _receipt(tx: Transaction, i: int, rng: random.Random) -> dict[str, Any]:
    """A receipt in its JSON form (as a block record holds it), committed or rejected."""
    if rng.random() < 0.7:
        r = Receipt(tx.tx_id, tx.sender, tx.nonce, i, "committed", None, None,
                    {"n": rng.randint(0, 99)},
                    (Event(tx.tx_id, tx.contract, "put", {"key": "k", "raw": b"\x01\x02"}),))
    else:
        r = Receipt(tx.tx_id, tx.sender, tx.nonce, i, "rejected", "bad_field",
                    "value must be present")
    return r.to_json()


def build_chain(seed: int = 20240601, ledger_format: int = 1,
                genesis: Genesis | None = None) -> Chain:
    """A certified chain of HEIGHTS blocks with random signed txs, a kv state under an SMT, and a
    validator-set change 4 -> 5 (block ADD_AT) and 5 -> 4 (block REMOVE_AT removes VALS[1]).
    ``ledger_format`` 2: every header also has the root of its block's receipts. ``genesis``:
    default :func:`make_genesis`."""
    rng = random.Random(seed)
    rrng = random.Random(seed + 1)  # receipts: the same blocks in both formats
    g = genesis or make_genesis()
    chain = Chain(g)
    vs = g.validator_set()
    prev = g.hash()
    state: dict[bytes, bytes] = {}
    root = smt.EMPTY
    nonces = {c.public_key: 0 for c in CLIENTS}
    for h in range(1, HEIGHTS + 1):
        txs = []
        changes: dict[bytes, bytes | None] = {}
        for _ in range(rng.choice([0, 1, 3, 8, 12, 16])):
            c = rng.choice(CLIENTS)
            contract = rng.choice(["kv", "docs"])
            key = f"k{rng.randint(0, 40)}" if contract == "kv" else f"doc/{rng.randint(0, 20)}"
            method = rng.choice(["put", "put", "put", "del"])
            args: dict[str, Any] = {"key": key}
            if method == "put":
                args["value"] = _value(rng)
            tx = Transaction.create(c, CHAIN_ID, nonces[c.public_key], contract, method, args)
            nonces[c.public_key] += 1
            txs.append(tx)
            chain.keys.add((contract, key))
            sk = storage_key(contract, key)
            changes[sk] = codec.encode(args["value"]) if method == "put" else None
        if h == 2:  # a value holding bytes (shown as hex in JSON)
            changes[storage_key("raw", "blob")] = codec.encode({"b": b"\x00\xffbytes", "n": 7})
            chain.keys.add(("raw", "blob"))
        root = chain.tree.update(root, changes, chain.nodes)
        for k, v in changes.items():
            if v is None:
                state.pop(k, None)
            else:
                state[k] = v
        after = vs
        if h == ADD_AT:
            after = ValidatorSet(vs.members + (VALS[4].public_key,))
        elif h == REMOVE_AT:
            after = ValidatorSet(tuple(m for m in vs.members if m != REMOVED.public_key))
        view = rng.choice([0, 0, 0, 1, 2])
        ids = [t.tx_id for t in txs]
        rroot = None
        if ledger_format == 2:
            chain.receipts[h] = [_receipt(t, i, rrng) for i, t in enumerate(txs)]
            rroot = receipts_root(chain.receipts[h])
        header = BlockHeader(
            chain_id=CHAIN_ID, height=h, view=view, prev_hash=prev, tx_root=merkle.root(ids),
            state_root=root, validators_hash=vs.hash(), next_validators_hash=after.hash(),
            timestamp_ms=GENESIS_TIME + 1000 * h, proposer=vs.primary(view), tx_count=len(ids),
            receipts_root=rroot,
        )
        members = [BY_KEY[m] for m in vs.members]
        signers = rng.sample(members, rng.randint(vs.quorum, vs.n))
        cert = sign_cert(header, signers, view + rng.choice([0, 0, 1]))
        chain.blocks[h] = Block(header, tuple(txs))
        chain.certs[h] = cert
        chain.states[h] = dict(state)
        chain.in_force[h] = vs
        if after != vs:
            chain.changes.append(SetChange(header, cert, after))
        vs = after
        prev = header.hash()
    return chain


@pytest.fixture(scope="module", params=[1, 2], ids=["format1", "format2"])
def chain(request: pytest.FixtureRequest) -> Chain:
    return build_chain(ledger_format=request.param)


def roundtrip(doc: dict[str, Any]) -> Any:
    """What an auditor's verifier sees: the JSON text, parsed strictly."""
    return parse_document(json.dumps(doc, indent=2, sort_keys=True))


def check(chain: Chain, doc: dict[str, Any]) -> Verified:
    return verify_proof(chain.genesis, roundtrip(doc))


def rejected(chain: Chain, doc: Any, match: str | None = None) -> str:
    with pytest.raises(ProofError, match=match) as ei:
        verify_proof(chain.genesis, doc)
    assert str(ei.value)
    return str(ei.value)


# ---------------------------------------------------------------------------- the chain itself


def test_synthetic_chain_has_the_set_changes(chain: Chain) -> None:
    assert [c.height for c in chain.changes] == [ADD_AT, REMOVE_AT]
    assert chain.in_force[ADD_AT].n == 4 and chain.in_force[ADD_AT + 1].n == 5
    assert chain.in_force[REMOVE_AT].n == 5 and chain.in_force[REMOVE_AT + 1].n == 4
    assert REMOVED.public_key not in chain.in_force[HEIGHTS]
    assert len(chain.all_txs()) >= 100
    assert chain.header(1).prev_hash == chain.genesis.hash()


# ---------------------------------------------------------------------------- valid proofs


def test_100_random_tx_proofs_verify(chain: Chain) -> None:
    rng = random.Random(1)
    for h, i in rng.sample(chain.all_txs(), 100):
        doc = chain.tx_proof(h, i)
        assert doc["type"] == TX_PROOF
        assert [c["header"]["height"] for c in doc["validator_set_changes"]] == [
            c.height for c in chain.changes if c.height < h]
        v = check(chain, doc)
        tx = chain.blocks[h].txs[i]
        assert v.kind == TX_PROOF and v.tx_id == tx.tx_id and v.tx == tx
        assert v.height == h and v.block_hash == chain.header(h).hash()
        assert (v.tx_index, v.tx_count) == (i, len(chain.blocks[h].txs))
        assert v.validators == chain.in_force[h]
        assert set(v.signers) == {x.validator for x in chain.certs[h].votes}


def test_100_random_state_proofs_verify_inclusion_and_absence(chain: Chain) -> None:
    rng = random.Random(2)
    universe = sorted(chain.keys) + [("kv", f"never-{i}") for i in range(10)] + [
        ("_tx", "ab/1"), ("other", "k1")]
    seen = {True: 0, False: 0}
    for _ in range(100):
        h = rng.randint(1, HEIGHTS)
        contract, key = rng.choice(universe)
        doc = chain.state_proof(h, contract, key)
        v = check(chain, doc)
        raw = chain.states[h].get(storage_key(contract, key))
        assert v.kind == STATE_PROOF and (v.contract, v.key, v.height) == (contract, key, h)
        assert v.present is (raw is not None)
        assert v.value_encoding == raw
        if raw is not None:
            assert v.value == json.loads(json.dumps(doc["value"]))
        seen[raw is not None] += 1
        assert v.validators == chain.in_force[h]
    assert seen[True] >= 30 and seen[False] >= 10, seen


def test_bytes_value_is_shown_as_hex_and_checked_against_its_encoding(chain: Chain) -> None:
    doc = chain.state_proof(3, "raw", "blob")
    assert doc["value"] == {"b": "00ff6279746573", "n": 7}
    assert check(chain, doc).present
    doc["value"]["n"] = 8
    rejected(chain, doc, "value does not match value_encoding")
    doc["value"]["n"] = True  # True == 1 in Python; the verifier tells them apart
    doc2 = chain.state_proof(3, "raw", "blob")
    doc2["value_encoding"] = codec.encode({"b": b"\x00\xffbytes", "n": 1}).hex()
    doc2["value"]["n"] = True
    rejected(chain, doc2)


def test_tx_in_the_set_change_block_and_right_after(chain: Chain) -> None:
    for h in (ADD_AT, ADD_AT + 1, REMOVE_AT, REMOVE_AT + 1):
        if chain.blocks[h].txs:
            doc = chain.tx_proof(h, 0)
        else:
            doc = chain.state_proof(h, "kv", "k1")
        v = check(chain, doc)
        assert v.validators == chain.in_force[h]
        assert v.set_change_heights == tuple(c.height for c in chain.changes if c.height < h)


def test_set_changes_from_ledger_records(chain: Chain) -> None:
    """The ledger stores b/<h> as codec.encode({"block", "cert", "receipts"}) and v/<h> as the set
    in force from h: rebuild the chain of changes from exactly that."""
    records = {h: codec.encode({"block": b.to_wire(), "cert": chain.certs[h].to_wire(),
                                "receipts": chain.receipts.get(h, [])})
               for h, b in chain.blocks.items()}
    vsets = [(1, chain.genesis.validator_set())] + [
        (c.height + 1, c.validators) for c in chain.changes]
    changes = set_changes_from(vsets, lambda h: codec.decode(records[h]) if h in records else None)
    assert [(c.header, c.cert.to_wire(), c.validators) for c in changes] == [
        (c.header, c.cert.to_wire(), c.validators) for c in chain.changes]
    rec = codec.decode(records[HEIGHTS])
    doc = build_tx_proof(Block.from_wire(rec["block"]), CommitCertificate.from_wire(rec["cert"]),
                         0, changes, rec["receipts"] or None) if chain.blocks[HEIGHTS].txs else chain.state_proof(HEIGHTS, "kv", "k2")
    assert check(chain, doc).height == HEIGHTS
    with pytest.raises(ValueError):
        set_changes_from(vsets, lambda h: None)
    with pytest.raises(ValueError, match="next_validators_hash"):
        set_changes_from([(ADD_AT + 1, chain.genesis.validator_set())],
                         lambda h: codec.decode(records[h]))


def test_builders_refuse_inconsistent_inputs(chain: Chain) -> None:
    h = next(h for h, b in chain.blocks.items() if len(b.txs) >= 2)
    block, cert = chain.blocks[h], chain.certs[h]
    receipts = chain.receipts.get(h)
    with pytest.raises(ValueError, match="out of range"):
        build_tx_proof(block, cert, len(block.txs), [], receipts)
    if receipts is not None:  # format 2: the receipts must be the block's
        with pytest.raises(ValueError, match="needs its receipts"):
            build_tx_proof(block, cert, 0, [])
        swapped = [receipts[1], receipts[0], *receipts[2:]]
        with pytest.raises(ValueError, match="receipts_root"):
            build_tx_proof(block, cert, 0, [], swapped)
    with pytest.raises(ValueError, match="certificate"):
        build_tx_proof(block, chain.certs[h - 1], 0, [], receipts)
    ids = [t.tx_id for t in block.txs]
    assert build_tx_proof_from_ids(block.header, cert, block.txs[1], ids, 1, [], receipts) == \
        build_tx_proof(block, cert, 1, [], receipts)
    with pytest.raises(ValueError, match="not the one at index"):
        build_tx_proof_from_ids(block.header, cert, block.txs[0], ids, 1, [], receipts)
    bad = Block(BlockHeader(**{**{k: getattr(block.header, k) for k in BlockHeader.__slots__},
                               "tx_count": 0}), block.txs)  # what a ledger that forgot tx_count makes
    with pytest.raises(ValueError, match="tx_count"):
        build_tx_proof(bad, sign_cert(bad.header, VALS[:4]), 0, [], receipts)
    sk = storage_key("kv", "nope")
    proof = chain.tree.prove(block.header.state_root, sk)
    with pytest.raises(ValueError, match="SMT"):
        build_state_proof(block.header, cert, "kv", "nope", codec.encode(1), proof, [])
    for contract, key in [("a/b", "c"), ("", "c"), ("kv", ""), ("kv", "x" * 9000)]:
        with pytest.raises(ValueError, match="contract|key"):
            build_state_proof_from_tree(block.header, cert, contract, key, chain.tree, [])
    doc = roundtrip(chain.state_proof(h, "docs", "doc/3"))
    doc["contract"], doc["key"] = "docs/doc", "3"  # the same storage key, read another way
    rejected(chain, doc, "without '/'")


# ---------------------------------------------------------------------------- tampering


def _tamper_targets(chain: Chain) -> list[tuple[str, dict[str, Any]]]:
    """A few proofs covering every field: a tx proof and state proofs (inclusion, non-inclusion
    ending at another key's leaf, non-inclusion ending at an empty subtree), after both set
    changes so the chain of changes is in them."""
    h = next(h for h in range(HEIGHTS, 0, -1) if len(chain.blocks[h].txs) >= 3)
    out = [("tx", chain.tx_proof(h, 2))]
    present = next(k for k in sorted(chain.keys)
                   if storage_key(*k) in chain.states[HEIGHTS])
    out.append(("state-present", chain.state_proof(HEIGHTS, *present)))
    leaf = empty = None
    for i in range(500):
        doc = chain.state_proof(HEIGHTS, "kv", f"absent-{i}")
        if doc["smt_proof"]["leaf"] is not None and leaf is None:
            leaf = doc
        if doc["smt_proof"]["leaf"] is None and empty is None:
            empty = doc
        if leaf and empty:
            break
    assert leaf is not None and empty is not None
    out += [("state-absent-leaf", leaf), ("state-absent-empty", empty)]
    for _, doc in out:
        assert len(doc["validator_set_changes"]) == 2
    return out


def _leaves(node: Any, path: str = "") -> Iterator[tuple[Any, Any, str]]:
    """(container, key, path) of every scalar in a JSON document."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in list(items):
        p = f"{path}.{k}" if isinstance(node, dict) else f"{path}[{k}]"
        if isinstance(v, dict | list):
            yield from _leaves(v, p)
        else:
            yield node, k, p


def _is_hex(s: str) -> bool:
    return len(s) >= 2 and len(s) % 2 == 0 and all(c in "0123456789abcdef" for c in s)


def _variants(v: Any, rng: random.Random) -> Iterator[Any]:
    """Every single-byte change of a scalar: each byte of a hex string XOR-ed with a random
    non-zero mask, each character of another string changed, an integer +1 / -1, a flipped bool,
    null -> 0."""
    if isinstance(v, bool):
        yield not v
    elif isinstance(v, int):
        yield v + 1
        if v > 0:
            yield v - 1
    elif v is None:
        yield 0
    elif isinstance(v, str) and _is_hex(v):
        raw = bytearray.fromhex(v)
        for i in range(len(raw)):
            changed = bytearray(raw)
            changed[i] ^= rng.randint(1, 255)
            yield changed.hex()
    elif isinstance(v, str):
        for i, c in enumerate(v):
            yield v[:i] + chr(ord(c) ^ 1) + v[i + 1:]
        yield v + "x"


def test_every_byte_of_every_field_is_detected(chain: Chain) -> None:
    """Walk every hash, signature, key, height, index and value of four proofs: every single-byte
    change makes verification fail with a ProofError that says why."""
    rng = random.Random(3)
    total = 0
    for name, doc in _tamper_targets(chain):
        doc = roundtrip(doc)
        check(chain, doc)
        count = 0
        for container, k, path in list(_leaves(doc)):
            original = container[k]
            for changed in _variants(original, rng):
                container[k] = changed
                try:
                    verify_proof(chain.genesis, doc)
                except ProofError as e:
                    assert str(e)
                else:
                    pytest.fail(f"{name}: changing {path} from {original!r} to {changed!r} "
                                "still verifies")
                finally:
                    container[k] = original
                count += 1
        verify_proof(chain.genesis, doc)  # restored intact
        assert count >= 1000, (name, count)
        total += count
    assert total >= 5000


def test_seeded_character_changes_in_the_json_text_are_detected(chain: Chain) -> None:
    """At the level of the file: change one character of the JSON text (a seeded sample of 500
    positions per proof, any character: digits, quotes, field names, hex); the result is either
    not a proof document or does not verify."""
    rng = random.Random(4)
    alphabet = "0123456789abcdefABCDEF\"{}[],:.-+eEnulltrx /\\"
    for name, doc in _tamper_targets(chain):
        text = json.dumps(doc, separators=(",", ":"))
        verify_proof(chain.genesis, parse_document(text))
        positions = rng.sample(range(len(text)), 500)
        for pos in positions:
            c = rng.choice([x for x in alphabet if x != text[pos]])
            bad = text[:pos] + c + text[pos + 1:]
            with pytest.raises(ProofError):
                verify_proof(chain.genesis, parse_document(bad))
        assert len(text) > 2000, name


def test_structural_changes_are_refused(chain: Chain) -> None:
    doc = roundtrip(chain.tx_proof(HEIGHTS, 0) if chain.blocks[HEIGHTS].txs
                    else chain.tx_proof(*chain.all_txs()[-1]))
    for mutate, reason in [
        (lambda d: d.update(extra=1), "unknown field"),
        (lambda d: d.pop("tx_body"), "missing tx_body"),
        (lambda d: d["block"]["header"].update(note="x"), "unknown field"),
        (lambda d: d["block"]["certificate"]["votes"].reverse(), "sorted"),
        (lambda d: d["block"]["certificate"]["votes"].append(d["block"]["certificate"]["votes"][0]),
         "sorted"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(type="chainfin/other"), "unknown proof type"),
        (lambda d: d["block"]["header"].update(height=float(d["block"]["header"]["height"])),
         "integer"),
        (lambda d: d["block"]["header"].update(height=True), "integer"),
        (lambda d: d.update(tx_id=d["tx_id"].upper()), "lowercase"),
        (lambda d: d.update(tx_id=d["tx_id"][:2] + " " + d["tx_id"][2:]), "lowercase"),
        (lambda d: d["validator_set_changes"][0]["validators"].reverse(), "sorted"),
        (lambda d: d["inclusion"]["path"].append("00" * 32), "Merkle"),
        (lambda d: d["inclusion"].update(tree_size=d["inclusion"]["tree_size"] + 1), "tx_count"),
    ]:
        d = json.loads(json.dumps(doc))
        mutate(d)
        rejected(chain, d, reason)
    rejected(chain, [doc], "JSON object")
    with pytest.raises(ProofError, match="repeats the field"):
        parse_document('{"type": "chainfin/tx-proof", "type": "chainfin/tx-proof"}')
    with pytest.raises(ProofError, match="NaN"):
        parse_document('{"version": NaN}')
    with pytest.raises(ProofError, match="not valid JSON"):
        parse_document('{"version": ')


# ---------------------------------------------------------------------------- certificates


def _with_cert(chain: Chain, h: int, cert: CommitCertificate) -> dict[str, Any]:
    return build_state_proof_from_tree(chain.header(h), cert, "kv", "k1", chain.tree,
                                       chain.changes)


@pytest.mark.parametrize("h", [2, ADD_AT, ADD_AT + 2, REMOVE_AT, HEIGHTS])
def test_fewer_than_quorum_signers_is_rejected(chain: Chain, h: int) -> None:
    vs = chain.in_force[h]
    members = [BY_KEY[m] for m in vs.members]
    ok = _with_cert(chain, h, sign_cert(chain.header(h), members[:vs.quorum]))
    assert check(chain, ok).signers == tuple(sorted(m.public_key for m in members[:vs.quorum]))
    short = _with_cert(chain, h, sign_cert(chain.header(h), members[:vs.quorum - 1]))
    rejected(chain, roundtrip(short), f"{vs.quorum - 1} distinct signers.*is {vs.quorum}")


def test_five_validators_need_four_not_2f_plus_1(chain: Chain) -> None:
    """TRAPS #1: for n = 5, f = 1 and 2f+1 = 3 is not a quorum; quorum(5) = 4."""
    h = ADD_AT + 1
    vs = chain.in_force[h]
    assert vs.n == 5 and quorum(5) == 4
    three = [BY_KEY[m] for m in vs.members][:3]
    rejected(chain, roundtrip(_with_cert(chain, h, sign_cert(chain.header(h), three))),
             "3 distinct signers")


def test_one_key_signing_twice_is_one_vote(chain: Chain) -> None:
    h = 2
    two = VALS[:2]
    cert = sign_cert(chain.header(h), two)
    doc = roundtrip(_with_cert(chain, h, cert))
    votes = doc["block"]["certificate"]["votes"]
    votes.insert(1, list(votes[0]))
    rejected(chain, doc, "each key once")


def test_signature_by_a_removed_validator_is_rejected(chain: Chain) -> None:
    h = REMOVE_AT + 2
    vs = chain.in_force[h]
    assert REMOVED.public_key not in vs
    current = [BY_KEY[m] for m in vs.members]
    # the removed key as one of a bare quorum: it must not count
    doc = _with_cert(chain, h, sign_cert(chain.header(h), current[:vs.quorum - 1] + [REMOVED]))
    rejected(chain, roundtrip(doc), f"signed by {REMOVED.public_key.hex()}, which is not in")
    # even alongside a full quorum of current members, a foreign signature voids the certificate
    doc = _with_cert(chain, h, sign_cert(chain.header(h), current + [REMOVED]))
    rejected(chain, roundtrip(doc), "not in the validator set in force")
    # and the validator added at ADD_AT cannot sign for blocks before its set is in force
    doc = _with_cert(chain, ADD_AT, sign_cert(chain.header(ADD_AT), VALS[:2] + [VALS[4]]))
    rejected(chain, roundtrip(doc), "not in the validator set in force at height 4")


def test_signatures_by_keys_outside_the_set_chain_are_rejected(chain: Chain) -> None:
    h = HEIGHTS
    doc = _with_cert(chain, h, sign_cert(chain.header(h), OUTSIDERS[:4]))
    rejected(chain, roundtrip(doc), "not in the validator set")
    # A forged chain: outsiders "change" the set at height 2 to themselves and certify the change
    # and the target block. The change's certificate is checked against the genesis set.
    fake_set = ValidatorSet(tuple(o.public_key for o in OUTSIDERS[:4]))
    g = chain.genesis.validator_set()
    fake_change = BlockHeader(CHAIN_ID, 2, 0, chain.header(1).hash(), merkle.EMPTY_ROOT,
                              smt.EMPTY, g.hash(), fake_set.hash(), GENESIS_TIME + 2000,
                              OUTSIDERS[0].public_key, 0)
    fake_target = BlockHeader(CHAIN_ID, 3, 0, fake_change.hash(), merkle.EMPTY_ROOT, smt.EMPTY,
                              fake_set.hash(), fake_set.hash(), GENESIS_TIME + 3000,
                              OUTSIDERS[0].public_key, 0)
    changes = [SetChange(fake_change, sign_cert(fake_change, OUTSIDERS[:4]), fake_set)]
    doc = build_state_proof_from_tree(fake_target, sign_cert(fake_target, OUTSIDERS[:4]), "kv",
                                      "k1", chain.tree, changes)
    rejected(chain, roundtrip(doc), r"validator_set_changes\[0\].certificate is signed by")
    # Without the forged change, the target's validators_hash names a set not in force.
    doc["validator_set_changes"] = []
    rejected(chain, roundtrip(doc), "validators_hash at height 3 is not the hash")
    # A genuine header with a validly signed certificate of another chain id.
    other = sign_cert(chain.header(h), [BY_KEY[m] for m in chain.in_force[h].members],
                      chain_id="another-chain")
    doc = roundtrip(_with_cert(chain, h, chain.certs[h]))
    doc["block"]["certificate"] = json.loads(json.dumps(
        {**doc["block"]["certificate"], "chain_id": "another-chain",
         "votes": [[v.validator.hex(), v.signature.hex()] for v in other.votes]}))
    rejected(chain, doc, "for chain 'another-chain'")


def test_wrong_genesis_is_rejected(chain: Chain) -> None:
    doc = roundtrip(chain.state_proof(HEIGHTS, "kv", "k1"))
    with pytest.raises(ProofError, match="genesis for 'elsewhere'"):
        verify_proof(make_genesis("elsewhere"), doc)
    with pytest.raises(ProofError, match="validators_hash at height 4 is not the hash"):
        verify_proof(make_genesis(vals=OUTSIDERS[:4]), doc)
    early = roundtrip(chain.state_proof(2, "kv", "k1"))  # no set change before it
    with pytest.raises(ProofError, match="block.header validators_hash at height 2"):
        verify_proof(make_genesis(vals=OUTSIDERS[:4]), early)


# ---------------------------------------------------------------------------- the set chain


def test_truncated_or_reordered_set_chain_is_rejected(chain: Chain) -> None:
    h = HEIGHTS
    doc = roundtrip(chain.state_proof(h, "kv", "k1"))
    assert len(doc["validator_set_changes"]) == 2
    first, second = doc["validator_set_changes"]
    for changes, reason in [
        ([second], r"validator_set_changes\[0\].header validators_hash at height 9"),
        ([first], "block.header validators_hash"),
        ([], "block.header validators_hash"),
        ([second, first], "strictly increasing"),
        ([first, first, second], "strictly increasing"),
    ]:
        d = json.loads(json.dumps(doc))
        d["validator_set_changes"] = changes
        rejected(chain, d, reason)
    # a change at or above the proof's height is not part of the chain to it
    d = roundtrip(chain.state_proof(REMOVE_AT, "kv", "k1"))
    d["validator_set_changes"].append(json.loads(json.dumps(second)))
    rejected(chain, d, "not below the proof's height")
    # a change whose member list is not what its header names
    d = json.loads(json.dumps(doc))
    d["validator_set_changes"][1]["validators"] = first["validators"]
    rejected(chain, d, "next_validators_hash names")


# ---------------------------------------------------------------------------- non-inclusion


def test_non_inclusion_cannot_be_forged_for_a_present_key(chain: Chain) -> None:
    h = HEIGHTS
    state = chain.states[h]
    present = [k for k in sorted(chain.keys) if storage_key(*k) in state]
    absent = [("kv", f"absent-{i}") for i in range(30)]
    absent_proofs = [roundtrip(chain.state_proof(h, *k)) for k in absent]
    for a in absent_proofs:
        assert check(chain, a).present is False
    for contract, key in present[:15]:
        real = roundtrip(chain.state_proof(h, contract, key))
        assert check(chain, real).present
        # claim absence with the key's own (inclusion) path
        d = json.loads(json.dumps(real))
        d["value"] = d["value_encoding"] = None
        rejected(chain, d, "does not show that .* absent")
        # claim absence with the paths that prove other keys absent
        for a in absent_proofs:
            d = json.loads(json.dumps(real))
            d["value"] = d["value_encoding"] = None
            d["smt_proof"] = a["smt_proof"]
            rejected(chain, d, "absent")
        # a path that ends at the key's own leaf, presented as "another key's leaf"
        sk = storage_key(contract, key)
        d = json.loads(json.dumps(real))
        d["value"] = d["value_encoding"] = None
        d["smt_proof"]["leaf"] = {"key_hash": smt.key_hash(sk).hex(),
                                  "value_hash": smt.key_hash(state[sk]).hex()}
        rejected(chain, d, "absent")
        # or a different value for it
        d = json.loads(json.dumps(real))
        d["value"], d["value_encoding"] = 12345, codec.encode(12345).hex()
        rejected(chain, d, "holds this value")


def test_key_hash_pins_the_key_of_a_non_inclusion_proof(chain: Chain) -> None:
    """A non-inclusion path ending at depth d also shows absence of every key sharing d bits of
    key hash; the document's key_hash makes a changed key a detected change, not another proof."""
    doc = roundtrip(chain.state_proof(HEIGHTS, "kv", "absent-0"))
    depth = doc["smt_proof"]["depth"]
    kh = smt.key_hash(storage_key("kv", "absent-0"))
    other = next(f"absent-x{i}" for i in range(100_000)
                 if (int.from_bytes(smt.key_hash(storage_key("kv", f"absent-x{i}")), "big")
                     ^ int.from_bytes(kh, "big")) >> (256 - depth) == 0
                 and storage_key("kv", f"absent-x{i}") not in chain.states[HEIGHTS])
    d = json.loads(json.dumps(doc))
    d["key"] = other
    rejected(chain, d, "key_hash is not the SHA-256")
    d["key_hash"] = smt.key_hash(storage_key("kv", other)).hex()
    assert check(chain, d).key == other  # consistent and true: that key is absent as well


# ---------------------------------------------------------------------------- CLI


def _write(tmp_path: Path, chain: Chain) -> tuple[Path, Path, dict[str, Any]]:
    g = tmp_path / "genesis.json"
    g.write_text(chain.genesis.to_json_text())
    h, i = chain.all_txs()[-1]
    doc = chain.tx_proof(h, i)
    p = tmp_path / "proof.json"
    p.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return g, p, doc


def test_cli_verify_subprocess(tmp_path: Path, chain: Chain) -> None:
    g, p, doc = _write(tmp_path, chain)
    ok = subprocess.run([sys.executable, "-m", "chainfin.cli", "verify", "--genesis", str(g),
                         str(p)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert doc["tx_id"] in ok.stdout and "VALID" in ok.stdout
    assert f"block height:   {doc['block']['header']['height']}" in ok.stdout
    bad = tmp_path / "tampered.json"
    sig = doc["block"]["certificate"]["votes"][0][1]
    bad.write_text(p.read_text().replace(sig, sig[:-1] + ("0" if sig[-1] != "0" else "1")))
    r = subprocess.run([sys.executable, "-m", "chainfin.cli", "verify", "--genesis", str(g),
                        str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "chainfin: proof invalid:" in r.stderr and "does not verify" in r.stderr


def test_cli_verify_in_process(tmp_path: Path, chain: Chain,
                               capsys: pytest.CaptureFixture[str]) -> None:
    g, p, doc = _write(tmp_path, chain)
    assert cli_verify(SimpleNamespace(genesis=str(g), proof=str(p))) == 0
    out = capsys.readouterr().out
    assert doc["tx_id"] in out and "val0" in out and chain.genesis.hash().hex() in out
    s = tmp_path / "state.json"
    s.write_text(json.dumps(chain.state_proof(HEIGHTS, "kv", "absent-1")))
    assert cli_verify(SimpleNamespace(genesis=str(g), proof=str(s))) == 0
    assert "ABSENT" in capsys.readouterr().out
    assert cli_verify(SimpleNamespace(genesis=str(g), proof=str(tmp_path / "nope.json"))) == 2
    assert "cannot read proof" in capsys.readouterr().err
    assert cli_verify(SimpleNamespace(genesis=str(tmp_path / "nope"), proof=str(p))) == 2
    assert "genesis" in capsys.readouterr().err
    j = tmp_path / "junk.json"
    j.write_text("not json")
    assert cli_verify(SimpleNamespace(genesis=str(g), proof=str(j))) == 1
    assert "proof invalid: the proof is not valid JSON" in capsys.readouterr().err


def test_cli_verify_a_chain_whose_genesis_commits_to_its_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A genesis of the current form (``fingerprint_key_sha256``; the key in its own file, which
    an auditor does not have): the root of trust is that document's hash, and ``chainfin
    verify`` needs nothing else (decision 133)."""
    public = Genesis.model_validate(make_genesis().with_key_committed().document())
    chain = build_chain(genesis=public)
    g, p, doc = _write(tmp_path, chain)
    assert "fingerprint_key_sha256" in g.read_text() and '"fingerprint_key"' not in g.read_text()
    assert chain.header(1).prev_hash == public.hash()
    assert cli_verify(SimpleNamespace(genesis=str(g), proof=str(p))) == 0
    out = capsys.readouterr().out
    assert doc["tx_id"] in out and f"trusted root:   genesis {public.hash().hex()}" in out


# ---------------------------------------------------------------------------- docs/proofs.md


def _by_hand_script() -> str:
    text = (Path(__file__).resolve().parents[2] / "docs" / "proofs.md").read_text()
    block = text.split("<!-- verify-by-hand:begin -->", 1)[1].split("<!-- verify-by-hand:end -->")[0]
    return block.split("```python\n", 1)[1].rsplit("```", 1)[0]


def test_the_by_hand_procedure_in_the_docs_works(tmp_path: Path, chain: Chain,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """docs/proofs.md's script (hashlib + msgpack + PyNaCl, no chainfin) accepts real proofs and
    refuses a tampered one."""
    import runpy

    script = tmp_path / "verify_by_hand.py"
    script.write_text(_by_hand_script())
    g = tmp_path / "genesis.json"
    g.write_text(chain.genesis.to_json_text())
    h, i = next((h, i) for h, i in chain.all_txs() if h > REMOVE_AT)
    tx_doc = chain.tx_proof(h, i)
    present = chain.state_proof(HEIGHTS, "raw", "blob")
    cases = [(tx_doc, f"tx {tx_doc['tx_id']} is final in block {h}"),
             (present, f'raw/blob = {json.dumps(present["value"])} at block {HEIGHTS}'),
             (chain.state_proof(HEIGHTS, "kv", "absent-0"), f"kv/absent-0 = ABSENT at block {HEIGHTS}"),
             (chain.state_proof(2, "kv", "k1"), "kv/k1 = ")]

    def run(doc: dict[str, Any]) -> str:
        p = tmp_path / "proof.json"
        p.write_text(json.dumps(doc))
        monkeypatch.setattr(sys, "argv", [str(script), str(g), str(p)])
        runpy.run_path(str(script), run_name="__main__")
        return capsys.readouterr().out

    for doc, expected in cases:
        assert expected in run(doc)
    bad = json.loads(json.dumps(present))
    bad["value_encoding"] = codec.encode({"b": b"\x00\xffbytes", "n": 8}).hex()
    with pytest.raises(AssertionError, match="state_root"):
        run(bad)
    bad = json.loads(json.dumps(tx_doc))
    sig = bad["block"]["certificate"]["votes"][0][1]
    bad["block"]["certificate"]["votes"][0][1] = ("1" if sig[0] == "0" else "0") + sig[1:]
    with pytest.raises(Exception, match="[Ss]ignature"):
        run(bad)


# ---------------------------------------------------------------------------- inclusion-only


def _receipt_txs(chain: Chain) -> list[tuple[int, int]]:
    """Transactions of blocks whose header has a receipts_root (format 2), both outcomes."""
    out = [(h, i) for h, i in chain.all_txs() if chain.header(h).receipts_root is not None]
    assert {chain.receipts[h][i]["status"] for h, i in out} == {"committed", "rejected"}
    return out


@pytest.fixture(scope="module")
def chain2() -> Chain:
    return build_chain(ledger_format=2)


def test_an_inclusion_only_proof_verifies_and_says_the_outcome_is_not_proven(
        chain2: Chain) -> None:
    """Decision 147: without receipt, receipt_encoding and receipt_path a tx proof proves the
    transaction in its final block, not its outcome; the verdict says so in place of the
    outcome line, and is otherwise the full proof's."""
    rng = random.Random(7)
    for h, i in rng.sample(_receipt_txs(chain2), 40):
        full = chain2.tx_proof(h, i)
        doc = inclusion_only(full)
        assert set(full) - set(doc) == {"receipt", "receipt_encoding", "receipt_path"}
        v, w = check(chain2, doc), check(chain2, full)
        assert v.inclusion_only and v.receipt is None and not w.inclusion_only
        assert (v.tx, v.height, v.block_hash, v.signers) == (w.tx, w.height, w.block_hash,
                                                             w.signers)
        lines, whole = v.lines(), w.lines()
        assert f"outcome:        {NOT_PROVEN}" in lines
        assert NOT_PROVEN == ("not proven (this proof carries no receipt: ask the sender's "
                              "bank or a supervisor for the full proof)")
        assert not [x for x in lines if "committed" in x or "rejected" in x], lines
        outcome = next(x for x in whole if x.startswith("outcome:"))
        assert lines == [NOT_PROVEN_LINE if x == outcome else x for x in whole]


NOT_PROVEN_LINE = f"outcome:        {NOT_PROVEN}"


def test_a_proof_without_receipts_root_prints_no_outcome_line(chain: Chain) -> None:
    """Format 1: the header commits to no receipt, so there is no outcome to prove or to deny;
    stripping changes nothing."""
    h, i = chain.all_txs()[-1]
    doc = chain.tx_proof(h, i)
    v = check(chain, inclusion_only(doc))
    if chain.header(h).receipts_root is not None:  # format 2
        assert v.inclusion_only and NOT_PROVEN_LINE in v.lines()
        return
    assert inclusion_only(doc) == doc
    assert not v.inclusion_only and not [x for x in v.lines() if x.startswith("outcome:")]
    with pytest.raises(ValueError, match="only a transaction proof"):
        inclusion_only(chain.state_proof(h, "kv", "k1"))


def test_some_of_the_receipt_fields_are_refused(chain2: Chain) -> None:
    """All three receipt fields or none: a proof with one or two of them is refused, naming
    what is missing (it could otherwise be read as proving an outcome it does not)."""
    import itertools

    h, i = _receipt_txs(chain2)[-1]
    full = roundtrip(chain2.tx_proof(h, i))
    fields = ("receipt", "receipt_encoding", "receipt_path")
    for n in (1, 2):
        for kept in itertools.combinations(fields, n):
            doc = {k: v for k, v in full.items() if k not in fields or k in kept}
            missing = ", ".join(f for f in fields if f not in kept)
            reason = rejected(chain2, doc, f"proof is missing {missing} ")
            assert "all of receipt, receipt_encoding and receipt_path, or none" in reason
    # a null field is not an absent one
    for f in fields:
        rejected(chain2, {**full, f: None})


def test_every_byte_of_an_inclusion_only_proof_is_detected(chain2: Chain) -> None:
    """As for full proofs: every single-byte change of every field of an inclusion-only proof
    (after both set changes) is refused, and so is one field of the receipt put back."""
    rng = random.Random(8)
    h = next(h for h in range(HEIGHTS, 0, -1) if len(chain2.blocks[h].txs) >= 3)
    full = roundtrip(chain2.tx_proof(h, 2))
    doc = roundtrip(inclusion_only(full))
    assert len(doc["validator_set_changes"]) == 2
    check(chain2, doc)
    count = 0
    for container, k, path in list(_leaves(doc)):
        original = container[k]
        for changed in _variants(original, rng):
            container[k] = changed
            try:
                verify_proof(chain2.genesis, doc)
            except ProofError as e:
                assert str(e)
            else:
                pytest.fail(f"changing {path} from {original!r} to {changed!r} still verifies")
            finally:
                container[k] = original
            count += 1
    assert count >= 1000
    text = json.dumps(doc, separators=(",", ":"))
    for pos in rng.sample(range(len(text)), 300):
        c = rng.choice([x for x in "0123456789abcdef\"{}[],:" if x != text[pos]])
        with pytest.raises(ProofError):
            verify_proof(chain2.genesis, parse_document(text[:pos] + c + text[pos + 1:]))
    assert check(chain2, doc).inclusion_only  # restored intact


def test_no_change_makes_an_inclusion_only_proof_print_an_outcome(chain2: Chain) -> None:
    """The outcome line comes only from a receipt checked under the header's receipts_root:
    a receipt taken from another transaction, of the same block or another, is refused."""
    txs = _receipt_txs(chain2)
    h, i = next((h, i) for h, i in txs if len(chain2.blocks[h].txs) >= 2)
    doc = inclusion_only(chain2.tx_proof(h, i))
    for oh, oi in [(h, (i + 1) % len(chain2.blocks[h].txs)), txs[0]]:
        other = chain2.tx_proof(oh, oi)
        graft = {**doc, **{f: other[f] for f in ("receipt", "receipt_encoding", "receipt_path")}}
        rejected(chain2, roundtrip(graft))


def test_the_by_hand_procedure_reads_an_inclusion_only_proof(
        tmp_path: Path, chain2: Chain, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import runpy

    script = tmp_path / "verify_by_hand.py"
    script.write_text(_by_hand_script())
    g = tmp_path / "genesis.json"
    g.write_text(chain2.genesis.to_json_text())
    h, i = _receipt_txs(chain2)[-1]
    p = tmp_path / "proof.json"
    p.write_text(json.dumps(inclusion_only(chain2.tx_proof(h, i))))
    monkeypatch.setattr(sys, "argv", [str(script), str(g), str(p)])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "outcome: not proven" in out and f"is final in block {h}" in out


def test_cli_verify_prints_the_inclusion_only_line(tmp_path: Path, chain2: Chain,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    g = tmp_path / "genesis.json"
    g.write_text(chain2.genesis.to_json_text())
    h, i = _receipt_txs(chain2)[-1]
    p = tmp_path / "proof.json"
    p.write_text(json.dumps(inclusion_only(chain2.tx_proof(h, i))))
    assert cli_verify(SimpleNamespace(genesis=str(g), proof=str(p))) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID transaction inclusion proof\n")
    assert NOT_PROVEN_LINE in out.splitlines()
