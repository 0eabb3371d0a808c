"""Issue 6: a bank node joins a running 4-node testnet under load and is voted in; later a
validator is removed; proofs from after each change verify against the original genesis."""

from __future__ import annotations

import asyncio
import io

import pytest

from chainfin.genesis import load_genesis
from chainfin.proofs import verify_proof
from testnet.membership import join_node, remove_node

pytestmark = pytest.mark.slow


async def load(net, stop: asyncio.Event, results: list, nodes) -> None:
    k = 0
    while not stop.is_set():
        to = net.ids["exporter"].public_key.hex()
        tx = net.tx("usd_issuer", "settlement", "issue", {"currency": "USD", "to": to,
                                                          "amount": 1})
        targets = nodes()
        try:
            st, body = await net.post(targets[k % len(targets)], tx, timeout=30)
        except Exception as e:  # noqa: BLE001 - a node may be restarting: count, go on
            st, body = 0, {"error": str(e)}
        results.append((tx, st, body))
        k += 1
        await asyncio.sleep(0.02)


async def proof_verifies(net, node: int, tx_id: str, height: int, genesis):
    # committed on the node that answered the submission is not yet applied everywhere: wait
    # until this node has the block before asking it for the proof
    await net.wait_height(node, height, timeout=30)
    st, doc = await net.get(node, f"/v1/proofs/tx/{tx_id}")
    assert st == 200, doc
    return verify_proof(genesis, doc)


async def test_join_under_load_then_remove(net):
    genesis = load_genesis(net.dir / "genesis.json")
    stop = asyncio.Event()
    results: list = []
    live = [0, 1, 2, 3]
    loader = asyncio.create_task(load(net, stop, results, lambda: live))
    try:
        await asyncio.sleep(1.0)
        out = io.StringIO()
        k = await join_node(net.dir, net.tn, out=out, timeout=60)
        assert k == 4, out.getvalue()
        net.urls.append(net.tn.manifest.nodes[4].rest_url)
        st = (await net.get(4, "/v1/status"))[1]
        assert st["validator"] and len(st["validators"]) == 5
        live.append(4)  # the new validator takes submissions too
        h_join = st["height"]
        await net.wait_height(4, h_join + 5, timeout=30)  # blocks keep committing with n = 5
        # a tx committed after the change, proven through the set-change chain from genesis
        tx = net.tx("usd_issuer", "settlement", "issue",
                    {"currency": "USD", "to": net.ids["importer"].public_key.hex(), "amount": 7})
        s, body = await net.post(4, tx)
        assert s == 200 and body["status"] == "committed", body
        v = await proof_verifies(net, 2, tx.tx_id.hex(), body["height"], genesis)
        assert len(v.validators.members) == 5
        # the new node takes part: it signs COMMITs that end up in certificates
        # (its links come up within the transport's reconnect back-off, at most a few s)
        new_key = net.tn.manifest.nodes[4].public_key
        signers: set[str] = set()
        h, loop = h_join + 1, asyncio.get_running_loop()
        deadline = loop.time() + 30
        while new_key not in signers and loop.time() < deadline:
            if await net.height(4) < h:
                await asyncio.sleep(0.2)
                continue
            _, b = await net.get(4, f"/v1/blocks/{h}")
            signers.update(v[0] for v in b["certificate"]["votes"])
            h += 1
        assert new_key in signers, "the new validator never signed a certificate"
        # remove node1
        live.remove(1)
        await remove_node(net.dir, net.tn, 1, out=out, timeout=60)
        st = (await net.get(0, "/v1/status"))[1]
        assert len(st["validators"]) == 4
        h_rm = st["height"]
        await net.wait_height(4, h_rm + 5, timeout=30)
        tx = net.tx("usd_issuer", "settlement", "issue",
                    {"currency": "USD", "to": net.ids["importer"].public_key.hex(), "amount": 9})
        s, body = await net.post(0, tx)
        assert s == 200 and body["status"] == "committed", body
        v = await proof_verifies(net, 4, tx.tx_id.hex(), body["height"], genesis)
        assert len(v.validators.members) == 4
    finally:
        stop.set()
        await loader
    ok = [b for _, s, b in results if s == 200 and b.get("status") == "committed"]
    assert len(ok) >= 0.9 * len(results), f"{len(ok)}/{len(results)} load txs committed"
    # every node still running agrees on every height
    top = min([await net.height(i) for i in (0, 2, 3, 4)])
    # node4 joined by state sync: it holds the blocks above its snapshot height
    base = (await net.get(4, "/v1/status"))[1]["base_height"]
    chains = [await net.hashes(i, top, start=base + 1) for i in (0, 2, 3, 4)]
    assert all(c == chains[0] for c in chains)
