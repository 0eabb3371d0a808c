"""A byzantine validator in a real node process, for test networks only.

The consensus engine stays honest: :class:`ByzantineNode` is a :class:`node.runtime.Node` whose
*send edge* rewrites what the honest engine produced, after its votes are persisted, before they
reach the peer transport. Selected by the node config's test-only section::

    "test_network": true,
    "byzantine": {"behaviour": "equivocate"}

which :func:`node.config.load_config` refuses unless ``test_network`` is true, and
:func:`node.main.run_node` refuses unless the genesis chain id is a testnet's
(``chainfin-testnet-...``, what ``chainfin testnet init`` writes).

Behaviours (what peers receive from this node):

- ``equivocate``  as primary, half of its peers get the block it built and the other half a
  different block for the same view and height (another timestamp), each signed;
- ``garbage``     every consensus message carries a random signature; one in four is replaced by
  random bytes;
- ``replay``      every message is followed by three old ones it sent before (other views and
  heights), unchanged;
- ``invalid``     as primary, its blocks carry a wrong state root (signed), or, every other
  block, a transaction whose signature no longer verifies (its id, hence the block hash, is
  unchanged); replicas must refuse to prepare them and change view;
- ``conflict``    every PREPARE and COMMIT is followed by a second, correctly signed vote for a
  random block at the same view and height;
- ``silent``      it sends no consensus message at all (it still answers block fetches);
- ``flood``       ``flood_rate`` valid-looking, correctly signed PREPAREs per second for random
  blocks inside the window, on top of its honest traffic;
- ``censor``      as primary, it never proposes the transactions of the senders in ``censor``
  (a constructor argument; from a config, which names none: of every sender but its own node
  and bank identities) and proposes the others as an honest primary would, so blocks keep
  committing and the view-change timer never fires: the request timer must replace it
  (docs/consensus.md, "The request timer").
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import deque
from collections.abc import Iterable
from typing import Any

from chainfin import codec
from chainfin.consensus.messages import COMMIT, PRE_PREPARE, PREPARE, MessageCodec
from chainfin.errors import CodecError, ConfigError
from chainfin.types import Transaction
from node.runtime import K_CONSENSUS, Node

__all__ = ["BEHAVIOURS", "ByzantineNode", "TESTNET_CHAIN_PREFIX", "check_test_network",
           "enable_byzantine", "disable_byzantine"]

BEHAVIOURS = frozenset({"equivocate", "garbage", "replay", "invalid", "conflict", "silent",
                        "flood", "censor"})
TESTNET_CHAIN_PREFIX = "chainfin-testnet-"


def check_test_network(chain_id: str) -> None:
    """Raises ConfigError unless ``chain_id`` is a test network's."""
    if not chain_id.startswith(TESTNET_CHAIN_PREFIX):
        raise ConfigError(f"a byzantine behaviour is for test networks only, and chain "
                          f"{chain_id!r} is not one (its id must start with "
                          f"{TESTNET_CHAIN_PREFIX!r})")


