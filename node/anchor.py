"""The read log's anchor: a node commits the head of its REST read log to the chain.

The read log (:class:`node.access.ReadLog`) is hash-chained, so an entry cannot be changed
without breaking the chain after it — but its operator holds the whole chain and could drop the
newest entries, or rewrite every entry and recompute every hash, undetected. Every
``interval_s`` in which the log grew, this agent submits ``governance.anchor_read_log(seq,
head)`` signed by the node's key: from then on, the entries up to ``seq`` are pinned by a
certified block, and ``chainfin audit reads --verify`` checks the served log against the anchor
(decision 130). It reads the wall clock only to pace itself, never for what it signs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from chainfin.crypto import Identity
from chainfin.errors import ChainfinError
from chainfin.types import Transaction
from node.access import ReadLog

log = logging.getLogger("chainfin.anchor")

#: how often a node anchors its read log when it grew (seconds); 0 in the config: never
DEFAULT_INTERVAL_S = 300.0


class ReadLogAnchor:
    """Submits an anchor of ``reads`` at most every ``interval_s`` seconds when it grew."""

    def __init__(self, identity: Identity, chain_id: str, reads: ReadLog, *,
                 interval_s: float, next_nonce: Callable[[bytes], int],
                 submit: Callable[[Transaction], None], stats: dict[str, int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.identity = identity
        self.chain_id = chain_id
        self.reads = reads
        self.interval_s = interval_s
        self.next_nonce = next_nonce
        self.submit = submit
        self.stats = stats
        self.clock = clock
        self.anchored = 0  # the last seq submitted
        self._last = clock()

    def tick(self) -> Transaction | None:
        """Called often (every engine tick): the anchor submitted now, if one is due."""
        if self.interval_s <= 0 or self.reads.seq <= self.anchored:
            return None
        now = self.clock()
        if now - self._last < self.interval_s:
            return None
        self._last = now
        seq, head = self.reads.seq, self.reads.head
        try:
            tx = Transaction.create(self.identity, self.chain_id,
                                    self.next_nonce(self.identity.public_key), "governance",
                                    "anchor_read_log", {"seq": seq, "head": head})
            self.submit(tx)
        except ChainfinError as e:  # counted and logged; the next interval tries again
            self.stats["read_log_anchor_failed"] += 1
            log.warning("anchoring the read log at entry %d failed: %s", seq, e)
            return None
        self.anchored = seq
        self.stats["read_log_anchors"] += 1
        return tx
