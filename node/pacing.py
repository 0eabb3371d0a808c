"""How long the primary waits between two blocks, from the rate transactions arrive at.

Every block costs every node a fixed amount of work whatever its size (its PRE-PREPARE, the
signed votes, a synced WAL write, ~15 TLS frames, the SMT's upper levels): about 5 ms of one
node's CPU on the reference machine, against ~0.35 ms per transaction (docs/performance.md).
A fixed interval keeps blocks small exactly when the CPU is scarce: at 500 tx/s and 20 ms a
block holds ~10-13 transactions and the per-block work is half of all the work; the machine
then runs full, votes queue behind it, and latency is set by queueing instead of the interval.

So the interval grows with the arrival rate: ``base_ms`` up to ``knee_tps``, then in
proportion to the rate (blocks of ``base_ms * knee_tps / 1000`` transactions and more), up to
``max_ms``. Under the knee nothing changes (an idle or lightly loaded network answers as fast
as before); above it the per-block share of the CPU stops growing with the rate. The rate is
what this node admitted in the last ``window_s`` (from REST and gossip alike, so every
validator sees about the same rate; only the primary's matters). Pacing is a local choice of
the primary: it never affects safety, and a byzantine primary can slow blocks no more than it
already could (the view-change timer bounds it). Decision 84.
"""

from __future__ import annotations

from collections import deque

__all__ = ["RatePacer"]


class RatePacer:
    """``note(n, now)`` for each batch of admitted transactions, ``interval_ms(now)`` for the
    engine. ``now`` is a monotonic clock in seconds."""

    __slots__ = ("base_ms", "max_ms", "knee_tps", "window_s", "_seen", "_total")

    def __init__(self, base_ms: int, max_ms: int, knee_tps: int, window_s: float = 1.0) -> None:
        if base_ms < 0 or max_ms < base_ms or knee_tps < 1 or window_s <= 0:
            raise ValueError("need 0 <= base_ms <= max_ms, knee_tps >= 1 and window_s > 0")
        self.base_ms = base_ms
        self.max_ms = max_ms
        self.knee_tps = knee_tps
        self.window_s = window_s
        self._seen: deque[tuple[float, int]] = deque()
        self._total = 0

    def note(self, n: int, now: float) -> None:
        """``n`` transactions were admitted at ``now``."""
        if n <= 0:
            return
        seen = self._seen
        if seen and now - seen[-1][0] < 0.01:  # one entry per 10 ms keeps the deque short
            t, m = seen[-1]
            seen[-1] = (t, m + n)
        else:
            seen.append((now, n))
        self._total += n

    def rate(self, now: float) -> float:
        """Transactions per second admitted over the last window."""
        seen = self._seen
        cut = now - self.window_s
        while seen and seen[0][0] <= cut:
            self._total -= seen.popleft()[1]
        return self._total / self.window_s

    def scaled(self, base: float, cap: float, now: float) -> float:
        """``base`` up to ``knee_tps``, then growing in proportion to the rate, never above
        ``cap`` (the block interval, and the gossip delay that follows it)."""
        r = self.rate(now)
        return base if r <= self.knee_tps else min(cap, base * r / self.knee_tps)

    def interval_ms(self, now: float) -> int:
        """The block interval for the current rate (:meth:`scaled` of the base and the cap)."""
        return int(self.scaled(self.base_ms, self.max_ms, now))
