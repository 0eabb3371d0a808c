"""``chainfin node run --config FILE``: one node process in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from chainfin.crypto import load_identity
from chainfin.errors import ChainfinError
from chainfin.genesis import key_file_open_to_others, load_genesis
from chainfin.store import DamagedStore, PlyvelStore
from contracts import CONTRACTS
from node import tls
from node.api import AccessLimits, make_app, make_metrics_app
from node.config import NodeConfig, load_config
from node.runtime import Node

log = logging.getLogger("chainfin.main")

#: the cyclic GC's thresholds in a node process (decision 100): a young collection every
#: 20,000 net allocations instead of 700
GC_THRESHOLDS = (20_000, 20, 50)


def tune_gc() -> tuple[int, ...]:
    """Once the node has started: what is alive now (modules, genesis, caches as loaded) moves
    to the permanent generation, which full collections no longer walk, and collections run
    less often (decision 100). At 500 tx/s this took the four nodes' GC from ~1,000 young and 8
    full collections in 30 s (8 pauses of 18-80 ms) to ~30 young ones and none. Returns the
    thresholds it replaced (``gc.unfreeze()`` and ``gc.set_threshold`` with them undo it)."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return before


async def run_node(cfg: NodeConfig, ready: asyncio.Event | None = None) -> None:
    """Open the store (waiting for a killed predecessor's lock), start the node and REST, run
    until SIGTERM/SIGINT, then stop cleanly."""
    identity = load_identity(cfg.key_file)
    genesis = cfg.load_genesis()  # with the fingerprint key: a missing key file stops us here
    if not genesis.key_inline:
        loose = key_file_open_to_others(cfg.fingerprint_key_path())
        if loose is not None:  # a consortium secret: the node starts, and says so (as ssh would)
            log.warning("the fingerprint key file %s is open to its group or others (mode %03o): "
                        "it is the consortium's secret; chmod 600 it", cfg.fingerprint_key_path(),
                        loose)
    ssl_kw = {}  # mutual TLS on peer links when the config says tls (node/tls.py)
    if cfg.tls:
        tls.check_certificate(cfg, identity.public_key)
        ssl_kw = {"server_ssl": tls.server_context(cfg), "client_ssl": tls.client_context(cfg)}
    rest_ssl = tls.rest_server_context(cfg) if tls.rest_tls_enabled(cfg) else None
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    store = PlyvelStore.open(str(cfg.data_dir / "db"), wait_s=15.0)
    try:
        peers = {p.key: p.address for p in cfg.peers}
        bank = load_identity(cfg.bank_key_file) if cfg.bank_key_file else None
        node_kw: dict[str, Any] = {
            "bank": bank, "sync_urls": cfg.sync_urls, "state_sync": cfg.state_sync, "min_free_bytes": cfg.min_free_mb << 20,
            "sync_identity": (load_identity(cfg.sync_key_file) if cfg.sync_key_file else None),
            "sync_ssl": tls.rest_client_context(cfg.tls_ca) if cfg.tls_ca else None,
            "read_log_anchor_s": cfg.read_log_anchor_s,
            "request_timeout_ms": cfg.request_timeout_ms,
            "link_grace_ms": cfg.link_grace_ms,
            "no_quorum_answer_s": cfg.no_quorum_answer_s, **ssl_kw}
        node_cls: type[Node] = Node
        if cfg.byzantine is not None:  # test networks only (node/byzantine.py refuses others)
            from node.byzantine import ByzantineNode

            node_cls = ByzantineNode
            node_kw.update(behaviour=cfg.byzantine.behaviour,
                           flood_rate=cfg.byzantine.flood_rate, seed=cfg.byzantine.seed)
            log.warning("BYZANTINE test node: behaviour %s", cfg.byzantine.behaviour)
        node = node_cls(identity, genesis, store, cfg.p2p_host, cfg.p2p_port, peers,
                        cfg.node_id, **node_kw)
        if cfg.tls:
            _note_certificate_expiry(node, cfg)
        await node.start()
        limits = AccessLimits(
            per_address_rate=cfg.rest_rate_per_address,
            per_address_burst=cfg.rest_burst_per_address,
            per_identity_rate=cfg.rest_rate_per_identity,
            per_identity_burst=cfg.rest_burst_per_identity,
            verify_rate=cfg.rest_verify_rate, verify_burst=cfg.rest_verify_rate,
            authorities=cfg.rest_authorities())
        # a signed read names its server: one signed for another URL is refused wrong_authority
        log.info("REST takes signed requests for %s (public_urls adds names)",
                 ", ".join(sorted(limits.authorities or ())))
        runner = web.AppRunner(make_app(node, limits), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, cfg.rest_host, cfg.rest_port, ssl_context=rest_ssl,
                           reuse_address=True, backlog=1024)
        await site.start()
        metrics_runner = await _start_metrics(node, cfg)
        tune_gc()
        log.info("REST on %s://%s:%d (peer links: %s)", "https" if rest_ssl else "http",
                 cfg.rest_host, cfg.rest_port, "mutual TLS" if cfg.tls else "plain TCP")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if ready is not None:
            ready.set()
        stopper = asyncio.ensure_future(stop.wait())
        failer = asyncio.ensure_future(node.failed.wait())
        await asyncio.wait([stopper, failer], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        failer.cancel()
        log.info("stopping")
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        await runner.cleanup()
        await node.stop()
        if node.failure is not None:
            raise ChainfinError(f"the consensus loop failed: {node.failure!r}")
    finally:
        store.close()


async def _start_metrics(node: Node, cfg: NodeConfig) -> web.AppRunner | None:
    """The Prometheus listener when the config gives ``metrics_port`` (plain HTTP, /metrics
    only, unauthenticated: a scraper does not sign requests), else None."""
    if cfg.metrics_port is None:
        return None
    runner = web.AppRunner(make_metrics_app(node), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, cfg.metrics_host, cfg.metrics_port, reuse_address=True).start()
    log.info("metrics on http://%s:%d/metrics (unauthenticated: keep it on the monitoring "
             "network)", cfg.metrics_host, cfg.metrics_port)
    return runner


#: a certificate that expires sooner than this is logged as a warning at start
CERT_WARN_DAYS = 30


def _note_certificate_expiry(node: Node, cfg: NodeConfig) -> None:
    """Export when the node's TLS certificate and its CA expire, and warn when one of them
    does within :data:`CERT_WARN_DAYS` (peers refuse an expired certificate: the node would
    lose its links at the next reconnect)."""
    now = time.time()
    for which, at in tls.certificate_expiry(cfg).items():
        node.metrics.tls_expiry.labels(which).set(at)
        days = (at - now) / 86400
        if days < CERT_WARN_DAYS:
            log.warning("the %s TLS certificate expires in %.1f days (%s): renew it before "
                        "then, or peers refuse this node's links", which, days,
                        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at)))