class ByzantineNode(Node):
    """A node whose outgoing consensus messages are rewritten by one behaviour."""

    def __init__(self, *args: Any, behaviour: str, flood_rate: int = 200, seed: int = 0,
                 censor: Iterable[bytes] | None = None, **kw: Any) -> None:
        if behaviour not in BEHAVIOURS:
            raise ConfigError(f"unknown byzantine behaviour {behaviour!r}; choose from "
                              f"{', '.join(sorted(BEHAVIOURS))}")
        super().__init__(*args, **kw)
        check_test_network(self.chain_id)
        self.behaviour = behaviour
        self.flood_rate = flood_rate
        self._rng = random.Random(seed or int.from_bytes(os.urandom(8), "big"))
        self._signer = MessageCodec(self.chain_id)
        self._history: deque[bytes] = deque(maxlen=512)
        self.stats["byzantine_sent"] = 0
        self._invalid_count = 0
        if behaviour == "censor":
            self.stats["byzantine_censored"] = 0
            spared = {self.identity.public_key}
            if self.bank is not None:
                spared.add(self.bank.public_key)
            self._spared = frozenset(spared)
            self._censored = None if censor is None else frozenset(censor)
            self._honest_take = self.mempool.take_batch
            self.mempool.take_batch = self._censored_take  # type: ignore[method-assign]

    # ------------------------------------------------------------------ censor

    def _censors(self, tx: Transaction) -> bool:
        if self._censored is None:
            return tx.sender not in self._spared
        return tx.sender in self._censored

    def _censored_take(self, max_txs: int, exclude: set[bytes] | frozenset[bytes] = frozenset()
                       ) -> list[Transaction]:
        """The batch an honest primary would take, without the censored senders' transactions
        (what ``EngineIO._build`` proposes from)."""
        out = []
        for tx in self._honest_take(max_txs, exclude):
            if self._censors(tx):
                self.stats["byzantine_censored"] += 1
            else:
                out.append(tx)
        return out

    async def start(self) -> None:
        await super().start()
        if self.behaviour == "flood":
            self._tasks.append(asyncio.get_running_loop().create_task(self._flood(),
                                                                     name="flood"))

    # ------------------------------------------------------------------ the send edge

    def _end_turn(self) -> None:
        sends, self._outbox = self._outbox, []
        super()._end_turn()  # the turn's votes are persisted first, as for an honest node
        for to, payload in sends:
            self._send_byzantine(to, payload)

    def _out(self, to: bytes | None, payload: bytes) -> None:
        self.stats["byzantine_sent"] += 1
        if to is None:
            self.transport.broadcast(K_CONSENSUS, payload)
        else:
            self.transport.send(to, K_CONSENSUS, payload)

    def _send_byzantine(self, to: bytes | None, payload: bytes) -> None:
        b = self.behaviour
        if b == "silent":
            return
        try:
            raw = codec.decode(payload)
        except CodecError:
            raw = None
        if not isinstance(raw, list) or len(raw) != 8:
            self._out(to, payload)
            return
        kind = raw[0]
        if b == "garbage":
            if self._rng.random() < 0.25:
                self._out(to, self._rng.randbytes(self._rng.randrange(1, 300)))
            else:
                raw[5] = self._rng.randbytes(64)
                self._out(to, codec.encode(raw))
        elif b == "replay":
            self._out(to, payload)
            old = list(self._history)
            for p in self._rng.sample(old, min(3, len(old))):
                self._out(to, p)
            self._history.append(payload)
        elif b == "equivocate" and kind == PRE_PREPARE:
            other = self._reblock(raw, lambda h: h.update(timestamp_ms=h["timestamp_ms"] + 1))
            peers = sorted(self.transport.peers()) if to is None else [to]
            for n, p in enumerate(peers):
                self.transport.send(p, K_CONSENSUS, payload if n % 2 else other)
                self.stats["byzantine_sent"] += 1
        elif b == "invalid" and kind == PRE_PREPARE:
            self._invalid_count += 1
            txs = raw[6].get("txs") if isinstance(raw[6], dict) else None
            if self._invalid_count % 2 and txs:
                # a transaction whose signature no longer verifies; its id (and so the tx root,
                # the block hash and the envelope's signature) is unchanged
                bad = list(txs)
                k = self._rng.randrange(len(bad))
                bad[k] = bad[k][:-1] + bytes([bad[k][-1] ^ 0x01])
                raw[6] = {**raw[6], "txs": bad}
                self._out(to, codec.encode(raw))
            else:
                self._out(to, self._reblock(
                    raw, lambda h: h.update(state_root=self._rng.randbytes(32))))
        elif b == "conflict" and kind in (PREPARE, COMMIT):
            self._out(to, payload)
            self._out(to, self._vote(kind, raw[1], raw[2], self._rng.randbytes(32)))
        else:
            self._out(to, payload)

    def _reblock(self, raw: list[Any], change: Any) -> bytes:
        """The PRE-PREPARE ``raw`` with its block header changed and the envelope re-signed."""
        kind, view, seq = raw[0], raw[1], raw[2]
        body = dict(raw[6])
        header = dict(body["header"])
        change(header)
        body["header"] = header
        digest = codec.hash_value(header)
        sig = self._signer.sign(self.identity, kind, view, seq, digest)
        return self._signer.envelope(kind, view, seq, digest, self.identity.public_key, sig,
                                     body)

    def _vote(self, kind: str, view: int, seq: int, digest: bytes) -> bytes:
        sig = self._signer.sign(self.identity, kind, view, seq, digest)
        return self._signer.envelope(kind, view, seq, digest, self.identity.public_key, sig)

    async def _flood(self) -> None:
        batch = max(1, self.flood_rate // 20)
        while True:
            await asyncio.sleep(0.05)
            base = self.ledger.tip.height
            for _ in range(batch):
                seq = base + 1 + self._rng.randrange(self.params.window)
                self._out(None, self._vote(PREPARE, self.view, seq, self._rng.randbytes(32)))


def enable_byzantine(config_path: str | os.PathLike[str], genesis_path: str | os.PathLike[str],
                     behaviour: str, **options: Any) -> None:
    """Mark a testnet node's config as a test network with a byzantine behaviour.

    Raises:
        ConfigError: an unknown behaviour, or the genesis is not a test network's.
    """
    import json
    from pathlib import Path

    from chainfin.genesis import load_genesis

    if behaviour not in BEHAVIOURS:
        raise ConfigError(f"unknown byzantine behaviour {behaviour!r}")
    check_test_network(load_genesis(Path(genesis_path)).chain_id)
    p = Path(config_path)
    raw = json.loads(p.read_text())
    raw["test_network"] = True
    raw["byzantine"] = {"behaviour": behaviour, **options}
    p.write_text(json.dumps(raw, indent=2) + "\n")


def disable_byzantine(config_path: str | os.PathLike[str]) -> None:
    """Remove what :func:`enable_byzantine` added: the node is honest again."""
    import json
    from pathlib import Path

    p = Path(config_path)
    raw = json.loads(p.read_text())
    raw.pop("byzantine", None)
    raw.pop("test_network", None)
    p.write_text(json.dumps(raw, indent=2) + "\n")
