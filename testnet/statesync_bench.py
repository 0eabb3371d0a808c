"""Issue 20's measurements: a bank joining a large ledger by state sync, and catch-up by replay.

``python -m testnet.statesync_bench build --dir D --accounts 1000000``
    Grows a ledger through the real execution path: an admin bank registers ``accounts`` new
    identities and the USD issuer credits each one (2 signed transactions per account), in
    blocks of ``--block-txs``: ``node.ledger.Ledger.build`` (admission re-check, execution, SMT
    update) and ``Ledger.commit`` with a CommitCertificate signed by 3 of the 4 validators, into
    a LevelDB data directory (node0's), then writes node0's config.

``python -m testnet.statesync_bench join --dir D``
    Starts node0 on that directory (``chainfin node run``: it serves REST) and an empty node
    with ``state_sync: true`` and node0 as its sync URL (``chainfin node run``), and times the
    joiner from its start until it reports the snapshot installed and its height.

``python -m testnet.statesync_bench replay --dir D --blocks N [--decode-workers 1]``
    Replays the first N certified blocks of D into an empty LevelDB store with
    ``Ledger.apply_certified`` (certificate verified against the derived set, every transaction
    signature verified, every transaction executed, the state root checked, committed): tx/s.
    As catch-up does it, the records are decoded and their signatures verified in a worker
    process (``node.replay``) ahead of the block executed; ``--decode-workers 0``: all here.

``install``, ``join`` and ``replay`` take ``--out O``: everything they write goes to O (node0
runs on a hard-linked copy of D's database: opening a LevelDB writes to its directory), so a
ledger that took long to build is never modified. They report CPU seconds next to wall time,
then delete the databases they wrote (the joiner's, the installed or replayed store, node0's
linked copy: gigabytes at 1 M accounts) unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from chainfin.crypto import Identity, save_identity
from chainfin.genesis import load_genesis
from chainfin.store import STATE, PlyvelStore
from chainfin.testing.genesis import bank_genesis
from chainfin.types import Block, CommitCertificate, Transaction, Vote, vote_message
from contracts import CONTRACTS
from node.config import NodeConfig, write_config
from node.ledger import Ledger, flush_phase_for, unpack_block_record
from node.replay import BlockDecoder, decode_record
from testnet.launch import free_ports

CHAIN = "chainfin-statesync-bench"


def _sign_batch(args: tuple[bytes, bytes, int, int, int]) -> list[bytes]:
    """Worker: the register + issue transactions of accounts [lo, hi) (wire bytes)."""
    admin_seed, issuer_seed, lo, hi, nonce0 = args
    admin = Identity(admin_seed, "admin")
    issuer = Identity(issuer_seed, "issuer")
    out = []
    for i in range(lo, hi):
        pk = Identity(i.to_bytes(32, "big"), f"acct{i}").public_key.hex()
        out.append(Transaction.create(admin, CHAIN, nonce0 + 2 * i, "governance",
                                      "register_identity",
                                      {"pubkey": pk, "name": f"acct{i}", "role": "exporter"}
                                      ).encode())
        out.append(Transaction.create(issuer, CHAIN, nonce0 + 2 * i + 1, "settlement", "issue",
                                      {"currency": "USD", "to": pk, "amount": 100}).encode())
    return out


def _cert(block: Block, signers: list[Identity]) -> CommitCertificate:
    h = block.header
    msg = vote_message(CHAIN, "commit", h.view, h.height, block.hash())
    votes = tuple(Vote(s.public_key, s.sign("consensus", msg)) for s in signers)
    return CommitCertificate(CHAIN, h.height, h.view, block.hash(), votes)


def build(d: Path, accounts: int, block_txs: int) -> None:
    (d / "node0").mkdir(parents=True, exist_ok=True)
    vals = [Identity.generate(f"node{i}") for i in range(4)]
    issuer = Identity.generate("usd_issuer")
    auditor = Identity.generate("auditor")
    gen = bank_genesis(CHAIN, vals, [("usd_issuer", issuer, "issuer", None),
                                     ("auditor", auditor, "auditor", None)], issuer,
                       regulators=[auditor],
                       params={"max_block_txs": block_txs})
    (d / "genesis.json").write_text(gen.to_json_text())
    for i, v in enumerate(vals):
        save_identity(v, d / f"node{i}.json")
    save_identity(auditor, d / "auditor.json")
    admin = vals[0]
    store = PlyvelStore.open(str(d / "node0" / "db"))
    ledger = Ledger(store, gen, registry=CONTRACTS,
                    flush_phase=flush_phase_for(admin.public_key, gen))
    t0 = time.perf_counter()
    per = max(1, block_txs // 2)
    tasks = [(admin.seed, issuer.seed, lo, min(lo + per, accounts), 1)
             for lo in range(0, accounts, per)]
    signing = sign_s = build_s = commit_s = 0.0
    n_tx = 0
    with multiprocessing.Pool(2) as pool:
        t_s = time.perf_counter()
        for raw_txs in pool.imap(_sign_batch, tasks):
            signing = time.perf_counter() - t_s
            sign_s += signing
            txs = [Transaction.decode(r) for r in raw_txs]
            tip = ledger.tip
            t1 = time.perf_counter()
            block = ledger.build(tip.height + 1, 0, tip.block_hash,
                                 tip.timestamp_ms + 1000, tip.validators.primary(0), txs,
                                 len(txs))
            t2 = time.perf_counter()
            assert len(block.txs) == len(txs), "a transaction was left out"
            ledger.commit(block, _cert(block, vals[:3]))
            commit_s += time.perf_counter() - t2
            build_s += t2 - t1
            n_tx += len(txs)
            if block.height % 10 == 0:
                print(f"height {block.height}: {n_tx} txs, {time.perf_counter() - t0:.0f} s "
                      f"(build {build_s:.0f} s, commit {commit_s:.0f} s)", flush=True)
            t_s = time.perf_counter()
    ledger.flush_smt()
    rec = ledger.block_record(ledger.tip.height)
    assert rec is not None
    failed = sum(1 for h in range(1, ledger.tip.height + 1)
                 for r in (ledger.block_record(h) or {"receipts": []})["receipts"]
                 if r["status"] != "committed") if accounts <= 20000 else -1
    keys = sum(1 for _ in store.iterate(prefix=STATE))
    store.close()
    print(json.dumps({"accounts": accounts, "txs": n_tx, "height": ledger.tip.height,
                      "state_keys": keys, "failed_txs_checked": failed,
                      "seconds": round(time.perf_counter() - t0, 1),
                      "build_s": round(build_s, 1), "commit_s": round(commit_s, 1)}))


def _node_config(d: Path, out: Path, name: str, key: str, data: Path, **kw: Any) -> Path:
    rest, p2p = free_ports(2)
    cfg = NodeConfig(node_id=name, key_file=Path(key).resolve(),
                     genesis=(d / "genesis.json").resolve(), data_dir=data.resolve(),
                     rest_host="127.0.0.1", rest_port=rest, p2p_host="127.0.0.1",
                     p2p_port=p2p, **kw)
    path = out / f"{name}.config.json"
    write_config(cfg, path)
    return path


def _linked_copy(src: Path, dst: Path) -> None:
    """A copy of the LevelDB directory ``src`` that a node may write without touching ``src``:
    the table files (.ldb/.sst, which LevelDB never modifies, only creates and deletes) hard
    linked, every other file (manifest, logs, CURRENT, the WAL mark written in place) copied."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.name == "LOCK":
            continue
        if f.suffix in (".ldb", ".sst"):
            os.link(f, dst / f.name)
        else:
            shutil.copy2(f, dst / f.name)


