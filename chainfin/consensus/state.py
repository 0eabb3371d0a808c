"""The replica's state: its fields, built from the configuration and read back from the
persisted records after a restart, and the read-only questions the transitions ask of it.

:class:`ReplicaState` is the base of :class:`~.engine.PbftEngine`, which holds every transition.
Nothing here changes the state after it is built and nothing here emits an action:
``tests/unit/test_consensus_state.py`` checks that no method but the constructor and
:meth:`ReplicaState._restore` assigns an attribute.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

from chainfin.consensus import records
from chainfin.consensus.api import Action
from chainfin.consensus.config import STAT_NAMES, PbftConfig
from chainfin.consensus.log import Slot, certified, drop_upto
from chainfin.consensus.messages import PRE_PREPARE, BaseProof, Message, MessageCodec, PreparedCert
from chainfin.consensus.quorum import quorum, weak_quorum
from chainfin.consensus.viewchange import changes_set
from chainfin.crypto import Identity
from chainfin.errors import InvalidMessage
from chainfin.types import Block, CommitCertificate, ValidatorSet

__all__ = ["EXEC_BAD", "EXEC_OK", "EXEC_REQUESTED", "REQUEST_BACKOFF_MAX",
           "REQUEST_START_SLACK_MS", "ReplicaState"]

#: what the driver answered for a block this replica asked it to execute (``_exec``)
EXEC_REQUESTED, EXEC_OK, EXEC_BAD = 1, 2, 3
#: the request timeout doubles per view left with a transaction older than it, up to 2**this
#: times the base
REQUEST_BACKOFF_MAX = 4
#: the oldest transaction's start, as the engine computes it from reported ages, moves by a few
#: ms between reports (the node's clock is read at another moment than the last Tick): a move
#: within this is the same wait, and keeps the room measured for it
REQUEST_START_SLACK_MS = 250


class ReplicaState:
    """One replica's fields; the constructor is :class:`~.engine.PbftEngine`'s (its arguments
    are listed in :mod:`.api`). It builds the fields, reads the records back, and hands over
    to the engine's first transition, :meth:`_resume`."""

    def __init__(
        self,
        config: PbftConfig,
        identity: Identity,
        validators: ValidatorSet,
        last_committed_height: int,
        last_committed_hash: bytes,
        restored: Iterable[tuple[bytes, Any]] = (),
        *,
        view: int = 0,
        last_certificate: CommitCertificate | None = None,
        codec: MessageCodec | None = None,
        restored_records: Iterable[tuple[bytes, Any]] = (),
    ) -> None:
        self.cfg = config
        self.identity = identity
        self.me = identity.public_key
        self.codec = codec or MessageCodec(config.chain_id)
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        self._L = config.log_window
        self._K = config.checkpoint_interval
        # validator sets: (first height in force, set)
        self._sets: list[tuple[int, ValidatorSet]] = [(0, validators)]
        self.validators = validators
        self._q = quorum(validators.n)
        self._member = self.me in validators
        # ledger position
        self.committed = last_committed_height
        self.committed_hash = last_committed_hash
        self._committed_ts = 0
        self._hashes: dict[int, bytes] = {last_committed_height: last_committed_hash}
        self._tip_cert = last_certificate if (
            last_certificate is not None and last_certificate.height == last_committed_height
            and last_certificate.block_hash == last_committed_hash) else None
        self._genesis_hash = last_committed_hash if last_committed_height == 0 else None
        # stable checkpoint (low water mark) and its proof
        self.low = last_committed_height if last_committed_height == 0 else 0
        self.low_hash = last_committed_hash if last_committed_height == 0 else b""
        self._low_proof: BaseProof | None = (
            BaseProof("genesis", 0, last_committed_hash, 0, ()) if last_committed_height == 0
            else None)
        # view
        self.view = view
        self.in_vc = False  # True: VIEW-CHANGE for self.view sent, NEW-VIEW not yet accepted
        self._floor = 0  # NEW-VIEW's base height: final; nothing at or below it is proposed in view
        self.failed_views = 0
        self._vc_retx = 0  # VIEW-CHANGE resends in this view (each waits twice as long)
        self._my_vc: bytes | None = None
        self._my_nv: bytes | None = None
        self._vc_by_sender: dict[bytes, Message] = {}
        self._nv_resent: dict[bytes, int] = {}
        # normal case
        self._slots: dict[int, Slot] = {}
        self._blocks: dict[bytes, Block] = {}  # uncommitted blocks we know, by digest
        self._exec: dict[bytes, int] = {}  # digest -> EXEC_* in this speculation
        self._prepared: dict[int, PreparedCert] = {}  # best prepared certificate per seq > low
        self._cvotes: dict[int, dict[tuple[int, bytes], dict[bytes, bytes]]] = {}
        self._cvote_of: dict[int, dict[bytes, list[tuple[int, bytes]]]] = {}
        self._seen: dict[int, dict[tuple[str, bytes, int], bytes]] = {}
        self._seen_nv: set[int] = set()
        self._ckpt: dict[int, dict[bytes, dict[bytes, bytes]]] = {}
        self._ckpt_of: dict[bytes, list[int]] = {}
        self._future: list[Message] = []
        self._signed: dict[tuple[str, int, int], bytes] = {}
        self._own_pp: dict[tuple[int, int], Block] = {}
        # primary
        self._pending = 0
        self._building = False
        self._build_req: tuple[int, bytes] = (0, b"")
        self._mempool_dry = False
        self._last_cut_ms = -(1 << 62)  # when this node last asked for a block (pacing)
        self._interval_ms = config.block_interval_ms  # pacing; TxsPending may change it
        self._cut_deferred = False
        # timers and catch-up
        self.now = 0
        self._progress_deadline: int | None = None
        # when the progress timer now running was armed (work known, none committed since;
        # None: not running), and whether this replica has joined a lone VIEW-CHANGE early since
        # its last commit (decision 172: at most once per commit)
        self._progress_since: int | None = None
        self._joined_early = False
        # immediate view changes on a proposal found bad or invalid since the last commit
        # (decision 189: at most f in a row, then the doubling timer decides)
        self._quick_suspicions = 0
        # decisions 198/199: the validators whose link the driver reported lost (LinkChanged),
        # with the engine ms it went down (a peer never reported is up); whether this replica
        # gave up on its view for a lost link to the primary since its last commit (once per
        # commit); and when it started its current view change
        self._links_down: dict[bytes, int] = {}
        self._link_suspected = False
        self._vc_since = 0
        self._retx_deadline: int | None = None  # halfway to the view change: resend our votes
        self._vc_deadline: int | None = None
        self._fetching = False
        self._fetch_deadline = 0
        self._fetch_retx = 0  # fetches in a row that brought nothing (each waits twice as long)
        self._probing = False
        self._awaiting_set: int | None = None
        self._barrier: int | None = None  # height of a known, uncommitted set-changing block
        self._held: list[bytes] = []  # messages above the barrier, replayed under the new set
        self._held_bytes = 0
        # the link the message being handled came on (b"": from inside the engine), and the bad
        # signatures each link sent since the last commit (:meth:`PbftEngine._verify`)
        self._link = b""
        self._bad_sigs: dict[bytes, int] = {}
        # the request timer (docs/consensus.md, "The request timer"): since when (engine ms)
        # the oldest transaction the node reports as proposable has waited; when this replica
        # entered its view (None: at the first Tick); views left in a row with a transaction
        # older than the timeout (each doubles the next timeout). The room the primary had: in
        # this view, the ms during which its latest proposal was not full, accumulated up to
        # ``_room_since`` (the start of the current stretch with room; None: its latest
        # proposal was full), and that total when the wait measured (``_room_ref``, the later
        # of the oldest transaction's start and the view's) began to be measured
        self._req_since: int | None = None
        self._view_since: int | None = None
        self._req_backoff = 0
        self._room_acc = 0
        self._room_since: int | None = 0
        self._room_ref: int | None = None
        self._room_base = 0
        self._ahead: int = 0  # highest height with a complete certificate seen above the next
        self._ahead_since: int | None = None
        self._committing = False
        self._out: list[Action] = []
        self._init_actions: list[Action] = []
        self._resume(self._restore(list(restored) + list(restored_records)))

    @classmethod
    def restore(cls, config: PbftConfig, identity: Identity, validators: ValidatorSet,
                last_committed_height: int, last_committed_hash: bytes,
                records: Iterable[tuple[bytes, Any]], **kw: Any) -> Self:
        """Construct from the persisted records (same as passing ``restored=``)."""
        return cls(config, identity, validators, last_committed_height, last_committed_hash,
                   records, **kw)

    def _resume(self, fresh: bool) -> None:
        """The replica's first actions once its records are read back (``fresh``: there were
        none). A transition, so the engine's."""
        raise NotImplementedError

    def _restore(self, recs: list[tuple[bytes, Any]]) -> bool:
        """Read back what we signed, our view and our stable checkpoint from the Persist records.
        True: there were none (a first start)."""
        sc = records.scan(recs, self.view, self.codec)
        state, max_view = sc.state, sc.max_view
        self._signed, self._own_pp, self._prepared = sc.signed, sc.own_pp, sc.prepared
        fresh = state is None and not recs
        if state is not None:
            if state.get("genesis") is not None:
                self._genesis_hash = state["genesis"]
            if state.get("tip") is not None:
                tip = CommitCertificate.from_wire(state["tip"])
                if self._tip_cert is None or tip.height > self._tip_cert.height:
                    self._tip_cert = tip
            if state["low"] >= self.low and state.get("low_proof") is not None:
                self.low, self.low_hash = state["low"], state["low_hash"]
                self._low_proof = BaseProof.from_wire(state["low_proof"])
            max_view = max(max_view, state["v"])
            if state["v"] == max_view:
                self._floor = state.get("floor") or 0
            for key in ("vc", "nv"):
                raw = state.get(key)
                if raw:
                    try:
                        m = self.codec.decode(raw)
                        self._signed[(m.kind, m.view, m.seq)] = m.digest
                    except InvalidMessage:
                        pass
        self.view = max_view
        drop_upto(self._prepared, self.low)
        if state is not None and state["v"] == max_view and state["in_vc"]:
            self.in_vc = True
            self._my_vc = state.get("vc")
            if self._my_vc:
                self._vc_by_sender[self.me] = self.codec.decode(self._my_vc)
            self._vc_deadline = 0  # resend it on the first tick
        elif state is not None and state["v"] == max_view and state.get("nv"):
            self._my_nv = state["nv"]
        # a (re)started replica asks how far the others got, and keeps asking with back-off
        # until it commits a block itself (it may have missed the last COMMITs of an idle
        # network, which nothing else would ever tell it)
        self._probing = True
        self._fetching = True
        self._fetch_deadline = self.cfg.fetch_retry_ms
        # a primary that restarts re-proposes exactly what it had signed (never something else)
        if not self.in_vc and self.primary == self.me:
            s = self.committed + 1
            while (self.view, s) in self._own_pp:
                b = self._own_pp[(self.view, s)]
                sl = self._slots[s] = Slot(s)
                d = b.hash()
                sl.digest, sl.block = d, b
                sl.pp_sig = self.codec.sign(self.identity, PRE_PREPARE, self.view, s, d)
                sl.rebroadcast = True
                self._blocks[d] = b
                s += 1
        return fresh

    def _state_record(self, with_nv: bool) -> dict[str, Any]:
        """The view, what we signed for it as a whole, our stable checkpoint and tip proofs.
        The NEW-VIEW (large for big n) is only written when we send it: after a restart it is
        needed only to resend it to laggards."""
        return records.state_record(
            self.view, self.in_vc, self._my_vc if self.in_vc else None,
            self._my_nv if with_nv else None, self._floor, self.low, self.low_hash,
            self._low_proof.to_wire() if self._low_proof else None, self._genesis_hash,
            self._tip_cert.to_wire() if self._tip_cert else None)

    def _initial_state_record(self) -> dict[str, Any]:
        return records.initial_state_record(
            self.view, self.low, self.low_hash,
            self._low_proof.to_wire() if self._low_proof else None, self._genesis_hash)

    # ------------------------------------------------------------------------- public reads

    @property
    def primary(self) -> bytes:
        return self.validators.primary(self.view)

    @property
    def is_primary(self) -> bool:
        return self._member and not self.in_vc and self.primary == self.me

    def next_deadline(self) -> int | None:
        """Earliest ``now_ms`` at which a Tick has work to do, or None."""
        ds = [d for d in (self._progress_deadline, self._vc_deadline, self._retx_deadline)
              if d is not None]
        if self._ahead_since is not None:
            ds.append(self._ahead_since + self.cfg.fetch_retry_ms)
        if self._fetching:
            ds.append(self._fetch_deadline)
        if self._cut_deferred:  # pacing: the next block may be cut then
            ds.append(self._last_cut_ms + self._interval_ms)
        rd = self._request_deadline()
        if rd is not None:
            ds.append(rd)
        jd = self._early_join_deadline()
        if jd is not None:
            ds.append(jd)
        ld = self._link_loss_deadline()
        if ld is not None:
            ds.append(ld)
        return min(ds) if ds else None

    def log_sizes(self) -> dict[str, int]:
        """How many entries each table of the message log holds (memory stays bounded: every
        table is pruned at commits and stable checkpoints)."""
        return {"slots": len(self._slots), "blocks": len(self._blocks), "exec": len(self._exec),
                "prepared": len(self._prepared), "commit_votes": len(self._cvotes),
                "seen": len(self._seen), "checkpoint_votes": len(self._ckpt),
                "signed": len(self._signed), "hashes": len(self._hashes),
                "future": len(self._future), "held": len(self._held)}

    # ------------------------------------------------------------------------- private reads

    def _set_at(self, height: int) -> ValidatorSet:
        vs = self._sets[0][1]
        for start, s in self._sets:
            if start <= height:
                vs = s
            else:
                break
        return vs

    def _room_total(self) -> int:
        """The ms of this view during which the primary's latest proposal had room, up to now."""
        if self._room_since is None:
            return self._room_acc
        return self._room_acc + max(0, self.now - self._room_since)

    def _request_deadline(self) -> int | None:
        """When the request timer asks for a view change, or None (disabled, nothing waits, in a
        view change, not a voting replica, this replica is the primary or is behind, or the
        primary has not had enough room yet and its latest proposal is full).

        A transaction counts from when it was pending *in this view* (the new primary always
        gets the whole timeout); the timeout doubles per view left with a transaction older
        than it (REQUEST_BACKOFF_MAX at most); and the primary must have had room (its latest
        proposal not full) for half the base timeout, in all, while the transaction waited: a
        primary at capacity, whose blocks are full, is not accused of the backlog, and one that
        pads a block now and then to look full gains only the time its blocks were full."""
        t = self.cfg.request_timeout_ms
        if (not t or self._req_since is None or self._view_since is None or self.in_vc
                or not self._member or self.primary == self.me or self._awaiting_set is not None
                or self._behind()):
            return None  # (behind: catching up is not the primary's fault; no past deadline
            # may stay here either, or the node would wake the engine for it without end)
        start = max(self._req_since, self._view_since)
        due = start + (t << min(self._req_backoff, REQUEST_BACKOFF_MAX))
        lacking = t // 2 - (self._room_total() - self._room_base)
        if lacking <= 0:
            return due
        if self._room_since is None:
            return None  # (the next proposal with room sets a deadline again)
        return max(due, self.now + lacking)

    def _early_join_deadline(self) -> int | None:
        """When this replica joins a view change another validator asked for alone (decision
        172), or None. It joins only when all of these hold: it is a voting replica in a view
        (not in a view change, not behind, not waiting for a set change); it holds known,
        uncommitted work and has committed nothing for the *base* timeout since that work was
        known (or since it entered the view: its progress timer has run that long); a
        validator's valid VIEW-CHANGE for a higher view is in; and it has not joined early
        since its last commit. The deadline is then the base timeout after the progress timer
        was armed, when that comes before its own (doubled) timer; otherwise its own timer
        does the same thing at the same time or earlier. What it does then is what its own
        timer would do: VIEW-CHANGE for view + 1."""
        since = self._progress_since
        if (since is None or self._joined_early or self.in_vc or not self._member
                or self._progress_deadline is None or self._awaiting_set is not None
                or self._behind()):
            return None
        due = since + self.cfg.view_timeout_ms
        if due >= self._progress_deadline:
            return None
        if not any(m.view > self.view for snd, m in self._vc_by_sender.items() if snd != self.me):
            return None
        return due

    def _link_loss_deadline(self) -> int | None:
        """When this replica gives up on a view because its link to that view's primary is lost
        (decisions 198 and 199), or None.

        In a view (decision 198): a voting replica, not the primary, not behind, not waiting
        for a set change, not yet suspected for a lost link since its last commit, whose
        progress timer runs (known, uncommitted work): the later of the moment the link to the
        primary went down and the moment the timer was armed (a commit re-arms it), plus the
        grace, if that comes before its own timer. In a view change (decision 199): it holds
        VIEW-CHANGEs of a quorum for this view or later ones (it waits for the NEW-VIEW) and its
        link to this view's primary is lost: the later of the link's loss and the start of
        this view change, plus the grace, if that comes before the NEW-VIEW timer. Without that
        link it can receive neither the NEW-VIEW nor a PRE-PREPARE (nobody relays them), so
        waiting longer in the view gains nothing unless the link comes back."""
        g = self.cfg.link_grace_ms
        if not g or not self._links_down or not self._member or self._awaiting_set is not None:
            return None
        p = self.primary
        down = self._links_down.get(p)
        if down is None or p == self.me:
            return None
        if not self.in_vc:
            since = self._progress_since
            if (since is None or self._link_suspected or self._progress_deadline is None
                    or self._behind()):
                return None
            due = max(down, since) + g
            return due if due < self._progress_deadline else None
        if self._vc_deadline is None or self._behind():
            return None
        if sum(1 for m in self._vc_by_sender.values() if m.view >= self.view) < self._q:
            return None
        due = max(down, self._vc_since) + g
        return due if due < self._vc_deadline else None

    def _timeout(self) -> int:
        return min(self.cfg.max_timeout_ms, self.cfg.view_timeout_ms << min(self.failed_views, 20))

    def _tip(self) -> tuple[int, bytes, Block | None]:
        s, d, blk = self.committed, self.committed_hash, None
        while True:
            sl = self._slots.get(s + 1)
            if sl is None or sl.digest is None:
                return s, d, blk
            s, d, blk = s + 1, sl.digest, sl.block

    def _has_work(self) -> bool:
        if self._pending > 0:
            return True
        return any(sl.digest is not None for sl in self._slots.values())

    def _next_to_execute(self, s: int) -> tuple[Slot, str | None] | None:
        """From height ``s`` up, the lowest accepted proposal not executed yet whose parent is
        ready: (its slot, None) to execute it, (its slot, why) when its parent is wrong, or None
        (nothing to execute yet)."""
        while True:
            sl = self._slots.get(s)
            if sl is None or sl.block is None or sl.bad:
                return None
            st = self._exec.get(sl.digest)  # type: ignore[arg-type]
            if st is not None:
                if st == EXEC_OK:
                    s += 1
                    continue
                return None
            h = sl.block.header
            if s - 1 == self.committed:
                if h.prev_hash != self.committed_hash:
                    return sl, "parent is not the committed block"
            else:
                p = self._slots.get(s - 1)
                if p is None or p.digest is None:
                    return None  # parent proposal not here yet
                if h.prev_hash != p.digest:
                    return sl, "parent is not the accepted proposal below"
                if changes_set(p.block.header):  # type: ignore[union-attr]
                    return None  # judged after the set change is applied (it discards this slot)
                if self._exec.get(p.digest) != EXEC_OK:
                    return None
            return sl, None

    def _proposal_parent(self) -> tuple[int, bytes, Block | None] | None:
        """Where this replica, as the primary, may propose now: (height, parent hash, parent
        block if uncommitted), or None: not the primary, busy, waiting for a set change, a
        checkpoint or a NEW-VIEW's floor, the parent not executed (or changing the set, or
        bad), the window full, or no transaction that is not in a block already."""
        if (not self.is_primary or self._building or self._awaiting_set is not None
                or self._mempool_dry or self.low > self.committed or self._floor > self.committed):
            return None
        s, d, blk = self._tip()
        if blk is not None and (self._exec.get(d) != EXEC_OK or changes_set(blk.header)
                                or self._slots[s].bad):
            return None
        nxt = s + 1
        if nxt > self.committed + self.cfg.window or nxt > max(self.low, self.committed) + self._L:
            return None
        inflight = sum(len(sl.block.txs) for sl in self._slots.values() if sl.block is not None)
        if self._pending - inflight <= 0:
            return None
        return nxt, d, blk

    def _build_fits(self, b: Block) -> bool:
        """The block the driver built answers our last ``BuildBlock`` and still fits: we are the
        primary of its view, and the tip it was built on is still ours."""
        h = b.header
        nxt, prev = self._build_req
        tip, tip_hash, _ = self._tip()
        return not (not self.is_primary or h.height != nxt or h.prev_hash != prev
                    or h.view != self.view or h.proposer != self.me
                    or h.chain_id != self.cfg.chain_id or nxt != tip + 1 or prev != tip_hash)

    def _certified_next(self) -> tuple[int, bytes, dict[bytes, bytes]] | None:
        """The (view, digest, votes) of a quorum's COMMITs for the height above our last commit
        (the quorum of the set in force there), the highest view first; or None."""
        s = self.committed + 1
        buckets = self._cvotes.get(s)
        if not buckets:
            return None
        return certified(buckets, quorum(self._set_at(s).n))

    def _vcs_to_resend(self) -> list[bytes]:
        """What to send again while a view change waits for a quorum. VIEW-CHANGEs may have been
        lost, and those of replicas that crashed since will never be resent by them: every one
        we hold for this view or the one before (signed by their senders, so relaying is safe),
        then ours. Whoever saw a quorum that we did not otherwise stays a view ahead for ever."""
        out = [m.payload for snd, m in self._vc_by_sender.items()
               if m.view >= self.view - 1 and (snd != self.me or self._my_vc is None)]
        if self._my_vc is not None:
            out.append(self._my_vc)
        return out

    def _join_target(self) -> int | None:
        """TRAPS #8: the smallest view above ours that f+1 other replicas asked for, or None."""
        if not self._member:
            return None
        views = sorted((m.view for snd, m in self._vc_by_sender.items()
                        if snd != self.me and m.view > self.view), reverse=True)
        need = weak_quorum(self.validators.n)
        return views[need - 1] if len(views) >= need else None

    def _behind(self) -> bool:
        return self.low > self.committed or self._ahead > self.committed
