"""Issue 20: a bank's node joins a running 4-node testnet by state sync (real processes on
loopback): it installs a verified snapshot, replays only the blocks after it, reaches the
validators' state root, is voted in, and after a restart keeps serving and following."""

from __future__ import annotations

import asyncio
import io

import pytest

from testnet.membership import join_node

pytestmark = pytest.mark.slow


async def _issue(net, node: int, to: str, amount: int) -> dict:
    tx = net.tx("usd_issuer", "settlement", "issue",
                {"currency": "USD", "to": net.ids[to].public_key.hex(), "amount": amount})
    s, body = await net.post(node, tx)
    assert s == 200 and body["status"] == "committed", body
    body["tx_id"] = tx.tx_id.hex()
    return body


async def test_join_by_state_sync_then_restart(net):
    # enough blocks that every validator has written a whole state tree (a snapshot) at least
    # once: the flush phases of 4 validators are 16 blocks apart
    first = await _issue(net, 0, "exporter", 1)
    for k in range(40):
        await _issue(net, k % 4, "exporter", 1)
    out = io.StringIO()
    k = await join_node(net.dir, net.tn, out=out, timeout=60)
    assert k == 4, out.getvalue()
    net.urls.append(net.tn.manifest.nodes[4].rest_url)
    st = (await net.get(4, "/v1/status"))[1]
    base = st["base_height"]
    assert base > 0, "the node replayed from genesis instead of installing a snapshot"
    assert st["validator"] and len(st["validators"]) == 5
    # blocks below the snapshot: a clear 404, not a crash
    s, body = await net.get(4, "/v1/blocks/1")
    assert s == 404 and body["error"]["code"] == "pruned" and str(base) in \
        body["error"]["message"], body
    s, body = await net.get(4, f"/v1/proofs/tx/{first['tx_id']}")
    assert s == 404 and "pruned below snapshot height" in body["error"]["message"], body
    # it takes part and its state is the validators' state: it executed (and checked the state
    # root of) every block after its snapshot, and has the same root and values at one height
    body = await _issue(net, 4, "importer", 7)
    h = body["height"]
    for i in range(5):
        await net.wait_height(i, h)
    roots = set()
    for i in range(5):
        s, b = await net.get(i, f"/v1/blocks/{h}")
        assert s == 200, b
        roots.add(b["header"]["state_root"])
    assert len(roots) == 1
    key = f"bal/{net.ids['exporter'].public_key.hex()}/USD"
    vals = [(await net.get(i, f"/v1/state/settlement/{key}"))[1] for i in (0, 4)]
    assert vals[0].get("value") == vals[1].get("value"), vals
    # restarted: it opens its synced store, serves, and keeps following
    net.tn.stop(4)
    net.tn.start(4)
    await asyncio.to_thread(net.tn.wait_ready, 30, [4])
    st2 = (await net.get(4, "/v1/status"))[1]
    assert st2["base_height"] == base and st2["height"] >= h
    body = await _issue(net, 0, "importer", 3)
    await net.wait_height(4, body["height"], timeout=30)
    s, b = await net.get(4, f"/v1/blocks/{body['height']}")
    assert s == 200
    s0, b0 = await net.get(0, f"/v1/blocks/{body['height']}")
    assert b["hash"] == b0["hash"] and b["header"]["state_root"] == b0["header"]["state_root"]
    s, proof = await net.get(4, f"/v1/proofs/state/settlement/{key}")
    assert s == 200, proof
