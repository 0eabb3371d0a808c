"""The pacemaker: when the primary cuts a block (pacing) and what the timers do (progress,
retransmission, view-change and fetch deadlines). The transitions that only liveness rests on.

:class:`Pacemaker` sits between :class:`.state.ReplicaState` (the fields and read-only queries)
and :class:`.engine.PbftEngine`, which holds every transition that signs, votes, commits or
changes the view: a timer here may *ask* for those (``_start_view_change``, ``_want_fetch``,
``_try_commit``, a resend of the exact bytes already sent), but nothing here signs or counts a
vote. The split follows the pacemaker / safety split of HotStuff and Tendermint (decision 82).
"""

from __future__ import annotations

from chainfin.consensus.api import BuildBlock
from chainfin.consensus.state import REQUEST_START_SLACK_MS, ReplicaState

__all__ = ["Pacemaker", "VC_RESEND_MAX"]

#: a view change without a quorum resends (and relays) its VIEW-CHANGEs at most this many base
#: timeouts apart (decision 172). They backed off to 64 doubled timeouts: after a one-way fault
#: healed, the VIEW-CHANGE the others missed came back only at its sender's next resend, up to
#: 16 s later in chaos (with one validator silent, the network stalled until then)
VC_RESEND_MAX = 2


class Pacemaker(ReplicaState):
    """Pacing and timers of one replica (see the module docstring)."""

    # the engine's transitions a timer asks for (defined in engine.py)
    def _broadcast(self, payload: bytes) -> None:
        raise NotImplementedError

    def _start_view_change(self, w: int) -> None:
        raise NotImplementedError

    def _want_fetch(self, hints: tuple[bytes, ...] = ()) -> None:
        raise NotImplementedError

    def _try_commit(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------------- primary

    def _on_txs_pending(self, count: int, interval_ms: int | None,
                        oldest_ms: int | None = None) -> None:
        if interval_ms is not None and interval_ms >= 0:
            self._interval_ms = interval_ms
        self._pending = max(0, count)
        self._note_oldest(oldest_ms)
        self._mempool_dry = False
        self._arm_progress()
        self._maybe_propose()

    def _maybe_propose(self) -> None:
        self._cut_deferred = False  # set again below only while pacing alone holds the cut
        parent = self._proposal_parent()
        if parent is None:
            return
        nxt, d, blk = parent
        if self._interval_ms and self.now < self._last_cut_ms + self._interval_ms:
            self._cut_deferred = True  # the Tick at next_deadline() proposes
            return
        self._last_cut_ms = self.now
        ts = max(self.now, blk.header.timestamp_ms if blk is not None else self._committed_ts)
        self._building = True
        self._build_req = (nxt, d)
        self._out.append(BuildBlock(nxt, self.view, d, ts, self.cfg.max_block_txs))

    # ------------------------------------------------------------------------- request timer

    def _note_oldest(self, oldest_ms: int | None) -> None:
        """The node's report of its oldest proposable pending transaction (``TxsPending``).
        Nothing older than the base timeout any more: the backlog is gone, so the next request
        timeout starts from the base again."""
        t = self.cfg.request_timeout_ms
        if oldest_ms is None or oldest_ms < 0:
            self._req_since = None
        else:
            self._req_since = self.now - oldest_ms
        if oldest_ms is None or oldest_ms < t:
            self._req_backoff = 0
        self._sync_room_ref()

    def _sync_room_ref(self) -> None:
        """Measure the primary's room from now on for a new wait (another oldest transaction,
        or a new view); the same wait (its start within REQUEST_START_SLACK_MS) keeps its
        measure. (Room before the node reported the wait is not counted: the timer fires
        later, never earlier.)"""
        if self._req_since is None or self._view_since is None:
            self._room_ref = None
            return
        ref = max(self._req_since, self._view_since)
        if self._room_ref is None or abs(ref - self._room_ref) > REQUEST_START_SLACK_MS:
            self._room_ref = ref
            self._room_base = self._room_total()

    def _note_proposal(self, n_txs: int) -> None:
        """A fresh proposal of this view was accepted: a full one shows the primary at its
        block's capacity (its room stops accruing); one with room starts a stretch of it."""
        if n_txs >= self.cfg.max_block_txs:
            if self._room_since is not None:
                self._room_acc += max(0, self.now - self._room_since)
                self._room_since = None
        elif self._room_since is None:
            self._room_since = self.now

    def _restart_request_clock(self) -> None:
        """A new view (or a new primary after a set change): its primary gets the whole request
        timeout, whatever waited before (one request timer per view: no storm), and has had no
        room yet. A view left with a transaction waiting past the timeout (whoever's timer
        started the change: a replica that joined counts too) doubles the next timeout, until
        nothing waits that long."""
        t = self.cfg.request_timeout_ms
        if t and self._req_since is not None and self.now - self._req_since >= t:
            self._req_backoff += 1
        self._view_since = self.now
        self._room_acc = self._room_base = 0
        self._room_since = self.now
        self._room_ref = None
        self._sync_room_ref()

    def _check_request_timer(self) -> None:
        d = self._request_deadline()
        if d is None or self.now < d:
            return
        self.stats["request_timeouts"] += 1
        self.failed_views += 1
        self._start_view_change(self.view + 1)

    # ------------------------------------------------------------------------- timers

    def _arm_progress(self, reset: bool = False) -> None:
        """The view-change timer runs while work is known and not committed; a commit restarts
        it (TRAPS #9: it is never reset by mere message traffic)."""
        if self.in_vc or not self._has_work():
            self._progress_deadline = self._retx_deadline = self._progress_since = None
            return
        if reset or self._progress_deadline is None:
            t = self._timeout()
            self._progress_since = self.now
            self._progress_deadline = self.now + t
            self._retx_deadline = self.now + t // 2

    def _check_early_join(self) -> None:
        """Decision 172: a replica whose commits stopped while it holds work joins a view change
        a validator asked for alone after the base timeout, not its own doubled one
        (:meth:`~.state.ReplicaState._early_join_deadline`). Once per commit; it counts as a
        failed view, so the next timeout doubles as if its own timer had fired."""
        d = self._early_join_deadline()
        if d is None or self.now < d:
            return
        self.stats["early_view_change_joins"] += 1
        self._joined_early = True
        self.failed_views += 1
        self._start_view_change(self.view + 1)

    def _on_link_changed(self, peer: bytes, up: bool) -> None:
        """The driver's report that its link to ``peer`` came up or was lost. A lost link keeps
        the moment it went down (a second report does not move it); a link back clears it."""
        if up:
            self._links_down.pop(peer, None)
        elif peer != self.me and peer not in self._links_down:
            self._links_down[peer] = self.now
        self._check_link_loss()

    def _check_link_loss(self) -> None:
        """Decisions 198 and 199 (:meth:`~.state.ReplicaState._link_loss_deadline`): the link to
        the primary of this view has been lost for the grace while this replica's commits
        stopped (in a view: VIEW-CHANGE for the next one, at most once per commit) or while it
        waits for that primary's NEW-VIEW with a quorum of VIEW-CHANGEs in (in a view change:
        the next view at once, as the NEW-VIEW timer would a timeout later). Either way it
        counts a failed view, as the timer it cuts short would."""
        d = self._link_loss_deadline()
        if d is None or self.now < d:
            return
        self.failed_views += 1
        if self.in_vc:
            self.stats["link_loss_view_skips"] += 1
        else:
            self.stats["link_loss_view_changes"] += 1
            self._link_suspected = True
        self._start_view_change(self.view + 1)

    def _on_tick(self, now: int) -> None:
        if now > self.now:
            self.now = now
        now = self.now
        if self._view_since is None:  # the first Tick since the start (or a restart)
            self._restart_request_clock()
        # a stable checkpoint above us means a quorum is ahead and blocks can be fetched:
        # catching up is not the primary's fault, so no view change for that
        behind = self.low > self.committed or self._awaiting_set is not None
        if self._retx_deadline is not None and now >= self._retx_deadline:
            # no commit for half a timeout: our votes (or the proposal) may have been lost;
            # resend them (same bytes) before accusing the primary. The deadline is unchanged.
            self._retx_deadline = None
            if not self.in_vc:
                for s in sorted(self._slots):
                    for payload in self._slots[s].sent:
                        self._broadcast(payload)
        if self._progress_deadline is not None and now >= self._progress_deadline:
            self._progress_deadline = None
            if behind or self._ahead > self.committed:
                # catching up is not the primary's fault: no view change for that. A commit
                # certificate (a quorum's COMMITs) above our height proves the network commits
                # in this view; we missed blocks (say a validator that has just joined), so
                # fetch them instead of leaving the view alone and voting in none until the
                # next view change. (_ahead is only ever set from quorum-signed evidence, so
                # f Byzantine replicas cannot hold our view change back with it.)
                self._arm_progress()
            elif not self._member:
                # an observer (a joining validator) cannot ask for a view change; it may have
                # missed the COMMITs of the last blocks: look for them at its peers
                self._want_fetch()
                self._arm_progress()
            elif not self.in_vc:
                self.failed_views += 1
                self._start_view_change(self.view + 1)
        if not self.in_vc:
            self._check_request_timer()
        if not self.in_vc:
            self._check_early_join()
        self._check_link_loss()
        if self._vc_deadline is not None and now >= self._vc_deadline:
            self._vc_deadline = None
            if self.in_vc:
                # replicas whose latest VIEW-CHANGE is for a later view gave up on this one too
                n_vc = sum(1 for m in self._vc_by_sender.values() if m.view >= self.view)
                if n_vc >= self._q and not behind:  # the new primary failed: next view
                    self.failed_views += 1
                    self._start_view_change(self.view + 1)
                else:
                    # No quorum yet: VIEW-CHANGEs may have been lost; resend (see _vcs_to_resend)
                    for payload in self._vcs_to_resend():
                        self._broadcast(payload)
                    self._vc_retx += 1
                    self._vc_deadline = now + min(self._timeout() << min(self._vc_retx, 6),
                                                  self.cfg.view_timeout_ms * VC_RESEND_MAX)
        if self._ahead_since is not None and now >= self._ahead_since + self.cfg.fetch_retry_ms:
            self._ahead_since = None
            if self._ahead > self.committed:
                self._want_fetch()
        if self._fetching and now >= self._fetch_deadline:
            self._fetching = False
            if self._behind() or self._probing:
                self._want_fetch()  # (back-off: see _want_fetch)
            else:
                self._try_commit()
        if self._cut_deferred:
            self._maybe_propose()
