"""REST API of a real node, in process: ``aiohttp.test_utils`` against :func:`node.api.make_app`.

The node under test is a real :class:`node.runtime.Node` (engine, ledger, mempool, MemoryStore)
whose validators talk over the real peer transport on 127.0.0.1 (ports picked by the OS). The
cluster has ``N_VALIDATORS`` validators; the REST app under test is node 0's.

``N_VALIDATORS`` is 4 so that the REST paths meet real peer links and quorums; a single
validator commits too (``test_single_validator_commits``). Four in-process nodes connect in
~50 ms and commit in ~20 ms, so the tests stay fast.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import sys
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chainfin import compiled, proofs, smt
from chainfin.errors import InvalidTransaction
from chainfin.types import Transaction
from node import api
from node.metrics import CPU_STAGES
from tests.fixtures import (
    N_VALIDATORS,
    Harness,
    SigningClient,
    assert_error,
    error_problem,
    start_cluster,
    stop_cluster,
    wait_height,
)
from tests.fixtures import json_body as _json

# --------------------------------------------------------------------------- the engine, n = 1


async def test_single_validator_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "WAIT_TIMEOUT_S", 1.0)
    genesis, nodes, ids = await start_cluster(1)
    try:
        async with SigningClient(TestServer(api.make_app(nodes[0])), ids["auditor"]) as http:
            h = Harness(genesis, nodes, ids, http)
            status, out = await h.post(h.issue())
            assert (status, out["status"]) == (200, "committed"), out
    finally:
        await stop_cluster(nodes)


# --------------------------------------------------------------------------- POST /v1/tx


async def test_post_wait_commit(h: Harness) -> None:
    tx = h.issue(250)
    status, out = await h.post(tx)
    assert status == 200
    assert set(out) == {"tx_id", "status", "height", "index", "finality_ms", "result"}
    assert out["tx_id"] == tx.tx_id.hex()
    assert out["status"] == "committed"
    assert out["height"] == 1 and out["index"] == 0
    assert isinstance(out["finality_ms"], int | float) and 0 <= out["finality_ms"] < 10_000
    assert out["result"] == {"balance": 250}
    # every node has it
    for nd in h.nodes:
        await wait_height(nd, 1)
        assert nd.ledger.tx_location(tx.tx_id) == (1, 0)


async def test_post_without_wait_is_202_then_committed(h: Harness) -> None:
    tx = h.issue()
    status, out = await h.post(tx, wait=False)
    assert (status, out) == (202, {"tx_id": tx.tx_id.hex(), "status": "pending"})
    await wait_height(h.node, 1)
    status, got = await h.get(f"/v1/tx/{tx.tx_id.hex()}")
    assert status == 200
    assert got == {"tx_id": tx.tx_id.hex(), "status": "committed", "height": 1, "index": 0,
                   "result": {"balance": 100}}


async def test_post_rejected_by_contract_is_200_with_error(h: Harness) -> None:
    tx = h.tx("exporter", "settlement", "transfer",
              {"to": h.ids["importer"].public_key.hex(), "currency": "USD", "amount": 5})
    status, out = await h.post(tx)
    assert status == 200
    assert out["status"] == "rejected" and out["height"] == 1 and out["index"] == 0
    assert out["error"]["code"] == "insufficient_funds" and out["error"]["message"]
    assert "result" not in out
    status, got = await h.get(f"/v1/tx/{tx.tx_id.hex()}")
    assert status == 200 and got["status"] == "rejected"
    assert got["error"] == out["error"] and got["height"] == 1


async def test_concurrent_waiters_and_a_duplicate_post(h: Harness) -> None:
    """A retry of a tx that is still pending is refused (409) but does not cancel the first
    request's wait: both waiting requests, and only those, get the outcome."""
    tx = h.issue()
    first = asyncio.ensure_future(h.post(tx))
    second = asyncio.ensure_future(h.post(tx))
    (s1, o1), (s2, o2) = await asyncio.gather(first, second)
    statuses = sorted([s1, s2])
    assert statuses == [200, 409], (o1, o2)
    ok, dup = (o1, o2) if s1 == 200 else (o2, o1)
    assert ok["status"] == "committed"
    assert_error(409, dup, 409, "duplicate")
    assert tx.tx_id not in h.node.waiters


