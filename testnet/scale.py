"""A big ledger, built honestly, and what it costs (issue 20).

``chainfin testnet grow --dir D --txs N`` drives ``N`` load transactions of the bench's mix
(transfers among the testnet's traders, invoices, and trades: customs declaration, customs
attestation, bank financing) through one node's real path: each is signed by its sender and its
signature verified (in a worker process, as the node's admission does once per transaction), then
the node's :class:`node.ledger.Ledger` builds blocks of ``--block-txs`` transactions
(``check_tx_static`` + ``execute_block`` + the SMT update), each block gets a commit certificate
signed by a quorum of the testnet's validator keys (the votes the nodes sign, view 0), and
``Ledger.commit`` writes it, exactly as a node commits a certified block. It bypasses REST, the
mempool and the network, not execution, certification or storage.

Resumable: the ledger's ``meta/grow`` record holds how far the load got (position, senders'
nonces) at the last chunk boundary; ``grow`` continues from there up to ``N`` in all, and
``--max-seconds`` ends a step early (heavy runs are done in steps). With ``--copy`` the grown
database is copied to every other node of the testnet, so the whole testnet (and a bench) can run
on top of it; every copy starts with an empty consensus WAL, as a resynced node does.

``python -m testnet.scale measure --dir D`` measures one node's data directory: bytes per key
space, disk bytes per transaction, tx and state proof generation and verification (p50/p99 over
1,000 random ones, the REST handlers' functions), state reads, and the node's restart time
(process start to ``/healthz`` answering). ``python -m testnet.scale keyspaces --db PATH`` prints
the byte table of any node database.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainfin import proofs
from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError
from chainfin.genesis import Genesis, load_genesis
from chainfin.store import META, PREFIXES, WAL, PlyvelStore
from chainfin.types import Block, CommitCertificate, Transaction, Vote
from contracts import CONTRACTS
from node.ledger import Ledger, flush_phase_for

__all__ = ["GROW_KEY", "grow", "measure", "keyspace_bytes", "disk_bytes", "cli_grow", "main"]

GROW_KEY = META + b"grow"
CHUNK = 10_000  # load positions signed per worker task; progress is recorded per chunk
TRANSFER_SHARE = 0.7  # as the bench (testnet.bench._workload)
TRADE_GAP = 250  # load positions between the dependent steps of one trade
FUNDING_AMOUNT = 10**15
GROW_UNFINISHED = 75  # exit status of a grow that --max-seconds stopped early (EX_TEMPFAIL)


# ============================================================================ the load


@dataclass
class _Parties:
    chain_id: str
    issuer: Identity
    senders: list[Identity]
    banks: list[Identity]
    customs: Identity


def _parties(manifest: Any) -> _Parties:
    def ident(name: str) -> Identity:
        return load_identity(manifest.client(name).key_file)

    senders = [load_identity(c.key_file) for c in manifest.clients if c.name.startswith("trader")]
    if len(senders) < 2:
        raise ChainfinError("grow needs a testnet with at least two traders: "
                            "`chainfin testnet init --extra-clients 125 ...`")
    banks = [load_identity(c.key_file) for c in manifest.clients if c.role == "bank"]
    return _Parties(manifest.chain_id, ident("usd_issuer"), senders, banks, ident("customs"))


_WORKER: dict[str, Any] = {}


def _worker_init(manifest_dir: str) -> None:
    from testnet.launch import load_manifest

    _WORKER["parties"] = _parties(load_manifest(manifest_dir))


def _funding(p: _Parties) -> list[Transaction]:
    return [Transaction.create(p.issuer, p.chain_id, i + 1, "settlement", "issue",
                               {"currency": "USD", "to": s.public_key.hex(),
                                "amount": FUNDING_AMOUNT})
            for i, s in enumerate([*p.senders, *p.banks])]


def _chunk(p: _Parties, index: int, start: int, count: int, nonces: dict[str, int]
           ) -> list[Transaction]:
    """Load positions ``start .. start + count``: the bench's mix (``build_workload``), seeded by
    the chunk index so a resumed grow signs exactly the same transactions. Trade steps still
    waiting at the chunk's end are dropped (their nonces stay unused: nonces need not be dense).
    ``nonces`` (sender hex -> last nonce used) is updated."""
    rng = random.Random(f"grow/{p.chain_id}/{index}")
    senders = p.senders
    hexes = [s.public_key.hex() for s in senders]
    tag = p.chain_id[-8:]
    out: list[Transaction] = []
    waiting: list[tuple[int, int, Transaction]] = []
    trades = 0

    def signed(who: Identity, contract: str, method: str, args: dict[str, Any]) -> Transaction:
        pk = who.public_key.hex()
        nonces[pk] = nonces.get(pk, 0) + 1
        return Transaction.create(who, p.chain_id, nonces[pk], contract, method, args)

    for k in range(start, start + count):
        si = k % len(senders)
        if rng.random() < TRANSFER_SHARE:
            to = rng.randrange(len(senders) - 1)
            to += to >= si
            out.append(signed(senders[si], "settlement", "transfer", {
                "to": hexes[to], "currency": "USD", "amount": rng.randint(1, 1_000_000)}))
            continue
        if waiting and waiting[0][0] <= k:
            out.append(heapq.heappop(waiting)[2])
            continue
        cents = rng.randint(10_000, 50_000_000)
        seller = senders[si].name or f"trader{si}"
        inv = signed(senders[si], "trade_documents", "register", {
            "doc_type": "invoice",
            # one buyer per invoice (as the bench's workload: no suspected duplicates drawn)
            "fields": {"seller": seller, "buyer": f"Importer G{k} GmbH",
                       "number": f"INV-{tag}-{k:010d}",
                       "issue_date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                       "amount": f"{cents // 100:,}.{cents % 100:02d}", "currency": "USD"},
            "content_hash": hashlib.sha256(f"{p.chain_id}/grow/invoice/{k}".encode()).hexdigest()})
        out.append(inv)
        if not p.banks:
            continue
        trade_id = hashlib.sha256(inv.tx_id + (1).to_bytes(4, "big")).hexdigest()
        decl = signed(senders[si], "trade_documents", "register", {
            "doc_type": "customs_declaration", "trade_id": trade_id,
            "fields": {"declaration_number": f"CD-{tag}-{k:010d}", "exporter": seller,
                       "amount": cents, "currency": "USD"},
            "content_hash": hashlib.sha256(f"{p.chain_id}/grow/decl/{k}".encode()).hexdigest()})
        steps = [decl, signed(p.customs, "trade_documents", "attest", {
            "doc_id": decl.tx_id.hex(), "result": "match", "declared_amount": cents})]
        if trades % 2 == 0:
            steps.append(signed(p.banks[trades // 2 % len(p.banks)], "trade_documents",
                                "request_financing", {
                                    "trade_id": trade_id, "amount": cents // 2,
                                    "currency": "USD", "maturity_date": "2099-12-31"}))
        for i, step in enumerate(steps):
            heapq.heappush(waiting, (k + TRADE_GAP * (i + 1), k * 4 + i, step))
        trades += 1
    return out


def _signed_chunk(index: int, start: int, count: int, nonces: dict[str, int]
                  ) -> tuple[list[bytes], dict[str, int]]:
    """Worker: sign a chunk, verify every signature, return the wire bytes and the nonces after."""
    p: _Parties = _WORKER["parties"]
    txs = _chunk(p, index, start, count, nonces)
    for t in txs:
        t.verify_signature()
    return [t.encode() for t in txs], nonces


# ============================================================================ certification


def certify(block: Block, signers: Sequence[Identity], chain_id: str) -> CommitCertificate:
    """A commit certificate for ``block`` in view 0, signed by ``signers`` (a quorum of the set
    in force), as the nodes' COMMIT votes sign it."""
    unsigned = CommitCertificate(chain_id, block.height, 0, block.hash(), ())
    msg = unsigned.message()
    votes = tuple(Vote(s.public_key, s.sign("consensus", msg)) for s in signers)
    return CommitCertificate(chain_id, block.height, 0, block.hash(), votes)


