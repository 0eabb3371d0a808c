"""Per-operation costs on this machine: what one transaction, block and commit cost, before any
networking. ``python -m testnet.micro [--json] [--quick]``.

Each figure is the median over several timed runs (each run times a loop of the operation and
divides). Batch operations (Merkle root, LevelDB batch, SMT update) count one batch as one op and
also show the cost per item. ``--quick`` (or ``CHAINFIN_MICRO_QUICK=1``) uses tiny counts: a smoke
test, not a measurement. LevelDB runs in a temporary directory: set ``TMPDIR`` to a directory on
the node's data disk to measure that disk's fsync.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from chainfin import codec, crypto, merkle
from chainfin.smt import EMPTY, SparseMerkleTree, put_nodes
from chainfin.store import BLOCKS, WAL, height_key
from chainfin.types import Transaction
from testnet.bench import platform_info, store_tree, temp_store

__all__ = ["Result", "run", "main", "OPERATIONS"]

OPERATIONS = (
    "ed25519_sign",
    "ed25519_verify",
    "tx_encode",
    "tx_decode",
    "tx_parse",
    "sha256_tx",
    "merkle_root_1000",
    "leveldb_batch_1000",
    "leveldb_batch_1000_sync",
    "leveldb_put_sync",
    "smt_update_1000",
    "smt_update_1000_leveldb",
)


@dataclass(frozen=True)
class Result:
    name: str
    what: str
    median_us: float  # per op
    ops_per_s: float
    items: int  # items per op (1 for single operations)
    per_item_us: float
    runs: int


def _measure(fn: Callable[[], object], loops: int, runs: int) -> list[float]:
    """Per-op seconds of ``runs`` timed loops of ``loops`` calls each."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        out.append((time.perf_counter() - t0) / loops)
    return out


def _result(name: str, what: str, samples: list[float], items: int = 1) -> Result:
    med = statistics.median(samples)
    return Result(name, what, med * 1e6, 1.0 / med if med > 0 else float("inf"), items,
                  med * 1e6 / items, len(samples))


def sample_transaction() -> tuple[crypto.Identity, Transaction]:
    """A typical transaction: a settlement transfer."""
    ident = crypto.Identity.from_seed_text("micro-bench-sender")
    to = crypto.Identity.from_seed_text("micro-bench-receiver").public_key.hex()
    tx = Transaction.create(ident, "chainfin-micro", 42, "settlement", "transfer",
                            {"to": to, "currency": "USD", "amount": 12345})
    return ident, tx


