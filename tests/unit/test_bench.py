"""testnet.bench without nodes: the open-loop schedule, statistics, the JSON document, the limit
measurement on a few transactions, the workload, the report and --find-max's search."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError, ConfigError
from chainfin.execution import BlockContext, DictState, execute_block, genesis_state
from chainfin.genesis import load_genesis
from contracts import CONTRACTS
from testnet import bench
from testnet.bench import (
    JSON_KEYS,
    BenchResult,
    LimitResult,
    Outcome,
    arrival_times,
    build_workload,
    finality_stats,
    measure_limit,
    open_loop,
    percentile,
    result_json,
)
from testnet.launch import init_testnet, keyed_genesis

# ---------------------------------------------------------------------- the schedule


def test_arrival_times_are_fixed_in_advance():
    assert arrival_times(5, 100) == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04])
    assert arrival_times(0, 10) == []
    assert arrival_times(3, 0.5) == [0.0, 2.0, 4.0]
    with pytest.raises(ValueError):
        arrival_times(3, 0)


async def test_slow_submissions_do_not_delay_later_arrivals():
    """Arrivals every 10 ms and no submission ever answers while the schedule runs: an open
    loop starts every one on time anyway (a closed loop would wait for the first forever). On a
    simulated clock, so a busy machine cannot make it flaky."""
    n, rate = 30, 100.0
    schedule = arrival_times(n, rate)
    now = [5.0]
    started: dict[int, float] = {}
    dues: dict[int, float] = {}
    finished: list[int] = []
    answer = asyncio.Event()

    async def fake_sleep(d: float) -> None:
        now[0] += d
        await asyncio.sleep(0)

    async def slow_submit(k: int, due: float) -> None:
        started[k] = now[0]
        dues[k] = due
        await answer.wait()
        finished.append(k)

    stats = await open_loop(schedule, slow_submit, clock=lambda: now[0], start=5.0,
                            sleep=fake_sleep)
    assert now[0] == pytest.approx(5.0 + schedule[-1])  # the schedule's length, not more
    assert not finished  # nothing had answered: the scheduler never waited for them
    assert len(stats.tasks) == n and stats.started == n
    answer.set()
    await asyncio.gather(*stats.tasks)
    assert sorted(finished) == list(range(n))
    for k in range(n):
        assert dues[k] == pytest.approx(5.0 + schedule[k])  # due times are the fixed schedule
        assert started[k] >= dues[k] - 1e-9  # never early
        assert started[k] - dues[k] <= 1 / rate + 1e-9  # and never held back by the others
    assert stats.max_lag_s == pytest.approx(0.0, abs=1e-9) and len(stats.lags_s) == n


async def test_a_late_scheduler_catches_up_without_moving_due_times():
    """Started 1 s after the schedule began, every arrival is overdue: all are fired at once with
    their original due times (so their lag counts against finality)."""
    schedule = arrival_times(600, 1000.0)  # 0 .. 0.599 s
    dues: list[float] = []

    async def submit(k: int, due: float) -> None:
        dues.append(due)

    t0 = time.perf_counter() - 1.0
    stats = await open_loop(schedule, submit, start=t0)
    await asyncio.gather(*stats.tasks)
    assert sorted(dues) == pytest.approx([t0 + s for s in schedule])
    assert stats.max_lag_s >= 1.0 - 1e-3
    assert min(stats.lags_s) >= 0.4


async def test_open_loop_with_a_fake_clock():
    now = [10.0]

    def clock() -> float:
        return now[0]

    seen: list[tuple[int, float]] = []

    async def submit(k: int, due: float) -> None:
        seen.append((k, due))
        now[0] += 0.25  # each submission "takes" wall time before the next is looked at

    real_sleep = asyncio.sleep

    async def fake_sleep(d: float) -> None:
        now[0] += d
        await real_sleep(0)

    stats = await open_loop([0.0, 1.0, 2.0], submit, clock=clock, start=10.0, sleep=fake_sleep)
    await asyncio.gather(*stats.tasks)
    assert [d for _, d in sorted(seen)] == [10.0, 11.0, 12.0]
    assert now[0] >= 12.0


async def test_open_loop_batches_what_is_due_every_tick():
    now = [0.0]
    naps: list[float] = []

    async def fake_sleep(d: float) -> None:
        naps.append(d)
        now[0] += d
        await asyncio.sleep(0)

    async def never(k: int, due: float) -> None:
        raise AssertionError("batch mode starts no task per submission")

    batches: list[list[int]] = []
    schedule = [0.0, 0.001, 0.002, 0.0035, 0.004, 0.02]  # seconds after start
    stats = await open_loop(schedule, never, clock=lambda: now[0], start=0.0,
                            sleep=fake_sleep, batch=batches.append, tick=0.003)
    # wake at 0 (k=0), then every >= 3 ms: at 3 ms k=1,2; at 6 ms k=3,4; then at k=5's due time
    assert batches == [[0], [1, 2], [3, 4], [5]]
    assert not stats.tasks
    assert min(naps) >= 0.003 - 1e-12
    assert max(stats.lags_s) == pytest.approx(0.0025)  # k=3 was due at 3.5 ms, sent at 6 ms


# ---------------------------------------------------------------------- statistics


def test_percentile_linear_interpolation():
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([1, 2, 3, 4], 0) == 1
    assert percentile([1, 2, 3, 4], 100) == 4
    v = list(range(1, 101))
    assert percentile(v, 99) == pytest.approx(99.01)
    assert percentile(v, 95) == pytest.approx(95.05)
    assert percentile(v, 50) == pytest.approx(50.5)
    with pytest.raises(ValueError):
        percentile(v, 101)


def test_finality_stats():
    s = finality_stats([30.0, 10.0, 20.0])
    assert s == {"min": 10.0, "p50": 20.0, "p95": 29.0, "p99": 29.8, "max": 30.0, "mean": 20.0}
    assert finality_stats([]) == dict.fromkeys(("min", "p50", "p95", "p99", "max", "mean"))


def _result(n: int = 100, fail_every: int = 0, limit: bool = True) -> BenchResult:
    outcomes = []
    kinds = []
    for k in range(n):
        due = k / 50.0
        o = Outcome(due=due, sent=due + 0.001, done=due + 0.02 + (k % 10) / 1000.0,
                    status="committed", height=k // 5 + 1)
        if fail_every and k % fail_every == 0:
            o.status, o.code = ("rejected", "insufficient_funds") if (k // fail_every) % 2 else \
                ("timeout", "drain_timeout")
        outcomes.append(o)
        kinds.append("transfer" if k % 10 < 7 else "register")
    lim = LimitResult(nodes=4, cpus=2, txs=50, block_txs=500, committed_share=1.0,
                      breakdown_us={"decode": 10.0, "verify": 60.0, "execute": 40.0,
                                    "tx_root": 2.0, "smt": 30.0, "store": 38.0}) if limit else None
    return BenchResult(nodes=4, offered_rate=50.0, duration_s=2.0, kinds=kinds, outcomes=outcomes,
                       limit=lim, senders=16)


def test_json_shape():
    r = _result(fail_every=10)
    doc = result_json(r)
    assert list(doc)[:len(JSON_KEYS)] == list(JSON_KEYS)
    assert set(doc["finality_ms"]) >= {"p50", "p95", "p99", "max"}
    assert doc["nodes"] == 4 and doc["offered_rate"] == 50.0 and doc["duration_s"] == 2.0
    assert doc["sent"] == 100
    assert doc["failed"] == 10 and doc["committed"] == 90
    assert doc["rejected"] == 5
    assert doc["errors"] == {"rejected:insufficient_funds": 5, "timeout:drain_timeout": 5}
    # 2 cores / (4 nodes x 180 us) = 2777.8 tx/s
    assert doc["limit_tps"] == pytest.approx(2777.8, abs=0.1)
    assert doc["ratio_to_limit"] == pytest.approx(doc["throughput_tps"] / doc["limit_tps"],
                                                  abs=1e-4)
    assert set(doc["limit_breakdown_us"]) == {"decode", "verify", "execute", "tx_root", "smt",
                                              "store"}
    assert set(doc["by_kind"]) == {"transfer", "register"}
    assert doc["blocks"] == {"count": 20, "mean_txs": 4.5, "max_txs": 5}
    assert doc["limit_at_observed_block_size"] is None
    assert [n["sent"] for n in doc["by_entry_node"]] == [25, 25, 25, 25]
    assert sum(n["failed"] for n in doc["by_entry_node"]) == 10
    r.limit_observed = LimitResult(nodes=4, cpus=2, txs=50, block_txs=5, committed_share=1.0,
                                   breakdown_us={"verify": 60.0, "execute": 340.0})
    doc = result_json(r)
    assert doc["limit_at_observed_block_size"]["block_txs"] == 5
    assert doc["limit_at_observed_block_size"]["limit_tps"] == 1250.0
    assert "with blocks of 5 txs" in bench.report_table(r)
    assert doc["targets"]["nothing_failed"] is False
    json.loads(json.dumps(doc))  # plain JSON
    # finality is measured from the due time: 20..29 ms here
    assert 20.0 <= doc["finality_ms"]["p50"] <= 29.0


def test_json_without_limit_and_without_commits():
    r = _result(n=3, limit=False)
    for o in r.outcomes:
        o.status, o.code = "error", "unreachable"
    doc = result_json(r)
    assert doc["committed"] == 0 and doc["failed"] == 3 and doc["throughput_tps"] == 0
    assert doc["limit_tps"] is None and doc["ratio_to_limit"] is None
    assert doc["finality_ms"]["p99"] is None
    assert not r.passed()


def test_throughput_and_pass_criterion():
    r = _result()
    # 100 committed from t=0 to the last commit at 1.98 + 0.029 s
    assert r.throughput_tps() == pytest.approx(100 / (99 / 50 + 0.029))
    assert r.passed()
    assert not r.passed(max_p99_ms=10.0)
    assert not _result(fail_every=50).passed()


def test_stage_breakdown_sums_nodes_per_committed_tx():
    before = [{"admit": 1.0, "commit": 2.0}, None, {"admit": 0.5}]
    after = [{"admit": 1.5, "commit": 2.25}, {"admit": 9.0}, {"admit": 1.0, "other": 0.25}]
    got = bench.stage_breakdown(before, after, committed=1000)
    # node 1 did not answer before the load: left out rather than counted from zero
    assert got == {"admit": 1000.0, "commit": 250.0, "other": 250.0}
    assert bench.stage_breakdown(before, after, committed=0) == {}
    text = ('chainfin_cpu_seconds_total{stage="admit"} 1.5\nchainfin_height 3.0\n'
            'chainfin_cpu_seconds_total{stage="p2p_in"} 0.25\n')
    assert bench._clients._CPU_LINE.findall(text) == [("admit", "1.5"), ("p2p_in", "0.25")]


def test_phase_breakdown_primary_and_replicas():
    page = ('chainfin_block_phase_seconds_sum{phase="queue"} 0.5\n'
            'chainfin_block_phase_seconds_count{phase="queue"} 40.0\n'
            'chainfin_block_phase_seconds_sum{phase="apply"} 0.03\n'
            'chainfin_block_phase_seconds_count{phase="apply"} 10.0\n'
            'chainfin_block_phase_seconds_bucket{phase="apply",le="0.001"} 0.0\n')
    assert bench._clients.parse_phases(page) == {
        "queue_sum": 0.5, "queue_count": 40.0, "apply_sum": 0.03, "apply_count": 10.0}
    before = [{"phase:apply_sum": 0.01, "phase:apply_count": 5.0, "admit": 1.0},
              {"phase:apply_sum": 0.0, "phase:apply_count": 0.0}, None]
    after = [{"phase:apply_sum": 0.03, "phase:apply_count": 10.0, "phase:queue_sum": 0.4,
              "phase:queue_count": 40.0, "admit": 2.0},
             {"phase:apply_sum": 0.05, "phase:apply_count": 10.0}, {"phase:apply_sum": 9.0}]
    got = bench.phase_breakdown(before, after)
    # the node that queued transactions into its blocks is the primary; a node that did not
    # answer before the load is left out; the CPU stages are not phases
    assert got == {"primary": {"queue": 10.0, "apply": 4.0}, "replicas": {"apply": 5.0}}
    assert bench.stage_breakdown(before, after, committed=1000) == {"admit": 1000.0}
    assert bench.phase_breakdown([None], [None]) == {}


def test_gc_pauses_parsed_and_summed_over_nodes():
    page = ('chainfin_gc_pause_seconds_bucket{generation="2",le="0.005"} 1.0\n'
            'chainfin_gc_pause_seconds_bucket{generation="2",le="0.01"} 2.0\n'
            'chainfin_gc_pause_seconds_bucket{generation="2",le="+Inf"} 5.0\n'
            'chainfin_gc_pause_seconds_count{generation="2"} 5.0\n'
            'chainfin_gc_pause_seconds_sum{generation="2"} 0.25\n')
    assert bench._clients.parse_gc(page) == {"2_le10ms": 2.0, "2_count": 5.0, "2_sum": 0.25}
    before = [{"gc:0_count": 10.0, "gc:0_le10ms": 10.0, "gc:2_count": 1.0, "gc:2_le10ms": 1.0,
               "gc:2_sum": 0.001}, None]
    after = [{"gc:0_count": 30.0, "gc:0_le10ms": 30.0, "gc:0_sum": 0.002, "gc:2_count": 3.0,
              "gc:2_le10ms": 1.0, "gc:2_sum": 0.041}, {"gc:0_count": 99.0}]
    # two full collections over 10 ms on the node that answered both times
    assert bench.gc_breakdown(before, after) == {
        "collections": [20, 0, 2], "pause_ms": [2.0, 0.0, 40.0], "pauses_over_10ms": 2}
    assert bench.gc_breakdown([None], [None]) == {}
    assert bench.stage_breakdown(before, after, committed=1) == {}


def test_gossip_counters_parsed_and_summed_over_nodes():
    page = ('chainfin_node_total{what="gossip_txs_in"} 700.0\n'
            'chainfin_node_total{what="gossip_deferred_out"} 30.0\n'
            'chainfin_node_total{what="gossip_txs_bad"} 2.0\n')
    assert bench._clients.parse_gossip(page) == {"gossip_txs_in": 700.0,
                                                 "gossip_deferred_out": 30.0}
    before = [{"gossip:gossip_txs_in": 100.0, "gossip:gossip_deferred_out": 0.0, "admit": 1.0},
              {"gossip:gossip_txs_in": 50.0}, None]
    after = [{"gossip:gossip_txs_in": 700.0, "gossip:gossip_deferred_out": 30.0, "admit": 2.0},
             {"gossip:gossip_txs_in": 450.0}, {"gossip:gossip_txs_in": 9e9}]
    # the third node did not answer before the load: left out; counters are not CPU stages
    assert bench.gossip_breakdown(before, after, committed=500) == {
        "gossip_deferred_out": 30, "gossip_deferred_out_per_tx": 0.06,
        "gossip_txs_in": 1000, "gossip_txs_in_per_tx": 2.0}
    assert bench.stage_breakdown(before, after, committed=1000) == {"admit": 1000.0}
    assert bench.gossip_breakdown([None], [None], committed=5) == {}


def test_classify_answers():
    c = bench._clients._classify
    assert c(200, {"status": "committed", "height": 3}) == ("committed", None, 3)
    assert c(200, {"status": "rejected", "error": {"code": "insufficient_funds"}})[:2] == \
        ("rejected", "insufficient_funds")
    assert c(202, {"status": "pending", "error": {"code": "timeout"}})[:2] == ("timeout",
                                                                               "timeout")
    assert c(429, {"error": {"code": "mempool_full"}})[:2] == ("error", "mempool_full")
    assert c(502, None)[:2] == ("error", "http_502")


def test_report_table_and_progress_line():
    r = _result(fail_every=25)
    text = bench.report_table(r)
    for word in ("Sent", "Committed", "Failed", "Throughput", "p50", "p95", "p99", "Max",
                 "settlement.transfer", "trade_documents.register", "limit_tps",
                 "ratio_to_limit", "targets"):
        assert word in text
    buf = io.StringIO()
    p = bench.Progress("t", len(r.outcomes), 2.0, stream=buf, tty=False)
    p.show(1.0, r.outcomes)
    line = buf.getvalue()
    assert line.endswith("\n") and "sent 100/100" in line and "failed 4" in line
    buf = io.StringIO()
    p = bench.Progress("t", len(r.outcomes), 2.0, stream=buf, tty=True)
    p.show(0.5, r.outcomes[:10])
    p.close()
    assert buf.getvalue().startswith("\r") and buf.getvalue().endswith("\n")


# ---------------------------------------------------------------------- workload and limit


@pytest.fixture(scope="module")
def small_net(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("bench") / "tn"
    m = init_testnet(d, nodes=4, extra_clients=6)
    issuer = load_identity(m.client("usd_issuer").key_file)
    senders = [load_identity(m.client(f"trader{i}").key_file) for i in range(6)]
    return m, issuer, senders


def test_init_testnet_extra_clients(small_net, tmp_path: Path):
    m, _, senders = small_net
    names = [c.name for c in m.clients]
    assert [n for n in names if n.startswith("trader")] == [f"trader{i}" for i in range(6)]
    g = load_genesis(m.genesis)
    roles = {i.name: i.role for i in g.identities}
    assert all(roles[f"trader{i}"] == "exporter" for i in range(6))
    assert {s.public_key.hex() for s in senders} <= {i.public_key for i in g.identities}
    assert "bank0" in names and "exporter" in names  # the demo clients are still there
    with pytest.raises(ConfigError):
        init_testnet(tmp_path / "x", nodes=1, extra_clients=-1)
    m0 = init_testnet(tmp_path / "y", nodes=1)
    assert not any(c.name.startswith("trader") for c in m0.clients)


def test_workload_mix_and_unique_nonces(small_net):
    m, issuer, senders = small_net
    w = build_workload(m.chain_id, issuer, senders, 200)
    assert len(w.funding) == len(senders)
    assert all(t.method == "issue" and t.sender == issuer.public_key for t in w.funding)
    assert len(w.txs) == 200 and len(w.kinds) == 200
    counts = Counter(w.kinds)
    assert counts["transfer"] == 140 and counts["register"] == 60
    pairs = {(t.sender, t.nonce) for t in w.txs}
    assert len(pairs) == 200
    assert len({t.tx_id for t in w.txs}) == 200
    for t, kind in zip(w.txs, w.kinds, strict=True):
        if kind == "transfer":
            assert (t.contract, t.method) == ("settlement", "transfer")
            assert t.args["to"] != t.sender.hex()
        else:
            assert (t.contract, t.method) == ("trade_documents", "register")
            assert set(t.args["fields"]) == {"seller", "buyer", "number", "issue_date",
                                             "amount", "currency"}
    assert len({t.args["content_hash"] for t in w.txs if t.method == "register"}) == 60
    w.encode_bodies()
    assert json.loads(w.bodies[0]) == w.txs[0].to_json()
    with pytest.raises(ValueError):
        build_workload(m.chain_id, issuer, senders[:1], 5)


def test_measure_limit_on_a_few_transactions(small_net):
    m, issuer, senders = small_net
    w = build_workload(m.chain_id, issuer, senders, 40)
    lim = measure_limit(keyed_genesis(m), w.funding, w.txs, nodes=4, block_txs=16,
                        cpus=2)
    assert lim.txs == 40 and lim.block_txs == 16 and lim.cpus == 2 and lim.nodes == 4
    assert lim.committed_share == 1.0  # funded transfers and fresh invoices all commit
    assert set(lim.breakdown_us) == {"decode", "verify", "execute", "tx_root", "smt", "store"}
    assert all(v >= 0 for v in lim.breakdown_us.values())
    assert lim.breakdown_us["verify"] > 0 and lim.cost_us > 0
    assert lim.limit_tps == pytest.approx(2 / (4 * lim.cost_us * 1e-6))
    doc = lim.to_json()
    assert doc["limit_tps"] == pytest.approx(lim.limit_tps, abs=0.1)
    with pytest.raises(ValueError):
        measure_limit(keyed_genesis(m), w.funding, [], nodes=4)
    with pytest.raises(ValueError):
        measure_limit(keyed_genesis(m), w.funding, w.txs, nodes=4, repeats=0)


def test_measure_limit_keeps_the_cheapest_pass(small_net, monkeypatch):
    m, issuer, senders = small_net
    w = build_workload(m.chain_id, issuer, senders, 10)
    costs = iter([300.0, 200.0, 250.0])
    seen = []

    def fake_once(*args, **kw):
        c = next(costs)
        seen.append(c)
        return bench.LimitResult(4, 2, 10, 16, 1.0, {"verify": c})

    monkeypatch.setattr(bench._limit, "measure_limit_once", fake_once)
    lim = measure_limit(keyed_genesis(m), w.funding, w.txs, nodes=4)
    assert seen == [300.0, 200.0, 250.0] and lim.cost_us == 200.0
    assert lim.pass_costs_us == (300.0, 200.0, 250.0)
    # passes measured later (after the load) join them; the cheapest of all counts
    later = bench.LimitResult(4, 2, 10, 16, 1.0, {"verify": 150.0})
    both = bench.cheapest(lim, None, later)
    assert both is not None and both.cost_us == 150.0
    assert both.pass_costs_us == (300.0, 200.0, 250.0, 150.0)
    assert both.to_json()["pass_costs_us"] == [300.0, 200.0, 250.0, 150.0]
    assert bench.cheapest(None, None) is None


def test_sender_count_bounds():
    assert bench.sender_count(1) == 16
    assert bench.sender_count(500) == 125
    assert bench.sender_count(100_000) == 256


# ---------------------------------------------------------------------- --find-max and the CLI


def _fake_runner(max_ok: float, calls: list[float]):
    def run(nodes, rate, duration, *, limit=None, label=None, **kw):
        calls.append(rate)
        r = _result()
        r.offered_rate = rate
        if rate > max_ok:
            r.outcomes[0].status = "timeout"
        return r
    return run


def test_find_max_steps_up_then_bisects():
    calls: list[float] = []
    best, runs = bench.find_max(4, 100, 1.0, run=_fake_runner(400.0, calls), say=lambda m: None)
    assert calls[:4] == [100.0, 150.0, 225.0, 338.0]
    assert calls[4] == 507.0  # the first failure
    assert calls[5] == 422.0  # bisect (338 + 507) / 2: fails
    assert calls[6] == 380.0  # bisect (338 + 422) / 2: passes
    assert calls[7] == 401.0  # bisect (380 + 422) / 2: fails; 380..401 is within 5 %: done
    assert len(calls) == 8
    assert best is not None and best.offered_rate == 380.0
    assert len(runs) == 8


def test_find_max_bisects_at_most_max_refinements_times():
    calls: list[float] = []
    best, _ = bench.find_max(4, 1000, 1.0, run=_fake_runner(1590.0, calls), say=lambda m: None)
    # 1500 passes, 2250 fails; then 1875, 1687 fail, 1593 fails: three bisections, the gap
    # 1500..1593 (6.2 %) is left
    assert calls == [1000.0, 1500.0, 2250.0, 1875.0, 1687.0, 1593.0]
    assert best is not None and best.offered_rate == 1500.0
    calls.clear()
    best, _ = bench.find_max(4, 1000, 1.0, run=_fake_runner(1600.0, calls), say=lambda m: None)
    assert calls[-1] == 1593.0 and best is not None and best.offered_rate == 1593.0


def test_find_max_rates_every_step_against_the_cheapest_limit_of_the_search():
    costs = iter([200.0, 150.0, 180.0, 400.0, 300.0, 250.0, 220.0])
    given: list[float | None] = []

    def run(nodes, rate, duration, *, limit=None, label=None, **kw):
        given.append(None if limit is None else limit.cost_us)
        r = _result()
        r.offered_rate = rate
        if rate > 300:
            r.outcomes[0].status = "timeout"
        # as run_bench does: its own passes join the limit it was given
        r.limit = bench.cheapest(limit, bench.LimitResult(4, 2, 10, 500, 1.0,
                                                          {"verify": next(costs)}))
        return r

    best, runs = bench.find_max(4, 100, 1.0, run=run, say=lambda m: None)
    assert given[:3] == [None, 200.0, 150.0]  # each step is handed the cheapest so far
    assert all(r.limit is not None and r.limit.cost_us == 150.0 for r in runs)
    used = (200.0, 150.0, 180.0, 400.0, 300.0, 250.0, 220.0)[:len(runs)]
    assert runs[0].limit is not None and runs[0].limit.pass_costs_us == used  # each pass once
    assert best is not None and best.limit is not None and best.limit.cost_us == 150.0


def test_find_max_none_passes_and_bound():
    calls: list[float] = []
    best, runs = bench.find_max(4, 100, 1.0, run=_fake_runner(10.0, calls), say=lambda m: None)
    assert best is None and calls == [100.0]
    calls = []
    best, runs = bench.find_max(4, 1, 1.0, run=_fake_runner(1e12, calls), say=lambda m: None)
    assert len(calls) == bench.MAX_STEPS and best is not None


def _scripted_runner(verdicts: dict[float, list[bool]], calls: list[float]):
    """Each rate passes or fails run by run as ``verdicts`` says (then passes); a rate's k-th
    run ends k ms later, so later runs at a rate have a lower throughput."""
    def run(nodes, rate, duration, *, limit=None, label=None, **kw):
        k = calls.count(rate)
        calls.append(rate)
        r = _result()
        r.offered_rate = rate
        r.outcomes[-1].done += k / 1000.0
        script = verdicts.get(rate, [])
        if k < len(script) and not script[k]:
            r.outcomes[0].status = "timeout"
        return r
    return run


def test_find_max_confirm_needs_every_run_at_a_rate_to_pass():
    calls: list[float] = []
    # 150 passes once then fails: with confirm=2 it is not sustained, so the search bisects
    # below it; 125 passes twice
    runner = _scripted_runner({150.0: [True, False], 225.0: [False]}, calls)
    best, runs = bench.find_max(4, 100, 1.0, run=runner, say=lambda m: None, confirm=2)
    assert calls[:4] == [100.0, 100.0, 150.0, 150.0]
    assert calls[4:] == [125.0, 125.0, 137.0, 137.0, 143.0, 143.0]
    assert best is not None and best.offered_rate == 143.0
    assert best is runs[-1]  # the passing step's run with the lower throughput
    assert best.throughput_tps() < runs[-2].throughput_tps()
    # confirm=1: the same script passes 150 on its first run and fails at 225
    calls = []
    runner = _scripted_runner({150.0: [True, False], 225.0: [False]}, calls)
    best, _ = bench.find_max(4, 100, 1.0, run=runner, say=lambda m: None)
    assert calls[:3] == [100.0, 150.0, 225.0] and best is not None and best.offered_rate > 150.0


def test_find_max_confirm_counts_rates_not_runs_and_checks_its_argument():
    calls: list[float] = []
    best, runs = bench.find_max(4, 1, 1.0, run=_scripted_runner({}, calls),
                                say=lambda m: None, confirm=3)
    assert len(calls) == 3 * bench.MAX_STEPS and best is not None
    with pytest.raises(ValueError):
        bench.find_max(4, 1, 1.0, run=_scripted_runner({}, []), say=lambda m: None, confirm=0)
    args = argparse.Namespace(nodes=4, rate=10, duration=1, json_out=None, plot=None,
                              find_max=True, confirm=0)
    with pytest.raises(ChainfinError, match="--confirm"):
        bench.cli_bench(args)
    args.find_max, args.confirm = False, 2
    with pytest.raises(ChainfinError, match="--confirm applies to --find-max"):
        bench.cli_bench(args)


def test_cli_plot_without_matplotlib_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mpl(name, *a, **kw):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib here")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_mpl)
    args = argparse.Namespace(nodes=4, rate=10, duration=1, json_out=None, plot="x.png",
                              find_max=False)
    with pytest.raises(ChainfinError, match="matplotlib"):
        bench.cli_bench(args)


def test_write_plot(tmp_path: Path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "f.png"
    bench.write_plot(_result(fail_every=30), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_proc_cpu_of_this_process():
    import os

    v = bench.proc_cpu_s(os.getpid())
    assert v is None or v >= 0
    assert bench.proc_cpu_s(2**22 + 12345) is None  # no such pid


def test_wakeups_of_this_process_count_its_sleeps():
    import os
    import time

    pid = os.getpid()
    a = bench.proc_wakeups(pid)
    if a is None:
        pytest.skip("no /proc/PID/status here")
    for _ in range(5):
        time.sleep(0.002)  # each sleep is a voluntary context switch
    b = bench.proc_wakeups(pid)
    assert b is not None and b[0] - a[0] >= 5 and b[2] >= a[2] >= 0
    assert bench.proc_wakeups(2**22 + 12345) is None  # no such pid


def test_wakeup_breakdown_per_second_per_block_and_the_kernel_share():
    before = [(100, 5, 1.0), (200, 7, 2.0)]
    after = [(1100, 15, 1.5), (2200, 27, 2.5)]
    # 3,000 wake-ups in 10 s over 2 nodes and 50 blocks; 1 s of the 4 s of CPU in the kernel
    assert bench.wakeup_breakdown(before, after, cpu_s=4.0, wall_s=10.0, blocks=50) == {
        "per_s": 300.0, "per_block_per_node": 30.0, "preempted_per_s": 3.0,
        "kernel_share_of_cpu": 0.25}
    assert bench.wakeup_breakdown([None, before[1]], after, 4.0, 10.0, 50) is None
    assert bench.wakeup_breakdown(before, after, 4.0, 10.0, 0)["per_block_per_node"] is None


def test_identity_is_usable_for_workload_without_a_testnet():
    ids = [Identity.from_seed_text(f"s{i}") for i in range(3)]
    w = build_workload("chainfin-test", Identity.from_seed_text("issuer"), ids, 10)
    assert len(w.txs) == 10 and all(t.chain_id == "chainfin-test" for t in w.txs)



def test_workload_nonces_start_above_first_nonce_for_a_grown_ledger():
    ids = [Identity.from_seed_text(f"s{i}") for i in range(3)]
    issuer = Identity.from_seed_text("issuer")
    w = build_workload("chainfin-test", issuer, ids, 30, first_nonce=10**9)
    assert min(t.nonce for t in [*w.funding, *w.txs]) == 10**9 + 1
    assert len({(t.sender, t.nonce) for t in w.txs}) == 30

# ---------------------------------------------------------------------- the lean HTTP client


def test_parse_response():
    parse = bench._clients._parse_response
    ok = bytearray(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 13\r\n\r\n{\"status\":1}\n")
    assert parse(ok) == (200, b"{\"status\":1}\n", True)
    assert parse(ok[:30]) is None
    assert parse(ok[:-3]) is None
    closing = bytearray(b"HTTP/1.1 409 Conflict\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")
    assert parse(closing) == (409, b"{}", False)
    chunked = bytearray(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert parse(chunked) == (200, b"abcde", True)
    assert parse(chunked[:-7]) is None
    with pytest.raises(bench.HttpError):
        parse(bytearray(b"SSH-2.0-OpenSSH\r\n\r\n"))
    with pytest.raises(bench.HttpError):
        parse(bytearray(b"HTTP/1.1 200 OK\r\n\r\n"))  # no length


async def test_lean_client_against_a_real_server():
    from aiohttp import web

    hits: list[bytes] = []

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        hits.append(body)
        if request.query.get("wait") != "commit":
            return web.json_response({"error": {"code": "bad"}}, status=400)
        delay = json.loads(body).get("delay", 0)
        await asyncio.sleep(delay)
        return web.json_response({"status": "committed", "height": len(hits)})

    app = web.Application()
    app.router.add_post("/v1/tx", post)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = bench.LeanClient(max_conns=2)
    try:
        def req(d: dict) -> bytes:
            return bench.LeanClient.request_bytes("127.0.0.1", port, "/v1/tx?wait=commit",
                                                  json.dumps(d).encode())

        status, body = await client.request("127.0.0.1", port, req({"a": 1}), 5)
        assert status == 200 and json.loads(body)["status"] == "committed"
        # concurrent requests, more than max_conns: all answered, connections reused
        outs = await asyncio.gather(*(client.request("127.0.0.1", port, req({"i": i}), 5)
                                      for i in range(10)))
        assert all(s == 200 for s, _ in outs) and len(hits) == 11
        assert len(client._all) <= 2
        with pytest.raises(TimeoutError):
            await client.request("127.0.0.1", port, req({"delay": 2}), 0.2)
        status, _ = await client.request(
            "127.0.0.1", port,
            bench.LeanClient.request_bytes("127.0.0.1", port, "/v1/tx", b"{}"), 5)
        assert status == 400
    finally:
        client.close()
        await runner.cleanup()
    with pytest.raises(OSError):
        await bench.LeanClient().request("127.0.0.1", port, b"x", 1)  # nothing listens now


async def test_lean_client_retries_a_kept_alive_connection_the_server_dropped():
    """A server that answers the first request of each connection and drops the connection on
    the second (a keep-alive race): the client retries that request once on a new connection."""
    answered = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                n += 1
                if n > 1:
                    break  # drop the connection without an answer
                answered.append(1)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = bench.LeanClient()
    raw = bench.LeanClient.request_bytes("127.0.0.1", port, "/v1/tx", b"{}")
    try:
        assert await client.request("127.0.0.1", port, raw, 5) == (200, b"{}")
        assert await client.request("127.0.0.1", port, raw, 5) == (200, b"{}")  # retried
        assert len(answered) == 2
    finally:
        client.close()
        server.close()
        await server.wait_closed()


def test_register_work_builds_trades_that_all_commit_in_order(small_net):
    """The register share opens trades, joins their declarations, has customs attest and banks
    finance every other one; executed in order (what a healthy run does) everything commits."""
    m, issuer, senders = small_net
    banks = [load_identity(m.client(f"bank{i}").key_file) for i in range(4)]
    customs = load_identity(m.client("customs").key_file)
    w = build_workload(m.chain_id, issuer, senders, 400, banks=banks, customs=customs,
                       trade_gap=20)
    assert len(w.txs) == 400 and Counter(w.kinds) == {"transfer": 280, "register": 120}
    assert len(w.funding) == len(senders) + len(banks)
    assert len({(t.sender, t.nonce) for t in w.txs}) == 400
    methods = Counter(t.method for t in w.txs if t.contract == "trade_documents")
    assert methods["attest"] > 0 and methods["request_financing"] > 0
    assert methods["register"] + methods["attest"] + methods["request_financing"] == 120
    lim = measure_limit(keyed_genesis(m), w.funding, w.txs, nodes=4, block_txs=16,
                        cpus=2)
    assert lim.committed_share == 1.0


def test_risk_setup_puts_every_sender_under_two_rules_and_the_load_still_commits(small_net):
    """--risk: the regulator's setup commits (two rules per account, the watch list in
    transactions of RISK_WATCH_PER_TX digests) and, executed after it, the whole load commits:
    every payment is checked against the rules and none is refused."""
    m, issuer, senders = small_net
    banks = [load_identity(m.client(f"bank{i}").key_file) for i in range(4)]
    customs = load_identity(m.client("customs").key_file)
    regulator = load_identity(m.client("regulator").key_file)
    genesis = keyed_genesis(m)  # the regulator hashes watch entries with the consortium's key
    setup = bench.risk_setup(m.chain_id, regulator, [*senders, *banks],
                             genesis.fingerprint_key_bytes(), watch_entries=600)
    methods = Counter(t.method for t in setup)
    assert methods == {"set_limit": 2 * (len(senders) + len(banks)), "add_watch": 3}
    assert sum(len(t.args["entries"]) for t in setup if t.method == "add_watch") == 600
    assert {t.nonce for t in setup} == set(range(1, len(setup) + 1))
    state = DictState(genesis_state(genesis))
    ctx = BlockContext(genesis.chain_id, 1, genesis.genesis_time_ms + 1, b"",
                       genesis.fingerprint_key_bytes())
    res = execute_block(state, setup, ctx, CONTRACTS)
    assert [r.status for r in res.receipts] == ["committed"] * len(setup)
    w = build_workload(m.chain_id, issuer, senders, 200, banks=banks, customs=customs,
                       trade_gap=20)
    lim = measure_limit(genesis, [*w.funding, *setup], w.txs, nodes=4, block_txs=16, cpus=2)
    assert lim.committed_share == 1.0


async def test_lean_client_speaks_tls_to_an_https_node(tmp_path):
    """Testnets serve REST over HTTPS by default: the load client trusts the testnet's CA."""
    from aiohttp import web

    from node.config import load_config
    from node.tls import rest_server_context
    from testnet.launch import init_testnet, manifest_ssl

    m = init_testnet(tmp_path / "tn", nodes=1)
    cfg = load_config(m.nodes[0].config)

    async def post(request: web.Request) -> web.Response:
        return web.json_response({"status": "committed", "height": 1})

    app = web.Application()
    app.router.add_post("/v1/tx", post)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=rest_server_context(cfg))
    await site.start()
    port = runner.addresses[0][1]
    client = bench.LeanClient(ssl=manifest_ssl(m))
    try:
        raw = bench.LeanClient.request_bytes("127.0.0.1", port, "/v1/tx?wait=commit", b"{}")
        for _ in range(2):  # the second on the kept-alive TLS connection
            status, body = await client.request("127.0.0.1", port, raw, 5)
            assert status == 200 and json.loads(body)["status"] == "committed"
        assert len(client._all) == 1
        with pytest.raises((OSError, TimeoutError, bench.HttpError)):  # plain HTTP to TLS
            await bench.LeanClient().request("127.0.0.1", port, raw, 2)
    finally:
        client.close()
        await runner.cleanup()
