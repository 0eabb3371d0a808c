"""The contract between the pure PBFT engine and whoever drives it (the node runtime, the simulator).

``PbftEngine.step(event) -> list[Action]``. The driver executes the actions **in order**; in
particular every ``Persist`` must be durable before any later ``Send`` leaves the process
(a restarted replica must never sign something that contradicts what it signed before a crash).

Execution lives outside the engine (execute-before-agree: the state root is in the header):
- the primary receives ``BuildBlock`` and answers with ``BlockBuilt`` (a block whose header already
  holds the state root after executing its transactions on top of the speculative state at
  ``prev_hash``);
- a replica receives ``ExecuteBlock`` for a proposal and answers ``BlockExecuted(ok)`` once it has
  executed it on top of ``prev_hash`` and compared tx root, state root, validator hashes and
  timestamp bounds;
- the driver may answer in the same turn (simulator) or later (node); the engine never blocks.

Consensus messages cross the driver as opaque signed bytes: ``Send.payload`` goes to the peer as is
and arrives there as ``Received.payload``; the engine decodes, checks membership and signature, and
drops (and counts) whatever is malformed, foreign, replayed or stale.

Additions made with the engine (issue 3), all backward compatible:

- ``Synced.certificate`` (optional): the certificate of the block at ``Synced.height``.
- An empty ``BlockBuilt`` answering a ``BuildBlock`` with ``max_txs > 0`` means "nothing new to
  propose"; ``BlockExecuted(b"", False, ...)`` answers a ``BuildBlock`` that failed.
- ``PbftEngine.next_deadline()`` tells a driver when the next Tick matters (it may sleep until
  then; ticking more often is harmless); ``engine.stats`` is a ``dict[str, int]`` of counters;
  ``engine.log_sizes()`` the number of entries in each table of its message log.
- The constructor is ``PbftEngine(config, identity, validators, last_committed_height,
  last_committed_hash, restored=(), *, view=0, last_certificate=None, codec=None)``:
  ``restored`` is every ``(key, record)`` of a ``Persist`` not pruned, as the store hands them
  back; ``last_certificate`` the certificate of the last committed block (pass it after a
  restart so view changes can prove the base); ``codec`` lets a driver share a memoising
  ``CachingCodec``.
- A block is *set-changing* when its header's ``next_validators_hash != validators_hash``; the
  engine reads that from the header, so ``BlockBuilt``/``BlockExecuted`` need no extra flag.
- ``Persist.record`` values are plain dicts of ints, strings, bytes, lists and None (canonical
  codec encodable); keys are ``8-byte seq | 8-byte view | tag`` so ``PruneLog`` prunes by height.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainfin.types import Block, CommitCertificate, ValidatorSet

# ----------------------------------------------------------------------------- events (in)


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes. The only clock the engine knows; drivers tick every few ms."""

    now_ms: int


@dataclass(frozen=True, slots=True)
class Received:
    """A consensus message from a peer, still signed and encoded; ``sender`` is the link's
    authenticated validator key (a hint: the engine trusts only the signature inside)."""

    sender: bytes
    payload: bytes


@dataclass(frozen=True, slots=True)
class TxsPending:
    """How many valid transactions this node holds that are not yet committed. Drives proposing
    (primary) and the view-change timer (everyone: a known, unexecuted request arms it).
    ``block_interval_ms``, when given, replaces the pacing interval from now on (the node's
    rate-driven pacing, node/pacing.py; None keeps the current one).

    ``oldest_ms`` (added for the request timer, backward compatible): how long, in ms up to
    now, the oldest transaction this node holds that an honest primary would propose has
    waited (in no proposal this node accepted, already passed to the primary); None: none
    waits long enough to matter (a driver may report only ages past half the
    ``request_timeout_ms``). See ``docs/consensus.md``, "The request timer"."""

    count: int
    block_interval_ms: int | None = None
    oldest_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BlockBuilt:
    """Answer to ``BuildBlock``: the proposal, executed, with its state root in the header.
    ``block`` may have no transactions only if the engine asked for an empty block."""

    block: Block