def _status(url: str) -> dict[str, Any] | None:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/v1/status", timeout=2) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except OSError:
        return None


def _cpu_s(pid: int) -> float:
    """CPU seconds of a process so far, its reaped children's included (Linux /proc)."""
    try:
        f = (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]).split()
    except OSError:
        return -1.0
    return round(sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK"), 1)


def _source_db(d: Path, out: Path) -> Path:
    """node0's database to open: D's own, or (``out`` elsewhere) a linked copy in ``out`` (opening
    a LevelDB writes to its directory: a new manifest and log)."""
    if out.resolve() == d.resolve():
        return d / "node0" / "db"
    _linked_copy(d / "node0" / "db", out / "node0" / "db")
    return out / "node0" / "db"


def _fresh_store(directory: Path) -> PlyvelStore:
    """An empty LevelDB under ``directory`` (whatever a run before left there is removed)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return PlyvelStore.open(str(directory / "db"))


def join(d: Path, out: Path) -> None:
    """Time a joiner syncing from node0 (see the module docstring). With ``out`` other than
    ``d``, ``d`` is only read: node0 runs on a linked copy of its database in ``out``, and the
    configs, logs and the joiner's directory go there too."""
    out.mkdir(parents=True, exist_ok=True)
    joiner_dir = out / "joiner"
    shutil.rmtree(joiner_dir, ignore_errors=True)
    server_data = _source_db(d, out).parent
    server_cfg = _node_config(d, out, "node0", str(d / "node0.json"), server_data)
    server_url = f"http://127.0.0.1:{json.loads(server_cfg.read_text())['rest_port']}"
    if not (out / "joiner.json").exists():
        save_identity(Identity.generate("joiner"), out / "joiner.json")
    joiner_cfg = _node_config(d, out, "joiner", str(out / "joiner.json"), joiner_dir,
                              sync_urls=[server_url], state_sync=True,
                              sync_key_file=(d / "auditor.json").resolve())
    joiner_url = f"http://127.0.0.1:{json.loads(joiner_cfg.read_text())['rest_port']}"
    cmd = [sys.executable, "-m", "chainfin.cli", "node", "run", "--config"]
    logs = [open(out / "node0.log", "w"), open(out / "joiner.log", "w")]  # noqa: SIM115
    server = subprocess.Popen([*cmd, str(server_cfg)], stdout=logs[0], stderr=logs[0])
    joiner = None
    try:
        deadline = time.monotonic() + 120
        while (st := _status(server_url)) is None:
            assert time.monotonic() < deadline and server.poll() is None, "node0 did not start"
            time.sleep(0.2)
        target = st["height"]
        t0 = time.perf_counter()
        joiner = subprocess.Popen([*cmd, str(joiner_cfg)], stdout=logs[1], stderr=logs[1])
        while True:
            st = _status(joiner_url)
            if st is not None and st.get("state_sync") is None and st["height"] >= target:
                break
            assert joiner.poll() is None, "the joiner exited"
            assert time.monotonic() < deadline + 600, "the joiner did not finish"
            time.sleep(0.1)
        took = time.perf_counter() - t0
        time.sleep(1.0)  # (the joiner reaps its verifying workers: their CPU joins its own)
        print(json.dumps({"height": target, "seconds_to_synced": round(took, 1),
                          "joiner_cpu_s": _cpu_s(joiner.pid), "server_cpu_s": _cpu_s(server.pid),
                          "base_height": st["base_height"], "state_root": st["state_root"],
                          "server_root": _status(server_url)["state_root"]}))  # type: ignore[index]
    finally:
        for p in (joiner, server):
            if p is not None:
                p.terminate()
                p.wait(30)
        for f in logs:
            f.close()


def replay(d: Path, out: Path, blocks: int, decode_workers: int) -> None:
    gen = load_genesis(d / "genesis.json")
    src = PlyvelStore.open(str(_source_db(d, out)))
    dst = _fresh_store(out / "replay")
    ledger = Ledger(dst, gen, registry=CONTRACTS)
    recs = []
    for h in range(1, blocks + 1):
        raw = src.get(b"b/" + h.to_bytes(8, "big"))
        if raw is None:
            break
        recs.append(unpack_block_record(raw))  # as block_raw() serves it
    src.close()
    n_tx = 0
    t0, c0 = time.perf_counter(), time.process_time()
    if decode_workers <= 0:
        for raw in recs:  # decoding is part of catch-up (the records arrive as bytes)
            block, cert = decode_record(raw)
            ledger.apply_certified(block, cert)
            n_tx += len(block.txs)
        took = time.perf_counter() - t0
    else:  # as catch-up does it: decoding and signatures in a worker, blocks ahead
        with BlockDecoder(decode_workers) as dec:
            for block, cert in dec.decoded(recs):
                ledger.apply_certified(block, cert, signatures_verified=True)
                n_tx += len(block.txs)
            took = time.perf_counter() - t0
            dec.close(wait=True)  # (its CPU is counted below)
    cpu = time.process_time() - c0
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    dst.close()
    print(json.dumps({"blocks": len(recs), "txs": n_tx, "seconds": round(took, 2),
                      "tx_per_s": round(n_tx / took), "decode_workers": decode_workers,
                      "cpu_s": round(cpu, 2),
                      "worker_cpu_s": round(child.ru_utime + child.ru_stime, 2)}))


def install(d: Path, out: Path) -> None:
    """The snapshot of D's node0 installed into an empty store in this one process, without the
    network: the time to build the chunks (server side) and to verify and write them (client),
    apart."""
    from node import statesync

    gen = load_genesis(d / "genesis.json")
    src = PlyvelStore.open(str(_source_db(d, out)))
    dst = _fresh_store(out / "install")
    Ledger(dst, gen, registry=CONTRACTS)  # genesis, as an empty node has it
    ledger = Ledger(src, gen, registry=CONTRACTS)
    m = statesync.verify_manifest(statesync.manifest(ledger, None), gen.chain_id,
                                  gen.validator_set())
    p = statesync.begin(dst, m)
    serve_s = install_s = serve_cpu = install_cpu = 0.0
    entries = 0
    while p.cursor < statesync.END:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            raw = statesync.chunk(src, ledger.state_root_at, m.height,
                                  p.cursor >> (256 - p.depth), p.depth)
        except statesync.SnapshotRefused:
            p.depth += 1
            continue
        t1, c1 = time.perf_counter(), time.process_time()
        entries += statesync.install_chunk(dst, m, p, raw)
        serve_s += t1 - t0
        serve_cpu += c1 - c0
        install_s += time.perf_counter() - t1
        install_cpu += time.process_time() - c1
    t0, c0 = time.perf_counter(), time.process_time()
    statesync.finish(dst, m, p)
    install_s += time.perf_counter() - t0
    install_cpu += time.process_time() - c0
    src.close()
    dst.close()
    print(json.dumps({"entries": entries, "chunks": p.chunks, "depth": p.depth,
                      "serve_s": round(serve_s, 2), "install_s": round(install_s, 2),
                      "serve_cpu_s": round(serve_cpu, 2), "install_cpu_s": round(install_cpu, 2),
                      "install_us_per_entry": round(install_s / entries * 1e6, 1)}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testnet.statesync_bench")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--dir", required=True)
    b.add_argument("--accounts", type=int, default=1_000_000)
    b.add_argument("--block-txs", type=int, default=2_000)
    j = sub.add_parser("join")
    j.add_argument("--dir", required=True)
    r = sub.add_parser("replay")
    r.add_argument("--dir", required=True)
    r.add_argument("--blocks", type=int, default=20)
    r.add_argument("--decode-workers", type=int, default=1,
                   help="worker processes that decode records and check signatures (0: none, "
                        "as before)")
    i = sub.add_parser("install")
    i.add_argument("--dir", required=True)
    for p in (j, r, i):
        p.add_argument("--out", help="write here (configs, logs, the joiner or the replayed "
                                     "store, node0 on a linked copy of its database) and leave "
                                     "--dir as it is")
        p.add_argument("--keep", action="store_true",
                       help="keep the databases written (deleted after the run by default)")
    a = ap.parse_args(argv)
    d = Path(a.dir)
    if a.cmd == "build":
        build(d, a.accounts, a.block_txs)
        return 0
    out = Path(a.out) if a.out else d
    written = {"join": "joiner", "install": "install", "replay": "replay"}[a.cmd]
    try:
        if a.cmd == "join":
            join(d, out)
        elif a.cmd == "install":
            install(d, out)
        else:
            replay(d, out, a.blocks, a.decode_workers)
    finally:
        if not a.keep:
            _remove_written(d, out, written)
    return 0


def _remove_written(d: Path, out: Path, written: str) -> None:
    """Delete what a run wrote under ``out``: its store, and node0's linked copy when ``out``
    is not ``d`` (D's own node0 is never touched)."""
    shutil.rmtree(out / written, ignore_errors=True)
    if out.resolve() != d.resolve():
        shutil.rmtree(out / "node0", ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
