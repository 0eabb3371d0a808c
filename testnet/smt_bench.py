"""The state SMT update as a node runs it: CPU per changed key. ``python -m testnet.smt_bench``.

A LevelDB-backed tree of ``--keys`` existing keys (built untimed), then ``--updates`` successive
updates of ``--batch`` keys each, read the way :class:`node.ledger.Ledger` reads them: the
records of the committed blocks not flushed yet in a dict (``unflushed``), then the ledger's
``_ReadCache`` over LevelDB; every ``SMT_FLUSH_BLOCKS`` updates the live records are written and
the dict emptied (the ledger's ``flush_smt``, untimed). Only ``SparseMerkleTree.update`` is
timed (``time.process_time``, robust to other load on the machine).

The workload follows the live benchmark at 500 tx/s (~4.3 changed keys per tx, one of them the
new receipt key): ``--new`` (default 25 %) of each update's keys are new, the others rewrite
keys used before: half of those from a hot set (balances, counters: ``--hot`` keys), half
from the keys the last few updates wrote (the sender's nonce and records). Values are 40-200
random bytes. The RNG is seeded: every run of one configuration changes the same keys to the
same values, so the roots it prints are comparable across code versions.

Each run builds a fresh tree; the figure is the median of ``--runs`` runs (with the spread).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from chainfin.smt import EMPTY, SparseMerkleTree, put_nodes, reachable_records
from chainfin.store import SMT_NODES
from node.ledger import SMT_FLUSH_BLOCKS, _NodeCache, _ReadCache
from testnet.bench import temp_store

RECENT = 8  # updates whose keys the workload rewrites ("recently used")


def _value(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randint(40, 200))


class Workload:
    """The key/value changes of successive updates (seeded, deterministic)."""

    def __init__(self, seed: int, existing: int, hot: int, new_share: float) -> None:
        self.rng = random.Random(seed)
        self.existing = existing
        self.hot = [self.key(i) for i in self.rng.sample(range(existing), min(hot, existing))]
        self.new_share = new_share
        self.recent: list[list[bytes]] = []
        self.next_new = existing

    @staticmethod
    def key(i: int) -> bytes:
        """State key number ``i`` (shaped like the ledger's: a prefix and an id)."""
        return b"s/acct/" + i.to_bytes(8, "big").hex().encode()

    def initial(self) -> dict[bytes, bytes | None]:
        return {self.key(i): _value(self.rng) for i in range(self.existing)}

    def changes(self, batch: int) -> dict[bytes, bytes | None]:
        """One update's changes: new keys, hot keys and recently written keys."""
        rng = self.rng
        out: dict[bytes, bytes | None] = {}
        n_new = round(batch * self.new_share)
        for _ in range(n_new):
            out[self.key(self.next_new)] = _value(rng)
            self.next_new += 1
        recent = [k for ks in self.recent for k in ks]
        while len(out) < batch:
            if recent and rng.random() < 0.5:
                k = rng.choice(recent)
            elif rng.random() < 0.9:
                k = rng.choice(self.hot)
            else:
                k = self.key(rng.randrange(self.next_new))
            out[k] = _value(rng)
        self.recent.append(list(out))
        del self.recent[:-RECENT]
        return out


def one_run(keys: int, batch: int, updates: int, seed: int, hot: int, new_share: float,
            say: Callable[[str], None], cache_every_block: bool = False) -> dict[str, Any]:
    """One fresh tree of ``keys`` keys and ``updates`` timed updates of ``batch`` keys.
    ``upkeep_us_per_key``: what the ledger does with the records after each update (into
    ``unflushed``; the flush: the live ones written and cached), also per changed key;
    ``cache_every_block``: every update's records into the cache too, as the ledger did before
    decision 105."""
    work = Workload(seed, keys, hot, new_share)
    with temp_store("chainfin-smtbench-") as store:
        node_cache = _ReadCache(store, SMT_NODES, limit=100_000)
        unflushed: dict[bytes, bytes] = {}
        tree = SparseMerkleTree(_NodeCache(node_cache, [unflushed]))
        t0 = time.perf_counter()
        new: dict[bytes, bytes] = {}
        root = tree.update(EMPTY, work.initial(), new)
        with store.write_batch(sync=False) as b:
            put_nodes(b, new)
        del new
        say(f"built {keys} keys in {time.perf_counter() - t0:.1f} s")
        spent = 0.0
        changed = 0
        roots = []
        upkeep = 0.0
        for n in range(1, updates + 1):
            ch = work.changes(batch)
            out: dict[bytes, bytes] = {}
            c0 = time.process_time()
            root = tree.update(root, ch, out)
            c1 = time.process_time()
            spent += c1 - c0
            changed += len(ch)
            roots.append(root)
            if cache_every_block:  # the ledger's commit before decision 105
                node_cache.update(out)
            unflushed.update(out)  # the ledger's commit
            if n % SMT_FLUSH_BLOCKS == 0:  # the ledger's flush_smt (without pruning)
                live = reachable_records(root, unflushed)
                with store.write_batch(sync=False) as b:
                    put_nodes(b, live)
                if not cache_every_block:
                    node_cache.update(live)
                unflushed.clear()
            upkeep += time.process_time() - c1
    return {"us_per_key": spent / changed * 1e6, "upkeep_us_per_key": upkeep / changed * 1e6,
            "root": root.hex(), "roots_digest": _digest(roots)}


def _digest(roots: list[bytes]) -> str:
    import hashlib

    return hashlib.sha256(b"".join(roots)).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m testnet.smt_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, default=100_000, help="existing keys (default 100000)")
    p.add_argument("--batch", type=int, default=90, help="changed keys per update (default 90)")
    p.add_argument("--updates", type=int, default=300, help="timed updates per run (default 300)")
    p.add_argument("--runs", type=int, default=3, help="runs, each on a fresh tree (default 3)")
    p.add_argument("--new", type=float, default=0.25, help="share of new keys (default 0.25)")
    p.add_argument("--hot", type=int, default=5000, help="hot keys rewritten (default 5000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", metavar="FILE", help="cProfile the updates of one run into FILE")
    p.add_argument("--cache-every-block", action="store_true",
                   help="every update's records into the read cache too (before decision 105)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    a = p.parse_args(argv)

    def say(m: str) -> None:
        print(m, file=sys.stderr, flush=True)

    if a.profile:
        return _profile(a, say)
    res = []
    for r in range(a.runs):
        x = one_run(a.keys, a.batch, a.updates, a.seed, a.hot, a.new, say, a.cache_every_block)
        say(f"run {r + 1}: {x['us_per_key']:.2f} us per changed key (upkeep "
            f"{x['upkeep_us_per_key']:.2f}), root {x['root'][:16]}")
        res.append(x)
    costs = [x["us_per_key"] for x in res]
    upkeep = [x["upkeep_us_per_key"] for x in res]
    out = {"keys": a.keys, "batch": a.batch, "updates": a.updates, "runs": a.runs,
           "median_us_per_key": round(statistics.median(costs), 2),
           "min": round(min(costs), 2), "max": round(max(costs), 2),
           "median_upkeep_us_per_key": round(statistics.median(upkeep), 2),
           "root": res[0]["root"], "roots_digest": res[0]["roots_digest"]}
    if a.json:
        print(json.dumps(out))
    else:
        print(f"N={a.keys} B={a.batch} K={a.updates}: {out['median_us_per_key']} us per changed "
              f"key (median of {a.runs}, {out['min']}-{out['max']}), upkeep "
              f"{out['median_upkeep_us_per_key']} us per key; roots {out['roots_digest']}")
    return 0


def _profile(a: argparse.Namespace, say: Callable[[str], None]) -> int:
    import cProfile

    prof = cProfile.Profile()
    orig = SparseMerkleTree.update

    def timed(self: SparseMerkleTree, *args: Any) -> bytes:
        if args[0] == EMPTY:  # the untimed build
            return orig(self, *args)
        prof.enable()
        try:
            return orig(self, *args)
        finally:
            prof.disable()

    SparseMerkleTree.update = timed  # type: ignore[method-assign,assignment]
    try:
        one_run(a.keys, a.batch, a.updates, a.seed, a.hot, a.new, say)
    finally:
        SparseMerkleTree.update = orig  # type: ignore[method-assign]
    prof.dump_stats(a.profile)
    say(f"profile in {a.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
