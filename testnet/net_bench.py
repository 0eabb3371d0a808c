"""The network path's CPU per committed transaction: REST entry, gossip, peer frames (issue 14).

``python -m testnet.net_bench [--rate 300] [--duration 20] [--profile DIR] [--json FILE]``

One bounded run of the bench's load (testnet/bench: a fresh 4-node testnet on loopback, the
bench's signed workload posted one HTTPS request per transaction, round-robin, at a fixed
rate, then the drain) without the single-process limit measurement, and a short report of
what this work is about: each node's CPU per committed transaction (/proc/<pid>/stat utime +
stime) and the stages the nodes count (``chainfin_cpu_seconds_total``), with
``admit + gossip_in + other`` (the REST entry, the gossip path, the frames, TLS and the event
loop) as the figure to compare. ``--profile DIR`` runs every node under ``py-spy record
--format raw`` (py-spy must be installed) and prints the functions with the most self and
inclusive time over all nodes. It uses both cores: run it under ``flock /tmp/cpu.lock``.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

NET_STAGES = ("admit", "gossip_in", "other")
#: node counters reported per committed transaction (summed over the nodes)
COUNTERS = ("chainfin_transport_total:envelopes_out", "chainfin_transport_total:frames_out",
            "chainfin_transport_total:bytes_out", "chainfin_node_total:gossip_txs_in")
_COUNTER_LINE = re.compile(r'^(chainfin_[a-z_]+_total)\{what="([a-z_]+)"\} ([0-9.e+-]+)$', re.M)


class _Counters:
    """Wraps the bench's /metrics scrape (called before and after the load phase) to keep the
    node counters of :data:`COUNTERS` too."""

    def __init__(self) -> None:
        self.snapshots: list[dict[str, float]] = []

    def install(self) -> None:
        import testnet.bench._run as run

        namespace = vars(run)  # the name _load_phase looks up at each call
        stages = namespace["_cpu_stages"]

        async def scrape(session: Any, urls: Any, reader: Any = None) -> Any:
            out = await stages(session, urls, reader)
            self.snapshots.append(await self._counters(session, urls, reader))
            return out

        namespace["_cpu_stages"] = scrape

    @staticmethod
    async def _counters(session: Any, urls: Any, reader: Any) -> dict[str, float]:
        from chainfin.client import signed_headers

        total: dict[str, float] = {}
        for u in urls:
            url = u + "/metrics"
            headers = signed_headers(reader, "GET", url) if reader is not None else None
            async with session.get(url, headers=headers) as r:
                text = await r.text()
            for fam, what, v in _COUNTER_LINE.findall(text):
                key = f"{fam}:{what}"
                if key in COUNTERS:
                    total[key] = total.get(key, 0.0) + float(v)
        return total

    def per_tx(self, committed: int) -> dict[str, float]:
        if len(self.snapshots) < 2 or not committed:
            return {}
        a, b = self.snapshots[0], self.snapshots[-1]
        return {k.split(":")[1]: round((b.get(k, 0.0) - a.get(k, 0.0)) / committed, 3)
                for k in COUNTERS}


def _profiled(out_dir: Path, delay_s: float, duration_s: float) -> Any:
    """A node command that runs the default one and attaches ``py-spy record`` to it after
    ``delay_s`` (the nodes' start and the funding) for ``duration_s``, one raw profile per
    node. py-spy attaches by pid and ends on its own, so stopping the node stops nothing else."""
    from testnet.launch import node_command

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))

    def command(i: int, node: Any) -> list[str]:
        argv = node_command(i, node)
        spy_cmd = (f"sleep {delay_s:g}; exec {shlex.quote(spy)} record --pid {{pid}} "
                   f"--duration {duration_s:g} --rate 200 --nonblocking --format raw "
                   f"-o {shlex.quote(str(out_dir / f'node{i}.txt'))} >/dev/null 2>&1")
        boot = ("import os, runpy, subprocess, sys\n"
                f"subprocess.Popen(['sh', '-c', {spy_cmd!r}.format(pid=os.getpid())])\n"
                f"sys.argv = {['chainfin', *argv[3:]]!r}\n"
                "runpy.run_module('chainfin.cli', run_name='__main__')\n")
        return [argv[0], "-c", boot]

    return command


def aggregate(paths: list[Path], top: int = 25) -> dict[str, list[tuple[str, float]]]:
    """Self and inclusive share of the samples per function over py-spy raw (collapsed)
    profiles: ``frame;frame;... count`` lines, the leaf last."""
    self_c: collections.Counter[str] = collections.Counter()
    incl_c: collections.Counter[str] = collections.Counter()
    total = 0
    for p in paths:
        if not p.exists():
            continue
        for line in p.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not stack or not n.isdigit():
                continue
            count = int(n)
            frames = stack.split(";")
            total += count
            self_c[frames[-1]] += count
            for f in set(frames):
                incl_c[f] += count
    if not total:
        return {"self": [], "inclusive": []}
    return {k: [(f, round(100.0 * c / total, 2)) for f, c in cnt.most_common(top)]
            for k, cnt in (("self", self_c), ("inclusive", incl_c))}


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The figures of this work from a bench result (``result_json``)."""
    nc = doc.get("node_cpu") or {}
    stages = nc.get("stages_us_per_committed_tx_all_nodes") or {}
    return {
        "committed": doc.get("committed"),
        "failed": doc.get("failed"),
        "p50_ms": (doc.get("finality_ms") or {}).get("p50"),
        "node_cpu_us_per_tx": nc.get("cpu_us_per_committed_tx_all_nodes"),
        "stages_us_per_tx": stages,
        "net_us_per_tx": round(sum(stages.get(s, 0.0) for s in NET_STAGES), 1),
    }


def main(argv: list[str] | None = None) -> int:
    from testnet.bench import result_json, run_bench

    ap = argparse.ArgumentParser(prog="python -m testnet.net_bench", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("--rate", type=float, default=300.0)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--profile", type=Path, default=None, help="directory for py-spy profiles")
    ap.add_argument("--profile-after", type=float, default=8.0,
                    help="seconds from a node's start to the profile's (the nodes' start and "
                         "the funding come first)")
    ap.add_argument("--profile-for", type=float, default=10.0, help="profile duration (s)")
    ap.add_argument("--json", type=Path, default=None, help="write the full bench result here")
    args = ap.parse_args(argv)
    if args.duration > 120 or args.rate > 2000:
        ap.error("bounded: --duration <= 120 s and --rate <= 2000")
    command = None
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        command = _profiled(args.profile, args.profile_after, args.profile_for)
    counters = _Counters()
    counters.install()
    res = run_bench(args.nodes, args.rate, args.duration, measure=False, progress=False,
                    node_command=command)
    doc = result_json(res)
    out = summary(doc)
    out["per_committed_tx_all_nodes"] = counters.per_tx(int(doc.get("committed") or 0))
    if args.profile is not None:
        out["profile"] = aggregate(sorted(args.profile.glob("node*.txt")))
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=1))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