@dataclass(frozen=True, slots=True)
class BlockExecuted:
    """Answer to ``ExecuteBlock``: ``ok`` is False when the proposal is invalid (bad tx root, bad
    state root, invalid transactions, timestamp out of bounds ...); ``reason`` says why."""

    block_hash: bytes
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Synced:
    """The driver applied certified blocks up to ``height`` (state transfer / catch-up).

    ``validators`` is the set in force for ``height + 1``. ``certificate`` (optional, added for
    view changes) is the certificate of the block at ``height``; passing it lets the engine use
    that height as the base of its VIEW-CHANGE messages."""

    height: int
    block_hash: bytes
    validators: ValidatorSet
    certificate: CommitCertificate | None = None


@dataclass(frozen=True, slots=True)
class ValidatorSetChanged:
    """The block at ``height`` (committed) changed the set: it is in force from ``height + 1``."""

    height: int
    validators: ValidatorSet


@dataclass(frozen=True, slots=True)
class Stopping:
    """The node is stopping gracefully (SIGTERM: a rolling upgrade, a restart). Added for
    decision 173, backward compatible: a primary answers with its own VIEW-CHANGE for the next
    view (``Persist`` then ``Send``), which the other replicas take as its hand-over and join
    at once; anything else answers nothing. The driver runs the actions and lets the sends
    leave before it closes its links."""


@dataclass(frozen=True, slots=True)
class LinkChanged:
    """The node's authenticated link to validator ``peer`` came up (``up``) or was lost (the
    peer's process died: RST/EOF; or the network cut it). Added for decisions 198 and 199,
    backward compatible: a driver that never sends it leaves every timer as it was. A replica
    whose link to the primary stays lost for ``PbftConfig.link_grace_ms`` while its commits
    have stopped and it holds work starts the view change then, not after the view-change
    timeout (docs/consensus.md, "A lost link to the primary"); a peer never reported is up."""

    peer: bytes
    up: bool


Event = (Tick | Received | TxsPending | BlockBuilt | BlockExecuted | Synced | ValidatorSetChanged
         | Stopping | LinkChanged)

# ----------------------------------------------------------------------------- actions (out)


@dataclass(frozen=True, slots=True)
class Persist:
    """Make ``record`` durable (fsync) before executing any later action. ``key`` is unique and
    ordered; records are handed back at restart (``PbftEngine.restore``)."""

    key: bytes
    record: Any


@dataclass(frozen=True, slots=True)
class PruneLog:
    """Persisted records with keys below ``below_key`` are no longer needed."""

    below_key: bytes


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``payload`` to one validator, or to every other validator when ``to`` is None."""

    to: bytes | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class BuildBlock:
    """Primary only: cut a batch (at most ``max_txs``) from the mempool, execute it on top of the
    speculative state at ``prev_hash`` and answer ``BlockBuilt``."""

    height: int
    view: int
    prev_hash: bytes
    timestamp_ms: int
    max_txs: int


@dataclass(frozen=True, slots=True)
class ExecuteBlock:
    """Execute a proposal speculatively on top of ``block.header.prev_hash``; answer
    ``BlockExecuted``."""

    block: Block


@dataclass(frozen=True, slots=True)
class DiscardSpeculative:
    """Drop every speculative overlay above ``height`` (the last committed block)."""

    height: int


@dataclass(frozen=True, slots=True)
class Commit:
    """Block is final. Write it, its certificate, its state and indexes in one atomic batch.
    Commits are emitted in height order without gaps."""

    block: Block
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class FetchBlocks:
    """This replica is behind: fetch certified blocks from ``from_height`` (inclusive) from peers,
    verify every certificate against the set derived locally, apply them, then send ``Synced``.

    While a fetch runs the engine may still emit ``Commit`` for heights the fetch also brings:
    the driver applies each height once (it skips whatever is at or below its tip). A ``Synced``
    that reports no progress is fine: the engine asks again later, with back-off, if it still
    needs blocks."""

    from_height: int
    hint_peers: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class ViewChanged:
    """Informational: this replica entered ``view`` whose primary is ``primary``."""

    view: int
    primary: bytes


Action = (
    Persist | PruneLog | Send | BuildBlock | ExecuteBlock | DiscardSpeculative | Commit
    | FetchBlocks | ViewChanged
)
