"""The execution layer: overlays, genesis state, receipts and replay protection, admission checks,
rejection isolation, speculative stacking, validator-set changes and determinism."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainfin import codec
from chainfin.errors import CodecError, ContractError, InvalidTransaction
from chainfin.execution import (
    BlockContext,
    Contract,
    DictState,
    Overlay,
    check_tx_static,
    current_validators,
    execute_block,
    genesis_state,
    nonce_used,
    nonce_word_key,
    p_amount,
    read_value,
    receipt_key,
    storage_key,
    word_nonces,
)
from chainfin.store import nonce_keys_of_state, nonce_word_index_key
from chainfin.types import Transaction
from contracts import CONTRACTS
from contracts.testing import CHAIN_ID, Ledger, make_genesis

# ---------------------------------------------------------------------------- overlays


def test_storage_key_layout() -> None:
    assert storage_key("settlement", "bal/ab/USD") == b"settlement/bal/ab/USD"
    assert receipt_key(b"\x01" * 32, 7) == b"_tx/" + (b"01" * 32) + b"/7"


def test_overlay_reads_through_and_records_changes() -> None:
    base = DictState()
    base.put("c", "a", {"x": 1})
    base.put("c", "b", 5)
    ov = Overlay(base)
    assert ov.get("c", "a") == {"x": 1} and ov.get("c", "zz") is None
    ov.put("c", "a", {"x": 2})
    ov.delete("c", "b")
    ov.put("c", "new", [1, b"\x00", "s", None, True])
    assert ov.get("c", "a") == {"x": 2} and ov.get("c", "b") is None
    assert ov.get_raw(b"c/b") is None
    assert ov.changes() == {
        b"c/a": codec.encode({"x": 2}),
        b"c/b": None,
        b"c/new": codec.encode([1, b"\x00", "s", None, True]),
    }
    assert base.get("c", "a") == {"x": 1} and base.get("c", "b") == 5  # parent untouched


def test_overlay_values_are_private_copies() -> None:
    base = DictState()
    base.put("c", "k", {"l": [1, 2], "d": {"n": 1}})
    ov = Overlay(base)
    v = ov.get("c", "k")
    v["l"].append(3)
    v["d"]["n"] = 99
    assert ov.get("c", "k") == {"l": [1, 2], "d": {"n": 1}}  # the cache was not corrupted
    w = {"a": [1]}
    ov.put("c", "w", w)
    w["a"].append(2)  # mutating after put changes nothing
    assert ov.get("c", "w") == {"a": [1]}
    assert codec.decode(ov.changes()[b"c/w"]) == {"a": [1]}


def test_overlay_peek_shares_the_cached_value_and_put_caches_the_decoded_form() -> None:
    base = DictState()
    base.put("c", "k", {"l": [1, 2]})
    ov = Overlay(base)
    layer = Overlay(ov)
    first = layer.peek("c", "k")
    assert first == {"l": [1, 2]} and layer.peek("c", "k") is first  # shared, not copied
    assert layer.get("c", "k") is not first and layer.peek("c", "zz") is None
    assert base.peek("c", "k") == {"l": [1, 2]}
    v = {"b": (1, 2), "a": bytearray(b"x")}
    layer.put("c", "v", v)
    cached = layer.peek("c", "v")
    assert cached == codec.decode(codec.encode(v)) == {"a": b"x", "b": [1, 2]}
    assert list(cached) == ["a", "b"] and cached is not v and cached["b"] is not v["b"]
    layer.commit_into(ov)
    assert ov.peek("c", "v") == {"a": b"x", "b": [1, 2]}


def test_overlay_refuses_floats() -> None:
    with pytest.raises(CodecError):
        Overlay(DictState()).put("c", "k", {"x": 1.5})


def test_overlay_commit_discard_and_stacking() -> None:
    base = DictState()
    base.put("c", "k", 1)
    block1 = Overlay(base)
    tx = Overlay(block1)
    tx.put("c", "k", 2)
    tx.put("c", "j", 3)
    assert block1.get("c", "k") == 1
    tx.commit_into(block1)
    assert block1.get("c", "k") == 2 and block1.get("c", "j") == 3 and len(tx) == 0
    failed = Overlay(block1)
    failed.delete("c", "k")
    failed.discard()
    assert block1.get("c", "k") == 2
    # a second speculative block stacked on the first sees its writes; its changes are its own
    block2 = Overlay(block1)
    assert block2.get("c", "j") == 3
    block2.put("c", "j", 4)
    assert block2.changes() == {b"c/j": codec.encode(4)}
    # after block1 is committed to the base, block2 can be rebased onto it
    base.apply(block1.changes())
    block2.rebase(base)
    assert block2.get("c", "k") == 2 and block2.get("c", "j") == 4


def test_overlay_caches_decoded_reads() -> None:
    class Counting(DictState):
        reads = 0

        def get_raw(self, key: bytes) -> bytes | None:
            Counting.reads += 1
            return super().get_raw(key)

    base = Counting()
    base.put("c", "hot", {"role": "bank"})
    block = Overlay(base)
    for _ in range(10):
        Overlay(block).get("c", "hot")  # one per-tx overlay each time
    assert Counting.reads == 1


# ---------------------------------------------------------------------------- genesis


def test_genesis_state() -> None:
    g = make_genesis()
    st = DictState(genesis_state(g))
    vals = st.get("governance", "validators")
    assert vals == sorted(v.public_key for v in g.validators) and len(vals) == 4
    for gi in g.identities:
        rec = st.get("governance", "id/" + gi.public_key)
        want = {"name": gi.name, "role": gi.role, "admin": gi.admin, "bank": gi.bank}
        if gi.legal_name is not None:
            want["legal_name"] = gi.legal_name
        assert rec == want
    assert st.get("governance", "regulators") == sorted(g.regulators)
    assert st.get("governance", "params") == g.params.consortium()
    assert st.get("governance", "currency/JPY")["exponent"] == 0
    assert st.get("settlement", "supply/USD") == {"issued": 0, "redeemed": 0}
    # the consortium fingerprint key never goes into the state
    assert all(bytes.fromhex(g.fingerprint_key) not in v for v in st.data.values())
    assert all(g.fingerprint_key.encode() not in v for v in st.data.values())
    assert genesis_state(g) == genesis_state(g)
    assert current_validators(st) == g.validator_set().members
    assert read_value(st, "governance", "currency/USD") == st.get("governance", "currency/USD")
    assert read_value(st, "governance", "nothing") is None


def test_genesis_validator_without_identity_becomes_bank() -> None:
    g = make_genesis()
    g2 = g.model_copy(update={"identities": [i for i in g.identities if i.name != "bank_b"]})
    st = DictState(genesis_state(g2))
    pk = next(v.public_key for v in g.validators if v.name == "bank_b")
    assert st.get("governance", "id/" + pk)["role"] == "bank"


# ---------------------------------------------------------------------------- execute_block


@pytest.fixture(params=[1, 2], ids=["format1", "format2"])
def L(request: pytest.FixtureRequest) -> Ledger:
    led = Ledger(make_genesis(params={"ledger_format": request.param}))
    led.ok("usd_issuer", "settlement", "issue", currency="USD", to=led.pk("bank_a"), amount=1000)
    return led


def transfer(L: Ledger, amount: int = 10, who: str = "bank_a", nonce: int | None = None
             ) -> Transaction:
    return L.make_tx(who, "settlement", "transfer",
                     {"to": L.pk("exporter"), "currency": "USD", "amount": amount}, nonce)


def words(L: Ledger) -> bool:
    return L.context().nonce_words


def used_key(L: Ledger, tx: Transaction) -> bytes:
    """Where the ledger records that ``tx``'s (sender, nonce) is used: its receipt (format 1)
    or its nonce word (format 2)."""
    return (nonce_word_key if words(L) else receipt_key)(tx.sender, tx.nonce)


def used_record(L: Ledger, tx: Transaction, status: str, error: str | None) -> bytes:
    """What that key holds after ``tx`` alone used its word (format 2) / its receipt."""
    if not words(L):
        return codec.encode({"tx_id": tx.tx_id, "status": status, "error": error})
    word = bytearray(32)
    word[(tx.nonce & 255) >> 3] |= 1 << (tx.nonce & 7)
    return codec.encode(bytes(word))


def test_nonce_words_mark_each_used_nonce_once() -> None:
    L = Ledger()  # format 2
    sender = L.ids["bank_a"].public_key
    L.ok("usd_issuer", "settlement", "issue", currency="USD", to=L.pk("bank_a"), amount=1000)
    for n in (0, 7, 255, 256, 2**63 - 1):
        assert not nonce_used(L.state, sender, n, True)
        L.block([transfer(L, 1, nonce=n)])
        assert nonce_used(L.state, sender, n, True)
        assert L.block([transfer(L, 1, nonce=n)]).receipts[0].error_code == "nonce_reused"
    for n in (1, 6, 8, 254, 257, 2**63 - 2):
        assert not nonce_used(L.state, sender, n, True)
    word0 = L.state.get("_nonce", f"{sender.hex()}/0")
    assert word0 == bytes([0x81]) + bytes(30) + bytes([0x80])  # bits 0, 7 and 255
    assert L.state.get("_nonce", f"{sender.hex()}/1") == bytes([1]) + bytes(31)  # 256
    assert L.state.get("_nonce", f"{sender.hex()}/{(2**63 - 1) >> 8}")[31] == 0x80
    assert not list(L.state.items_with_prefix(b"_tx/"))  # no receipt in the state
    raw = L.state.data[nonce_word_key(sender, 0)]
    assert nonce_keys_of_state(nonce_word_key(sender, 0)) == [nonce_word_index_key(sender, 0)]
    assert word_nonces(0, raw) == [0, 7, 255]
    assert word_nonces(1, L.state.data[nonce_word_key(sender, 256)]) == [256]


@settings(max_examples=40, deadline=None)
@given(nonces=st.lists(st.one_of(st.integers(0, 600), st.integers(0, 2**63 - 1)), max_size=30),
       cuts=st.lists(st.integers(1, 5), max_size=30))
def test_nonce_words_hold_exactly_the_nonces_used(nonces: list[int], cuts: list[int]) -> None:
    """Any nonces, repeated or not, in any blocks: each is used by its first transaction only,
    and the words hold exactly those (what a node's /v1/nonce reads back)."""
    L = Ledger()  # format 2
    sender = L.ids["bank_a"].public_key
    L.ok("usd_issuer", "settlement", "issue", currency="USD", to=L.pk("bank_a"), amount=10**6)
    txs = [transfer(L, 1, nonce=n) for n in nonces]
    used: set[int] = set()
    i = 0
    for cut in [*cuts, len(txs)]:
        block = txs[i:i + cut]
        i += cut
        if not block:
            continue
        for tx, r in zip(block, L.block(block).receipts, strict=True):
            assert (r.error_code == "nonce_reused") == (tx.nonce in used)
            used.add(tx.nonce)
    derived = {n for k, v in L.state.items_with_prefix(nonce_word_key(sender, 0)[:-1])
               for n in word_nonces(int(k.rsplit(b"/", 1)[1]), v)}
    assert derived == used
    for n in used | {n + 1 for n in used}:
        assert nonce_used(L.state, sender, n, True) == (n in used)


def test_receipt_is_stored_in_state(L: Ledger) -> None:
    tx = transfer(L)
    res = L.block([tx])
    r = res.receipts[0]
    assert r.ok and r.index == 0 and r.nonce == tx.nonce and r.sender == tx.sender
    assert res.changes[used_key(L, tx)] == used_record(L, tx, "committed", None)
    if not words(L):
        assert L.state.get("_tx", f"{tx.sender.hex()}/{tx.nonce}")["tx_id"] == tx.tx_id
    assert res.events == list(r.events) and res.validator_set_change is None
    assert r.to_json()["error"] is None


def test_rejected_tx_leaves_only_its_receipt(L: Ledger) -> None:
    tx = transfer(L, amount=10**6)  # insufficient funds
    res = L.block([tx])
    r = res.receipts[0]
    assert (r.status, r.error_code, r.events, r.result) == ("rejected", "insufficient_funds",
                                                           (), {})
    assert set(res.changes) == {used_key(L, tx)}
    assert res.changes[used_key(L, tx)] == used_record(L, tx, "rejected", "insufficient_funds")
    assert r.to_json()["error"]["code"] == "insufficient_funds"


def test_rejected_tx_in_the_middle_of_a_block(L: Ledger) -> None:
    txs = [transfer(L, 100), transfer(L, 10**6), transfer(L, 200)]
    res = L.block(txs)
    assert [r.status for r in res.receipts] == ["committed", "rejected", "committed"]
    assert [r.index for r in res.receipts] == [0, 1, 2]
    assert L.balance("exporter", "USD") == 300


def test_nonce_reuse_is_rejected_and_keeps_the_first_receipt(L: Ledger) -> None:
    first = transfer(L, 10, nonce=50)
    L.block([first])
    again = transfer(L, 20, nonce=50)  # different tx, same (sender, nonce)
    res = L.block([again])
    assert res.receipts[0].error_code == "nonce_reused"
    assert res.changes == {}  # nothing written, not even a receipt
    if not words(L):
        assert L.state.get("_tx", f"{first.sender.hex()}/50")["tx_id"] == first.tx_id
    assert L.balance("exporter", "USD") == 10
    # a rejected tx also uses up its pair
    bad = transfer(L, 10**6, nonce=60)
    L.block([bad])
    assert L.block([transfer(L, 5, nonce=60)]).receipts[0].error_code == "nonce_reused"
    # the same pair twice inside one block
    res = L.block([transfer(L, 1, nonce=70), transfer(L, 2, nonce=70)])
    assert [r.error_code for r in res.receipts] == [None, "nonce_reused"]


def test_admission_failures_are_receipted(L: Ledger) -> None:
    cases = [
        (L.make_tx("stranger", "settlement", "transfer", {}), "unknown_sender"),
        (L.make_tx("bank_a", "nope", "transfer", {}), "unknown_contract"),
        (L.make_tx("bank_a", "settlement", "nope", {}), "unknown_method"),
        (L.make_tx("exporter", "governance", "propose", {"action": "x", "params": {}}),
         "forbidden"),
        (L.make_tx("bank_a", "settlement", "transfer", {"to": L.pk("exporter")}),
         "missing_field"),
        (L.make_tx("bank_a", "settlement", "transfer",
                   {"to": L.pk("exporter"), "currency": "USD", "amount": -1}), "bad_field"),
        (L.make_tx("bank_a", "settlement", "transfer",
                   {"to": L.pk("exporter"), "currency": "USD", "amount": 1, "x": 1}),
         "unknown_field"),
        (Transaction("other-chain", L.ids["bank_a"].public_key, 999, "settlement", "transfer",
                     {"to": L.pk("exporter"), "currency": "USD", "amount": 1}), "wrong_chain"),
    ]
    res = L.block([tx for tx, _ in cases])
    assert [r.error_code for r in res.receipts] == [code for _, code in cases]
    for tx, code in cases:
        if words(L):
            assert nonce_used(res.overlay, tx.sender, tx.nonce, True)
        else:
            assert codec.decode(res.changes[receipt_key(tx.sender, tx.nonce)])["error"] == code


def test_check_tx_static(L: Ledger) -> None:
    check_tx_static(transfer(L), L.state, registry=L.registry, chain_id=CHAIN_ID)
    bad = {
        "unknown_sender": L.make_tx("stranger", "settlement", "transfer", {}),
        "unknown_contract": L.make_tx("bank_a", "nope", "m", {}),
        "unknown_method": L.make_tx("bank_a", "settlement", "nope", {}),
        "forbidden": L.make_tx("importer", "governance", "vote", {"proposal_id": "00" * 32}),
        "missing_field": L.make_tx("bank_a", "settlement", "transfer", {}),
        "bad_field": L.make_tx("bank_a", "settlement", "transfer",
                               {"to": "zz", "currency": "USD", "amount": 1}),
        "wrong_chain": Transaction("x", L.ids["bank_a"].public_key, 1, "settlement", "transfer",
                                   {}),
    }
    for code, tx in bad.items():
        with pytest.raises(InvalidTransaction) as ei:
            check_tx_static(tx, L.state, registry=L.registry, chain_id=CHAIN_ID)
        assert ei.value.code == code
    used = transfer(L)
    L.block([used])
    with pytest.raises(InvalidTransaction) as ei:
        check_tx_static(used, L.state, registry=L.registry, nonce_words=words(L))
    assert ei.value.code == "nonce_reused"
    # state-dependent rules are not checked statically (insufficient funds passes admission)
    check_tx_static(transfer(L, 10**9), L.state, registry=L.registry, nonce_words=words(L))


def test_execute_block_does_not_touch_its_input_state(L: Ledger) -> None:
    before = dict(L.state.data)
    res = execute_block(L.state, [transfer(L), transfer(L)], L.context(), L.registry)
    # 2 balances, the payer's risk pattern memory, 2 receipts (format 1) / 1 nonce word
    assert L.state.data == before and len(res.changes) == 2 + 1 + (1 if words(L) else 2)


def test_speculative_blocks_stack_on_overlays(L: Ledger) -> None:
    ctx = L.context()
    r1 = execute_block(L.state, [transfer(L, 600)], ctx, L.registry)
    # block 2 on top of block 1's uncommitted overlay sees its effects
    r2 = execute_block(r1.overlay, [transfer(L, 600), transfer(L, 400)], ctx, L.registry)
    assert [r.error_code for r in r2.receipts] == ["insufficient_funds", None]
    # a view change throws block 2 away; re-proposing it on the same parent gives the same result
    r2b = execute_block(r1.overlay, [transfer(L, 600, nonce=100)], ctx, L.registry)
    assert r2b.receipts[0].error_code == "insufficient_funds"
    L.state.apply(r1.changes)
    L.state.apply(r2.changes)
    assert L.balance("exporter", "USD") == 1000 and L.balance("bank_a", "USD") == 0


def test_same_block_same_changes(L: Ledger) -> None:
    txs = [transfer(L, i + 1) for i in range(5)]
    a = execute_block(L.state, txs, L.context(), L.registry)
    b = execute_block(DictState(L.state.data), txs, L.context(), L.registry)
    assert a.changes == b.changes and [r.status for r in a.receipts] == [
        r.status for r in b.receipts]


# ---------------------------------------------------------------------------- custom registries


def _registry(**methods: Any) -> dict[str, Contract]:
    c = Contract("t")
    for name, (fn, roles) in methods.items():
        c.method(roles=roles, params={"n": p_amount}, name=name)(fn)
    return {"t": c, **CONTRACTS}


def test_contract_bugs_reject_deterministically(L: Ledger) -> None:
    def float_put(state: Any, ctx: Any, args: dict[str, Any]) -> None:
        state.put("t", "x", 1.5)

    def key_error(state: Any, ctx: Any, args: dict[str, Any]) -> None:
        state.put("t", "y", 1)
        raise KeyError("boom")

    def bad_result(state: Any, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        return {"x": {1, 2}}

    def good(state: Any, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        state.put("t", "z", args["n"])
        ctx.emit("done", {"n": args["n"]})
        return {"n": args["n"]}

    def contract_error(state: Any, ctx: Any, args: dict[str, Any]) -> None:
        state.put("t", "w", 1)
        raise ContractError("nope", "custom_code")

    reg = _registry(float_put=(float_put, None), key_error=(key_error, None),
                    bad_result=(bad_result, None), good=(good, ("bank",)),
                    contract_error=(contract_error, None))
    txs = [L.make_tx("bank_a", "t", m, {"n": 3}) for m in
           ("float_put", "key_error", "bad_result", "good", "contract_error")]
    txs.append(L.make_tx("exporter", "t", "good", {"n": 1}))
    res = execute_block(L.state, txs, L.context(), registry=reg)
    assert [r.error_code for r in res.receipts] == [
        "internal_error", "internal_error", "internal_error", None, "custom_code", "forbidden"]
    data_keys = {k for k in res.changes if not k.startswith((b"_tx/", b"_nonce/"))}
    assert data_keys == {b"t/z"}
    assert res.receipts[3].events[0].name == "done" and res.receipts[3].result == {"n": 3}


def test_validator_set_change_is_reported(L: Ledger) -> None:
    new = L.add_identity("newval").public_key.hex()

    def grow(state: Any, ctx: Any, args: dict[str, Any]) -> None:
        state.put("governance", "validators", sorted([*state.get("governance", "validators"),
                                                      new]))

    def rewrite_same(state: Any, ctx: Any, args: dict[str, Any]) -> None:
        state.put("governance", "validators", state.get("governance", "validators"))

    reg = _registry(grow=(grow, None), same=(rewrite_same, None))
    res = execute_block(L.state, [L.make_tx("bank_a", "t", "same", {"n": 1})], L.context(),
                        registry=reg)
    assert res.validator_set_change is None
    res = execute_block(L.state, [L.make_tx("bank_a", "t", "grow", {"n": 1})], L.context(),
                        registry=reg)
    assert res.validator_set_change is not None
    assert bytes.fromhex(new) in res.validator_set_change and len(res.validator_set_change) == 5
    assert list(res.validator_set_change) == sorted(res.validator_set_change)


def test_block_context_from_genesis() -> None:
    g = make_genesis()
    ctx = BlockContext.from_genesis(g, 3, 1234, b"\x01" * 32)
    assert ctx.fingerprint_key == bytes.fromhex(g.fingerprint_key) and ctx.height == 3


# ---------------------------------------------------------------------------- determinism


_DETERMINISM_SCRIPT = """
import hashlib
from contracts.testing import Ledger
from chainfin import codec
L = Ledger()
ops = [
  ("usd_issuer", "settlement", "issue", dict(currency="USD", to=L.pk("bank_a"), amount=10**6)),
  ("bank_a", "settlement", "transfer", dict(to=L.pk("exporter"), currency="USD", amount=5)),
  ("bank_a", "governance", "propose", dict(action="set_role",
        params=dict(pubkey=L.pk("importer"), role="auditor"))),
  ("exporter", "trade_documents", "register", dict(doc_type="invoice", content_hash="11"*32,
        fields=dict(seller="  ACME  Ltd", buyer="Globex", number="INV-1", issue_date="2025-01-02",
                    amount="1,234.50", currency="USD"))),
  ("bank_b", "credit_sharing", "request_access", dict(record_id="22"*32)),
]
txs = [L.make_tx(w, c, m, a) for w, c, m, a in ops]
res = L.block(txs)
print(hashlib.sha256(codec.encode(sorted(res.changes.items()))).hexdigest(),
      [r.error_code for r in res.receipts])
"""


def test_execution_is_independent_of_hash_seed() -> None:
    """TRAPS #14: two processes with different PYTHONHASHSEED produce identical changes."""
    outs = set()
    for seed in ("1", "987654"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _DETERMINISM_SCRIPT], env=env,
                             capture_output=True, text=True, check=True)
        outs.add(out.stdout)
    assert len(outs) == 1, outs
