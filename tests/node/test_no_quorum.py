"""What a client, a load balancer and a monitor are told while a node reaches fewer validators
than a quorum (decision 174): ``202 pending`` with ``no_quorum`` (how many it reaches, how many
a quorum is, since when), early instead of after the whole 30 s wait; ``/readyz`` 503;
``quorum`` in ``/healthz`` and ``/v1/status``; ``chainfin_quorum_*`` metrics. The transaction
is admitted, and commits once the quorum is back.

Before: the wait ran its 30 s and the answer was ``timeout`` ("not final within the wait
time"), though the node knew it was linked to fewer validators than a quorum."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chainfin.client import cli_tx_send, pending_reason, signed_headers
from chainfin.consensus.quorum import quorum
from chainfin.crypto import load_identity, save_identity
from chainfin.types import Transaction
from node import api
from node.reach import QuorumWatch, Reach, no_quorum_error, node_reach, reach_of
from testnet.launch import Manifest, Testnet
from tests.fixtures import Harness, until

A, B, C, D, E = (bytes([i]) * 32 for i in range(1, 6))


def _reach(validator: bool = True, reached: int = 2, n: int = 4, q: int = 3,
           since: int | None = 1_796_000_000_000, lost_for: float = 6.0) -> Reach:
    return Reach(validator=validator, reached=reached, validators=n, quorum=q,
                 lost_since_ms=since, lost_for_s=lost_for, lost_long=lost_for >= 5.0, view=0,
                 view_change=False,
                 last_commit_age_s=None)


# ------------------------------------------------------------------ the reason, unit


def test_reach_counts_itself_and_linked_members_only() -> None:
    assert reach_of(A, [A, B, C, D], [B]) == (True, 2, 4)
    # a link to a node outside the set (a removed validator, an observer) does not count
    assert reach_of(A, [A, B, C, D], [B, E]) == (True, 2, 4)
    assert reach_of(A, [A, B, C, D], [B, C, D]) == (True, 4, 4)
    # an observer reaches only its links
    assert reach_of(E, [A, B, C, D], [A]) == (False, 1, 4)


def test_no_quorum_error_states_the_figures_and_since_when() -> None:
    err = no_quorum_error(_reach())
    assert err is not None
    assert (err["code"], err["validators_reached"], err["quorum"], err["validators"],
            err["since_ms"]) == ("no_quorum", 2, 3, 4, 1_796_000_000_000)
    msg = err["message"]
    assert "reaches 2 of the 4 validators" in msg and "a quorum is 3" in msg
    assert "since 2026-11-30T" in msg  # the outage's start, UTC
    assert "admitted and commits then" in msg  # not a refusal
    # a quorum reached, or an observer (it does not vote): no reason to give
    assert no_quorum_error(_reach(reached=3, since=None, lost_for=0.0)) is None
    assert no_quorum_error(_reach(validator=False, reached=0)) is None


def test_five_validators_need_four() -> None:
    """n = 5: a quorum is 4, not 2f+1 = 3 (TRAPS #1); reaching 3 of 5 is no quorum."""
    _, reached, n = reach_of(A, [A, B, C, D, E], [B, C])
    r = _reach(reached=reached, n=n, q=quorum(n))
    assert (r.quorum, r.has_quorum) == (4, False)


def test_the_early_answer_is_a_node_config_setting(tmp_path: Path) -> None:
    """``no_quorum_answer_s`` in a node's config reaches its watch (default: the 5 s rule)."""
    from chainfin.store import MemoryStore
    from node.config import NodeConfig
    from node.reach import NO_QUORUM_EARLY_S
    from node.runtime import Node
    from tests.fixtures import client_ids, make_genesis, validator_ids

    assert NodeConfig.model_fields["no_quorum_answer_s"].default == NO_QUORUM_EARLY_S
    validators = validator_ids(4)
    gen = make_genesis(validators, client_ids())
    node = Node(validators[0], gen, MemoryStore(), "127.0.0.1", 0, {}, "node0",
                no_quorum_answer_s=42.0)
    assert node.admission.quorum_watch.early_s == 42.0
    main_src = (Path(__file__).parents[2] / "node" / "main.py").read_text()
    assert '"no_quorum_answer_s": cfg.no_quorum_answer_s' in main_src


def test_the_watch_dates_the_outage_and_tells_the_waiters_once() -> None:
    w = QuorumWatch(early_s=5.0)
    told: list[int] = []
    w.on_long_outage.add(lambda: told.append(1))
    assert w.observe(True, 100.0, 1000) == (None, 0.0, False)
    assert w.observe(False, 101.0, 2000) == (2000, 0.0, False)  # the outage starts here
    assert w.observe(False, 105.9, 6900) == (2000, pytest.approx(4.9), False)
    assert told == []
    assert w.observe(False, 106.0, 7000) == (2000, 5.0, True)
    assert told == [1]
    assert w.observe(False, 120.0, 21000) == (2000, 19.0, True)
    assert told == [1]  # once per outage
    assert w.observe(True, 121.0, 22000) == (None, 0.0, False)  # the quorum is back
    w.observe(False, 130.0, 31000)
    assert w.observe(False, 135.0, 36000)[2] is True
    assert told == [1, 1]  # a new outage tells again



def test_an_outage_that_lasts_is_logged_once_and_its_end(caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    """An operator reading the log learns of a lost quorum (not only "p2p link down" lines):
    one WARNING once the outage lasts ``early_s``, one INFO when it ends; a short cut, none."""
    w = QuorumWatch(early_s=5.0)
    with caplog.at_level("INFO", logger="chainfin.node"):
        w.observe(False, 100.0, 1000, "2 of 4 validators")
        w.observe(True, 102.0, 3000)  # a restart's cut: waited out, not logged
        assert caplog.records == []
        for t in (110.0, 115.0, 116.0, 130.0):
            w.observe(False, t, int(t * 1000), "1 of 4 validators, a quorum needs 3")
        w.observe(True, 131.0, 131000)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [lvl for lvl, _ in lines] == ["WARNING", "INFO"]
    assert "no quorum for 5.0 s" in lines[0][1] and "1 of 4 validators" in lines[0][1]
    assert "after 21.0 s" in lines[1][1]

# ------------------------------------------------------------------ in-process cluster


async def test_waiting_requests_are_answered_once_the_outage_lasts(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two of four validators stop: a waiting ``?wait=commit`` request is answered
    ``no_quorum`` when the outage reaches the early mark (here 0.5 s, in production 5 s), not
    after the 30 s wait; one sent after that is answered at once; a stream the same way;
    /readyz, /healthz, /v1/status and /metrics report it."""
    watch = h.node.admission.quorum_watch
    watch.early_s = 0.5
    status, _ = await h.get("/readyz")
    assert status == 200
    await h.nodes[2].stop()
    await h.nodes[3].stop()
    t0 = time.monotonic()
    status, out = await h.post(h.issue(amount=1))
    took = time.monotonic() - t0
    assert status == 202 and out["status"] == "pending", out
    assert out["error"]["code"] == "no_quorum", out
    assert 0.4 <= took < 5, took  # the early mark, not api.WAIT_TIMEOUT_S (30 s)
    t0 = time.monotonic()
    status, out = await h.post(h.issue(amount=2))
    assert (status, out["error"]["code"]) == (202, "no_quorum")
    assert time.monotonic() - t0 < 0.4  # at once
    assert not h.node.waiters
    async with h.http.ws_connect("/v1/tx/stream") as ws:
        await ws.send_str(json.dumps(h.issue(amount=3).to_json()))
        got = json.loads((await ws.receive(timeout=5)).data)
    assert [(a["seq"], a["status"], a["error"]["code"]) for a in got] == \
        [(0, "pending", "no_quorum")]
    # without wait: admitted, and told why it will not commit soon
    status, out = await h.post(h.issue(amount=4), wait=False)
    assert (status, out["error"]["code"]) == (202, "no_quorum")
    status, ready = await h.get("/readyz")
    assert status == 503 and ready["ready"] is False
    assert ready["error"]["code"] == "no_quorum"
    assert (ready["quorum"]["validators_reached"], ready["quorum"]["quorum"]) == (2, 3)
    _, health = await h.get("/healthz")
    assert health["ok"] is True and health["quorum"]["ok"] is False
    assert health["quorum"]["lost_for_s"] >= 0.5 and health["quorum"]["lost_since_ms"] > 0
    _, st = await h.get("/v1/status")
    assert st["quorum"]["ok"] is False and st["mempool"] == 4  # all four admitted
    r = await h.http.get("/metrics")
    text = await r.text()
    assert "chainfin_quorum_ok 0" in text and "chainfin_quorum_validators_reached 2" in text
    assert "chainfin_quorum_size 3" in text and "chainfin_view_change " in text


async def test_a_stream_waiting_when_the_outage_lasts_is_answered(h: Harness) -> None:
    """An envelope waiting on ``/v1/tx/stream`` when the outage reaches the early mark is
    answered ``pending`` / ``no_quorum`` then (not after the 30 s wait), and leaves no waiter."""
    h.node.admission.quorum_watch.early_s = 0.5
    await h.nodes[2].stop()
    await h.nodes[3].stop()
    async with h.http.ws_connect("/v1/tx/stream") as ws:
        t0 = time.monotonic()
        await ws.send_str(json.dumps(h.issue(amount=1).to_json()))
        got = json.loads((await ws.receive(timeout=5)).data)
        took = time.monotonic() - t0
    assert [(a["status"], a["error"]["code"]) for a in got] == [("pending", "no_quorum")]
    assert got[0]["error"]["validators_reached"] == 2
    assert 0.2 < took < 5, took  # it waited for the mark (0.5 s after the stop), no longer
    assert not h.node.waiters


async def test_the_cli_prints_the_reason(h: Harness, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``chainfin tx send --wait`` against a node without a quorum: the JSON answer on stdout,
    the node's reason in plain words on stderr, exit 1; without ``--wait`` exit 0 (admitted)
    with the reason as a warning."""
    h.node.admission.quorum_watch.early_s = 0.3
    await h.nodes[2].stop()
    await h.nodes[3].stop()
    await until(lambda: node_reach(h.node).lost_long)
    key = tmp_path / "issuer.json"
    save_identity(h.ids["usd_issuer"], key)
    ns = dict(node=str(h.http.make_url("")).rstrip("/"), key=str(key), contract="settlement",
              method="issue", nonce=None,
              args=json.dumps({"currency": "USD", "to": h.ids["exporter"].public_key.hex(),
                               "amount": 5}))
    assert await asyncio.to_thread(cli_tx_send, argparse.Namespace(**ns, wait=True)) == 1
    cap = capsys.readouterr()
    assert json.loads(cap.out)["error"]["code"] == "no_quorum"
    assert cap.err.startswith("chainfin: error: not final yet: the node cannot reach a quorum "
                              "of validators: this node reaches 2 of the 4 validators"), cap.err
    assert await asyncio.to_thread(cli_tx_send, argparse.Namespace(**ns, wait=False)) == 0
    cap = capsys.readouterr()
    assert cap.err.startswith("chainfin: warning: not final yet: the node cannot reach"), cap.err
    assert pending_reason({"status": "pending", "error": api.TIMEOUT_ERROR}) == \
        "the transaction was not final within the node's wait time"
    assert pending_reason({"status": "pending"}) is None
    assert pending_reason({"status": "committed"}) is None


async def test_a_wait_that_runs_out_with_a_quorum_is_still_a_timeout(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reason is given only when it holds: with every validator linked, a wait that runs
    out (here: the engine is stalled by hand) is ``timeout`` as before."""
    monkeypatch.setattr(api, "WAIT_TIMEOUT_S", 0.3)
    monkeypatch.setattr(h.node, "admit", lambda tx: None)  # admitted, never proposed
    status, out = await h.post(h.issue(amount=1))
    assert (status, out["error"]) == (202, api.TIMEOUT_ERROR)
    status, _ = await h.get("/readyz")
    assert status == 200


# ------------------------------------------------------------------ real processes


def _issue(manifest: Manifest, nonce: int) -> Transaction:
    issuer = load_identity(manifest.client("usd_issuer").key_file)
    return Transaction.create(issuer, manifest.chain_id, nonce, "settlement", "issue",
                              {"currency": "USD", "to": manifest.client("bank0").public_key,
                               "amount": 100})


async def _post(s: aiohttp.ClientSession, url: str, tx: Transaction) -> tuple[int, Any, float]:
    t0 = time.monotonic()
    async with s.post(url + "/v1/tx?wait=commit", json=tx.to_json(),
                      timeout=aiohttp.ClientTimeout(total=40)) as r:
        return r.status, await r.json(), time.monotonic() - t0


def test_a_lost_quorum_is_told_early_and_the_transaction_commits_when_it_is_back(
        net4: tuple[Path, Manifest]) -> None:
    """Four real node processes; two are killed; node0's client is told ``no_quorum`` within
    the early mark (5 s) instead of ``timeout`` after 30 s; one node comes back and the
    transactions admitted meanwhile commit."""
    d, manifest = net4
    tn = Testnet(d)
    url = manifest.nodes[0].rest_url
    reader = load_identity(manifest.client("regulator").key_file)

    async def tx_status(s: aiohttp.ClientSession, tx: Transaction) -> str:
        u = f"{url}/v1/tx/{tx.tx_id.hex()}"
        async with s.get(u, headers=signed_headers(reader, "GET", u)) as r:
            return str((await r.json()).get("status"))

    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            deadline = time.monotonic() + 20
            while (await s.get(url + "/readyz")).status != 200:  # every link up
                assert time.monotonic() < deadline, "node0 never reached a quorum"
                await asyncio.sleep(0.1)
            status, out, _ = await _post(s, url, _issue(manifest, 1))
            assert (status, out["status"]) == (200, "committed"), out
            tn.kill(2)
            tn.kill(3)
            waited = _issue(manifest, 2)
            status, out, took = await _post(s, url, waited)
            assert status == 202 and out["status"] == "pending", out
            err = out["error"]
            assert (err["code"], err["validators_reached"], err["quorum"]) == \
                ("no_quorum", 2, 3), err
            assert took < 10, took  # the early mark (5 s) and a sample, not 30 s
            at_once = _issue(manifest, 3)
            status, out, took = await _post(s, url, at_once)
            assert (status, out["error"]["code"]) == (202, "no_quorum") and took < 2, (out, took)
            async with s.get(url + "/readyz") as r:
                assert r.status == 503 and (await r.json())["error"]["code"] == "no_quorum"
            tn.start(2)  # three of four: a quorum again
            deadline = time.monotonic() + 20
            while {await tx_status(s, waited), await tx_status(s, at_once)} != {"committed"}:
                assert time.monotonic() < deadline, "not committed after the quorum came back"
                await asyncio.sleep(0.2)
            async with s.get(url + "/readyz") as r:
                assert r.status == 200

    try:
        tn.start()
        tn.wait_ready(30)
        asyncio.run(scenario())
    finally:
        tn.stop()
