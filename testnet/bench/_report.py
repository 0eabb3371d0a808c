"""What a run measured: the outcomes, their statistics, the ``--json`` document, the report
table, the progress line and the plot."""

from __future__ import annotations

import json
import math
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from chainfin.errors import ChainfinError
from node.metrics import BLOCK_PHASES, CPU_STAGES

from ._clients import API_NAMES
from ._limit import LimitResult
from ._workload import TRANSFER_SHARE

#: The keys ``--json`` always writes (issue 7); more follow them.
JSON_KEYS = ("nodes", "offered_rate", "duration_s", "sent", "committed", "failed",
             "throughput_tps", "finality_ms", "limit_tps", "ratio_to_limit")
#: --find-max's pass criterion (issue 7's sustained target)
MAX_P99_MS = 1000.0
#: issue 7's targets at 500 tx/s with 4 nodes on 2 cores
TARGET_P50_MS = 50.0
TARGET_P99_MS = 250.0
TARGET_RATIO = 0.5


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0..100) of already sorted values, linear interpolation between
    closest ranks (numpy's default); None for no values."""
    if not 0 <= p <= 100:
        raise ValueError("p is between 0 and 100")
    n = len(sorted_values)
    if n == 0:
        return None
    if n == 1:
        return float(sorted_values[0])
    pos = (n - 1) * p / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def finality_stats(values_ms: Sequence[float]) -> dict[str, float | None]:
    """min/p50/p95/p99/max/mean of finality samples in ms (None each when there are none)."""
    v = sorted(values_ms)

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    return {
        "min": r(v[0]) if v else None,
        "p50": r(percentile(v, 50)),
        "p95": r(percentile(v, 95)),
        "p99": r(percentile(v, 99)),
        "max": r(v[-1]) if v else None,
        "mean": r(sum(v) / len(v)) if v else None,
    }


@dataclass
class Outcome:
    """One load transaction: offsets in seconds from the run's start (its first due time)."""

    due: float
    sent: float | None = None
    done: float | None = None
    status: str = ""  # committed | rejected | error | timeout ("" while in flight)
    code: str | None = None
    height: int | None = None

    @property
    def finality_ms(self) -> float | None:
        if self.status != "committed" or self.done is None:
            return None
        return (self.done - self.due) * 1000.0


def load_blocks(outcomes: Sequence[Outcome]) -> Counter[int]:
    """The committed load's transactions per block height (from the answers)."""
    return Counter(o.height for o in outcomes if o.status == "committed" and o.height is not None)


@dataclass
class BenchResult:
    nodes: int
    offered_rate: float
    duration_s: float
    kinds: list[str]
    outcomes: list[Outcome]
    limit: LimitResult | None = None
    loadgen: dict[str, Any] = field(default_factory=dict)
    node_cpu: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    senders: int = 0
    api: str = "rest"  # how the load generator submits: REST requests or the WebSocket stream
    #: risk controls on: every sender under an outflow limit and a velocity rule, and
    #: RISK_WATCH_ENTRIES watch-list entries (:func:`risk_setup`)
    risk: bool = False
    #: the same measurement with blocks of the size the run actually had (its per-block costs
    #: show how far small blocks are from the minimal cost)
    limit_observed: LimitResult | None = None

    # -------------------------------------------------------------- derived figures

    def _select(self, kind: str | None) -> list[Outcome]:
        if kind is None:
            return self.outcomes
        return [o for o, k in zip(self.outcomes, self.kinds, strict=True) if k == kind]

    def sent(self, kind: str | None = None) -> int:
        return sum(1 for o in self._select(kind) if o.sent is not None)

    def committed(self, kind: str | None = None) -> int:
        return sum(1 for o in self._select(kind) if o.status == "committed")

    def failed(self, kind: str | None = None) -> int:
        return sum(1 for o in self._select(kind) if o.status != "committed")

    def finalities_ms(self, kind: str | None = None) -> list[float]:
        return [f for o in self._select(kind) if (f := o.finality_ms) is not None]

    def throughput_tps(self, kind: str | None = None) -> float:
        """Committed per second, from the first due time to the last commit (Caliper's way)."""
        sel = self._select(kind)
        done = [o.done for o in sel if o.status == "committed" and o.done is not None]
        if not done:
            return 0.0
        first = min(o.due for o in sel)
        span = max(done) - first
        return len(done) / span if span > 0 else 0.0

    def send_rate(self, kind: str | None = None) -> float:
        sent = [o.sent for o in self._select(kind) if o.sent is not None]
        if len(sent) < 2:
            return 0.0
        span = max(sent) - min(sent)
        return (len(sent) - 1) / span if span > 0 else 0.0

    def blocks(self) -> dict[str, Any]:
        """Blocks that held the load: how many, and their mean size (from the answers)."""
        heights = load_blocks(self.outcomes)
        if not heights:
            return {"count": 0, "mean_txs": None, "max_txs": None}
        return {"count": len(heights), "mean_txs": round(sum(heights.values()) / len(heights), 2),
                "max_txs": max(heights.values())}

    def errors(self) -> dict[str, int]:
        c = Counter(f"{o.status}:{o.code}" if o.code else o.status
                    for o in self.outcomes if o.status != "committed")
        return dict(sorted(c.items()))

    def passed(self, max_p99_ms: float = MAX_P99_MS) -> bool:
        """The sustained target: nothing failed and p99 finality within ``max_p99_ms``."""
        p99 = finality_stats(self.finalities_ms())["p99"]
        return self.failed() == 0 and self.committed() > 0 and p99 is not None \
            and p99 <= max_p99_ms


def result_json(r: BenchResult) -> dict[str, Any]:
    """The ``--json`` document: :data:`JSON_KEYS` first, then details."""
    fin = finality_stats(r.finalities_ms())
    tput = r.throughput_tps()
    limit = r.limit.limit_tps if r.limit is not None else None
    ratio = tput / limit if limit else None
    by_kind = {}
    for kind in sorted(set(r.kinds)):
        by_kind[kind] = {"sent": r.sent(kind), "committed": r.committed(kind),
                         "failed": r.failed(kind),
                         "throughput_tps": round(r.throughput_tps(kind), 2),
                         "finality_ms": finality_stats(r.finalities_ms(kind))}
    out: dict[str, Any] = {
        "nodes": r.nodes,
        "offered_rate": r.offered_rate,
        "duration_s": r.duration_s,
        "sent": r.sent(),
        "committed": r.committed(),
        "failed": r.failed(),
        "throughput_tps": round(tput, 2),
        "finality_ms": fin,
        "limit_tps": None if limit is None else round(limit, 1),
        "ratio_to_limit": None if ratio is None else round(ratio, 4),
        # details
        "rejected": sum(1 for o in r.outcomes if o.status == "rejected"),
        "blocks": r.blocks(),
        "errors": r.errors(),
        "send_rate_tps": round(r.send_rate(), 2),
        "by_kind": by_kind,
        "by_entry_node": by_entry_node(r),
        "senders": r.senders,
        "api": r.api,
        "risk": r.risk,
        "limit": None if r.limit is None else r.limit.to_json(),
        "limit_breakdown_us": None if r.limit is None else
        {k: round(v, 2) for k, v in r.limit.breakdown_us.items()},
        "limit_at_observed_block_size": None if r.limit_observed is None
        else r.limit_observed.to_json(),
        "targets": targets(r),
        "loadgen": r.loadgen,
        "node_cpu": r.node_cpu,
        "machine": r.machine,
    }
    return out


def by_entry_node(r: BenchResult) -> list[dict[str, Any]]:
    """Per node that received the submissions (round-robin: load tx k went to node k % N): a
    node that falls behind answers its own ``wait=commit`` requests late or not at all."""
    out = []
    for i in range(r.nodes):
        sel = r.outcomes[i::r.nodes]
        fin = sorted(f for o in sel if (f := o.finality_ms) is not None)
        out.append({"node": i, "sent": sum(1 for o in sel if o.sent is not None),
                    "committed": sum(1 for o in sel if o.status == "committed"),
                    "failed": sum(1 for o in sel if o.status != "committed"),
                    "p50_ms": _r(percentile(fin, 50)), "p99_ms": _r(percentile(fin, 99))})
    return out


def targets(r: BenchResult) -> dict[str, Any]:
    """Issue 7's targets, each with its measured value and whether it holds."""
    fin = finality_stats(r.finalities_ms())
    tput = r.throughput_tps()
    ratio = tput / r.limit.limit_tps if r.limit is not None else None
    p50, p99 = fin["p50"], fin["p99"]
    return {
        "nothing_failed": r.failed() == 0,
        "p50_le_50ms": p50 is not None and p50 <= TARGET_P50_MS,
        "p99_le_250ms": p99 is not None and p99 <= TARGET_P99_MS,
        "p99_le_1s": p99 is not None and p99 <= MAX_P99_MS,
        "ratio_ge_0.5": ratio is not None and ratio >= TARGET_RATIO,
    }


class Progress:
    """A one-line bar on stderr while a run goes (a TTY), else a plain line every few seconds."""

    def __init__(self, label: str, total: int, duration: float, stream: IO[str] | None = None,
                 tty: bool | None = None, every_s: float = 5.0) -> None:
        self.label = label
        self.total = total
        self.duration = duration
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every_s = every_s if not self.tty else 0.25
        self._last_len = 0

    def line(self, elapsed: float, outcomes: Sequence[Outcome], width: int = 24) -> str:
        sent = committed = failed = 0
        recent: list[float] = []
        for o in outcomes:
            if o.sent is None:
                continue
            sent += 1
            if o.status == "committed":
                committed += 1
            elif o.status:
                failed += 1
        for o in outcomes[max(0, sent - 2000):sent]:
            f = o.finality_ms
            if f is not None:
                recent.append(f)
        recent.sort()
        p50, p99 = percentile(recent, 50), percentile(recent, 99)
        frac = min(1.0, elapsed / self.duration) if self.duration > 0 else 1.0
        fill = int(frac * width)
        bar = "#" * fill + "-" * (width - fill)
        lat = (f" p50 {p50:.0f}ms p99 {p99:.0f}ms" if p50 is not None and p99 is not None
               else "")
        return (f"{self.label} [{bar}] {elapsed:5.1f}/{self.duration:g}s sent {sent}/"
                f"{self.total} ok {committed} failed {failed} in-flight "
                f"{sent - committed - failed}{lat}")

    def show(self, elapsed: float, outcomes: Sequence[Outcome]) -> None:
        text = self.line(elapsed, outcomes)
        if self.tty:
            pad = max(0, self._last_len - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._last_len = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._last_len:
            self.stream.write("\n")
            self.stream.flush()
            self._last_len = 0


def _r(x: float | None, scale: float = 1.0) -> float | None:
    return None if x is None else round(x * scale, 3)


def _fmt(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:,.{nd}f}"


def _gc_text(g: dict[str, Any]) -> str:
    """``{"collections": [...], "pause_ms": [...]}`` by generation, as the report says it."""
    return (" / ".join(map(str, g["collections"])) + " collections by generation, "
            + " / ".join(f"{x:g}" for x in g["pause_ms"]) + " ms paused")


def report_table(r: BenchResult) -> str:
    """A Caliper-like report: one row per transaction kind and a total."""
    head = ["Name", "Sent", "Committed", "Failed", "Send rate (tps)", "Throughput (tps)",
            "Min (ms)", "p50 (ms)", "p95 (ms)", "p99 (ms)", "Max (ms)"]
    rows = []
    names = {"transfer": "settlement.transfer", "register": "trade_documents.register"}
    for kind in [*sorted(set(r.kinds)), None]:
        fin = finality_stats(r.finalities_ms(kind))
        rows.append([names.get(kind or "", kind or "all"), str(r.sent(kind)),
                     str(r.committed(kind)), str(r.failed(kind)), _fmt(r.send_rate(kind)),
                     _fmt(r.throughput_tps(kind)), _fmt(fin["min"]), _fmt(fin["p50"]),
                     _fmt(fin["p95"]), _fmt(fin["p99"]), _fmt(fin["max"])])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    scheme = "HTTPS" if r.machine.get("rest_tls", True) else "plain HTTP"
    net = r.machine.get("netns")
    where = ("127.0.0.1" if not net else
             f"separate network namespaces, RTT {net['rtt_ms']:g} ms"
             + (f" +- {net['jitter_ms']:g}" if net.get("jitter_ms") else "")
             + (f" ({net['delay_by']})" if net.get("delay_by") else ""))
    out = [f"chainfin bench: {r.nodes} nodes on {where}, open loop {r.offered_rate:g} tx/s for "
           f"{r.duration_s:g}s over {API_NAMES[r.api]} on {scheme}, {r.senders} senders "
           f"({round(TRANSFER_SHARE * 100)}% transfers, {round(100 - TRANSFER_SHARE * 100)}% "
           "trade-finance work: invoices, declarations, attestations, financings)"
           + ("; risk controls on" if r.risk else "")
           + ("" if r.machine.get("compiled", True) else "; Python codec and trees (decision 96)")
           + ("" if r.machine.get("c_tree_update", True) else "; tree update not in C"),
           sep, line(head), sep]
    out += [line(row) for row in rows[:-1]] + [sep, line(rows[-1]), sep]
    errs = r.errors()
    if errs:
        out.append("failures: " + ", ".join(f"{k} x{v}" for k, v in errs.items()))
    if r.limit is not None:
        lim = r.limit
        parts = ", ".join(f"{k} {v:.1f}" for k, v in lim.breakdown_us.items())
        tput = r.throughput_tps()
        out.append(f"limit_tps {lim.limit_tps:,.1f} = {lim.cpus} cores / ({r.nodes} nodes x "
                   f"{lim.cost_us:.1f} us per tx) [{parts} us; blocks of {lim.block_txs}, "
                   f"{lim.txs} txs]")
        out.append(f"ratio_to_limit {tput / lim.limit_tps:.3f} (throughput {tput:,.1f} tx/s)")
    lo = r.limit_observed
    if lo is not None:
        blk = r.blocks()
        out.append(f"with blocks of {lo.block_txs} txs as in this run ({blk['count']} blocks, mean "
                   f"{blk['mean_txs']} txs): {lo.cost_us:.1f} us per tx per node -> "
                   f"{lo.limit_tps:,.1f} tx/s")
    t = targets(r)
    out.append("targets: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in t.items()))
    lg, nc = r.loadgen, r.node_cpu
    if lg:
        lag = lg.get("schedule_lag_ms", {})
        out.append(f"load generator: {lg['cpu_s']:.1f}s CPU in {lg['wall_s']:.1f}s "
                   f"({(lg['cpu_share_of_machine'] or 0) * 100:.1f}% of the machine, "
                   f"{lg['cpu_us_per_tx']} us/tx); schedule lag p99 {lag.get('p99')} ms, "
                   f"max {lag.get('max')} ms" + (
                       "; its GC: " + _gc_text(lg["gc"]) if lg.get("gc") else ""))
    if nc:
        busy = nc.get("machine_busy_share")
        out.append(f"nodes: {nc['total_cpu_s']:.1f}s CPU in total "
                   f"({nc.get('cpu_us_per_committed_tx_all_nodes')} us per committed tx, all "
                   f"nodes: the cores would be full at {nc.get('capacity_estimate_tps')} tx/s)" + (f"; machine busy {busy * 100:.0f}%" if busy is not None else "")
                   + (f", other processes used {nc['other_processes_share'] * 100:.0f}% of it"
                      if nc.get("other_processes_share") else ""))
    stages = nc.get("stages_us_per_committed_tx_all_nodes") if nc else None
    if stages:
        order = [k for k in (*CPU_STAGES, "other", "background") if k in stages]
        out.append("nodes' CPU by stage, us per committed tx (all nodes): " + ", ".join(
            f"{k} {stages[k]:,.0f}" for k in order) + " (p2p_in / p2p_out: the peer links' "
            "frames opened and dispatched / sealed and written with TLS; other: HTTP, reading "
            "sockets and TLS, the event loop; background: LevelDB's thread)")
    phases = nc.get("block_phases_ms") if nc else None
    if phases:
        pr, rp = phases.get("primary", {}), phases.get("replicas", {})
        out.append("block phases, mean ms (primary / replicas): " + ", ".join(
            f"{ph} {pr.get(ph, '-')} / {rp.get(ph, '-')}" for ph in BLOCK_PHASES
            if ph in pr or ph in rp) + " (queue: a transaction's wait for its block; execute: "
            "the proposal known to our vote; prepare: to prepared; commit: to a commit quorum; "
            "apply: writing the block and answering)")
    wk = nc.get("wakeups") if nc else None
    if wk:
        out.append(f"nodes' wake-ups: {wk['per_s']:,.0f} a second in all, "
                   f"{wk['per_block_per_node']} per block and node; preempted "
                   f"{wk['preempted_per_s']:,.0f} times a second; the kernel's share of their "
                   f"CPU {(wk['kernel_share_of_cpu'] or 0) * 100:.0f}%")
    gs = nc.get("gossip") if nc else None
    if gs:
        out.append(f"nodes' gossip: {gs.get('gossip_txs_in', 0):,} transactions taken in from "
                   f"peers ({gs.get('gossip_txs_in_per_tx', 0)} per committed tx), "
                   f"{gs.get('gossip_deferred_out', 0):,} broadcast late (deferred: in no "
                   f"proposal in time)")
    gcs = nc.get("gc") if nc else None
    if gcs:
        out.append(f"nodes' GC: {_gc_text(gcs)}, {gcs['pauses_over_10ms']} pauses over 10 ms")
    if r.machine.get("busy_before_run") is not None:
        out.append(f"machine busy before the nodes started: "
                   f"{r.machine['busy_before_run'] * 100:.0f}% (other processes)")
    return "\n".join(out)


def write_plot(r: BenchResult, path: str | os.PathLike[str],
               title: str | None = None) -> None:
    """PNG: finality over time (scatter by kind, failures marked) and its histogram.

    Raises:
        ChainfinError: matplotlib is not installed (``pip install 'chainfin[plot]'``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ChainfinError("--plot needs matplotlib: pip install 'chainfin[plot]' "
                            "(or pip install matplotlib)") from e
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    colors = {"transfer": "tab:blue", "register": "tab:orange"}
    for kind in sorted(set(r.kinds)):
        xs, ys = [], []
        for o, k in zip(r.outcomes, r.kinds, strict=True):
            f = o.finality_ms
            if k == kind and f is not None:
                xs.append(o.due)
                ys.append(f)
        ax1.scatter(xs, ys, s=3, alpha=0.5, label=kind, color=colors.get(kind))
    fails = [o for o in r.outcomes if o.status != "committed"]
    if fails:
        top = max(r.finalities_ms(), default=1000.0)
        ax1.scatter([o.due for o in fails], [top * 1.1] * len(fails), marker="x", s=12,
                    color="red", label=f"failed ({len(fails)})")
    fin = finality_stats(r.finalities_ms())
    for name, style in (("p50", "--"), ("p99", ":")):
        v = fin[name]
        if v is not None:
            ax1.axhline(v, linestyle=style, color="gray", linewidth=1)
            ax1.text(0, v, f" {name} {v:.0f} ms", va="bottom", fontsize=8, color="dimgray")
    ax1.set_yscale("log")
    ax1.set_xlabel("scheduled send time (s)")
    ax1.set_ylabel("finality (ms, log)")
    ax1.legend(loc="upper right", fontsize=8, markerscale=3)
    ax1.grid(True, which="both", alpha=0.2)
    vals = r.finalities_ms()
    if vals:
        ax2.hist(vals, bins=60, color="tab:blue", alpha=0.8)
    ax2.set_yscale("log")
    ax2.set_xlabel("finality (ms)")
    ax2.set_ylabel("transactions (log)")
    ax2.grid(True, alpha=0.2)
    tput = r.throughput_tps()
    fig.suptitle(title or (f"chainfin bench: {r.nodes} nodes, {r.offered_rate:g} tx/s offered for "
                           f"{r.duration_s:g}s: {r.committed()}/{r.sent()} committed, "
                           f"{tput:,.0f} tx/s, p50 {_fmt(fin['p50'])} ms, "
                           f"p99 {_fmt(fin['p99'])} ms"), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _write_json(doc: dict[str, Any], path: str) -> None:
    try:
        Path(path).write_text(json.dumps(doc, indent=2) + "\n")
    except OSError as e:
        raise ChainfinError(f"cannot write {path}: {e.strerror or e}") from e


def _step_json(r: BenchResult) -> dict[str, Any]:
    fin = finality_stats(r.finalities_ms())
    tput = r.throughput_tps()
    return {"offered_rate": r.offered_rate, "sent": r.sent(), "committed": r.committed(),
            "failed": r.failed(), "throughput_tps": round(tput, 2), "finality_ms": fin,
            "passed": r.passed(),
            "ratio_to_limit": round(tput / r.limit.limit_tps, 4) if r.limit else None,
            "errors": r.errors(), "blocks": r.blocks(),
            "node_cpu_us_per_tx": r.node_cpu.get("cpu_us_per_committed_tx_all_nodes"),
            "other_processes_share": r.node_cpu.get("other_processes_share")}