def run(quick: bool = False, progress: Callable[[str], None] | None = None) -> list[Result]:
    """Run every measurement; ``quick`` makes it a fast smoke test."""
    say = progress or (lambda _m: None)
    scale = 0.01 if quick else 1.0
    runs = 3 if quick else 7

    def loops(n: int) -> int:
        return max(1, int(n * scale))

    rng = random.Random(1)
    results: list[Result] = []
    ident, tx = sample_transaction()
    body, sig, pub = tx.body, tx.signature, tx.sender
    wire = tx.encode()

    say("ed25519")
    results.append(_result("ed25519_sign", "Ed25519 sign of a tx body (chainfin.crypto)",
                           _measure(lambda: ident.sign("tx", body), loops(2000), runs)))
    results.append(_result("ed25519_verify", "Ed25519 verify of a tx signature",
                           _measure(lambda: crypto.verify(pub, "tx", body, sig), loops(2000), runs)))

    say("codec")
    to_wire = tx.to_wire()
    results.append(_result("tx_encode", f"canonical msgpack encode of a transfer tx ({len(wire)} B)",
                           _measure(lambda: codec.encode(to_wire), loops(5000), runs)))
    results.append(_result("tx_decode", "canonical msgpack decode of it",
                           _measure(lambda: codec.decode(wire), loops(5000), runs)))
    results.append(_result("tx_parse", "Transaction.decode: decode + validate + tx id",
                           _measure(lambda: Transaction.decode(wire), loops(3000), runs)))
    results.append(_result("sha256_tx", "SHA-256 of the tx encoding",
                           _measure(lambda: codec.sha256(wire), loops(20000), runs)))

    say("merkle")
    leaves = [rng.randbytes(32) for _ in range(1000)]
    results.append(_result("merkle_root_1000", "RFC 6962 root of 1000 tx ids",
                           _measure(lambda: merkle.root(leaves), loops(100), runs), 1000))

    with temp_store("chainfin-micro-") as store:
        value = rng.randbytes(200)
        counter = [0]

        def leveldb_batch(sync: bool) -> None:
            base = counter[0]
            counter[0] += 1000
            with store.write_batch(sync=sync) as b:
                for i in range(base, base + 1000):
                    b.put(BLOCKS + height_key(i), value)

        say("leveldb")
        results.append(_result(
            "leveldb_batch_1000", "LevelDB write batch of 1000 x 200 B, not synced",
            _measure(lambda: leveldb_batch(False), loops(30), runs), 1000))
        results.append(_result(
            "leveldb_batch_1000_sync", "the same batch with sync=True (fsync)",
            _measure(lambda: leveldb_batch(True), loops(10), runs), 1000))

        vote = rng.randbytes(150)
        results.append(_result(
            "leveldb_put_sync", "one synced 150 B put (a consensus WAL record)",
            _measure(lambda: store.put(WAL + b"vote", vote, sync=True), loops(200), runs)))

        say("smt")
        base_n = 1000 if quick else 100_000
        base = {rng.randbytes(16): rng.randbytes(32) for _ in range(base_n)}
        committed: dict[bytes, bytes] = {}
        root = SparseMerkleTree(committed).update(EMPTY, base, committed)
        keys = list(base)

        def changes() -> dict[bytes, bytes | None]:
            c: dict[bytes, bytes | None] = {rng.randbytes(16): b"new" for _ in range(500)}
            for k in rng.sample(keys, min(500, len(keys))):
                c[k] = rng.randbytes(32)
            return c

        batches = [changes() for _ in range(max(runs, 3))]

        def updates(tree: SparseMerkleTree) -> list[float]:
            """Seconds of each batch's update of the same root (one sample per batch)."""
            samples = []
            for c in batches:
                t0 = time.perf_counter()
                tree.update(root, c, {})
                samples.append(time.perf_counter() - t0)
            return samples

        results.append(_result(
            "smt_update_1000", f"SMT update of 1000 keys (500 new, 500 changed) into a "
            f"{base_n}-key tree, nodes in memory", updates(SparseMerkleTree(committed)), 1000))

        with store.write_batch() as b:
            put_nodes(b, committed)
        results.append(_result(
            "smt_update_1000_leveldb", f"the same update reading the {base_n}-key tree's "
            "nodes from LevelDB", updates(store_tree(store)), 1000))  # as the limit loop reads
    return results


def _fmt(x: float) -> str:
    return f"{x:,.1f}" if x < 1000 else f"{x:,.0f}"


def render(results: list[Result]) -> str:
    lines = [f"{'operation':<26}{'median µs/op':>14}{'ops/s':>14}{'µs/item':>10}   what"]
    for r in results:
        per_item = _fmt(r.per_item_us) if r.items > 1 else ""
        lines.append(f"{r.name:<26}{_fmt(r.median_us):>14}{_fmt(r.ops_per_s):>14}{per_item:>10}"
                     f"   {r.what}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testnet.micro", description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--quick", action="store_true",
                    help="tiny iteration counts (smoke test); also CHAINFIN_MICRO_QUICK=1")
    args = ap.parse_args(argv)
    quick = args.quick or os.environ.get("CHAINFIN_MICRO_QUICK") == "1"
    t0 = time.perf_counter()
    results = run(quick, progress=None if args.json else
                  (lambda m: print(f"... {m}", file=sys.stderr, flush=True)))
    elapsed = time.perf_counter() - t0
    if args.json:
        print(json.dumps({
            "machine": {**platform_info(), "cpus": os.cpu_count()},
            "quick": quick,
            "elapsed_s": round(elapsed, 2),
            "results": [asdict(r) for r in results],
        }, indent=2))
    else:
        print(render(results))
        print(f"\n{platform.python_implementation()} {platform.python_version()} on "
              f"{platform.machine()}, {os.cpu_count()} CPUs; {elapsed:.1f} s"
              f"{' (quick: not a measurement)' if quick else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
