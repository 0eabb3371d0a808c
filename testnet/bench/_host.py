"""Host statistics: the cores this process may use, CPU seconds of a process and of the whole
machine from ``/proc``, how busy the machine is, what it is, and the nodes' CPU by stage."""

from __future__ import annotations

import contextlib
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chainfin import compiled
from node.metrics import BLOCK_PHASES


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def clk_tck() -> int:
    """Clock ticks per second: the unit of /proc's CPU times."""
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100


def _cpu_ticks(pid: int) -> tuple[int, int] | None:
    """(user, system) CPU clock ticks of a process from /proc/PID/stat, None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()  # after the command name, which may hold spaces
    try:
        return int(fields[11]), int(fields[12])
    except (IndexError, ValueError):
        return None


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None if unreadable."""
    ticks = _cpu_ticks(pid)
    return None if ticks is None else sum(ticks) / clk_tck()


def proc_wakeups(pid: int) -> tuple[int, int, float] | None:
    """(voluntary context switches, involuntary ones, system CPU seconds) of a process (Linux
    /proc), None if unreadable. A voluntary switch is the process going to sleep with nothing
    to do (an event loop's ``epoll_wait``): each one is a wake-up later, the unit in which an
    idle node pays for a message that arrives alone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except OSError:
        return None
    counts: dict[str, int] = {}
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            counts[name] = int(value)
    ticks = _cpu_ticks(pid)
    if ticks is None or len(counts) != 2:
        return None
    return (counts["voluntary_ctxt_switches"], counts["nonvoluntary_ctxt_switches"],
            ticks[1] / clk_tck())


def wakeup_breakdown(before: Sequence[tuple[int, int, float] | None],
                     after: Sequence[tuple[int, int, float] | None], cpu_s: float,
                     wall_s: float, blocks: int) -> dict[str, Any] | None:
    """The nodes' wake-ups (voluntary context switches) per second and per block and node, the
    preemptions per second, and the kernel's share of their CPU, from :func:`proc_wakeups`
    readings before and after the load (None when a reading is missing)."""
    pairs = [(a, b) for a, b in zip(before, after, strict=True) if a is not None and b is not None]
    if not pairs or len(pairs) != len(before) or wall_s <= 0:
        return None
    vol = sum(b[0] - a[0] for a, b in pairs)
    inv = sum(b[1] - a[1] for a, b in pairs)
    sys_s = sum(b[2] - a[2] for a, b in pairs)
    return {"per_s": round(vol / wall_s, 1),
            "per_block_per_node": round(vol / blocks / len(pairs), 1) if blocks else None,
            "preempted_per_s": round(inv / wall_s, 1),
            "kernel_share_of_cpu": round(sys_s / cpu_s, 4) if cpu_s > 0 else None}


def machine_busy() -> tuple[float, float] | None:
    """(busy, total) jiffies of the whole machine from /proc/stat, None if unreadable."""
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu":
        return None
    vals = [float(x) for x in parts[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0.0)
    total = sum(vals[:8])
    return total - idle, total


def busy_share(seconds: float = 1.0) -> float | None:
    """How busy the whole machine is over ``seconds`` (0..1), None without /proc/stat."""
    a = machine_busy()
    time.sleep(seconds)
    b = machine_busy()
    if a is None or b is None or b[1] <= a[1]:
        return None
    return round((b[0] - a[0]) / (b[1] - a[1]), 4)


def platform_info() -> dict[str, str]:
    """The interpreter and operating system the figures were measured on."""
    return {"python": platform.python_version(), "platform": platform.platform()}


def machine_info() -> dict[str, Any]:
    """This machine as a run's JSON reports it: cores, CPU model, interpreter, event loop."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    loop = "asyncio"
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401

        loop = "uvloop"
    # the nodes run from the same install and environment as this process (chainfin/compiled.py)
    built = compiled.status()
    return {"cpus": cpu_count(), "cpu_model": model, **platform_info(), "client_loop": loop,
            "compiled": built["compiled"], "c_tree_update": built["c_tree_update"]}


