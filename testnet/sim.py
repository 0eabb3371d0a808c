"""``chainfin sim``: one run of the deterministic PBFT simulator on the command line.

The simulator itself (seeded network, virtual clock, toy ledger, byzantine replicas) is
:mod:`chainfin.testing.sim`, so tests use it without importing testnet.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from chainfin.testing.sim import BEHAVIOURS, SimConfig, SimResult, Simulation, run

__all__ = ["SimConfig", "SimResult", "Simulation", "run", "cli_main", "BEHAVIOURS"]


def cli_main(args: Any) -> int:
    """``chainfin sim``: one run; exit 0 when safety and liveness hold."""
    n = args.nodes
    if n < 1 or n > 256:
        print("chainfin sim: --nodes must be between 1 and 256", file=sys.stderr)
        return 2
    f = (n - 1) // 3
    if args.byzantine < 0 or args.crash < 0 or args.byzantine + args.crash > n:
        print("chainfin sim: --byzantine plus --crash must be between 0 and --nodes",
              file=sys.stderr)
        return 2
    if args.byzantine + args.crash > f:
        print(f"chainfin sim: warning: {args.byzantine + args.crash} faulty of {n} exceeds "
              f"f = {f}; safety and liveness are not guaranteed", file=sys.stderr)
    chaos = bool(getattr(args, "chaos", False))
    jitter = float(getattr(args, "jitter", 0.5))
    rate = getattr(args, "rate", None)
    if not 0 <= jitter <= 1 or (rate is not None and rate <= 0):
        print("chainfin sim: --jitter is 0..1 and --rate positive", file=sys.stderr)
        return 2
    extra: dict[str, Any] = {"jitter": jitter}
    if rate is not None:
        extra["tx_spread_ms"] = max(1, round(args.txs / rate * 1000))
    if getattr(args, "node_params", False):
        from chainfin.genesis import GenesisParams

        gp = GenesisParams()
        extra.update(window=gp.window, block_interval_ms=gp.block_interval_ms,
                     max_block_txs=gp.max_block_txs, checkpoint_interval=gp.checkpoint_interval,
                     view_timeout_ms=max(gp.view_timeout_ms, 12 * args.delay_ms))
    cfg = SimConfig(nodes=n, byzantine=args.byzantine, crash=args.crash,
                    delay_ms=max(0, args.delay_ms), txs=args.txs, seed=args.seed, **extra,
                    primary_faulty=args.byzantine + args.crash > 0,  # the worst case first
                    drop=0.05 if chaos else 0.0, duplicate=0.05 if chaos else 0.0,
                    partitions=chaos, heal_ms=40 * max(1, args.delay_ms) if chaos else 0)
    res = run(cfg)
    if args.json:
        print(json.dumps(res.to_json(), indent=2))
    else:
        print(f"chainfin sim: n={n} byzantine={args.byzantine} crash={args.crash} "
              f"delay={args.delay_ms}ms txs={args.txs} seed={args.seed}")
        for name, hgt in res.heights.items():
            print(f"  {name:<28} committed {hgt} blocks")
        print(f"  safety:   {str(res.safety).lower()}")
        print(f"  liveness: {str(res.liveness).lower()}")
        print(f"  views changed: {res.view_changes} (final view {res.views})")
        print(f"  messages sent: {res.messages} ({res.messages_per_block:.1f} per block)")
        print(f"  finality p50 {res.finality_p50_ms:.1f} ms, p99 {res.finality_p99_ms:.1f} ms "
              f"(simulated {res.sim_time_ms} ms in {res.wall_s:.2f} s)")
        for v in res.violations:
            print(f"  VIOLATION: {v}")
    return 0 if res.safety and res.liveness else 1
