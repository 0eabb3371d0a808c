"""``chainfin bench`` on the command line, and ``--find-max``'s search over rates."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from chainfin.errors import ChainfinError

from ._limit import LimitResult
from ._report import (
    MAX_P99_MS,
    BenchResult,
    _fmt,
    _step_json,
    _write_json,
    finality_stats,
    report_table,
    result_json,
    write_plot,
)
from ._run import _say, run_bench

MAX_STEPS = 10  # --find-max: rate steps at most
FIND_MAX_FACTOR = 1.5
#: --find-max: bisections between the last pass and the first failure at most (fewer once the
#: gap is within 5 % of the pass). Three leave a gap of at most 50 % / 8 = 6.25 % of the last
#: pass below the first failure; two left 12.5 % (decision 106)
MAX_REFINEMENTS = 3


def find_max(nodes: int, start_rate: float, duration: float,
             run: Callable[..., BenchResult] = run_bench,
             say: Callable[[str], None] = _say, confirm: int = 1,
             **run_kw: Any) -> tuple[BenchResult | None, list[BenchResult]]:
    """Step the rate up by ``FIND_MAX_FACTOR`` on fresh testnets until a rate fails the sustained
    target (a failure, or p99 > 1 s), then bisect between the last pass and the first failure
    until they are within 5 % of the pass, ``MAX_REFINEMENTS`` times at most. At most
    ``MAX_STEPS`` rates.

    A rate passes only when ``confirm`` runs at it in a row pass, each on a fresh testnet (the
    first failing run ends its step): on a machine whose speed drifts, one lucky run does not
    make a rate sustainable. A passing step is represented by its run with the lowest
    throughput. Returns (the highest passing step's run or None, every run in order)."""
    if confirm < 1:
        raise ValueError("confirm must be at least 1")
    runs: list[BenchResult] = []
    limit: LimitResult | None = None
    best: BenchResult | None = None
    worst: float | None = None
    rate = float(start_rate)
    refinements = 0
    for step in range(1, MAX_STEPS + 1):
        tried: list[BenchResult] = []
        while len(tried) < confirm and (not tried or tried[-1].passed()):
            of = f" (run {len(tried) + 1} of {confirm})" if confirm > 1 else ""
            r = run(nodes, rate, duration, limit=limit,
                    label=f"step {step}{of}: {nodes} nodes @ {rate:g} tx/s", **run_kw)
            limit = r.limit or limit  # a run's limit holds the passes it was given and its own
            runs.append(r)
            tried.append(r)
        ok = all(r.passed() for r in tried)
        shown = min(tried, key=lambda r: r.throughput_tps()) if ok else tried[-1]
        fin = finality_stats(shown.finalities_ms())
        runs_note = f" ({len(tried)} of {confirm} runs)" if confirm > 1 else ""
        say(f"step {step}: {rate:g} tx/s -> {shown.throughput_tps():.1f} tx/s, p99 "
            f"{_fmt(fin['p99'])} ms, {shown.failed()} failed: {'pass' if ok else 'FAIL'}"
            f"{runs_note}")
        if ok:
            best = shown if best is None or rate > best.offered_rate else best
        else:
            worst = rate if worst is None else min(worst, rate)
        if worst is None:
            rate = float(math.ceil(rate * FIND_MAX_FACTOR))
            continue
        if best is None or refinements >= MAX_REFINEMENTS:
            break
        nxt = float(math.floor((best.offered_rate + worst) / 2))
        if nxt <= best.offered_rate or worst - best.offered_rate <= 0.05 * best.offered_rate:
            break
        refinements += 1
        rate = nxt
    for r in runs:  # every step against the cheapest pass of the whole search
        r.limit = limit
    return best, runs


class _Stop(Exception):
    pass


def cli_bench(args: argparse.Namespace) -> int:
    """``chainfin bench --nodes N --rate R --duration S [--json FILE] [--plot FILE.png]
    [--find-max]``. Exit 0 when the run (with --find-max: the search) completed, whatever the
    figures; 1 on an error."""
    nodes, rate, duration = int(args.nodes), float(args.rate), float(args.duration)
    api = getattr(args, "api", "rest")
    plot = getattr(args, "plot", None)
    confirm = int(getattr(args, "confirm", 1))
    if confirm < 1:
        raise ChainfinError("--confirm must be at least 1")
    if confirm != 1 and not getattr(args, "find_max", False):
        raise ChainfinError("--confirm applies to --find-max (a single run has nothing to confirm)")
    if plot:  # fail before minutes of benchmark, not after
        try:
            import matplotlib  # noqa: F401
        except ImportError as e:
            raise ChainfinError("--plot needs matplotlib: pip install 'chainfin[plot]' "
                                "(or pip install matplotlib)") from e

    def on_term(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise _Stop()

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        if getattr(args, "find_max", False):
            best, runs = find_max(nodes, rate, duration, api=api, confirm=confirm,
                                  netns=bool(getattr(args, "netns", False)),
                                  rtt_ms=float(getattr(args, "rtt_ms", 0) or 0),
                                  jitter_ms=float(getattr(args, "jitter_ms", 0) or 0),
                              view_timeout_ms=getattr(args, "view_timeout_ms", None))
            shown = best or runs[0]
            print(report_table(shown))
            doc = result_json(shown)
            doc["find_max"] = {
                "passed": best is not None,
                "max_rate": None if best is None else best.offered_rate,
                "criterion": f"failed == 0 and p99 <= {MAX_P99_MS:g} ms"
                             + (f" in {confirm} runs in a row" if confirm > 1 else ""),
                "confirm": confirm,
                "steps": [_step_json(r) for r in runs],
            }
            if best is None:
                print(f"find-max: even {runs[0].offered_rate:g} tx/s misses the target "
                      f"(failed == 0, p99 <= {MAX_P99_MS:g} ms)")
            else:
                print(f"find-max: highest passing rate {best.offered_rate:g} tx/s -> "
                      f"{best.throughput_tps():.1f} tx/s, ratio_to_limit "
                      f"{doc['ratio_to_limit']}")
        else:
            shown = run_bench(nodes, rate, duration, api=api,
                              risk=bool(getattr(args, "risk", False)),
                              rest_tls=not getattr(args, "plain_rest", False),
                              on=getattr(args, "on", None),
                              netns=bool(getattr(args, "netns", False)),
                              rtt_ms=float(getattr(args, "rtt_ms", 0) or 0),
                              jitter_ms=float(getattr(args, "jitter_ms", 0) or 0),
                              view_timeout_ms=getattr(args, "view_timeout_ms", None))
            print(report_table(shown))
            doc = result_json(shown)
    except (KeyboardInterrupt, _Stop):
        print("bench: interrupted; stopped every node", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, old)
    if args.json_out:
        _write_json(doc, args.json_out)
        print(f"wrote {args.json_out}")
    if plot:
        write_plot(shown, plot)
        print(f"wrote {plot}")
    return 0