async def test_wait_timeout_then_pending_status(h: Harness,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # two of four validators down: no quorum, the tx stays pending
    await h.nodes[2].stop()
    await h.nodes[3].stop()
    monkeypatch.setattr(api, "WAIT_TIMEOUT_S", 0.2)
    tx = h.issue()
    status, out = await h.post(tx)
    assert status == 202
    # the wait ran out while the node reached 2 of 4 validators: it says so (decision 174)
    assert (out["tx_id"], out["status"]) == (tx.tx_id.hex(), "pending")
    err = out["error"]
    assert (err["code"], err["validators_reached"], err["quorum"], err["validators"]) == \
        ("no_quorum", 2, 3, 4), err
    assert tx.tx_id not in h.node.waiters  # a timed-out wait leaves nothing behind
    status, got = await h.get(f"/v1/tx/{tx.tx_id.hex()}")
    assert (status, got) == (200, {"tx_id": tx.tx_id.hex(), "status": "pending",
                                   "height": None, "index": None})
    status, st = await h.get("/v1/status")
    assert st["mempool"] == 1 and st["height"] == 0


async def test_bad_wait_parameter(h: Harness) -> None:
    status, out = await h.post(h.issue(), query="?wait=yes")
    assert_error(status, out, 400, "bad_request")
    assert "wait" in out["error"]["message"]
    assert len(h.node.mempool) == 0


# --------------------------------------------------------------------------- envelope errors


async def test_malformed_json(h: Harness) -> None:
    for body in [b"", b"{", b"{'a': 1}", b"\xff\xfe\x00garbage", b"[1,]", b"nul",
                 b"{\"chain_id\": 1}{", b"1" * 5000]:
        status, out = await h.post(body)
        assert_error(status, out, 400, "malformed_json")


async def test_deeply_nested_json_is_400_not_500(h: Harness) -> None:
    status, out = await h.post(b"[" * 200_000 + b"]" * 200_000)
    assert_error(status, out, 400, "malformed_json")
    good = h.issue().to_json()
    deep_args = json.loads('{"a":' * 100 + "1" + "}" * 100)
    status, out = await h.post({**good, "args": deep_args})
    assert_error(status, out, 400, "bad_encoding")


def test_a_collection_inside_a_deep_parse_finds_stack_left() -> None:
    """The failure of a CI run, made certain: a collection at every allocation while the
    parser is near the recursion limit called the GC pause hook with no stack left, and its
    RecursionError went to ``sys.unraisablehook`` (pytest fails the test that was running)."""
    from node.envelope import _json_body
    from node.metrics import gc_pauses

    gc_pauses()  # the hook every node installs
    lost: list[Any] = []
    hook, threshold = sys.unraisablehook, gc.get_threshold()
    sys.unraisablehook = lost.append
    gc.set_threshold(1)
    try:
        for body in (b"[" * 200_000 + b"]" * 200_000, b'{"a":' * 200_000, "[" * 200_000):
            with pytest.raises(InvalidTransaction) as e:
                _json_body(body)
            assert e.value.code == "malformed_json"
    finally:
        gc.set_threshold(*threshold)
        sys.unraisablehook = hook
    assert gc.isenabled()
    assert lost == []


def _envelope(h: Harness) -> dict[str, Any]:
    return h.issue().to_json()


# (case, mutation of a valid envelope, the field the message must start with)
ENVELOPE_CASES: list[tuple[str, Any, str]] = [
    ("no nonce", lambda e: e.pop("nonce"), "nonce"),
    ("no signature", lambda e: e.pop("signature"), "signature"),
    ("no args", lambda e: e.pop("args"), "args"),
    ("extra field", lambda e: e.update(extra=1), "extra"),
    ("nonce str", lambda e: e.update(nonce="1"), "nonce"),
    ("nonce float", lambda e: e.update(nonce=1.0), "nonce"),
    ("nonce bool", lambda e: e.update(nonce=True), "nonce"),
    ("nonce negative", lambda e: e.update(nonce=-1), "nonce"),
    ("nonce 2^63", lambda e: e.update(nonce=2**63), "nonce"),
    ("nonce huge", lambda e: e.update(nonce=10**30), "nonce"),
    ("args list", lambda e: e.update(args=[]), "args"),
    ("args str", lambda e: e.update(args="{}"), "args"),
    ("chain_id empty", lambda e: e.update(chain_id=""), "chain_id"),
    ("chain_id long", lambda e: e.update(chain_id="x" * 65), "chain_id"),
    ("contract null", lambda e: e.update(contract=None), "contract"),
    ("method int", lambda e: e.update(method=7), "method"),
    ("sender non-hex", lambda e: e.update(sender="zz" * 32), "sender"),
    ("sender short", lambda e: e.update(sender="ab" * 31), "sender"),
    ("sender 0x", lambda e: e.update(sender="0x" + "ab" * 31), "sender"),
    ("sender bytes list", lambda e: e.update(sender=[1, 2]), "sender"),
    ("signature non-hex", lambda e: e.update(signature="g" * 128), "signature"),
    ("signature short", lambda e: e.update(signature="ab" * 63), "signature"),
]


async def test_invalid_envelope(h: Harness) -> None:
    problems = []
    for case, mutate, where in ENVELOPE_CASES:
        env = _envelope(h)
        mutate(env)
        status, out = await h.post(env)
        problem = error_problem(status, out, 400, "invalid_envelope")
        if problem is None and not out["error"]["message"].startswith(where):
            problem = f"message does not name {where!r}: {out}"
        if problem:
            problems.append(f"{case}: {problem}")
    for body in ["[]", "null", "1", '"tx"', "true"]:
        status, out = await h.post(body)
        problem = error_problem(status, out, 400, "invalid_envelope")
        if problem:
            problems.append(f"body {body}: {problem}")
    assert not problems, "\n".join(problems)
    assert len(h.node.mempool) == 0


async def test_args_without_canonical_encoding(h: Harness) -> None:
    for value, what in [(1.5, "floats"), (float("inf"), "floats"), (2**64, "64-bit"),
                        (-(2**63) - 1, "64-bit")]:
        env = _envelope(h)
        env["args"] = {"amount": value}
        status, out = await h.post(json.dumps(env))
        assert_error(status, out, 400, "bad_encoding")
        assert what in out["error"]["message"], out


async def test_transaction_over_64k_is_refused(h: Harness) -> None:
    env = _envelope(h)
    env["args"] = {"memo": "x" * (70 * 1024)}
    status, out = await h.post(env)
    assert_error(status, out, 400, "invalid_transaction")
    assert "exceeds" in out["error"]["message"]


async def test_bad_signature(h: Harness) -> None:
    env = _envelope(h)
    env["signature"] = "00" * 64
    status, out = await h.post(env)
    assert_error(status, out, 400, "bad_signature")
    # a correct signature over different fields
    env = _envelope(h)
    env["args"] = dict(env["args"], amount=env["args"]["amount"] + 1)
    status, out = await h.post(env)
    assert_error(status, out, 400, "bad_signature")
    # a sender that is not a valid Ed25519 point
    env = _envelope(h)
    env["sender"] = "ff" * 32
    status, out = await h.post(env)
    assert_error(status, out, 400, "bad_signature")
    assert len(h.node.mempool) == 0


async def test_wrong_chain(h: Harness) -> None:
    tx = h.tx("usd_issuer", "settlement", "issue",
              {"currency": "USD", "to": h.ids["exporter"].public_key.hex(), "amount": 1},
              chain_id="another-chain")
    status, out = await h.post(tx)
    assert_error(status, out, 400, "wrong_chain")


async def test_admission_errors(h: Harness) -> None:
    to = h.ids["importer"].public_key.hex()
    cases = [
        ("outsider", "settlement", "transfer", {"currency": "USD", "amount": 1},
         "unknown_sender"),
        ("exporter", "no_such_contract", "x", {}, "unknown_contract"),
        ("exporter", "settlement", "no_such_method", {}, "unknown_method"),
        ("auditor", "trade_documents", "register", {}, "forbidden"),
        ("exporter", "governance", "register_identity", {}, "forbidden"),
        ("usd_issuer", "settlement", "issue", {"currency": "USD"}, "missing_field"),
        ("usd_issuer", "settlement", "issue",
         {"currency": "USD", "to": to, "amount": 1, "memo": "x"}, "unknown_field"),
        ("usd_issuer", "settlement", "issue", {"currency": "USD", "to": to, "amount": -5},
         "bad_field"),
    ]
    problems = []
    for who, contract, method, args, code in cases:
        status, out = await h.post(h.tx(who, contract, method, args))
        problem = error_problem(status, out, 400, code)
        if problem:
            problems.append(f"{who} {contract}.{method}: {problem}")
    assert not problems, "\n".join(problems)
    assert len(h.node.mempool) == 0


async def test_reused_nonce_and_duplicates(h: Harness) -> None:
    tx = h.issue(nonce=42)
    await h.commit(tx)
    # the same tx again: committed already
    status, out = await h.post(tx)
    assert_error(status, out, 409, "duplicate")
    # another tx with the committed nonce
    status, out = await h.post(h.issue(amount=7, nonce=42))
    assert_error(status, out, 409, "nonce_reused")
    # a pending tx (no wait), then the same again and another with its nonce
    pending = h.issue(nonce=43)
    status, _ = await h.post(pending, wait=False)
    assert status == 202
    status, out = await h.post(pending, wait=False)
    assert_error(status, out, 409, "duplicate")
    status, out = await h.post(h.issue(amount=9, nonce=43), wait=False)
    assert_error(status, out, 409, "nonce_in_use")


async def test_body_too_large(h: Harness) -> None:
    status, out = await h.post(b'{"a": "' + b"x" * (1024 * 1024) + b'"}')
    assert_error(status, out, 413, "body_too_large")
    assert "1048576" in out["error"]["message"]


# --------------------------------------------------------------------------- routing errors


async def test_unknown_route_is_json_404(h: Harness) -> None:
    for path in ["/nope", "/v1", "/v1/", "/v1/tx/", "/v1/blocks", "/v1/state/settlement",
                 "/v2/status", "/openapi.yaml", "/v1/tx/" + "00" * 32 + "/x"]:
        status, out = await h.get(path)
        assert_error(status, out, 404, "not_found")
        assert path in out["error"]["message"]


async def test_wrong_method_is_json_405(h: Harness) -> None:
    for method, path, allow in [("GET", "/v1/tx", "POST"), ("DELETE", "/v1/tx", "POST"),
                                ("POST", "/v1/status", "GET"), ("PUT", "/v1/blocks/1", "GET"),
                                ("POST", "/metrics", "GET"), ("PATCH", "/", "GET")]:
        async with h.http.request(method, path) as r:
            out = await _json(r)
            assert_error(r.status, out, 405, "method_not_allowed")
            assert allow in r.headers["Allow"], (method, path, r.headers)


async def test_internal_error_is_json_500(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(h.node.ledger, "state_value", boom)
    status, out = await h.get("/v1/state/settlement/x")
    assert_error(status, out, 500, "internal")
    assert "fire" not in out["error"]["message"]  # internals stay in the log


# --------------------------------------------------------------------------- GET routes


async def test_get_tx_errors(h: Harness) -> None:
    status, out = await h.get("/v1/tx/" + "00" * 32)
    assert_error(status, out, 404, "not_found")
    for bad in ["zz", "00" * 31, "00" * 33, "0" * 63]:
        status, out = await h.get("/v1/tx/" + bad)
        assert_error(status, out, 400, "bad_request")


async def test_blocks(h: Harness) -> None:
    status, out = await h.get("/v1/blocks/latest")
    assert status == 200 and out["height"] == 0 and out["genesis"] is True
    t1, t2 = h.issue(1), h.issue(2)
    await h.commit(t1)
    await h.commit(t2)
    status, latest = await h.get("/v1/blocks/latest")
    assert status == 200 and latest["height"] == 2
    status, b2 = await h.get("/v1/blocks/2")
    assert status == 200 and b2 == latest
    assert set(b2) == {"height", "hash", "header", "tx_ids", "txs", "receipts", "certificate"}
    assert b2["tx_ids"] == [t2.tx_id.hex()]
    assert b2["txs"][0] == t2.to_json()
    assert b2["receipts"][0]["status"] == "committed"
    assert b2["header"]["height"] == 2 and b2["header"]["tx_count"] == 1
    status, b1 = await h.get("/v1/blocks/1")
    assert b2["header"]["prev_hash"] == b1["hash"]
    cert = b2["certificate"]
    assert cert["height"] == 2 and cert["block_hash"] == b2["hash"]
    assert len(cert["votes"]) >= 3  # quorum(4)


async def test_block_bad_or_missing_height(h: Harness) -> None:
    problems = []
    for bad in ["-1", "abc", "1.0", "1e3", "0x1", "+1", "%201", "1_0", "%D9%A1", "%EF%BC%91",
                "99999999999999999999999", str(2**63), str(2**64), "latest2", "LATEST"]:
        status, out = await h.get("/v1/blocks/" + bad)
        problem = error_problem(status, out, 400, "bad_request")
        if problem:
            problems.append(f"{bad}: {problem}")
    for missing in ["0", "1", "999", "007", str(2**63 - 1)]:
        status, out = await h.get("/v1/blocks/" + missing)
        problem = error_problem(status, out, 404, "not_found")
        if problem:
            problems.append(f"{missing}: {problem}")
    assert not problems, "\n".join(problems)


async def test_state(h: Harness) -> None:
    exporter = h.ids["exporter"].public_key.hex()
    status, out = await h.get(f"/v1/state/settlement/bal/{exporter}/USD")
    assert_error(status, out, 404, "not_found")
    await h.commit(h.issue(300))
    status, out = await h.get(f"/v1/state/settlement/bal/{exporter}/USD")
    assert (status, out) == (200, {"contract": "settlement", "key": f"bal/{exporter}/USD",
                                   "value": 300, "height": 1})
    status, out = await h.get("/v1/state/settlement/supply/USD")
    assert status == 200 and out["value"] == {"issued": 300, "redeemed": 0}
    status, out = await h.get("/v1/state/governance/validators")
    assert status == 200
    assert sorted(out["value"]) == sorted(nd.identity.public_key.hex() for nd in h.nodes)
    status, out = await h.get("/v1/state/nope/%00%ff%E2%82%AC")
    assert_error(status, out, 404, "not_found")
    for route in ("/v1/state", "/v1/proofs/state"):
        for contract in ["c" * 65, "settlement%2Fsupply"]:  # no contract has such a name
            status, out = await h.get(f"{route}/{contract}/USD")
            assert_error(status, out, 400, "bad_request")


async def test_status(h: Harness) -> None:
    await h.commit(h.issue())
    status, st = await h.get("/v1/status")
    assert status == 200
    assert {"node_id", "chain_id", "height", "view", "primary", "validators", "peers"} <= set(st)
    assert st["node_id"] == "node0" and st["chain_id"] == h.chain_id
    assert st["ledger_format"] == 2  # what a new chain is (decision 95)
    assert st["compiled"] is (not str(smt.__file__).endswith(".py"))  # what runs (decision 96)
    assert st["c_tree_update"] is compiled.status()["c_tree_update"]
    assert st["height"] == 1 and st["view"] == 0
    assert st["public_key"] == h.node.identity.public_key.hex()
    assert st["validator"] is True and st["mempool"] == 0
    keys = sorted(nd.identity.public_key.hex() for nd in h.nodes)
    assert st["primary"] in keys
    assert sorted(st["validators"]) == keys
    assert sorted(st["peers"]) == sorted(k for k in keys if k != st["public_key"])
    assert re.fullmatch(r"[0-9a-f]{64}", st["block_hash"])
    assert re.fullmatch(r"[0-9a-f]{64}", st["state_root"])


async def test_healthz(h: Harness) -> None:
    status, out = await h.get("/healthz")
    assert (status, out["ok"], out["height"]) == (200, True, 0)
    q = out["quorum"]  # four validators linked: a quorum of 3 reached (decision 174)
    assert (q["ok"], q["validators_reached"], q["quorum"], q["lost_since_ms"]) == \
        (True, 4, 3, None)


async def test_pending_tx_whose_nonce_another_commits_is_dropped(h: Harness) -> None:
    # the same (sender, nonce) with other args, admitted by two nodes at once: one commits, the
    # other can never commit and must leave every mempool, its waiters told nonce_reused
    a = h.issue(amount=1, nonce=900)
    b = h.issue(amount=2, nonce=900)
    rest = asyncio.ensure_future(h.post(a))  # node 0, wait=commit
    fb = h.nodes[1].wait_for(b.tx_id)
    h.nodes[1].admit(b)
    status, out = await asyncio.wait_for(rest, 30)
    try:
        await asyncio.wait_for(asyncio.shield(fb), 30)
        b_won = True
    except InvalidTransaction as e:
        assert e.code == "nonce_reused", e
        b_won = False
    if b_won:  # a was dropped when b committed, or refused at once if b's gossip reached
        # node 0 first (it leaves with node 1's next consensus broadcast: decision 88)
        assert status == 409 and out["error"]["code"] in ("nonce_reused", "nonce_in_use"), out
    else:
        assert status == 200 and out["status"] == "committed", out
    for _ in range(500):  # the other nodes drop their copies when they commit the block (up
        # to 10 s: a loaded CI machine; the loop ends as soon as they have)
        if all(a.tx_id not in n.mempool and b.tx_id not in n.mempool for n in h.nodes):
            break
        await asyncio.sleep(0.02)
    assert all(a.tx_id not in n.mempool and b.tx_id not in n.mempool for n in h.nodes)


async def test_pending_tx_the_committed_state_no_longer_admits_is_dropped(h: Harness) -> None:
    # as if admitted just before a block removed its sender's right to send it (a role change
    # committed meanwhile): the primary leaves it out of every block; it must leave every
    # mempool, its waiter told why, and not keep the replicas' view-change timers running
    await h.commit(h.issue(5))
    stuck = h.tx("outsider", "settlement", "transfer",
                 {"currency": "USD", "to": h.ids["exporter"].public_key.hex(), "amount": 1})
    fut = h.node.wait_for(stuck.tx_id)
    for nd in h.nodes:
        nd.mempool.add(stuck)
        nd.admission.admitted_at[stuck.tx_id] = time.perf_counter()
        nd.admission.pending_changed()
    with pytest.raises(InvalidTransaction) as e:
        await asyncio.wait_for(fut, 5)
    assert e.value.code == "unknown_sender" and "no longer admissible" in str(e.value)
    for _ in range(100):
        if all(stuck.tx_id not in nd.mempool for nd in h.nodes):
            break
        await asyncio.sleep(0.02)
    assert all(stuck.tx_id not in nd.mempool for nd in h.nodes)
    assert all(nd.stats["pending_dropped_inadmissible"] == 1 for nd in h.nodes)
    await asyncio.sleep(1.5)  # longer than the first view-change timeout (1 s)
    assert [nd.view for nd in h.nodes] == [0, 0, 0, 0]
    assert (await h.commit(h.issue(6)))["status"] == "committed"  # the chain goes on


async def test_drop_inadmissible_spares_young_in_flight_and_admissible(h: Harness) -> None:
    nd = h.node
    good = h.issue(7)
    bad = [h.tx("outsider", "settlement", "transfer",
                {"currency": "USD", "to": h.ids["exporter"].public_key.hex(), "amount": n})
           for n in (1, 2, 3)]
    t = time.perf_counter()
    for i, tx in enumerate([good, *bad]):  # admitted at t, t+1, t+2, t+3 in this test's clock
        nd.mempool.add(tx)
        nd.admission.admitted_at[tx.tx_id] = t + i
    nd.admission.in_flight.add(bad[0].tx_id)  # proposed: its block decides, not the sweep
    try:
        assert nd.admission.drop_inadmissible(t + 1.5) == 0  # bad[0] is in a proposal, the rest younger
        assert nd.admission.drop_inadmissible(t + 10) == 2  # bad[1] and bad[2]
        assert good.tx_id in nd.mempool and bad[0].tx_id in nd.mempool
        assert bad[1].tx_id not in nd.mempool and bad[2].tx_id not in nd.mempool
        assert bad[1].tx_id not in nd.admission.admitted_at
        assert not nd.mempool.seen(bad[1].tx_id)  # not a "duplicate" if it becomes admissible
        nd.admission.admitted_at = {b"\0" * 32: t - 1, **nd.admission.admitted_at}  # an entry with no pending tx
        assert nd.admission.drop_inadmissible(t + 10) == 0 and b"\0" * 32 not in nd.admission.admitted_at
    finally:
        nd.admission.in_flight.discard(bad[0].tx_id)


async def test_overloaded_network_refuses_new_transactions_at_once(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from node import admission

    monkeypatch.setattr(admission, "SWEEP_IDLE_S", 3600.0)  # keep the unproposable backlog below
    nd = h.node
    await h.commit(h.issue(3))
    assert 0 < nd.admission.commit_lag_s < admission.OVERLOAD_LAG_S  # measured from the block just committed
    async with h.http.get("/metrics") as r:
        assert f"chainfin_commit_lag_seconds {nd.admission.commit_lag_s}" in await r.text()
    # a queue of a block's worth that takes longer than the bound to commit: refused at once
    backlog = [h.tx("outsider", "settlement", "transfer",
                    {"currency": "USD", "to": h.ids["exporter"].public_key.hex(), "amount": n})
               for n in range(1, h.genesis.params.max_block_txs + 1)]
    for tx in backlog:
        nd.mempool.add(tx)
    nd.admission.commit_lag_s = admission.OVERLOAD_LAG_S + 1
    t0 = time.perf_counter()
    async with h.http.post("/v1/tx?wait=commit", data=json.dumps(h.issue(4).to_json()),
                           headers={"Content-Type": "application/json"}) as r:
        status, out, retry = r.status, await r.json(), r.headers.get("Retry-After")
    assert time.perf_counter() - t0 < 5.0
    assert_error(status, out, 503, "overloaded")
    assert retry == "1" and "overloaded" in out["error"]["message"]
    # a short queue always drains, whatever the last block said: never a deadlock
    nd.mempool.remove([t.tx_id for t in backlog[1:]], committed=False)
    assert not nd.admission.overloaded()
    assert (await h.commit(h.issue(5)))["status"] == "committed"
    assert nd.admission.commit_lag_s < admission.OVERLOAD_LAG_S  # the next block measured the queue again


async def _stream_answers(ws: Any, n: int) -> dict[int, dict[str, Any]]:
    got: dict[int, dict[str, Any]] = {}
    while len(got) < n:
        msg = await asyncio.wait_for(ws.receive(), 20)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        batch = json.loads(msg.data)
        assert isinstance(batch, list) and batch
        for a in batch:
            assert a["seq"] not in got
            got[a["seq"]] = a
    return got


async def test_tx_stream_answers_every_message(h: Harness) -> None:
    good = [h.issue(amount=a) for a in (1, 2, 3)]
    bad_sig = h.issue().to_json()
    bad_sig["signature"] = "00" * 64
    async with h.http.ws_connect("/v1/tx/stream") as ws:
        await ws.send_str(json.dumps(good[0].to_json()))
        await ws.send_str("{not json")
        await ws.send_str(json.dumps(bad_sig))
        await ws.send_str(json.dumps(good[1].to_json()))
        await ws.send_str(json.dumps({"chain_id": h.chain_id}))
        await ws.send_str(json.dumps(good[1].to_json()))  # again: a duplicate
        await ws.send_bytes(b"binary frames are not envelopes: ignored, no seq")
        await ws.send_str(json.dumps(good[2].to_json()))
        got = await _stream_answers(ws, 7)
    assert sorted(got) == list(range(7))
    for seq, tx in ((0, good[0]), (3, good[1]), (6, good[2])):
        assert got[seq]["status"] == "committed" and got[seq]["tx_id"] == tx.tx_id.hex()
        assert got[seq]["height"] >= 1 and "result" in got[seq], got[seq]
    assert got[1]["status"] == "refused" and got[1]["error"]["code"] == "malformed_json"
    assert got[1]["http_status"] == 400
    assert got[2]["error"]["code"] == "bad_signature"
    assert got[4]["error"]["code"] == "invalid_envelope"
    assert got[5]["error"]["code"] == "duplicate" and got[5]["http_status"] == 409
    # the REST view agrees, and nothing is left waiting
    status, out = await h.get(f"/v1/tx/{good[2].tx_id.hex()}")
    assert status == 200 and out["status"] == "committed"
    assert not h.node.waiters


async def test_tx_stream_takes_arrays_of_envelopes(h: Harness, monkeypatch) -> None:
    monkeypatch.setattr(api, "STREAM_MAX_BATCH", 3)
    good = [h.issue(amount=a) for a in (1, 2, 3, 4)]
    bad_sig = h.issue().to_json()
    bad_sig["signature"] = "00" * 64
    async with h.http.ws_connect("/v1/tx/stream") as ws:
        # seq 0..2: one message, three envelopes (one of them refused)
        await ws.send_str(json.dumps([good[0].to_json(), bad_sig, good[1].to_json()]))
        await ws.send_str("[]")  # no envelopes: no seq, no answer
        await ws.send_str("[{broken")  # not JSON: one seq (3)
        await ws.send_str(json.dumps(good[3].to_json()))  # seq 4: a lone envelope still works
        await ws.send_str(json.dumps([good[2].to_json(), "not an envelope"]))  # seq 5, 6
        got = await _stream_answers(ws, 7)
    assert sorted(got) == list(range(7))
    for seq, tx in ((0, good[0]), (2, good[1]), (4, good[3]), (5, good[2])):
        assert got[seq]["status"] == "committed" and got[seq]["tx_id"] == tx.tx_id.hex(), got
    assert got[1]["error"]["code"] == "bad_signature" and got[1]["http_status"] == 400
    assert got[3]["error"]["code"] == "malformed_json"
    assert got[6]["error"]["code"] == "invalid_envelope"
    assert not h.node.waiters


async def test_tx_stream_closes_on_an_oversized_array(h: Harness, monkeypatch) -> None:
    """An array over the limit is a protocol violation, not one refusal per item: a 1 MiB
    message of tiny items would otherwise cost the node ~500,000 answers."""
    monkeypatch.setattr(api, "STREAM_MAX_BATCH", 3)
    tx = h.issue(amount=9)
    async with h.http.ws_connect("/v1/tx/stream") as ws:
        await ws.send_str(json.dumps([tx.to_json()] + [1] * 3))
        msg = await asyncio.wait_for(ws.receive(), 20)
        assert msg.type == aiohttp.WSMsgType.CLOSE, msg
        assert msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        assert "at most 3 envelopes" in msg.extra
    assert tx.tx_id not in h.node.mempool  # nothing of that message was admitted
    async with h.http.ws_connect("/v1/tx/stream") as ws:  # a new socket serves again
        await ws.send_str(json.dumps([tx.to_json()]))
        got = await _stream_answers(ws, 1)
    assert got[0]["status"] == "committed"


async def test_gossip_waits_longer_only_while_the_mempool_is_busy(h: Harness,
                                                                  monkeypatch) -> None:
    from node import admission

    monkeypatch.setattr(admission, "GOSSIP_BUSY_PENDING", 2)
    quiet = h.issue(amount=1)
    await h.commit(quiet)
    assert h.node.gossip.delay == admission.GOSSIP_DELAY_S
    first, second = h.issue(amount=2), h.issue(amount=3)
    h.node.admit(first)  # one pending (itself): not busy
    assert h.node.gossip.delay == admission.GOSSIP_DELAY_S
    h.node.admit(second)  # two pending: busy
    assert h.node.gossip.delay == admission.GOSSIP_DELAY_BUSY_S
    for _ in range(500):  # both commit on every node
        if all(n.ledger.tx_location(t.tx_id) is not None and not len(n.mempool)
               for n in h.nodes for t in (first, second)):
            break
        await asyncio.sleep(0.01)
    assert h.node.ledger.tx_location(second.tx_id) is not None
    await h.commit(h.issue(amount=4))  # the backlog is gone: back to the short wait
    assert h.node.gossip.delay == admission.GOSSIP_DELAY_S


async def test_tx_stream_survives_an_internal_error(h: Harness, monkeypatch) -> None:
    def broken(tx: Transaction) -> None:
        raise RuntimeError("a bug")

    tx = h.issue(amount=3)
    async with h.http.ws_connect("/v1/tx/stream") as ws:
        monkeypatch.setattr(h.node, "admit", broken)
        await ws.send_str(json.dumps(tx.to_json()))
        first = await _stream_answers(ws, 1)
        monkeypatch.undo()
        await ws.send_str(json.dumps(tx.to_json()))  # the same socket still serves
        second = await _stream_answers(ws, 1)
    assert first[0]["status"] == "refused" and first[0]["http_status"] == 500
    assert first[0]["error"]["code"] == "internal"
    assert second[1]["status"] == "committed", second
    assert tx.tx_id not in h.node.waiters


async def test_tx_stream_limits_and_cleans_up(h: Harness, monkeypatch) -> None:
    monkeypatch.setattr(api, "STREAM_MAX_PENDING", 1)
    monkeypatch.setattr(api, "WAIT_TIMEOUT_S", 0.3)
    # the second message arrives while the first transaction still waits for its block
    first, second = h.issue(amount=5), h.issue(amount=6)
    async with h.http.ws_connect("/v1/tx/stream") as ws:
        await ws.send_str(json.dumps(first.to_json()))
        await ws.send_str(json.dumps(second.to_json()))
        got = await _stream_answers(ws, 2)
    assert got[0]["status"] in ("committed", "pending"), got[0]
    if got[0]["status"] == "pending":
        assert got[0]["error"]["code"] == "timeout"
    assert got[1]["status"] == "refused" and got[1]["error"]["code"] == "stream_full"
    assert got[1]["http_status"] == 429
    # a client that leaves with transactions still waiting leaves no waiter behind
    third = h.issue(amount=7)
    async with h.http.ws_connect("/v1/tx/stream") as ws:
        await ws.send_str(json.dumps(third.to_json()))
    for _ in range(100):  # the handler's cleanup runs once it sees the close
        if third.tx_id not in h.node.waiters:
            break
        await asyncio.sleep(0.02)
    assert third.tx_id not in h.node.waiters


async def test_metrics(h: Harness) -> None:
    await h.commit(h.issue())
    await h.post(b"not json")
    await h.get("/v1/tx/zz")
    async with h.http.get("/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await r.text()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert samples["chainfin_height"] == 1
    assert samples["chainfin_txs_committed_total"] == 1
    assert samples["chainfin_blocks_committed_total"] == 1
    assert samples['chainfin_http_errors_total{code="malformed_json"}'] == 1
    assert samples['chainfin_tx_refused_total{code="malformed_json"}'] == 1
    assert samples['chainfin_http_errors_total{code="bad_request"}'] == 1
    # a bad GET parameter is an HTTP error, not a refused transaction
    assert 'chainfin_tx_refused_total{code="bad_request"}' not in samples
    assert samples["chainfin_peers_connected"] == N_VALIDATORS - 1
    assert samples["chainfin_compiled"] == (0 if str(smt.__file__).endswith(".py") else 1)
    assert samples['chainfin_gc_pause_seconds_count{generation="0"}'] >= 0
    # the one block's phases on this node (decision 98), each timed once
    for ph in ("execute", "prepare", "commit", "apply"):
        assert samples[f'chainfin_block_phase_seconds_count{{phase="{ph}"}}'] == 1, ph
        assert samples[f'chainfin_block_phase_seconds_sum{{phase="{ph}"}}'] >= 0, ph
    assert any(k.startswith("chainfin_finality_seconds_bucket") for k in samples)
    # CPU by stage: every stage is exported; admitting and committing a transaction took some
    cpu = {k.split('"')[1]: v for k, v in samples.items()
           if k.startswith("chainfin_cpu_seconds_total{")}
    assert set(cpu) == {*CPU_STAGES, "other", "background"}
    assert cpu["admit"] > 0 and cpu["commit"] > 0 and all(v >= 0 for v in cpu.values())
    assert any(k.startswith("chainfin_consensus_total{") for k in samples)


async def test_nonce(h: Harness) -> None:
    sender = h.ids["usd_issuer"].public_key.hex()
    status, out = await h.get(f"/v1/nonce/{sender}")
    assert (status, out) == (200, {"sender": sender, "next": 1})
    await h.commit(h.issue(nonce=5))
    status, out = await h.get(f"/v1/nonce/{sender}")
    assert out["next"] == 6
    await h.post(h.issue(nonce=9), wait=False)  # pending ones count too
    status, out = await h.get(f"/v1/nonce/{sender.upper()}")
    assert (status, out) == (200, {"sender": sender, "next": 10})
    for bad in ["zz", "00" * 31]:
        status, out = await h.get(f"/v1/nonce/{bad}")
        assert_error(status, out, 400, "bad_request")


async def test_sync_blocks(h: Harness) -> None:
    from chainfin import codec

    for _ in range(3):
        await h.commit(h.issue())
    async with h.http.get("/v1/sync/blocks", params={"from": "2", "max": "5"}) as r:
        assert r.status == 200 and r.content_type == "application/msgpack"
        records = codec.decode(await r.read())
    assert [codec.decode(x)["block"]["header"]["height"] for x in records] == [2, 3]
    for query in ["from=0", "from=-1", "from=abc", f"from={2**64}", "max=0", "max=x",
                  "from=%201"]:
        status, out = await h.get("/v1/sync/blocks?" + query)
        assert_error(status, out, 400, "bad_request")


async def test_next_nonce_is_usable_after_the_largest_nonce(h: Harness) -> None:
    await h.commit(h.issue(nonce=2**63 - 1))
    sender = h.ids["usd_issuer"].public_key.hex()
    status, out = await h.get(f"/v1/nonce/{sender}")
    assert status == 200
    assert 0 < out["next"] < 2**63, out  # never the first nonce past the 64-bit range
    await h.commit(h.issue(nonce=out["next"]))


# --------------------------------------------------------------------------- SSE


async def test_head_of_the_event_stream_is_the_headers_alone(h: Harness) -> None:
    """HEAD /v1/events answers the stream's headers and ends: it used to write the stream's
    first bytes into a response that has no body (the client read them as the status line of
    its next response on the connection) and kept a subscriber until a write failed."""
    for path in ("/v1/events", "/v1/state/../events"):  # (the client resolves the dot segment)
        async with h.http.request("HEAD", path) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/event-stream")
            assert await r.read() == b""
        status, out = await h.get("/v1/status")  # the same keep-alive connection still works
        assert status == 200 and out["height"] >= 0
    assert h.node.subscribers == set()


async def test_events_stream_delivers_committed_block(h: Harness) -> None:
    async with h.http.get("/v1/events") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        first = await asyncio.wait_for(r.content.readline(), 5)
        assert first == b": connected\n"
        tx = h.issue(77)
        out = await h.commit(tx)
        lines: list[bytes] = []
        while True:
            line = await asyncio.wait_for(r.content.readline(), 5)
            if line == b"\n" and lines:
                break
            if line != b"\n":
                lines.append(line)
    assert lines[0] == b"event: block\n"
    assert lines[1].startswith(b"data: ")
    ev = json.loads(lines[1][len(b"data: "):])
    assert ev["type"] == "block" and ev["height"] == out["height"] and ev["txs"] == 1
    assert re.fullmatch(r"[0-9a-f]{64}", ev["hash"])
    (issued,) = [e for e in ev["events"] if e["name"] == "issued"]
    assert issued["contract"] == "settlement"
    assert h.node.subscribers == set() or len(h.node.subscribers) <= 1


# --------------------------------------------------------------------------- proofs


async def test_tx_proof_verifies_offline(h: Harness) -> None:
    txs = [h.issue(10), h.issue(20)]
    for tx in txs:
        await h.post(tx, wait=False)
    await h.commit(h.issue(30))
    for tx in txs:
        status, doc = await h.get(f"/v1/proofs/tx/{tx.tx_id.hex()}")
        assert status == 200
        v = proofs.verify_proof(h.genesis, json.loads(json.dumps(doc)))
        assert v.kind == proofs.TX_PROOF and v.tx_id == tx.tx_id
        assert v.chain_id == h.chain_id and v.height == h.node.ledger.tx_location(tx.tx_id)[0]
    # a rejected transaction is in its block too, and its proof shows the refusal (format 2)
    over = h.tx("exporter", "settlement", "transfer",
                {"to": h.ids["importer"].public_key.hex(), "currency": "USD", "amount": 10**12})
    assert (await h.commit(over))["status"] == "rejected"
    status, doc = await h.get(f"/v1/proofs/tx/{over.tx_id.hex()}")
    v = proofs.verify_proof(h.genesis, json.loads(json.dumps(doc)))
    assert h.genesis.params.ledger_format == 2 and v.receipt["status"] == "rejected"
    assert v.receipt["error"]["code"] == "insufficient_funds"
    assert "outcome:        rejected: insufficient_funds (" in "\n".join(v.lines())
    doc["receipt"]["status"] = "committed"  # a refusal cannot be shown as a success
    with pytest.raises(proofs.ProofError, match="receipt does not match"):
        proofs.verify_proof(h.genesis, doc)
    status, out = await h.get("/v1/proofs/tx/" + "00" * 32)
    assert_error(status, out, 404, "not_found")
    status, out = await h.get("/v1/proofs/tx/xyz")
    assert_error(status, out, 400, "bad_request")


async def test_state_proof_verifies_offline(h: Harness) -> None:
    status, out = await h.get("/v1/proofs/state/settlement/supply/USD")
    assert_error(status, out, 404, "not_found")  # nothing committed yet
    await h.commit(h.issue(123))
    exporter = h.ids["exporter"].public_key.hex()
    status, doc = await h.get(f"/v1/proofs/state/settlement/bal/{exporter}/USD")
    assert status == 200
    v = proofs.verify_proof(h.genesis, doc)
    assert v.kind == proofs.STATE_PROOF and v.present is True and v.value == 123
    assert (v.contract, v.key, v.height) == ("settlement", f"bal/{exporter}/USD", 1)
    status, doc = await h.get("/v1/proofs/state/settlement/bal/nobody/USD")
    assert status == 200
    v = proofs.verify_proof(h.genesis, doc)
    assert v.present is False and v.value is None
    # a tampered value does not verify
    status, doc = await h.get(f"/v1/proofs/state/settlement/bal/{exporter}/USD")
    doc["value"] = 124
    with pytest.raises(proofs.ProofError):
        proofs.verify_proof(h.genesis, doc)


# --------------------------------------------------------------------------- OpenAPI


def _router_paths(app: web.Application) -> set[str]:
    out = set()
    for res in app.router.resources():
        info = res.get_info()
        path = info.get("path") or info.get("formatter")
        assert path, info
        out.add(re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path))
    return out


def _router_methods(app: web.Application) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info()  # type: ignore[union-attr]
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", info.get("path") or info.get("formatter"))
        out.add((route.method.lower(), path))
    return out


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _refs(v: Any) -> list[str]:
    if isinstance(v, dict):
        return ([v["$ref"]] if isinstance(v.get("$ref"), str) else []) + [
            r for x in v.values() for r in _refs(x)]
    if isinstance(v, list):
        return [r for x in v for r in _refs(x)]
    return []


async def test_openapi_lists_every_route_and_is_valid(h: Harness) -> None:
    status, doc = await h.get("/openapi.json")
    assert status == 200
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    app = h.http.server.app
    assert app is not None
    served = _router_methods(app)
    listed = {(m, p) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    assert served <= listed, f"served but not in /openapi.json: {sorted(served - listed)}"
    assert _router_paths(app) <= set(doc["paths"])
    extra = {p for _, p in listed} - _router_paths(app) - {"/v1/blocks/latest"}
    assert not extra, f"documented but not served: {extra}"
    for ref in _refs(doc):
        _resolve(doc, ref)
    for path, ops in doc["paths"].items():
        assert path.startswith("/")
        templated = set(re.findall(r"\{(\w+)\}", path))
        for method, op in ops.items():
            assert method in {"get", "post", "put", "delete", "patch", "head", "options"}
            assert op["responses"] and op["summary"]
            assert op.get("operationId"), (method, path)
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == templated, (method, path, declared)
            for p in op.get("parameters", []):
                assert p["in"] in {"path", "query", "header", "cookie"}
                if p["in"] == "path":
                    assert p["required"] is True
                assert "schema" in p
            for code in op["responses"]:
                assert re.fullmatch(r"[1-5](\d\d|XX)|default", code), code
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


async def test_openapi_with_openapi_spec_validator(h: Harness) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    status, doc = await h.get("/openapi.json")
    validator.validate(doc)


async def test_explorer_page(h: Harness) -> None:
    async with h.http.get("/") as r:
        assert r.status == 200 and r.content_type == "text/html"
        assert "/v1/status" in await r.text()
