"""Quorum arithmetic: the one place that says how many votes make a decision.

Used by the engine, by certificate checks and by the proof verifier alike (TRAPS.md #1).
"""

from __future__ import annotations


def max_faulty(n: int) -> int:
    """f: how many byzantine validators a set of n tolerates, floor((n - 1) / 3)."""
    if n < 1:
        raise ValueError("a validator set has at least one member")
    return (n - 1) // 3


def quorum(n: int) -> int:
    """Votes needed so any two quorums share at least f+1 validators (one of them honest).

    ceil((n + f + 1) / 2); equals 2f+1 exactly when n = 3f+1, and is larger for n = 5, 6, ...
    where 2f+1 would let two quorums meet only in a possibly faulty validator.
    """
    f = max_faulty(n)
    return (n + f + 2) // 2


def weak_quorum(n: int) -> int:
    """f+1: enough votes that at least one comes from an honest validator."""
    return max_faulty(n) + 1