def _damaged(cfg: NodeConfig, config_path: str, e: DamagedStore) -> str:
    return (f"the data directory {cfg.data_dir} is damaged ({e}); the node will not start on "
            f"it: rebuild it from the peers with `chainfin node resync --config {config_path}` "
            "(the damaged directory is kept aside; every block's certificate is verified)")


def cli_run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    logging.basicConfig(
        level=getattr(logging, cfg.log_level),
        format=f"%(asctime)s {cfg.node_id} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop  # optional: a faster event loop when installed

        runner = uvloop.run
    try:
        runner(run_node(cfg))
    except DamagedStore as e:
        log.error("%s", _damaged(cfg, args.config, e))
        return 2
    except ChainfinError as e:
        log.error("%s", e)
        return 1
    log.info("stopped (pid %d)", os.getpid())
    return 0


def check_data_dir(cfg: NodeConfig) -> None:
    """Open the data directory the way a start does, without starting anything.

    Raises:
        DamagedStore: it is damaged (what ``node run`` refuses).
        StorageError: it cannot be opened for another reason (locked, ...).
    """
    from node.ledger import P_WAL, Ledger
    from node.runtime import check_wal_mark

    db = cfg.data_dir / "db"
    if not db.exists():
        return
    store = PlyvelStore.open(str(db), create_if_missing=False)
    try:
        tip = Ledger(store, load_genesis(cfg.genesis), registry=CONTRACTS).tip
        keys = [k[len(P_WAL):] for k, _ in store.iterate(prefix=P_WAL)]
        check_wal_mark(store, tip.height, keys)
    finally:
        store.close()


def cli_resync(args: argparse.Namespace) -> int:
    """``chainfin node resync --config F [--force]``: move a damaged data directory aside and run
    the node on an empty one; it fetches every block from its peers and verifies each
    certificate against the validator sets it derives from the genesis before applying it."""
    cfg = load_config(args.config)
    logging.basicConfig(
        level=getattr(logging, cfg.log_level),
        format=f"%(asctime)s {cfg.node_id} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if cfg.data_dir.exists():
        try:
            check_data_dir(cfg)
        except DamagedStore as e:
            log.warning("%s", e)
        else:
            if not args.force:
                raise ChainfinError(f"the data directory {cfg.data_dir} is not damaged; pass "
                                    "--force to rebuild it from the peers anyway")
        aside = cfg.data_dir.with_name(
            f"{cfg.data_dir.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        cfg.data_dir.rename(aside)
        print(f"moved {cfg.data_dir} to {aside}; starting on an empty data directory: the node "
              "fetches the chain from its peers, verifying every certificate", flush=True)
    return cli_run(args)
