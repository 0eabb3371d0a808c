"""Prometheus metrics of one node (a registry per node, so tests can run several in a process)."""

from __future__ import annotations

import bisect
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _DictCollector:
    """Exports a live ``dict[str, int]`` of counters (engine / transport stats) as one family."""

    def __init__(self, name: str, doc: str, source: Callable[[], dict[str, int]]) -> None:
        self._name, self._doc, self._source = name, doc, source

    def collect(self) -> Iterator[Metric]:  # the prometheus_client Collector protocol
        fam = CounterMetricFamily(self._name, self._doc, labels=["what"])
        for k, v in sorted(self._source().items()):
            if isinstance(v, int | float):
                fam.add_metric([k], v)
        yield fam


#: the main thread's pipeline stages whose CPU a node accounts (``NodeMetrics.cpu``): the REST
#: entry's admission, gossip in, the consensus engine, block building (primary), executing a
#: proposal (replica), committing, the synced WAL write of a turn, and the peer links' own work:
#: opening and dispatching what arrives (``p2p_in``), sealing and writing what leaves
#: (``p2p_out``: the websocket frame, TLS, the socket write). What the main thread spends
#: outside them is ``other`` (HTTP, reading sockets and TLS, the event loop); the process's
#: other threads (LevelDB's compaction) are ``background``.
CPU_STAGES = ("admit", "gossip_in", "consensus", "build", "execute", "commit", "wal", "p2p_in",
              "p2p_out")

#: the phases of a block a node times (``chainfin_block_phase_seconds``, decision 98)
BLOCK_PHASES = ("queue", "execute", "prepare", "commit", "apply")


class _CpuCollector:
    """``chainfin_cpu_seconds_total{stage}``: the stages, then other and background derived at
    scrape time (the scrape runs on the main thread, the one the stages are measured on)."""

    def __init__(self, stages: dict[str, float]) -> None:
        self._stages = stages

    def collect(self) -> Iterator[Metric]:  # the prometheus_client Collector protocol
        fam = CounterMetricFamily("chainfin_cpu_seconds",
                                  "CPU time by pipeline stage (main thread; other; background)",
                                  labels=["stage"])
        main = time.thread_time()
        for k, v in self._stages.items():
            fam.add_metric([k], v)
        fam.add_metric(["other"], max(0.0, main - sum(self._stages.values())))
        fam.add_metric(["background"], max(0.0, time.process_time() - main))
        yield fam


#: upper bounds of the GC pause buckets (seconds)
GC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class GcPauses:
    """How long the interpreter's cyclic GC stopped the process, per generation (a
    ``gc.callbacks`` hook, one per process: :func:`gc_pauses`). A full (generation 2) collection
    walks every tracked object, so its pause grows with the heap and shows in finality tails."""

    def __init__(self) -> None:
        self._t0 = 0.0
        self.buckets = [[0] * (len(GC_BUCKETS) + 1) for _ in range(3)]
        self.sums = [0.0, 0.0, 0.0]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        d = time.perf_counter() - self._t0
        g = min(2, max(0, int(info.get("generation", 0))))
        self.sums[g] += d
        self.buckets[g][bisect.bisect_left(GC_BUCKETS, d)] += 1  # le semantics

    def collect(self) -> Iterator[Metric]:  # the prometheus_client Collector protocol
        fam = HistogramMetricFamily("chainfin_gc_pause_seconds",
                                    "Pauses of the cyclic garbage collector by generation "
                                    "(the whole process)", labels=["generation"])
        for g in range(3):
            cum, out = 0, []
            for le, n in zip((*GC_BUCKETS, float("inf")), self.buckets[g], strict=True):
                cum += n
                out.append(("+Inf" if le == float("inf") else repr(le), cum))
            fam.add_metric([str(g)], out, self.sums[g])
        yield fam


_GC_PAUSES: GcPauses | None = None


def gc_pauses() -> GcPauses:
    """The process's GC pause recorder, installed in ``gc.callbacks`` at the first call."""
    global _GC_PAUSES
    if _GC_PAUSES is None:
        _GC_PAUSES = GcPauses()
        gc.callbacks.append(_GC_PAUSES)
    return _GC_PAUSES


class NodeMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.height = Gauge("chainfin_height", "Last committed block height", registry=r)
        self.view = Gauge("chainfin_view", "Current consensus view", registry=r)
        self.mempool = Gauge("chainfin_mempool_txs", "Transactions in the mempool", registry=r)
        self.commit_lag = Gauge("chainfin_commit_lag_seconds",
                                "Median admission-to-commit time of the transactions of the last "
                                "committed block (while it is high and a block's worth is pending, "
                                "the node answers 503 overloaded)",
                                registry=r)
        self.peers = Gauge("chainfin_peers_connected", "Connected validator peers", registry=r)
        self.tls_expiry = Gauge("chainfin_tls_certificate_expiry_timestamp_seconds",
                                "When this node's TLS certificate (certificate=node) and the "
                                "first CA certificate it trusts (certificate=ca) expire, UNIX "
                                "seconds (absent without TLS)", ["certificate"], registry=r)
        self.compiled = Gauge("chainfin_compiled",
                              "1 when this node runs the mypyc-compiled codec and trees, 0 when "
                              "their Python source (decision 96)", registry=r)
        self.disk_full = Gauge("chainfin_disk_full",
                               "1 while the data directory is below its free-space reserve "
                               "(consensus paused, transactions refused with 507 disk_full)",
                               registry=r)
        self.loop_lag = Gauge("chainfin_event_loop_lag_seconds",
                              "How late the ticker woke up (blocked event loop)", registry=r)
        self.block_time_offset = Gauge(
            "chainfin_block_time_offset_seconds",
            "This node's wall clock minus the timestamp of the block it committed last, when "
            "it committed it (healthy: the commit latency, under a second; a node whose clock "
            "is more than max_clock_skew_ms behind the blocks, or 60 s ahead, cannot vote)",
            registry=r)
        self.txs_committed = Counter("chainfin_txs_committed", "Transactions committed", registry=r)
        self.txs_rejected = Counter("chainfin_txs_rejected",
                                    "Transactions committed with status rejected", registry=r)
        self.tx_refused = Counter("chainfin_tx_refused", "Transactions refused at admission",
                                  ["code"], registry=r)
        self.blocks = Counter("chainfin_blocks_committed", "Blocks committed", registry=r)
        self.peer_frames_dropped = Counter("chainfin_peer_frames_dropped",
                                           "Peer frames dropped by the node", ["reason"],
                                           registry=r)
        self.http_errors = Counter("chainfin_http_errors", "REST errors returned", ["code"],
                                   registry=r)
        self.finality = Histogram(
            "chainfin_finality_seconds", "Admission to commit, per transaction (this node)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r)
        self.phase = Histogram(
            "chainfin_block_phase_seconds",
            "Where a block's time goes on this node (decision 98): queue (per transaction, admitted "
            "here to its block's build; the primary only), execute (proposal known to our vote), "
            "prepare (our vote to prepared), commit (prepared to a commit quorum), apply (writing "
            "the block and answering its clients)", ["phase"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28),
            registry=r)
        self.commit_write = Histogram(
            "chainfin_commit_write_seconds", "Time to write one committed block",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1), registry=r)

        # seconds of main-thread CPU per stage, added to by the node around each stage's call
        self.cpu: dict[str, float] = dict.fromkeys(CPU_STAGES, 0.0)
        r.register(_CpuCollector(self.cpu))
        r.register(gc_pauses())
        #: the risk families of this node's bank (node/risk_metrics.py), rendered only where
        #: the chain-wide ``chainfin_risk_*`` are (``render_risk``): never to a customer, whom a
        #: count read before and after its payment would tell what the payment raised
        self.risk_registry = CollectorRegistry(auto_describe=False)

    def export_dict(self, name: str, doc: str, source: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_DictCollector(name, doc, source))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def render_risk(self) -> bytes:
        """The bank's risk families: for validators, regulators, auditors, the node's own keys
        and the metrics listener only (``node.api.metrics_response``)."""
        return generate_latest(self.risk_registry)
