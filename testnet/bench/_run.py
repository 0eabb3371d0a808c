"""One run: a fresh testnet, the funding, the open-loop load phase and the drain, the nodes
stopped whatever happens."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError
from chainfin.types import Transaction
from node.main import tune_gc
from node.metrics import gc_pauses

from ._clients import (
    APIS,
    STREAM_MESSAGE_TXS,
    STREAM_TICK_S,
    HttpError,
    LeanClient,
    StreamClient,
    _classify,
    _classify_stream,
    _cpu_stages,
    _post,
)
from ._host import (
    busy_share,
    clk_tck,
    cpu_count,
    gc_breakdown,
    gossip_breakdown,
    machine_busy,
    machine_info,
    phase_breakdown,
    proc_cpu_s,
    proc_wakeups,
    stage_breakdown,
    wakeup_breakdown,
)
from ._limit import LIMIT_SAMPLE, LimitResult, cheapest, measure_limit
from ._report import BenchResult, Outcome, Progress, _r, load_blocks, percentile
from ._workload import (
    TRADE_GAP,
    TRADE_GAP_S,
    Workload,
    arrival_times,
    build_workload,
    open_loop,
    risk_setup,
    sender_count,
)

DRAIN_S = 20.0  # after the last arrival, wait at most this long for outstanding answers
REQUEST_TIMEOUT_S = 20.0  # one submission's answer (the node's own wait=commit is 30 s)
READY_TIMEOUT_S = 60.0
FUND_TIMEOUT_S = 30.0


def _say(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


async def _wait_linked(session: Any, urls: Sequence[str], timeout: float) -> None:
    """Until every node reports all others as peers (bounded)."""
    import aiohttp

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    want = len(urls) - 1
    pending = list(urls)
    while pending:
        for u in list(pending):
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                async with session.get(u + "/v1/status",
                                       timeout=aiohttp.ClientTimeout(total=2)) as r:
                    st = await r.json()
                if len(st.get("peers") or []) >= want:
                    pending.remove(u)
        if not pending:
            return
        if loop.time() > deadline:
            raise ChainfinError(f"{pending[0]} did not link to all {want} peers within "
                                f"{timeout:g}s")
        await asyncio.sleep(0.1)


async def _fund(session: Any, urls: Sequence[str], funding: Sequence[Transaction]) -> None:
    async def one(k: int, tx: Transaction) -> tuple[str, str | None]:
        body = json.dumps(tx.to_json()).encode()
        url = urls[k % len(urls)] + "/v1/tx?wait=commit"
        try:
            status, answer = await _post(session, url, body, FUND_TIMEOUT_S)
        except Exception as e:  # any failure to fund aborts the run below
            return "error", type(e).__name__
        st, code, _ = _classify(status, answer)
        return st, code

    results = await asyncio.gather(*(one(k, tx) for k, tx in enumerate(funding)))
    bad = [r for r in results if r[0] != "committed"]
    if bad:
        raise ChainfinError(f"funding failed for {len(bad)} of {len(funding)} senders "
                            f"(first: {bad[0][0]} {bad[0][1]})")


async def _load_phase(urls: Sequence[str], work: Workload, rate: float, duration: float,
                      pids: Sequence[int | None], label: str,
                      progress: bool = True, api: str = "rest", ssl_ctx: Any = None
                      ) -> tuple[list[Outcome], dict[str, Any], dict[str, Any]]:
    """Link check, funding, then the open-loop load and the drain. Returns the outcomes, the
    load generator's figures and the nodes' CPU figures. ``ssl_ctx``: the client context for
    https:// nodes (the testnet's CA)."""
    import aiohttp

    conn = aiohttp.TCPConnector(limit=4096, limit_per_host=0, force_close=False,
                                **({"ssl": ssl_ctx} if ssl_ctx is not None else {}))
    async with aiohttp.ClientSession(connector=conn) as session:
        await _wait_linked(session, urls, READY_TIMEOUT_S)
        await _fund(session, urls, work.funding)

        loop = asyncio.get_running_loop()
        clock = time.perf_counter
        schedule = arrival_times(len(work.txs), rate)
        addrs = []
        for u in urls:
            if not u.startswith("http://") and not (u.startswith("https://") and ssl_ctx):
                raise ChainfinError(f"an https:// node needs the CA's context: {u}")
            hp = u.split("://", 1)[1].rstrip("/")
            host, _, port = hp.rpartition(":")
            addrs.append((host, int(port)))
        n_nodes = len(addrs)
        # whole requests (or stream messages) built before the clock starts: the load generator
        # only writes them
        requests = [LeanClient.request_bytes(*addrs[k % n_nodes], "/v1/tx?wait=commit", b)
                    for k, b in enumerate(work.bodies)] if api == "rest" else []
        outcomes = [Outcome(due=t) for t in schedule]
        client = LeanClient(ssl=ssl_ctx)
        start = 0.0

        def on_answer(k: int, a: dict[str, Any]) -> None:
            o = outcomes[k]
            o.done = clock() - start
            if o.sent is not None and o.done - o.sent > REQUEST_TIMEOUT_S:
                o.status, o.code = "timeout", "client_timeout"  # as a REST client gives up
            else:
                o.status, o.code, o.height = _classify_stream(a)

        def on_lost(k: int) -> None:
            o = outcomes[k]
            if not o.status:  # (not one the drain already gave up on)
                o.status, o.code, o.done = "error", "connection_lost", clock() - start

        stream = StreamClient(session, urls, on_answer, on_lost) if api == "stream" else None
        texts = [b.decode() for b in work.bodies] if stream is not None else []
        if stream is not None:
            await stream.open()
        start = clock() + 0.05

        sends: set[asyncio.Task[None]] = set()

        async def send_stream(i: int, keys: list[int]) -> None:
            assert stream is not None
            try:
                await stream.send_many(i, keys, [texts[k] for k in keys])
            except (ConnectionError, RuntimeError):  # the socket closed under us
                for k in keys:
                    on_lost(k)

        def submit_stream(ks: list[int]) -> None:
            """Everything due at this wake-up: one message per node."""
            sent = clock() - start
            per_node: list[list[int]] = [[] for _ in range(n_nodes)]
            for k in ks:
                outcomes[k].sent = sent
                per_node[k % n_nodes].append(k)
            for i, keys in enumerate(per_node):
                for j in range(0, len(keys), STREAM_MESSAGE_TXS):  # a long catch-up: chunks
                    task = loop.create_task(send_stream(i, keys[j:j + STREAM_MESSAGE_TXS]))
                    sends.add(task)
                    task.add_done_callback(sends.discard)

        async def submit(k: int, due: float) -> None:
            o = outcomes[k]
            o.sent = clock() - start
            host, port = addrs[k % n_nodes]
            try:
                status, raw = await client.request(host, port, requests[k], REQUEST_TIMEOUT_S)
            except TimeoutError:
                o.status, o.code = "timeout", "client_timeout"
            except HttpError as e:
                # "reset": the node dropped a new connection before answering (e.g. its listen
                # backlog overflowed); "lost": it closed one while the request waited
                o.status, o.code = "error", "connection_reset" if e.args and "reset" in str(
                    e.args[0]).lower() else "connection_lost"
            except OSError as e:
                o.status, o.code = "error", f"os_{e.errno}"
            else:
                try:
                    answer = json.loads(raw) if raw else None
                except ValueError:
                    answer = None
                o.status, o.code, o.height = _classify(status, answer)
            o.done = clock() - start

        bar = Progress(label, len(schedule), duration) if progress else None

        async def show() -> None:
            assert bar is not None
            while True:
                await asyncio.sleep(bar.every_s)
                bar.show(clock() - start, outcomes)

        stages0 = await _cpu_stages(session, urls, work.reader)
        # the load generator's own GC, as in a node (decision 100): its pauses would show as
        # the ledger's latency. What is alive now (the signed schedule) is frozen for the run
        thresholds = tune_gc()
        pauses = gc_pauses()
        gc0 = [list(b) for b in pauses.buckets], list(pauses.sums)
        cpu0 = time.process_time()
        node0 = [proc_cpu_s(p) if p else None for p in pids]
        wake0 = [proc_wakeups(p) if p else None for p in pids]
        busy0 = machine_busy()
        wall0 = time.monotonic()
        shower = loop.create_task(show()) if bar is not None else None
        try:
            stats = await open_loop(schedule, submit, clock=clock, start=start,
                                    batch=None if stream is None else submit_stream,
                                    tick=STREAM_TICK_S)
            drain_from = clock()
            if stats.tasks or sends:
                await asyncio.wait(set(stats.tasks) | sends, timeout=DRAIN_S)
            if stream is not None:  # the answers still owed, within the same drain limit
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stream.idle.wait(),
                                           max(0.0, DRAIN_S - (clock() - drain_from)))
            undrained = list(stats.tasks)
            for t in undrained:
                t.cancel()
            if undrained:
                await asyncio.gather(*undrained, return_exceptions=True)
            for o in outcomes:
                if not o.status:
                    o.status, o.code = "timeout", "drain_timeout"
            drain_s = clock() - drain_from
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            client.close()
            if stream is not None:
                await stream.close()
            if shower is not None:
                shower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await shower
            if bar is not None:
                bar.show(clock() - start, outcomes)
                bar.close()
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        node1 = [proc_cpu_s(p) if p else None for p in pids]
        wake1 = [proc_wakeups(p) if p else None for p in pids]
        busy1 = machine_busy()
        stages1 = await _cpu_stages(session, urls, work.reader)
        gc_counts = [sum(b) - sum(a) for a, b in zip(gc0[0], pauses.buckets, strict=True)]
        gc_ms = [round((b - a) * 1000, 1) for a, b in zip(gc0[1], pauses.sums, strict=True)]

    lags = sorted(stats.lags_s)
    loadgen = {
        "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
        "cpu_share_of_machine": round(cpu / (wall * cpu_count()), 4) if wall > 0 else None,
        "cpu_us_per_tx": round(cpu / len(outcomes) * 1e6, 1) if outcomes else None,
        "schedule_lag_ms": {"p50": _r(percentile(lags, 50), 1000),
                            "p99": _r(percentile(lags, 99), 1000),
                            "max": _r(stats.max_lag_s, 1000)},
        "drain_s": round(drain_s, 3),
        "gc": {"collections": gc_counts, "pause_ms": gc_ms},
    }
    per_node = [None if a is None or b is None else round(b - a, 3)
                for a, b in zip(node0, node1, strict=True)]
    total = sum(x for x in per_node if x is not None)
    committed = sum(1 for o in outcomes if o.status == "committed")
    node_cpu: dict[str, Any] = {
        "cpu_s": per_node, "total_cpu_s": round(total, 3),
        "cpu_us_per_committed_tx_all_nodes": round(total / committed * 1e6, 1)
        if committed else None,
        # the rate at which the nodes alone would fill every core at this run's CPU per tx: a
        # figure other processes on the machine do not distort (latency figures they do)
        "capacity_estimate_tps": round(cpu_count() / (total / committed), 1)
        if committed and total > 0 else None,
        # where it went (the nodes' own accounting, node/metrics.py CPU_STAGES)
        "stages_us_per_committed_tx_all_nodes": stage_breakdown(stages0, stages1, committed),
        # where a block's wall time went (decision 98): mean ms per phase
        "block_phases_ms": phase_breakdown(stages0, stages1),
        # the interpreter's GC pauses, all nodes (a full collection stops a node)
        "gc": gc_breakdown(stages0, stages1),
        # transactions gossiped between the nodes, and the deferred broadcasts among them (a
        # queue longer than decision 99's wait makes every replica take in every transaction)
        "gossip": gossip_breakdown(stages0, stages1, committed),
        # how often the nodes went to sleep and woke again, per block (a message that arrives
        # alone wakes a node for it), and the kernel's share of their CPU
        "wakeups": wakeup_breakdown(wake0, wake1, total, wall, len(load_blocks(outcomes))),
    }
    if busy0 is not None and busy1 is not None and busy1[1] > busy0[1]:
        # everything the machine did meanwhile; what is neither a node nor the load generator
        # is other processes, which make the figures pessimistic (reported, not hidden)
        busy_s = (busy1[0] - busy0[0]) / clk_tck()
        node_cpu["machine_busy_share"] = round((busy1[0] - busy0[0]) / (busy1[1] - busy0[1]), 4)
        node_cpu["other_processes_cpu_s"] = round(max(0.0, busy_s - total - cpu), 3)
        node_cpu["other_processes_share"] = round(
            max(0.0, busy_s - total - cpu) / (wall * cpu_count()), 4) if wall > 0 else None
    return outcomes, loadgen, node_cpu


