"""Peer-frame fuzzer: mutated and random frames into a live node's peer transport.

``python -m testnet.fuzz --frames 10000 --seed 1 [--json FILE]`` starts three validator nodes in
process (real :class:`node.runtime.Node`, real peer transport on 127.0.0.1, MemoryStore) and plays
the fourth validator itself with a :class:`node.transport.Transport` of its own. Against node 0 it
sends, mixed by a seeded RNG:

- before the handshake (a raw websocket to ``/p2p``): random bytes, truncated and mutated HELLOs,
  HELLOs for another chain, an unknown key or a bad version;
- after it (on the authenticated link): random bytes and bit-flipped envelopes (bad MAC),
  envelopes replaying an old sequence number, sealed bodies that are not envelopes, and sealed
  envelopes whose items carry random kinds or mutated consensus messages and transactions.

Checked: node 0 never fails (its consensus task keeps running, no handler raised), every frame
it dropped is counted in ``/metrics`` (transport, engine and node counters), and the cluster
still commits afterwards. The suite runs a short version (tests/node/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from chainfin import codec
from chainfin.consensus.messages import COMMIT, PREPARE, MessageCodec
from chainfin.crypto import Identity
from chainfin.genesis import Genesis
from chainfin.peerproto import mac
from chainfin.store import MemoryStore
from chainfin.testing.genesis import bank_genesis
from chainfin.types import Transaction
from node.runtime import K_CONSENSUS, K_TXS, Node
from node.transport import PATH, Transport

__all__ = ["FuzzResult", "fuzz_frames", "main"]

PRE_HANDSHAKE_EVERY = 25  # one raw pre-handshake connection per this many frames


@dataclass
class FuzzResult:
    frames: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    handler_errors: int = 0
    node_failed: bool = False
    committed_after: bool = False
    reconnects: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (not self.node_failed and self.handler_errors == 0 and self.committed_after
                and sum(self.drops.values()) > 0)

    def to_json(self) -> dict[str, Any]:
        return {"frames": self.frames, "sent": self.sent, "drops": self.drops,
                "handler_errors": self.handler_errors, "node_failed": self.node_failed,
                "committed_after": self.committed_after, "reconnects": self.reconnects,
                "seconds": round(self.seconds, 1), "ok": self.ok}


def _genesis(validators: list[Identity], issuer: Identity, to: Identity) -> Genesis:
    return bank_genesis("chainfin-testnet-fuzz", validators,
                        [("usd_issuer", issuer, "issuer", None), ("exporter", to, "exporter", None)],
                        issuer, fingerprint_key="00" * 32)


def drop_counters(node: Node) -> dict[str, int]:
    """Every counter of a dropped or refused peer input on ``node`` (what /metrics exports)."""
    out = {f"transport.{k}": v for k, v in node.transport.stats.items()
           if k.startswith("dropped") or k in ("handshakes_failed", "disconnects_bad_peer")}
    out.update({f"consensus.{k}": v for k, v in node.engine.stats.items()
                if k.startswith("dropped") or k == "proposals_rejected"})
    out.update({f"node.{k}": node.stats[k] for k in ("frames_unknown_kind", "gossip_txs_bad")})
    return out


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        if op == 0 and b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            del b[rng.randrange(len(b)):]
        elif op == 2:
            b[rng.randrange(len(b) + 1):0] = rng.randbytes(rng.randint(1, 16))
        elif b:
            i = rng.randrange(len(b))
            b[i] = rng.choice((0, 0xFF, 0x7F, 0x80, 0xC1))
    return bytes(b)


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    k = rng.randrange(8 if depth < 3 else 5)
    if k == 0:
        return rng.randint(-(2**63), 2**64 - 1)
    if k == 1:
        return rng.randbytes(rng.randint(0, 40))
    if k == 2:
        return "".join(rng.choice("abc_-ü") for _ in range(rng.randint(0, 8)))
    if k == 3:
        return None
    if k == 4:
        return rng.random() < 0.5
    if k == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if k == 6:
        return {str(i): _random_value(rng, depth + 1) for i in range(rng.randint(0, 3))}
    return [rng.randint(0, 5), [[rng.choice(("c", "txs", "_req")), rng.randbytes(8)]]]


class _Fuzzer:
    def __init__(self, rng: random.Random, target: Node, me: Transport, fuzz_id: Identity,
                 issuer: Identity, chain_id: str, res: FuzzResult) -> None:
        self.rng, self.target, self.me, self.fuzz_id = rng, target, me, fuzz_id
        self.issuer, self.chain_id, self.res = issuer, chain_id, res
        self.codec = MessageCodec(chain_id)
        self.sealed: list[bytes] = []  # earlier sealed envelopes, for replays
        self.nonce = 10**9

    def _count(self, what: str) -> None:
        self.res.sent[what] = self.res.sent.get(what, 0) + 1
        self.res.frames += 1

    async def pre_handshake(self, session: aiohttp.ClientSession) -> None:
        url = f"ws://127.0.0.1:{self.target.transport.port}{PATH}"
        rng = self.rng
        hello = {"v": 1, "chain_id": self.chain_id, "pubkey": rng.randbytes(32),
                 "nonce": rng.randbytes(32), "eph": rng.randbytes(32)}
        choice = rng.randrange(6)
        if choice == 0:
            data = rng.randbytes(rng.randint(0, 2000))
        elif choice == 1:
            data = _mutate(rng, codec.encode(hello))
        elif choice == 2:
            data = codec.encode({**hello, "chain_id": "another-chain"})
        elif choice == 3:
            data = codec.encode({**hello, "v": rng.randint(2, 9)})
        elif choice == 4:
            data = codec.encode(hello)  # an unknown key
        else:
            data = codec.encode(_random_value(rng))
        try:
            async with session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=2)) as ws:
                await ws.send_bytes(data)
                self._count("pre_handshake")
                await asyncio.wait_for(ws.receive(), 2)
        except (aiohttp.ClientError, TimeoutError, OSError):
            pass

    async def link(self) -> Any:
        peer = self.me._peers[self.target.identity.public_key]
        deadline = time.monotonic() + 15
        while peer.link is None or peer.link.closed:
            if time.monotonic() > deadline:
                raise TimeoutError("the fuzzing peer could not reconnect")
            await asyncio.sleep(0.02)
        return peer.link

    def _consensus_payload(self) -> bytes:
        rng = self.rng
        tip = self.target.ledger.tip.height
        kind = rng.choice((PREPARE, COMMIT))
        view, seq = self.target.view, tip + rng.randint(0, 3)
        digest = rng.randbytes(32)
        sig = self.codec.sign(self.fuzz_id, kind, view, seq, digest)
        good = self.codec.envelope(kind, view, seq, digest, self.fuzz_id.public_key, sig)
        return good if rng.random() < 0.2 else _mutate(rng, good)

    def _tx_payload(self) -> bytes:
        self.nonce += 1
        tx = Transaction.create(self.issuer, self.chain_id, self.nonce, "settlement", "issue",
                                {"currency": "USD", "amount": 1, "to": "00" * 32})
        items = [tx.encode()]
        if self.rng.random() < 0.8:
            items = [_mutate(self.rng, items[0])]
        return codec.encode(items)

    async def post_handshake(self) -> None:
        rng = self.rng
        link = await self.link()
        choice = rng.randrange(8)
        if choice == 0:
            data, what = rng.randbytes(rng.randint(0, 3000)), "random_bytes"
        elif choice == 1 and self.sealed:
            data, what = _mutate(rng, rng.choice(self.sealed)), "mutated_envelope"
        elif choice == 2 and self.sealed:
            data, what = rng.choice(self.sealed), "replayed_envelope"
        elif choice == 3:
            link.frames.send_seq += 1
            body = codec.encode(_random_value(rng))
            data, what = body + mac(link.frames.keys.send, body), "sealed_non_envelope"
        else:
            kind = rng.choice((K_CONSENSUS, K_CONSENSUS, K_TXS, "_req", "_resp", "zz",
                               "".join(rng.choice("xyz") for _ in range(rng.randint(1, 70)))))
            if kind == K_CONSENSUS:
                payload = self._consensus_payload()
            elif kind == K_TXS:
                payload = self._tx_payload()
            elif kind == "_resp" and rng.random() < 0.5:  # well formed, for no request of its
                payload = codec.encode([rng.randrange(2**32), rng.randrange(2), b"x"])
            else:
                payload = rng.randbytes(rng.randint(0, 200))
            label = kind if kind in (K_CONSENSUS, K_TXS, "_req", "_resp") else "other_kind"
            data, what = link.frames.seal([[kind, payload]]), f"sealed_{label}"
            self.sealed = (self.sealed + [data])[-64:]
        try:
            await link.ws.send_bytes(data)
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            return
        self._count(what)


async def fuzz_frames(frames: int = 10_000, seed: int = 1, out: Any = None) -> FuzzResult:
    """Send ``frames`` fuzzed frames into node 0 of a 3-node in-process cluster (see module)."""
    rng = random.Random(seed)
    res = FuzzResult()
    t0 = time.monotonic()
    logging.getLogger("chainfin").setLevel(logging.ERROR)
    # the fuzzer has the lowest key, so it is the dialer of its links (the lower key dials):
    # after the target drops it for bad frames it redials at once, with its own short back-off
    validators = sorted((Identity.generate(f"v{i}") for i in range(4)),
                        key=lambda v: v.public_key)
    issuer, to = Identity.generate("usd_issuer"), Identity.generate("exporter")
    genesis = _genesis(validators, issuer, to)
    fuzz_id = validators[0]
    nodes = [Node(v, genesis, MemoryStore(), "127.0.0.1", 0, {}, f"node{i}")
             for i, v in enumerate(validators[1:])]
    me = Transport(fuzz_id, genesis.chain_id, "127.0.0.1", 0, {}, lambda *a: None,
                   backoff_min=0.02, backoff_max=0.2)
    for nd in nodes:
        await nd.start()
    await me.start()
    target = nodes[0]
    try:
        peers = {nd.identity.public_key: nd.transport.address for nd in nodes}
        peers[fuzz_id.public_key] = me.address
        for nd in nodes:
            nd.peers_cfg = dict(peers)
            nd.transport.set_peers(peers)
        me.set_peers({k: v for k, v in peers.items() if k != fuzz_id.public_key})
        before = drop_counters(target)
        fz = _Fuzzer(rng, target, me, fuzz_id, issuer, genesis.chain_id, res)
        async with aiohttp.ClientSession() as session:
            while res.frames < frames:
                if res.frames % PRE_HANDSHAKE_EVERY == 0:
                    await fz.pre_handshake(session)
                else:
                    await fz.post_handshake()
                if res.frames % 50 == 0:
                    await asyncio.sleep(0.001)  # let the target read what was sent
                if out is not None and res.frames % 2000 == 0:
                    print(f"  {res.frames} frames", file=out, flush=True)
        await asyncio.sleep(0.3)
        after = drop_counters(target)
        res.drops = {k: after[k] - before[k] for k in sorted(after) if after[k] != before[k]}
        res.handler_errors = target.transport.stats["handler_errors"]
        res.reconnects = me.stats["reconnects"]
        res.node_failed = target.failed.is_set()
        # the cluster still works: a transaction through node 1 commits on node 0
        h0 = target.ledger.tip.height
        tx = Transaction.create(issuer, genesis.chain_id, 1, "settlement", "issue",
                                {"currency": "USD", "amount": 1, "to": to.public_key.hex()})
        nodes[1].admit(tx)
        deadline = time.monotonic() + 20
        while target.ledger.tip.height <= h0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        res.committed_after = target.ledger.tip.height > h0
    finally:
        await me.stop()
        for nd in nodes:
            await nd.stop()
    res.seconds = time.monotonic() - t0
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m testnet.fuzz", description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    res = asyncio.run(fuzz_frames(args.frames, args.seed, out=sys.stdout))
    text = json.dumps(res.to_json(), indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