def stage_breakdown(before: Sequence[dict[str, float] | None],
                    after: Sequence[dict[str, float] | None], committed: int) -> dict[str, float]:
    """CPU per committed transaction by stage, summed over the nodes that answered both times
    (us, all nodes together, like ``cpu_us_per_committed_tx_all_nodes``)."""
    out: dict[str, float] = {}
    if not committed:
        return out
    for a, b in zip(before, after, strict=True):
        if a is None or b is None:
            continue
        for k, v in b.items():
            if not k.startswith(("phase:", "gc:", "gossip:")):
                out[k] = out.get(k, 0.0) + max(0.0, v - a.get(k, 0.0))
    return {k: round(v / committed * 1e6, 1) for k, v in out.items()}


def phase_breakdown(before: Sequence[dict[str, float] | None],
                    after: Sequence[dict[str, float] | None]) -> dict[str, dict[str, float]]:
    """Mean ms per block phase over the run, for the primary (the node that queued the most
    transactions into blocks it built) and for the replicas together."""
    deltas: list[dict[str, float]] = []
    for a, b in zip(before, after, strict=True):
        if a is None or b is None:
            continue
        deltas.append({k[6:]: v - a.get(k, 0.0) for k, v in b.items() if k.startswith("phase:")})
    if not deltas:
        return {}
    primary = max(range(len(deltas)), key=lambda i: deltas[i].get("queue_count", 0.0))

    def means(ds: list[dict[str, float]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for ph in BLOCK_PHASES:
            n = sum(d.get(ph + "_count", 0.0) for d in ds)
            if n > 0:
                out[ph] = round(sum(d.get(ph + "_sum", 0.0) for d in ds) / n * 1000, 2)
        return out

    res = {"primary": means([deltas[primary]]),
           "replicas": means([d for i, d in enumerate(deltas) if i != primary])}
    return {k: v for k, v in res.items() if v}


def gossip_breakdown(before: Sequence[dict[str, float] | None],
                     after: Sequence[dict[str, float] | None], committed: int
                     ) -> dict[str, float]:
    """The nodes' transaction gossip over the run, all nodes together: transactions taken in
    from peers and the deferred broadcasts (decision 99: a client's transaction still in no
    proposal after a while goes to every validator), each also per committed transaction."""
    tot: dict[str, float] = {}
    for a, b in zip(before, after, strict=True):
        if a is None or b is None:
            continue
        for k, v in b.items():
            if k.startswith("gossip:"):
                tot[k[7:]] = tot.get(k[7:], 0.0) + max(0.0, v - a.get(k, 0.0))
    if not tot or not committed:
        return {}
    out: dict[str, float] = {}
    for k, v in sorted(tot.items()):
        out[k] = int(v)
        out[k + "_per_tx"] = round(v / committed, 3)
    return out


def gc_breakdown(before: Sequence[dict[str, float] | None],
                 after: Sequence[dict[str, float] | None]) -> dict[str, Any]:
    """The nodes' GC pauses over the run, all nodes together: collections per generation, the
    seconds they took, and how many paused a node for more than 10 ms."""
    count, secs, over = [0, 0, 0], [0.0, 0.0, 0.0], 0
    seen = False
    for a, b in zip(before, after, strict=True):
        if a is None or b is None or "gc:0_count" not in b:
            continue
        seen = True
        for g in range(3):
            d = {k: b.get(f"gc:{g}_{k}", 0.0) - a.get(f"gc:{g}_{k}", 0.0)
                 for k in ("count", "sum", "le10ms")}
            count[g] += int(d["count"])
            secs[g] += d["sum"]
            over += int(d["count"] - d["le10ms"])
    if not seen:
        return {}
    return {"collections": count, "pause_ms": [round(x * 1000, 1) for x in secs],
            "pauses_over_10ms": over}