def _run_loop(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


@contextlib.contextmanager
def _bench_dir() -> Iterator[Path]:
    keep = os.environ.get("CHAINFIN_BENCH_DIR")
    if keep:
        base = Path(keep).resolve()
        base.mkdir(parents=True, exist_ok=True)
        d = Path(tempfile.mkdtemp(prefix="run-", dir=base))
        yield d
        return
    with tempfile.TemporaryDirectory(prefix="chainfin-bench-") as tmp:
        yield Path(tmp)


def run_bench(nodes: int, rate: float, duration: float, *, measure: bool = True,
              limit: LimitResult | None = None, progress: bool = True,
              label: str | None = None, node_command: Any = None,
              api: str = "rest", risk: bool = False, rest_tls: bool = True,
              on: str | os.PathLike[str] | None = None,
              netns: bool = False, rtt_ms: float = 0.0, jitter_ms: float = 0.0,
              view_timeout_ms: int | None = None) -> BenchResult:
    """One benchmark run on a fresh testnet (see the package doc, ``testnet.bench``). Stops
    every node it started, whatever happens. ``node_command(i, manifest_node) -> argv``
    replaces the node command (experiments: a profiler or interpreter settings around
    ``chainfin node run``). ``rest_tls=False``: REST over plain HTTP (peer links keep TLS), to
    measure what HTTPS costs. ``on``: run on that existing testnet instead of a fresh one (e.g.
    one whose ledgers ``chainfin testnet grow --copy`` filled; it is changed by the run): it must
    have ``nodes`` nodes and enough traders; the load's nonces start above the wall clock in
    microseconds, so they are above any used before. ``netns``: every node in its own network namespace on its own
    address, ``rtt_ms`` (+- ``jitter_ms``) added between any two nodes (testnet/netns.py; root
    only); the load generator stays in the root namespace, next to every node.
    ``view_timeout_ms``: the genesis view timeout (default: the genesis default, 1 s).

    Raises:
        ChainfinError: bad arguments, a node that does not start or dies, failed funding.
    """
    from testnet.launch import Testnet, init_testnet

    if not 1 <= nodes <= 64:
        raise ChainfinError("--nodes is 1..64")
    if api not in APIS:
        raise ChainfinError(f"--api is one of {', '.join(APIS)}")
    if rate <= 0 or duration <= 0:
        raise ChainfinError("--rate and --duration must be positive")
    spec = None
    if netns:
        from testnet.netns import NetnsSpec, pick_subnet, unavailable

        reason = unavailable(rtt_ms)
        if reason:
            raise ChainfinError(f"--netns: {reason}")
        if rtt_ms < 0 or jitter_ms < 0 or jitter_ms > rtt_ms:
            raise ChainfinError("--rtt-ms and --jitter-ms are >= 0, the jitter at most the RTT")
        spec = NetnsSpec(subnet=pick_subnet(), rtt_ms=rtt_ms, jitter_ms=jitter_ms)
    elif rtt_ms or jitter_ms:
        raise ChainfinError("--rtt-ms and --jitter-ms need --netns")
    if on is not None and (netns or view_timeout_ms is not None):
        raise ChainfinError("--on runs on an existing testnet: --netns and --view-timeout-ms "
                            "are chosen when it is made")
    count = max(1, int(round(rate * duration)))
    senders_n = sender_count(rate)
    with _bench_dir() as d:
        first_nonce = 0
        if on is None:
            manifest = init_testnet(d / "tn", nodes, extra_clients=senders_n, rest_tls=rest_tls,
                                    netns=spec, params=None if view_timeout_ms is None else
                                    {"view_timeout_ms": view_timeout_ms})
            root = d / "tn"
        else:
            from testnet.launch import load_manifest

            root = Path(on)
            manifest = load_manifest(root)
            traders = sum(1 for c in manifest.clients if c.name.startswith("trader"))
            if len(manifest.nodes) != nodes or traders < senders_n:
                raise ChainfinError(f"{root} has {len(manifest.nodes)} nodes and {traders} "
                                    f"traders; this run needs {nodes} and {senders_n}")
            first_nonce = time.time_ns() // 1000
        issuer = load_identity(manifest.client("usd_issuer").key_file)
        senders = [load_identity(manifest.client(f"trader{i}").key_file)
                   for i in range(senders_n)]
        banks = [load_identity(manifest.client(f"bank{i}").key_file) for i in range(nodes)]
        customs = load_identity(manifest.client("customs").key_file)
        t0 = time.perf_counter()
        work = build_workload(manifest.chain_id, issuer, senders, count, banks=banks,
                              customs=customs,
                              trade_gap=max(TRADE_GAP, math.ceil(rate * TRADE_GAP_S)),
                              first_nonce=first_nonce)
        work.encode_bodies()
        work.reader = issuer
        from testnet.launch import keyed_genesis

        genesis = keyed_genesis(manifest)  # the regulator hashes watch entries with its key
        if risk:
            work.funding += risk_setup(
                manifest.chain_id, load_identity(manifest.client("regulator").key_file),
                [*senders, *banks], genesis.fingerprint_key_bytes())
        _say(f"signed {len(work.funding)} funding{' and risk setup' if risk else ''} + "
             f"{count} load transactions ({senders_n} senders) in "
             f"{time.perf_counter() - t0:.1f}s")
        if limit is None and measure:
            t0 = time.perf_counter()
            limit = measure_limit(genesis, work.funding, work.txs[:LIMIT_SAMPLE], nodes=nodes)
            _say(f"limit: {limit.cost_us:.0f} us CPU per tx per node -> limit_tps "
                 f"{limit.limit_tps:.0f} on {limit.cpus} cores "
                 f"(measured in {time.perf_counter() - t0:.1f}s)")
        busy_before = busy_share(1.0)
        if busy_before is not None and busy_before > 0.1:
            _say(f"warning: the machine is {busy_before * 100:.0f}% busy before the run (other "
                 "processes): the figures will be pessimistic")
        with Testnet(root, command=node_command) as tn:
            tn.start()
            tn.wait_ready(READY_TIMEOUT_S)
            pids = [tn.pid(i) for i in range(tn.n)]
            _say(f"{nodes} nodes up in {root} (pids {' '.join(str(p) for p in pids)})")
            net_info = None
            if tn.network is not None:
                net_info = {"namespaces": True, "rtt_ms": tn.network.rtt_ms,
                            "jitter_ms": tn.network.jitter_ms, "delay_by": tn.network.method}
                _say(f"each node in its own network namespace ({tn.network.ns(0)}..), RTT "
                     f"{tn.network.rtt_ms:g} ms +- {tn.network.jitter_ms:g}"
                     + (f" by {tn.network.method}" if tn.network.method else ""))
            urls = [tn.rest_url(i) for i in range(tn.n)]
            delay_pids = tn.network.delay_pids() if tn.network is not None else []
            delay_cpu0 = sum(proc_cpu_s(p) or 0.0 for p in delay_pids)
            outcomes, loadgen, node_cpu = _run_loop(_load_phase(
                urls, work, rate, duration, pids,
                label or f"{nodes} nodes @ {rate:g} tx/s", progress, api,
                tn.ssl_context() if urls[0].startswith("https://") else None))
            if net_info is not None and delay_pids:
                # the delay processes' CPU during the load phase (part of "other processes")
                net_info["delay_cpu_s"] = round(
                    sum(proc_cpu_s(p) or 0.0 for p in delay_pids) - delay_cpu0, 3)
            died = tn.exited()
            if died:
                k, code = next(iter(died.items()))
                raise ChainfinError(f"node{k} exited with code {code} during the run"
                                    f"{tn._log_tail(k)}")
        res = BenchResult(nodes=nodes, offered_rate=rate, duration_s=duration,
                          kinds=work.kinds, outcomes=outcomes, limit=limit, loadgen=loadgen,
                          node_cpu=node_cpu,
                          machine={**machine_info(), "busy_before_run": busy_before,
                                   "peer_tls": bool(getattr(manifest, "ca", None)),
                                   "rest_tls": rest_tls,
                                   **({"view_timeout_ms": view_timeout_ms}
                                      if view_timeout_ms is not None else {}),
                                   **({"netns": net_info} if net_info else {})},
                          senders=senders_n, api=api, risk=risk)
        if measure:  # the same loop again now that the nodes are gone (LIMIT_REPEATS)
            after = measure_limit(genesis, work.funding, work.txs[:LIMIT_SAMPLE], nodes=nodes)
            res.limit = limit = cheapest(limit, after)
            assert limit is not None
            _say(f"limit after the run: {after.cost_us:.0f} us per tx per node; the cheapest "
                 f"of all passes: {limit.cost_us:.0f} us -> limit_tps {limit.limit_tps:.0f}")
        mean = res.blocks()["mean_txs"]
        if measure and mean:
            bs = max(1, round(mean))
            if limit is None or bs < limit.block_txs:
                res.limit_observed = measure_limit(genesis, work.funding, work.txs[:LIMIT_SAMPLE],
                                                   nodes=nodes, block_txs=bs)
    return res