# ============================================================================ grow


def disk_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes of the files under ``path`` (what ``du --apparent-size`` counts)."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


@dataclass
class GrowState:
    """The ``meta/grow`` record: the next load position and chunk, and the senders' nonces."""

    position: int = 0
    chunk: int = 0
    txs: int = 0  # committed load transactions (funding not counted)
    nonces: dict[str, int] = field(default_factory=dict)

    def encode(self) -> bytes:
        return json.dumps({"position": self.position, "chunk": self.chunk, "txs": self.txs,
                           "nonces": self.nonces}, sort_keys=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> GrowState:
        d = json.loads(raw)
        return cls(d["position"], d["chunk"], d["txs"], dict(d["nonces"]))


@dataclass
class GrowResult:
    height: int
    txs: int
    seconds: float
    tx_per_s: float
    disk_bytes: int
    done: bool


def _quorum_signers(manifest: Any, genesis: Genesis) -> list[Identity]:
    keys = {load_identity(n.key_file).public_key: n for n in manifest.nodes if n.key_file}
    have = [load_identity(keys[pk].key_file) for pk in sorted(keys)
            if pk in genesis.validator_set()]
    quorum = genesis.validator_set().quorum
    if len(have) < quorum:
        raise ChainfinError(f"grow needs {quorum} validator keys, the testnet has {len(have)}")
    return have[:quorum]


def grow(directory: str | os.PathLike[str], txs: int, *, block_txs: int = 1000,
         node: int = 0, max_seconds: float | None = None, progress_s: float = 5.0,
         out: Any = sys.stdout) -> GrowResult:
    """Grow node ``node``'s ledger of the testnet in ``directory`` to ``txs`` load transactions
    (continuing from what it holds), for at most ``max_seconds``.

    Raises:
        ChainfinError: the testnet lacks traders or validator keys, the node's database holds
            blocks that grow did not make, or it is in use.
    """
    from testnet.launch import keyed_genesis, load_manifest

    if block_txs < 1:
        raise ChainfinError("--block-txs must be at least 1")
    manifest = load_manifest(directory)
    genesis = keyed_genesis(manifest)  # grow executes the blocks: it needs the fingerprint key
    nd = manifest.nodes[node]
    p = _parties(manifest)
    signers = _quorum_signers(manifest, genesis)
    vs = genesis.validator_set()
    db_path = Path(nd.data_dir) / "db"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    store = PlyvelStore.open(db_path, wait_s=2.0)
    t0 = time.monotonic()
    try:
        node_key = bytes.fromhex(nd.public_key)
        ledger = Ledger(store, genesis, registry=CONTRACTS,
                        flush_phase=flush_phase_for(node_key, genesis))
        raw = store.get(GROW_KEY)
        if raw is None:
            if ledger.tip.height != 0:
                raise ChainfinError(f"{db_path} holds {ledger.tip.height} blocks that grow did "
                                    "not make; grow a fresh testnet")
            state = GrowState()
        else:
            state = GrowState.decode(raw)
        proposer = vs.primary(0)

        def commit_block(batch: list[Transaction]) -> int:
            tip = ledger.tip
            now = max(int(time.time() * 1000), tip.timestamp_ms)
            block = ledger.build(tip.height + 1, 0, tip.block_hash, now, proposer, batch,
                                 len(batch))
            ledger.commit(block, certify(block, signers, genesis.chain_id))
            return len(block.txs)

        if raw is None:  # funding: the issuer gives every sender and bank its money
            fund = _funding(p)
            for t in fund:
                t.verify_signature()
            for i in range(0, len(fund), block_txs):
                commit_block(fund[i:i + block_txs])
            store.put(GROW_KEY, state.encode())

        base_txs = state.txs
        last = t0
        done = state.txs >= txs
        with ProcessPoolExecutor(1, initializer=_worker_init,
                                 initargs=(str(directory),)) as pool:
            def submit(st: GrowState) -> Future[tuple[list[bytes], dict[str, int]]]:
                return pool.submit(_signed_chunk, st.chunk, st.position, CHUNK, dict(st.nonces))

            ahead = None if done else submit(state)
            while ahead is not None:
                wires, nonces = ahead.result()
                nxt = GrowState(state.position + CHUNK, state.chunk + 1, state.txs, nonces)
                stop = (max_seconds is not None and time.monotonic() - t0 >= max_seconds)
                ahead = None if stop else submit(nxt)  # sign the next chunk meanwhile
                if stop:
                    break
                chunk = [Transaction.decode(w) for w in wires]
                for i in range(0, len(chunk), block_txs):
                    nxt.txs += commit_block(chunk[i:i + block_txs])
                    if nxt.txs >= txs:
                        break
                    now = time.monotonic()
                    if now - last >= progress_s:
                        last = now
                        _progress(out, ledger.tip.height, nxt.txs, txs,
                                  (nxt.txs - base_txs) / (now - t0), disk_bytes(db_path))
                state = nxt
                store.put(GROW_KEY, state.encode())
                if state.txs >= txs:
                    done = True
                    if ahead is not None:
                        ahead.cancel()
                    break
        ledger.flush_smt()  # the tip's pages on disk: a restart need not rebuild the tree
        secs = time.monotonic() - t0
        res = GrowResult(ledger.tip.height, state.txs, secs, (state.txs - base_txs) / secs,
                         disk_bytes(db_path), done)
        _progress(out, res.height, res.txs, txs, res.tx_per_s, res.disk_bytes)
        return res
    finally:
        store.close()


def _progress(out: Any, height: int, done: int, target: int, rate: float, disk: int) -> None:
    print(f"height {height:,}  txs {done:,}/{target:,}  {rate:,.0f} tx/s  "
          f"disk {disk / 1e6:,.1f} MB ({disk / max(done, 1):,.0f} B/tx)", file=out, flush=True)


def copy_ledger(directory: str | os.PathLike[str], source: int = 0) -> list[str]:
    """Copy node ``source``'s database to every other node of the testnet (their data is
    replaced). A node's consensus WAL is what *it* signed (the source has one once a node ran
    on it, e.g. ``measure``'s restart): the copies get none, as nodes that never signed."""
    from testnet.launch import load_manifest

    manifest = load_manifest(directory)
    src = Path(manifest.nodes[source].data_dir) / "db"
    with PlyvelStore.open(src, create_if_missing=False):
        pass  # the source is not in use (LevelDB's lock), and is a database
    copied = []
    for i, nd in enumerate(manifest.nodes):
        if i == source:
            continue
        dst = Path(nd.data_dir) / "db"
        if dst.exists():
            shutil.rmtree(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("LOCK", "CHAINFIN-*"),
                        copy_function=_link_or_copy)
        with PlyvelStore.open(dst, create_if_missing=False) as store:
            signed = [k for k, _ in store.iterate(WAL)]
            if signed:
                with store.write_batch(sync=True) as b:
                    for k in signed:
                        b.delete(k)
        copied.append(str(dst))
    return copied


def _link_or_copy(src: str, dst: str) -> str:
    """A LevelDB table file (``*.ldb``, ``*.sst``) is never written again once made (compaction
    writes new ones and unlinks the old): a hard link shares it safely, so a 10 GB ledger is
    copied in a second and without 10 GB more disk. Every other file (the log, MANIFEST,
    CURRENT) is appended to or replaced in place: a real copy."""
    if src.endswith((".ldb", ".sst")):
        try:
            os.link(src, dst)
            return dst
        except OSError:  # another filesystem, or no hard links: copy
            pass
    return str(shutil.copy2(src, dst))


def _grown_txs(directory: str | os.PathLike[str], node: int) -> int:
    from testnet.launch import load_manifest

    db = Path(load_manifest(directory).nodes[node].data_dir) / "db"
    if not db.exists():
        return 0
    with PlyvelStore.open(db, create_if_missing=False) as store:
        raw = store.get(GROW_KEY)
    return GrowState.decode(raw).txs if raw else 0


def cli_grow(args: argparse.Namespace) -> int:
    """``chainfin testnet grow``; with ``--measure-at N,M``: stop at each size, write
    ``DIR/measure-N.json`` (:func:`measure`, compacted size included), go on."""
    t0 = time.monotonic()
    targets = sorted(int(x) for x in (args.measure_at or "").split(",") if x.strip())
    for t in [x for x in targets if x <= args.txs]:
        if _grown_txs(args.dir, args.node) >= t and Path(args.dir, f"measure-{t}.json").exists():
            continue
        left = None if args.max_seconds is None else args.max_seconds - (time.monotonic() - t0)
        if left is not None and left <= 0:
            return GROW_UNFINISHED
        res = grow(args.dir, t, block_txs=args.block_txs, node=args.node, max_seconds=left)
        if not res.done:
            print(f"stopped at {res.txs:,} of {t:,} txs (--max-seconds); run again to resume")
            return GROW_UNFINISHED
        out = measure(args.dir, node=args.node, compact=True)
        Path(args.dir, f"measure-{t}.json").write_text(json.dumps(out, indent=1) + "\n")
        print(f"measured at {res.txs:,} txs: {args.dir}/measure-{t}.json", flush=True)
    left = None if args.max_seconds is None else args.max_seconds - (time.monotonic() - t0)
    if left is not None and left <= 0:
        return GROW_UNFINISHED
    res = grow(args.dir, args.txs, block_txs=args.block_txs, node=args.node, max_seconds=left)
    if not res.done:
        print(f"stopped at {res.txs:,} of {args.txs:,} txs (--max-seconds); run again to resume")
        return GROW_UNFINISHED
    if args.copy:
        for d in copy_ledger(args.dir, args.node):
            print(f"copied to {d}")
    return 0


# ============================================================================ measure


def keyspace_bytes(store: Any) -> dict[str, dict[str, int]]:
    """Per key space (``chainfin.store.PREFIXES``, plus ``other``): entries, key and value
    bytes, by a full scan."""
    by_prefix = sorted(((p, n) for n, p in PREFIXES.items()), key=lambda x: -len(x[0]))
    out: dict[str, dict[str, int]] = {}
    for k, v in store.iterate():
        name = next((n for p, n in by_prefix if k.startswith(p)), "other")
        if name == "meta":
            name = "meta/" + k[len(META):].decode(errors="replace")
        row = out.setdefault(name, {"entries": 0, "key_bytes": 0, "value_bytes": 0})
        row["entries"] += 1
        row["key_bytes"] += len(k)
        row["value_bytes"] += len(v)
    return out


def rewritten_bytes(store: Any, scratch: str | os.PathLike[str]) -> int:
    """Disk bytes of the live entries of ``store`` written into a fresh database at ``scratch``
    (deleted afterwards), with the node's LevelDB options: the size a full compaction reaches.
    (LevelDB's ``CompactRange`` leaves the deepest level with files as it is, tombstones and
    all, so it cannot show this.)"""
    shutil.rmtree(scratch, ignore_errors=True)
    out = PlyvelStore(scratch)
    try:
        batch: list[tuple[bytes, bytes]] = []
        for kv in store.iterate():
            batch.append(kv)
            if len(batch) >= 10_000:
                with out.write_batch() as b:
                    for k, v in batch:
                        b.put(k, v)
                batch = []
        with out.write_batch() as b:
            for k, v in batch:
                b.put(k, v)
    finally:
        out.close()
    size = disk_bytes(scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    return size


def _pcts(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"p50_ms": round(xs[len(xs) // 2] * 1e3, 3),
            "p99_ms": round(xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1e3, 3),
            "mean_ms": round(statistics.fmean(xs) * 1e3, 3)}


def _sample_state_keys(store: Any, n: int, rng: random.Random) -> list[tuple[str, str]]:
    """``n`` state keys drawn uniformly from the state key space (reservoir sampling over one
    pass)."""
    from chainfin.store import STATE, state_key_of

    out: list[tuple[str, str]] = []
    for i, (k, _) in enumerate(store.iterate(STATE)):
        c, _, key = state_key_of(k).decode(errors="replace").partition("/")
        if i < n:
            out.append((c, key))
        else:
            j = rng.randrange(i + 1)
            if j < n:
                out[j] = (c, key)
    rng.shuffle(out)
    return out


def measure(directory: str | os.PathLike[str], *, node: int = 0, samples: int = 1000,
            seed: int = 1, restart: bool = True, scan: bool = True,
            compact: bool = False) -> dict[str, Any]:
    """The figures of issue 20 for node ``node``'s database (the node must be stopped).
    ``compact``: compact the database first and report its size after as well."""
    from testnet.launch import Testnet, load_manifest

    manifest = load_manifest(directory)
    genesis = load_genesis(manifest.genesis)
    nd = manifest.nodes[node]
    db_path = Path(nd.data_dir) / "db"
    rng = random.Random(seed)
    res: dict[str, Any] = {"db": str(db_path)}
    files: dict[str, int] = {}
    for f in os.listdir(db_path):
        kind = f.rsplit(".", 1)[-1] if "." in f else f.split("-")[0]
        files[kind] = files.get(kind, 0) + os.stat(db_path / f).st_size
    res["disk_bytes"] = sum(files.values())
    res["disk_by_file_kind"] = files
    store = PlyvelStore.open(db_path, create_if_missing=False)
    try:
        if compact:  # the steady state: deleted and overwritten entries dropped
            t0 = time.perf_counter()
            res["disk_bytes_compacted"] = rewritten_bytes(store, db_path.parent / "compacted")
            res["compact_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        ledger = Ledger(store, genesis, registry=CONTRACTS)
        res["ledger_open_s"] = round(time.perf_counter() - t0, 3)
        raw = store.get(GROW_KEY)
        load_txs = GrowState.decode(raw).txs if raw else None
        height = ledger.tip.height
        res["height"] = height
        res["load_txs"] = load_txs
        if scan:
            t0 = time.perf_counter()
            ks = keyspace_bytes(store)
            res["keyspace_scan_s"] = round(time.perf_counter() - t0, 1)
            res["keyspaces"] = ks
            total_txs = ks.get("tx_index", {}).get("entries", 0)
            res["committed_txs"] = total_txs
            if total_txs:
                res["disk_bytes_per_tx"] = round(res["disk_bytes"] / total_txs, 1)
                if compact:
                    res["disk_bytes_per_tx_compacted"] = round(
                        res["disk_bytes_compacted"] / total_txs, 1)
                res["logical_bytes_per_tx"] = {
                    n: round((r["key_bytes"] + r["value_bytes"]) / total_txs, 1)
                    for n, r in ks.items()}
        chain = proofs.set_changes_from(ledger.validator_sets(), ledger.block_record)
        # tx proofs: random committed transactions, the REST handler's calls
        picks = []
        for _ in range(samples):
            h = rng.randint(1, height)
            rec = ledger.block_record(h)
            assert rec is not None
            btxs = Block.from_wire(rec["block"]).txs
            if btxs:
                picks.append(btxs[rng.randrange(len(btxs))].tx_id)
        tx_times, tx_docs = [], []
        for tx_id in picks:
            t0 = time.perf_counter()
            loc = ledger.tx_location(tx_id)
            assert loc is not None
            doc = ledger.tx_proof(loc[0], loc[1], chain)
            assert doc is not None
            body = json.dumps(doc)
            tx_times.append(time.perf_counter() - t0)
            tx_docs.append(body)
        res["tx_proof"] = _pcts(tx_times)
        res["tx_proof_bytes"] = round(statistics.fmean(len(d) for d in tx_docs))
        # state proofs of random keys under the tip (REST: get_state_proof)
        keys = _sample_state_keys(store, samples, rng)
        st_times, st_docs, read_times = [], [], []
        for c, k in keys:
            t0 = time.perf_counter()
            tip = ledger.tip_header()
            assert tip is not None
            doc = proofs.build_state_proof_from_tree(
                tip[0], tip[1], c, k,
                ledger.committed_tree(), chain)
            body = json.dumps(doc)
            st_times.append(time.perf_counter() - t0)
            st_docs.append(body)
        for c, k in keys:
            t0 = time.perf_counter()
            ledger.state_value(c, k)
            read_times.append(time.perf_counter() - t0)
        res["state_proof"] = _pcts(st_times)
        res["state_proof_bytes"] = round(statistics.fmean(len(d) for d in st_docs))
        res["state_read"] = _pcts(read_times)
        ver_tx = []
        for d in tx_docs:
            t0 = time.perf_counter()
            proofs.verify_proof(genesis, proofs.parse_document(d))
            ver_tx.append(time.perf_counter() - t0)
        ver_st = []
        for d in st_docs:
            t0 = time.perf_counter()
            proofs.verify_proof(genesis, proofs.parse_document(d))
            ver_st.append(time.perf_counter() - t0)
        res["verify_tx_proof"] = _pcts(ver_tx)
        res["verify_state_proof"] = _pcts(ver_st)
        tmp = db_path.parent / "measure-proof.json"
        tmp.write_text(tx_docs[0])
        cli_times = []
        for _ in range(3):  # the command as an auditor runs it: process start included
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "chainfin.cli", "verify", "--genesis",
                            manifest.genesis, str(tmp)], check=True, stdout=subprocess.DEVNULL)
            cli_times.append(time.perf_counter() - t0)
        tmp.unlink()
        res["chainfin_verify_cli_s"] = round(min(cli_times), 3)
    finally:
        store.close()
    if restart:
        with Testnet(directory) as tn:
            t0 = time.perf_counter()
            tn.start(node)
            tn.wait_ready(timeout=600, nodes=[node])
            res["restart_to_serving_s"] = round(time.perf_counter() - t0, 2)
            tn.stop(node)
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testnet.scale")
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="disk, proofs, reads, restart of one node's ledger")
    m.add_argument("--dir", required=True)
    m.add_argument("--node", type=int, default=0)
    m.add_argument("--samples", type=int, default=1000)
    m.add_argument("--no-restart", action="store_true")
    m.add_argument("--no-scan", action="store_true", help="skip the full key space scan")
    m.add_argument("--compact", action="store_true",
                   help="compact the database first (steady-state size) and report both")
    m.add_argument("--json", default=None, help="also write the result here")
    k = sub.add_parser("keyspaces", help="bytes per key space of a node database")
    k.add_argument("--db", required=True)
    a = ap.parse_args(argv)
    if a.cmd == "keyspaces":
        with PlyvelStore.open(a.db, create_if_missing=False) as store:
            ks = keyspace_bytes(store)
        n = ks.get("tx_index", {}).get("entries", 0) or 1
        print(f"{'key space':<16}{'entries':>12}{'key B':>14}{'value B':>14}{'B/tx':>9}")
        for name, r in sorted(ks.items(), key=lambda x: -(x[1]["key_bytes"] +
                                                          x[1]["value_bytes"])):
            print(f"{name:<16}{r['entries']:>12,}{r['key_bytes']:>14,}{r['value_bytes']:>14,}"
                  f"{(r['key_bytes'] + r['value_bytes']) / n:>9.1f}")
        print(f"disk {disk_bytes(a.db):,} B for {n:,} txs: {disk_bytes(a.db) / n:.0f} B/tx")
        return 0
    res = measure(a.dir, node=a.node, samples=a.samples, restart=not a.no_restart,
                  scan=not a.no_scan, compact=a.compact)
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        Path(a.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
