"""Bank nodes joining and leaving a running testnet by an on-chain decision.

``join_node``: create the new bank's node key, client key and config; register both identities
(signed by an admin bank); start the node as an **observer** that installs a state snapshot
(``node/statesync.py``: the snapshot's certificate and every chunk verified against the
validator sets it derives from genesis) and then follows the chain over REST, verifying every
certificate the same way; once it has
caught up, a validator proposes ``governance.add_validator`` (with the node's p2p address) and
the others vote; at quorum the set changes from the next block and the node takes part in
consensus. ``remove_node`` does the reverse with ``remove_validator`` and then stops the node.

The operator of a local testnet holds every validator key, so these functions sign the votes of
all validators; in a real consortium each bank's operator would cast its own vote with
``chainfin tx send``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

from chainfin.consensus.quorum import quorum
from chainfin.crypto import Identity, load_identity, save_identity
from chainfin.errors import ChainfinError
from chainfin.types import Transaction
from node.config import NodeConfig, PeerConfig, write_config
from testnet.launch import (
    HOST,
    Manifest,
    ManifestClient,
    ManifestNode,
    Testnet,
    bic,
    free_ports,
    issue_node_tls,
    load_manifest,
    manifest_ssl,
)

_nonce = itertools.count(int(time.time() * 1000) * 1000)


class MembershipError(ChainfinError):
    """A join or removal did not complete."""


async def _post(session: aiohttp.ClientSession, url: str, tx: Transaction) -> dict[str, Any]:
    async with session.post(f"{url}/v1/tx?wait=commit", json=tx.to_json(),
                            timeout=aiohttp.ClientTimeout(total=30)) as r:
        body = await r.json()
    if r.status != 200 or body.get("status") != "committed":
        raise MembershipError(f"{tx.contract}.{tx.method} failed: {body}")
    return body  # type: ignore[no-any-return]


async def _status(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/v1/status", timeout=aiohttp.ClientTimeout(total=5)) as r:
        return await r.json()  # type: ignore[no-any-return]


async def _live_urls(session: aiohttp.ClientSession, m: Manifest) -> list[str]:
    out = []
    for n in m.nodes:
        try:
            await _status(session, n.rest_url)
            out.append(n.rest_url)
        except (TimeoutError, aiohttp.ClientError, OSError):
            continue
    if not out:
        raise MembershipError("no node of the testnet answers")
    return out


def _tx(ident: Identity, chain_id: str, method: str, args: dict[str, Any]) -> Transaction:
    return Transaction.create(ident, chain_id, next(_nonce), "governance", method, args)


async def _govern(session: aiohttp.ClientSession, directory: Path, m: Manifest, url: str,
                  action: str, params: dict[str, Any], out: Any) -> None:
    """Propose ``action`` with the first live validator's key and vote with the others until the
    proposal reaches quorum of the current set."""
    st = await _status(session, url)
    current = st["validators"]
    keys = {}
    for node in m.nodes:
        if node.public_key in current and node.key_file:
            keys[node.public_key] = load_identity(node.key_file)
    voters = [keys[k] for k in current if k in keys]
    need = quorum(len(current))
    if len(voters) < need:
        raise MembershipError(f"only {len(voters)} validator keys here; {need} votes needed")
    body = await _post(session, url, _tx(voters[0], m.chain_id, "propose",
                                         {"action": action, "params": params}))
    pid = body["result"]["proposal_id"]
    print(f"  proposal {pid[:16]} ({action}) by {voters[0].name}", file=out)
    for v in voters[1:need]:
        body = await _post(session, url, _tx(v, m.chain_id, "vote", {"proposal_id": pid}))
        print(f"  vote by {v.name}: {body['result'].get('status', 'counted')}", file=out)


def prepare_join(directory: Path) -> tuple[int, Identity, Identity]:
    """Keys, config and manifest entry of the next bank node (not started, not registered)."""
    m = load_manifest(directory)
    k = len(m.nodes)
    name = f"node{k}"
    node_key = Identity.generate(name)
    bank_key = Identity.generate(f"bank{k}")
    save_identity(node_key, directory / "keys" / f"{name}.json")
    save_identity(bank_key, directory / "clients" / f"bank{k}.json")
    rest, p2p = free_ports(2)
    ndir = directory / name
    ndir.mkdir(exist_ok=True)
    cfg = NodeConfig(
        node_id=name,
        key_file=Path(f"../keys/{name}.json"),
        bank_key_file=Path(f"../clients/bank{k}.json"),
        genesis=Path("../genesis.json"),
        fingerprint_key_file=(Path(m.fingerprint_key_file) if m.fingerprint_key_file else None),
        data_dir=Path("data"),
        rest_host=HOST, rest_port=rest, p2p_host=HOST, p2p_port=p2p,
        peers=[PeerConfig(node_id=n.id, public_key=n.public_key, address=n.p2p_address)
               for n in m.nodes],
        sync_urls=[n.rest_url for n in m.nodes],
        state_sync=True,  # an empty node installs a verified snapshot, then replays the rest
        # an observer reads blocks as the testnet's auditor (blocks are for validators,
        # regulators and auditors; the new node is none of them until it is added)
        sync_key_file=(Path("../clients/auditor.json")
                       if any(c.name == "auditor" for c in m.clients) else None),
        **(issue_node_tls(directory, name, node_key.public_key.hex(),
                          any(n.rest_url.startswith("https://") for n in m.nodes))
           if m.ca else {}),
    )
    write_config(cfg, ndir / "config.json")
    nodes = [*m.nodes, ManifestNode(
        id=name, public_key=node_key.public_key.hex(), bank=bic(k),
        rest_url=f"{m.nodes[0].rest_url.split('://')[0]}://{HOST}:{rest}",
        p2p_address=f"{HOST}:{p2p}",
        data_dir=str(ndir / "data"), config=str(ndir / "config.json"),
        key_file=str(directory / "keys" / f"{name}.json"))]
    clients = [*m.clients, ManifestClient(
        name=f"bank{k}", role="bank", admin=False, bank=bic(k),
        public_key=bank_key.public_key.hex(), key_file=str(directory / "clients" / f"bank{k}.json"))]
    new = m.model_copy(update={"nodes": nodes, "clients": clients})
    (directory / "testnet.json").write_text(new.to_json_text())
    return k, node_key, bank_key


async def join_node(directory: str | Path, tn: Testnet, out: Any = None,
                    timeout: float = 60.0) -> int:
    """Add one bank node to the running testnet of ``directory``; returns its index.

    Raises:
        MembershipError: a step did not complete in time.
    """
    import sys

    out = out or sys.stdout
    directory = Path(directory).resolve()
    before = load_manifest(directory)
    admin = next((c for c in before.clients if c.admin), None)
    if admin is None:
        raise MembershipError("no admin bank client in the manifest to register the new bank")
    k, node_key, bank_key = prepare_join(directory)
    m = load_manifest(directory)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=manifest_ssl(before))) as session:
        url = (await _live_urls(session, before))[0]
        admin_id = load_identity(admin.key_file)
        print(f"node{k}: registering its identities (signed by {admin.name})", file=out)
        for ident, nm in ((node_key, f"node{k}"), (bank_key, f"bank{k}")):
            await _post(session, url, Transaction.create(
                admin_id, m.chain_id, next(_nonce), "governance", "register_identity",
                {"pubkey": ident.public_key.hex(), "name": nm, "role": "bank", "bank": bic(k)}))
        tn.manifest = m
        tn.start(k)
        await asyncio.to_thread(tn.wait_ready, 30, [k])
        target = (await _status(session, url))["height"]
        print(f"node{k}: started as an observer, syncing to height {target}", file=out)
        deadline = loop.time() + timeout
        while (await _status(session, m.nodes[k].rest_url))["height"] < target:
            if loop.time() > deadline:
                raise MembershipError(f"node{k} did not catch up in {timeout}s")
            await asyncio.sleep(0.2)
        print(f"node{k}: caught up; proposing add_validator", file=out)
        await _govern(session, directory, m, url, "add_validator",
                      {"pubkey": node_key.public_key.hex(), "name": f"node{k}",
                       "address": m.nodes[k].p2p_address}, out)
        while True:
            st = await _status(session, m.nodes[k].rest_url)
            if st["validator"]:
                break
            if loop.time() > deadline:
                raise MembershipError(f"node{k} did not become a validator in {timeout}s")
            await asyncio.sleep(0.2)
        print(f"node{k}: validator from height {st['height'] + 0}; "
              f"n = {len(st['validators'])}", file=out)
    return k


async def remove_node(directory: str | Path, tn: Testnet, k: int, out: Any = None,
                      timeout: float = 60.0) -> None:
    """Vote node ``k`` out of the validator set, wait until the set changed, stop it."""
    import sys

    out = out or sys.stdout
    directory = Path(directory).resolve()
    m = load_manifest(directory)
    victim = m.nodes[k].public_key
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=manifest_ssl(m))) as session:
        urls = [u for u in await _live_urls(session, m) if u != m.nodes[k].rest_url]
        print(f"node{k}: proposing remove_validator", file=out)
        await _govern(session, directory, m, urls[0], "remove_validator", {"pubkey": victim},
                      out)
        deadline = loop.time() + timeout
        while victim in (await _status(session, urls[0]))["validators"]:
            if loop.time() > deadline:
                raise MembershipError(f"node{k} was not removed in {timeout}s")
            await asyncio.sleep(0.2)
    tn.stop(k)
    print(f"node{k}: removed from the validator set and stopped", file=out)


def cli_join(args: argparse.Namespace) -> int:
    """``chainfin testnet join --dir DIR``: add a bank node, keep it running until Ctrl-C."""
    directory = Path(args.dir)

    async def main() -> int:
        tn = Testnet(directory)
        try:
            k = await join_node(directory, tn)
            print(f"node{k} runs (log {tn.log_file(k)}); Ctrl-C stops it")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            return 0
        finally:
            tn.stop()

    return asyncio.run(main())
