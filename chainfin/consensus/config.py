"""The engine's parameters (:class:`PbftConfig`) and the names of its counters (``stats``).

Re-exported by :mod:`chainfin.consensus.engine`, where drivers import them from."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LINK_GRACE_MS", "DEFAULT_REQUEST_TIMEOUT_MS", "PbftConfig", "STAT_NAMES"]

#: the request timer's default: twice the node's overload guard (node/admission.py OVERLOAD_LAG_S)
DEFAULT_REQUEST_TIMEOUT_MS = 10_000

STAT_NAMES = (
    "messages_in", "messages_out", "dropped_malformed", "dropped_non_member",
    "dropped_bad_signature", "dropped_old_view", "dropped_duplicate", "dropped_equivocation",
    "dropped_out_of_window", "dropped_stale", "dropped_invalid", "dropped_buffer_full",
    "buffered_future", "refused_conflicting_sign", "proposals_rejected", "view_changes",
    "view_changes_started", "new_views_rejected", "new_views_resent", "blocks_committed",
    "blocks_synced", "fetches", "checkpoints_stable", "checkpoint_mismatch",
    "held_for_set_change", "dropped_not_from_signer", "dropped_over_signature_budget",
    "request_timeouts", "early_view_change_joins", "handovers", "handovers_joined",
    "suspicions_deferred", "link_loss_view_changes", "link_loss_view_skips",
)

#: the default of ``PbftConfig.link_grace_ms`` (and of the node config's): a few round trips of
#: a WAN link plus the transport's first redial (0.1 s) and handshake, so a link that drops and
#: comes straight back costs nothing, and well under the base view-change timeout (1 s)
DEFAULT_LINK_GRACE_MS = 300


@dataclass(frozen=True, slots=True)
class PbftConfig:
    """Protocol parameters; identical on every validator of a chain."""

    chain_id: str
    window: int = 8  # sequence numbers in flight above the last committed block
    checkpoint_interval: int = 16  # K: a CHECKPOINT every K blocks
    view_timeout_ms: int = 1000  # base view-change timeout, doubled per failed view
    max_block_txs: int = 500
    max_timeout_ms: int = 60_000
    fetch_retry_ms: int = 1000
    log_size: int = 0  # L: water marks are (stable, stable + L]; 0 means 2K + window
    max_buffered: int = 4096  # future-view messages kept until their view starts
    # bytes of the messages held above an unapplied validator-set change (each may be a whole
    # block): without a byte bound, max_buffered payloads of up to a frame each are gigabytes
    max_held_bytes: int = 64 * 2**20
    # pacing: the primary cuts a block at most every this many ms (0: whenever a slot is free).
    # Each block costs every node a fixed amount of work (votes, their signatures, a WAL write,
    # the SMT's upper levels); unpaced, a fast network cuts blocks of 1-2 transactions and the
    # per-block work eats the CPU the transactions need (docs/performance.md, decision 21).
    block_interval_ms: int = 0
    # the request timer (PBFT's per-request timer, docs/consensus.md): a replica that holds a
    # transaction an honest primary would propose, pending for this long in the current view
    # while the primary's blocks have room, asks for a view change. 0 disables it. A local
    # liveness policy: validators may differ (like their clocks), safety does not depend on it
    request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS
    # decisions 198/199: how long the link to the primary (or, in a view change that has its
    # quorum, to the new view's primary) may stay lost (``LinkChanged``) before this replica
    # gives up on that view without waiting for its timer. 0 disables it. A local liveness
    # policy, like the request timer: validators may differ
    link_grace_ms: int = DEFAULT_LINK_GRACE_MS

    def __post_init__(self) -> None:
        if self.window < 1 or self.checkpoint_interval < 1 or self.view_timeout_ms < 1:
            raise ValueError("window, checkpoint_interval and view_timeout_ms must be >= 1")
        if self.block_interval_ms < 0:
            raise ValueError("block_interval_ms must be >= 0")
        if self.request_timeout_ms < 0:
            raise ValueError("request_timeout_ms must be >= 0")
        if self.link_grace_ms < 0:
            raise ValueError("link_grace_ms must be >= 0")
        if self.log_size and self.log_size < self.window + self.checkpoint_interval:
            raise ValueError("log_size must be at least window + checkpoint_interval")

    @property
    def log_window(self) -> int:
        return self.log_size or 2 * self.checkpoint_interval + self.window

