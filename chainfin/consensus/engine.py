"""PBFT replica (Castro & Liskov, OSDI 1999 / TOCS 2002) as a pure state machine.

``PbftEngine.step(event) -> list[Action]`` (events and actions are in :mod:`.api`). No I/O, no
clock, no randomness: time arrives as ``Tick(now_ms)``; Ed25519 signing is deterministic. The
protocol as implemented, and why it is safe, is written up in ``docs/consensus.md``; the rules that
matter most are repeated where they are enforced.

Sequence numbers are block heights. A PRE-PREPARE carries the full block (execute-before-agree);
the digest voted on is ``block.hash()``. Block ``s`` links to block ``s-1`` by ``prev_hash``, so:

* **Chain rule.** In view v a replica accepts block s only on top of the block it accepted at
  (v, s-1) (or its last committed block), and sends COMMIT for s only after it has sent COMMIT for
  s-1 in v (or s-1 is committed). Hence whoever sent COMMIT(v, s) holds prepared certificates of
  view v for every uncommitted ancestor of s: the view change can re-propose whole chains.
* **NEW-VIEW** re-proposes, from a quorum's VIEW-CHANGEs, the chain above the highest final base
  and the final blocks below it that a sender lacks; every replica recomputes it
  (:mod:`.viewchange`). No null requests are needed.
* **Commit.** A block is final when ``quorum(n)`` COMMIT votes of distinct validators for the same
  (view, height, digest) are known — whichever view they are from; those votes are the
  CommitCertificate. A replica that has the votes but not the (valid) block asks for
  ``FetchBlocks`` instead of stalling (TRAPS #12).

The constructor, ``next_deadline()``, ``stats`` and ``log_sizes()`` add to the contract of
:mod:`.api`, which lists them; the fields and the read-only queries are in :mod:`.state`.
"""

from __future__ import annotations

from typing import Any

from chainfin.consensus import checks, log, records, viewchange
from chainfin.consensus.api import (
    Action,
    BlockBuilt,
    BlockExecuted,
    Commit,
    DiscardSpeculative,
    Event,
    ExecuteBlock,
    FetchBlocks,
    LinkChanged,
    Persist,
    PruneLog,
    Received,
    Send,
    Stopping,
    Synced,
    Tick,
    TxsPending,
    ValidatorSetChanged,
    ViewChanged,
)
from chainfin.consensus.config import STAT_NAMES, PbftConfig
from chainfin.consensus.log import Slot
from chainfin.consensus.messages import (
    CHECKPOINT,
    COMMIT,
    NEW_VIEW,
    PRE_PREPARE,
    PREPARE,
    VIEW_CHANGE,
    BaseProof,
    Message,
)
from chainfin.consensus.pacemaker import Pacemaker
from chainfin.consensus.quorum import max_faulty, quorum
from chainfin.consensus.records import record_key
from chainfin.consensus.state import EXEC_BAD, EXEC_OK, EXEC_REQUESTED
from chainfin.consensus.viewchange import changes_set as _changes_set
from chainfin.errors import InvalidMessage
from chainfin.types import Block, CommitCertificate, ValidatorSet, Vote

__all__ = ["PbftConfig", "PbftEngine", "STAT_NAMES", "record_key"]


#: the kinds a replica only sends for itself (never relays): they must arrive on the link of
#: their signer (``Received.sender``). COMMITs and CHECKPOINTs are relayed to a laggard
#: (``viewchange.laggard_help``), VIEW-CHANGEs to replicas that missed them: those are judged
#: by their signatures, within each link's budget (:meth:`PbftEngine._verify`)
_OWN_KINDS = frozenset({PRE_PREPARE, PREPARE})
#: bad signatures a link may send between two commits before the rest of its messages are
#: dropped unchecked (an honest replica sends none; a bit flip is caught by the frame MAC)
BAD_SIGNATURE_BUDGET = 64


class PbftEngine(Pacemaker):
    """One PBFT replica. Not thread-safe: drive it from one task, execute actions in order."""

    # ------------------------------------------------------------------------- public

    def step(self, event: Event) -> list[Action]:
        """Feed one event; return the actions to execute in order.

        Raises nothing for a peer's misbehaviour (it is dropped and counted); AssertionError means
        a broken invariant (a bug)."""
        out = self._out = self._init_actions
        self._init_actions = []
        t = type(event)
        if t is Received:
            self._on_received(event)  # type: ignore[arg-type]
        elif t is Tick:
            self._on_tick(event.now_ms)  # type: ignore[union-attr]
        elif t is BlockExecuted:
            self._on_executed(event)  # type: ignore[arg-type]
        elif t is TxsPending:
            self._on_txs_pending(event.count,  # type: ignore[union-attr]
                                 event.block_interval_ms,  # type: ignore[union-attr]
                                 event.oldest_ms)  # type: ignore[union-attr]
        elif t is BlockBuilt:
            self._on_built(event.block)  # type: ignore[union-attr]
        elif t is Synced:
            self._on_synced(event)  # type: ignore[arg-type]
        elif t is ValidatorSetChanged:
            self._on_set_changed(event.height, event.validators)  # type: ignore[union-attr]
        elif t is Stopping:
            self._hand_over()
        elif t is LinkChanged:
            self._on_link_changed(event.peer, event.up)  # type: ignore[union-attr]
        else:
            raise TypeError(f"not an engine event: {event!r}")
        self._out = []
        return out

    # ------------------------------------------------------------------------- helpers

    def _broadcast(self, payload: bytes) -> None:
        self.stats["messages_out"] += 1
        self._out.append(Send(None, payload))

    def _sign(self, kind: str, view: int, seq: int, digest: bytes) -> bytes | None:
        """Sign a vote unless we already signed a different digest for (kind, view, seq)."""
        key = (kind, view, seq)
        prev = self._signed.get(key)
        if prev is not None and prev != digest:
            self.stats["refused_conflicting_sign"] += 1
            return None
        if kind in (PREPARE, COMMIT, PRE_PREPARE) and seq <= self.low:
            return None
        self._signed[key] = digest
        return self.codec.sign(self.identity, kind, view, seq, digest)

    def _persist(self, key: bytes, record: dict[str, Any]) -> None:
        self._out.append(Persist(key, record))

    def _persist_state(self, with_nv: bool = False) -> None:
        """Persist the state record (:meth:`_state_record`), with our NEW-VIEW when we send one."""
        self._persist(record_key(self.low + 1, self.view, b"S"), self._state_record(with_nv))

    def _slot(self, seq: int) -> Slot:
        sl = self._slots.get(seq)
        if sl is None:
            sl = self._slots[seq] = Slot(seq)
        return sl

    def _accept(self, m: Message) -> bool:
        """Duplicate check, then signature check, then remember. False: dropped and counted."""
        drop = log.admit_once(self._seen, m, self._verify)
        if drop is not None:
            self.stats[drop] += 1
            return False
        return True

    # ------------------------------------------------------------------------- receive

    def _verify(self, m: Message) -> bool:
        """A message's signature, within its link's budget: a link that sent
        :data:`BAD_SIGNATURE_BUDGET` bad signatures since the last commit has the rest of its
        messages dropped unchecked until the next one (a linked validator made every replica
        check forged signatures without end: red-team round 3). Keyed by the link, not the
        signer: a relayed VIEW-CHANGE under an honest name spends its relayer's budget."""
        link = self._link
        if link and self._bad_sigs.get(link, 0) >= BAD_SIGNATURE_BUDGET:
            self.stats["dropped_over_signature_budget"] += 1
            return False
        if self.codec.verify(m):
            return True
        if link:
            self._bad_sigs[link] = self._bad_sigs.get(link, 0) + 1
        return False

    def _on_received(self, ev: Received) -> None:
        prev, self._link = self._link, ev.sender  # (held messages are replayed from inside)
        try:
            self._on_received_from_link(ev)
        finally:
            self._link = prev

    def _on_received_from_link(self, ev: Received) -> None:
        st = self.stats
        st["messages_in"] += 1
        try:
            m = self.codec.decode(ev.payload)
        except InvalidMessage:
            st["dropped_malformed"] += 1
            return
        if m.sender == self.me:
            st["dropped_duplicate"] += 1  # our own message coming back (replayed)
            return
        k = m.kind
        if ev.sender and m.sender != ev.sender and k in _OWN_KINDS:
            # a proposal or a PREPARE comes from its signer's own link (nobody relays them).
            # One under another's name would cost a signature check each: a linked validator
            # burnt CPU by forging them (red-team round 3). (Replays from inside the engine
            # come with no link: b"".)
            st["dropped_not_from_signer"] += 1
            return
        barrier = self._barrier
        if (barrier is not None and m.seq > barrier
                and k in (PRE_PREPARE, PREPARE, COMMIT, CHECKPOINT)):
            # above a validator-set change we have not applied yet: judge it under the new set.
            # Its sender and signature can only be judged then, so what is held is bounded here
            # by the log window and by count and bytes (anything linked could fill it)
            drop = None if k == CHECKPOINT else log.window_drop(m.seq, self.committed, self.low,
                                                                self._L)
            size = len(ev.payload)
            if drop is None and (len(self._held) >= self.cfg.max_buffered
                                 or self._held_bytes + size > self.cfg.max_held_bytes):
                drop = "dropped_buffer_full"
            if drop is not None:
                st[drop] += 1
                return
            st["held_for_set_change"] += 1
            self._held.append(ev.payload)
            self._held_bytes += size
            return
        if m.sender not in self.validators:
            st["dropped_non_member"] += 1
            return
        if k == COMMIT:
            self._recv_commit(m)
        elif k == PREPARE or k == PRE_PREPARE:
            self._recv_normal(m)
        elif k == CHECKPOINT:
            self._recv_checkpoint(m)
        elif k == VIEW_CHANGE:
            self._recv_view_change(m)
        else:
            self._recv_new_view(m)

    def _recv_normal(self, m: Message) -> None:
        st = self.stats
        drop = log.normal_drop(m, self.view, self.committed, self._floor, self.low, self._L,
                               self.validators.primary)
        if drop is not None:
            st[drop] += 1
            return
        if not self._accept(m):
            return
        if m.view > self.view or self.in_vc:
            if len(self._future) >= self.cfg.max_buffered:
                st["dropped_buffer_full"] += 1
                return
            st["buffered_future"] += 1
            self._future.append(m)
            return
        if m.kind == PRE_PREPARE:
            self._on_pre_prepare(m)
        else:
            self._on_prepare(m)

    def _on_pre_prepare(self, m: Message) -> None:
        s = m.seq
        sl = self._slot(s)
        if sl.digest is not None:
            if sl.digest != m.digest:  # two signed proposals for one (view, seq): provable
                self.stats["dropped_equivocation"] += 1
                self._suspect_primary(proof=True)
            return
        b: Block = m.body
        drop = checks.proposal_drop(m, self.cfg.chain_id, self.validators, self._signed)
        if drop is not None:
            self.stats[drop] += 1
            if drop == "dropped_invalid":  # a header that cannot be the primary's honest one
                self._suspect_primary()
            return
        sl.digest, sl.block, sl.pp_sig = m.digest, b, m.signature
        self._blocks[m.digest] = b
        self._note_barrier(s, b)
        self._note_proposal(len(b.txs))
        self._arm_progress()
        self._maybe_execute(s)
        self._check_prepared(s)

    def _on_prepare(self, m: Message) -> None:
        sl = self._slot(m.seq)
        sl.prepares.setdefault(m.digest, {})[m.sender] = m.signature
        if sl.digest == m.digest:
            self._check_prepared(m.seq)

    def _recv_commit(self, m: Message) -> None:
        drop = checks.commit_drop(m, self.committed, self.low, self._L, self._cvote_of,
                                  self._verify)
        if drop is not None:
            self.stats[drop] += 1
            return
        self._add_commit_vote(m.sender, m.view, m.seq, m.digest, m.signature)
        self._try_commit()

    def _add_commit_vote(self, sender: bytes, view: int, seq: int, digest: bytes,
                         sig: bytes) -> None:
        votes = log.note_commit_vote(self._cvotes, self._cvote_of, sender, view, seq, digest, sig)
        if seq > self.committed + 1 and seq > self._ahead and len(votes) >= self._q:
            # certified above a height we have not committed: a pipeline hiccup, or we missed
            # the COMMITs below; if it lasts, fetch (see _on_tick)
            self._ahead = seq
            if self._ahead_since is None:
                self._ahead_since = self.now

    # ------------------------------------------------------------------------- execution

    def _maybe_execute(self, s: int) -> None:
        """Ask the driver to execute the lowest unexecuted accepted block whose parent is ready."""
        found = self._next_to_execute(s)
        if found is None:
            return
        sl, wrong = found
        if wrong is not None:
            self._reject(sl, wrong)
            return
        assert sl.digest is not None and sl.block is not None
        self._exec[sl.digest] = EXEC_REQUESTED
        self._out.append(ExecuteBlock(sl.block))

    def _note_barrier(self, s: int, b: Block) -> None:
        if _changes_set(b.header) and (self._barrier is None or s < self._barrier):
            self._barrier = s

    def _reject(self, sl: Slot, why: str) -> None:
        sl.bad = True
        self.stats["proposals_rejected"] += 1
        self._suspect_primary()

    def _suspect_primary(self, proof: bool = False) -> None:
        """The current primary proposed a block we find invalid (or a header it cannot honestly
        sign); ``proof``: it signed two proposals for one height (equivocation).

        Decision 189: an invalid proposal changes the view at once at most f times in a row
        without a commit. f+1 primaries in a row found invalid include an honest one, so the
        fault is ours or the network's (this replica executes differently: another code
        version, a non-deterministic contract), and changing the view at once would only
        storm (f+1 such replicas move everyone, the next primary proposes at once). After
        that the proposal stays refused and the progress timer, doubled per failed view,
        decides, as for a silent primary. Equivocation is signed proof against that primary
        alone, whatever we execute: always at once, and not counted."""
        if not self._member or self.in_vc or self.primary == self.me:
            return
        if not proof:
            if self._quick_suspicions >= max_faulty(self.validators.n):
                self.stats["suspicions_deferred"] += 1
                return
            self._quick_suspicions += 1
        self.failed_views += 1
        self._start_view_change(self.view + 1)

    def _on_executed(self, ev: BlockExecuted) -> None:
        d = ev.block_hash
        if not d:
            if self._building:
                self._building = False
            return
        if self._exec.get(d) != EXEC_REQUESTED:
            return  # discarded meanwhile (view change)
        self._exec[d] = EXEC_OK if ev.ok else EXEC_BAD
        b = self._blocks.get(d)
        if b is None:
            return
        s = b.height
        sl = self._slots.get(s)
        sl = sl if sl is not None and sl.digest == d else None
        if not ev.ok:
            if sl is not None:
                self._reject(sl, ev.reason)
            self._try_commit()  # a certified block we cannot execute: fetch it instead
            return
        if sl is not None:
            if sl.rebroadcast:
                sl.rebroadcast = False
                payload = self.codec.envelope(PRE_PREPARE, self.view, s, d, self.me, sl.pp_sig,
                                              b.to_wire())
                self._broadcast(payload)
                sl.sent.append(payload)
            self._send_prepare(sl)
            self._check_prepared(s)
            self._maybe_execute(s + 1)
        self._try_commit()
        self._maybe_propose()

    def _send_prepare(self, sl: Slot) -> None:
        if sl.prepare_sent or not self._member or self.in_vc or self.primary == self.me:
            return
        d = sl.digest
        assert d is not None
        sig = self._sign(PREPARE, self.view, sl.seq, d)
        if sig is None:
            return
        self._persist(record_key(sl.seq, self.view, b"p"),
                      records.prepare_record(self.view, sl.seq, d))
        payload = self.codec.envelope(PREPARE, self.view, sl.seq, d, self.me, sig)
        self._broadcast(payload)
        sl.sent.append(payload)
        sl.prepare_sent = True
        sl.prepares.setdefault(d, {})[self.me] = sig

    def _check_prepared(self, s: int) -> None:
        sl = self._slots.get(s)
        if sl is None or sl.digest is None or sl.block is None:
            return
        if not sl.prepared:
            cert = log.prepared_cert(self.view, sl, self._q - 1)  # needs 0 for a lone validator
            if cert is None:
                return
            sl.prepared = True
            old = self._prepared.get(s)
            if old is None or old.view <= self.view:
                self._prepared[s] = cert
        self._try_send_commits()

    def _try_send_commits(self) -> None:
        """COMMIT in height order within the view (the chain rule, see module docstring)."""
        if not self._member or self.in_vc:
            return
        s = self.committed + 1
        sent = False
        while True:
            sl = self._slots.get(s)
            if sl is None or sl.digest is None:
                break
            if not sl.commit_sent:
                if not sl.prepared or self._exec.get(sl.digest) != EXEC_OK:
                    break
                sig = self._sign(COMMIT, self.view, s, sl.digest)
                if sig is None:
                    break
                self._persist(record_key(s, self.view, b"c"), records.commit_record(
                    self.view, s, sl.digest, self._prepared[s].to_wire()))
                payload = self.codec.envelope(COMMIT, self.view, s, sl.digest, self.me, sig)
                self._broadcast(payload)
                sl.sent.append(payload)
                sl.commit_sent = True
                self._add_commit_vote(self.me, self.view, s, sl.digest, sig)
                sent = True
            s += 1
        if sent:
            self._try_commit()

    # ------------------------------------------------------------------------- commit

    def _try_commit(self) -> None:
        if self._committing:
            return  # re-entered from _do_commit: the outer loop continues
        self._committing = True
        try:
            self._commit_loop()
        finally:
            self._committing = False

    def _commit_loop(self) -> None:
        while self._awaiting_set is None:
            s = self.committed + 1
            best = self._certified_next()
            if best is None:
                return
            v, d, votes = best
            block = self._blocks.get(d)
            st = self._exec.get(d)
            if block is None or st == EXEC_BAD:
                self._want_fetch()
                return
            if st != EXEC_OK:
                if st is None:
                    if block.header.prev_hash != self.committed_hash:
                        self._want_fetch()
                        return
                    self._exec[d] = EXEC_REQUESTED
                    self._out.append(ExecuteBlock(block))
                return
            cert = CommitCertificate(self.cfg.chain_id, s, v, d,
                                     tuple(Vote(k, sig) for k, sig in sorted(votes.items())))
            self._do_commit(block, cert)

    def _do_commit(self, block: Block, cert: CommitCertificate) -> None:
        s = block.height
        d = cert.block_hash
        self._out.append(Commit(block, cert))
        self.committed, self.committed_hash = s, d
        self._committed_ts = block.header.timestamp_ms
        self._bad_sigs.clear()  # each link's signature budget starts again
        self._hashes[s] = d
        self._tip_cert = cert
        self._slots.pop(s, None)
        self._cvotes.pop(s, None)
        self._cvote_of.pop(s, None)
        self.stats["blocks_committed"] += 1
        self.failed_views = 0
        self._joined_early = False
        self._link_suspected = False
        self._quick_suspicions = 0
        self._fetch_retx = 0
        self._probing = False
        if self._ahead_since is not None:
            self._ahead_since = None if s >= self._ahead else self.now
        self._arm_progress(reset=True)
        if s % self._K == 0:
            self._send_checkpoint(s, d)
            upto = self._tip_cert.height if self._tip_cert is not None else self.low
            log.prune_committed(s, upto, self._L, self._seen, self._prepared, self._signed,
                                self._blocks, self._hashes)
        if _changes_set(block.header):
            self._awaiting_set = s  # nothing above s until the driver says ValidatorSetChanged
            self._barrier = s
        # the next proposal may now be executable on top of this block
        self._maybe_execute(s + 1)
        self._try_send_commits()
        self._maybe_propose()

    # ------------------------------------------------------------------------- checkpoints

    def _send_checkpoint(self, s: int, d: bytes) -> None:
        if not self._member:
            return
        sig = self._sign(CHECKPOINT, 0, s, d)
        if sig is None:
            return
        self._broadcast(self.codec.envelope(CHECKPOINT, 0, s, d, self.me, sig))
        self._add_checkpoint_vote(self.me, s, d, sig)

    def _recv_checkpoint(self, m: Message) -> None:
        drop = checks.checkpoint_drop(m, self._K, self.low, self._ckpt, self._verify)
        if drop is not None:
            self.stats[drop] += 1
            return
        self._add_checkpoint_vote(m.sender, m.seq, m.digest, m.signature)

    def _add_checkpoint_vote(self, sender: bytes, s: int, d: bytes, sig: bytes) -> None:
        dv = log.note_checkpoint_vote(self._ckpt, self._ckpt_of, sender, s, d, sig)
        vs = self._set_at(s)
        if len(dv) >= quorum(vs.n):
            members = {k: v for k, v in dv.items() if k in vs}
            if len(members) >= quorum(vs.n):
                self._stabilize(s, d, members)

    def _stabilize(self, s: int, d: bytes, votes: dict[bytes, bytes]) -> None:
        if s <= self.low:
            return
        self.stats["checkpoints_stable"] += 1
        self.low, self.low_hash = s, d
        self._low_proof = BaseProof("checkpoint", s, d, 0,
                                    tuple(Vote(k, v) for k, v in sorted(votes.items())))
        log.prune_stable(s, self.committed, self._L, self._seen, self._ckpt, self._ckpt_of,
                         self._prepared, self._signed, self._own_pp, self._hashes, self._blocks,
                         self._exec, self._slots)
        self._persist_state()
        self._out.append(PruneLog(record_key(s + 1, 0, b"")))
        if s > self.committed:
            self._want_fetch(tuple(sorted(votes)))
        elif self._hashes.get(s, d) != d:
            self.stats["checkpoint_mismatch"] += 1

    # ------------------------------------------------------------------------- catch-up

    def _want_fetch(self, hints: tuple[bytes, ...] = ()) -> None:
        if self._fetching and self.now < self._fetch_deadline:
            return
        self._fetching = True
        self._fetch_deadline = self.now + (self.cfg.fetch_retry_ms << min(self._fetch_retx, 6))
        self._fetch_retx += 1
        self.stats["fetches"] += 1
        self._out.append(FetchBlocks(self.committed + 1, hints))

    def _on_synced(self, ev: Synced) -> None:
        if ev.height <= self.committed:
            # nothing new: if we still need blocks (or have not heard of anyone since a restart)
            # the back-off deadline asks again
            if not self._behind() and not self._probing:
                self._fetching = False
            return
        self._fetching = False
        self.stats["blocks_synced"] += ev.height - self.committed
        self._fetch_retx = 0
        h = ev.height
        self.committed, self.committed_hash = h, ev.block_hash
        self._hashes[h] = ev.block_hash
        if ev.certificate is not None and ev.certificate.height == h:
            self._tip_cert = ev.certificate
        if ev.validators != self.validators:
            self._install_set(h, ev.validators)
        if self._awaiting_set is not None and self._awaiting_set <= h:
            self._awaiting_set = None
        release = self._barrier is not None and self._barrier <= h
        if release:
            self._barrier = None
        if self._ahead_since is not None and h >= self._ahead:
            self._ahead_since = None
        for tbl in (self._slots, self._cvotes, self._cvote_of):
            log.drop_upto(tbl, h)
        self._arm_progress(reset=True)
        if release:
            self._release_held()
        self._maybe_execute(h + 1)
        self._try_send_commits()
        self._try_commit()
        if self._behind():
            self._want_fetch()  # part of the way: go on at once
        elif self._probing:  # since a restart: look again later
            self._fetching = True
            self._fetch_deadline = self.now + (self.cfg.fetch_retry_ms << min(self._fetch_retx, 6))
        self._maybe_propose()

    # ------------------------------------------------------------------------- validator sets

    def _install_set(self, height: int, vs: ValidatorSet) -> None:
        self._sets = [x for x in self._sets if x[0] <= height] + [(height + 1, vs)]
        self.validators = vs
        self._q = quorum(vs.n)
        self._member = self.me in vs
        # what a validator outside the new set sent while it was a member counts no more: its
        # votes above the change (a replica that learns the change by catch-up still holds
        # them), its buffered proposals and votes, its VIEW-CHANGE (towards f + 1 and quorum)
        log.drop_senders(vs, self._cvotes, self._cvote_of, self._slots)
        self._future = [m for m in self._future if m.sender in vs]
        self._vc_by_sender = {k: m for k, m in self._vc_by_sender.items() if k in vs}

    def _on_set_changed(self, height: int, vs: ValidatorSet) -> None:
        """Block ``height`` changed the set. Everything above it was signed under the old set (or
        not at all: the primary does not propose above an uncommitted set change), so it goes."""
        if height < self.committed and self._awaiting_set is None:
            return  # already learned through Synced
        self._install_set(height, vs)
        self._awaiting_set = None
        self._slots.clear()
        self._exec.clear()
        self._blocks.clear()
        for tbl in (self._cvotes, self._cvote_of, self._prepared):
            log.drop_above(tbl, height)
        self._future.clear()
        self._building = False
        self._barrier = None
        self._out.append(DiscardSpeculative(self.committed))
        self._out.append(ViewChanged(self.view, self.validators.primary(self.view)))
        self._restart_request_clock()  # (the new set may have another primary for this view)
        self._arm_progress(reset=True)
        self._release_held()
        self._try_commit()
        self._maybe_propose()

    def _release_held(self) -> None:
        held, self._held = self._held, []
        self._held_bytes = 0
        for payload in held:
            self._on_received(Received(b"", payload))

    # ------------------------------------------------------------------------- primary

    def _on_built(self, b: Block) -> None:
        if not self._building:
            return
        self._building = False
        nxt = self._build_req[0]
        if not self._build_fits(b):
            self._maybe_propose()  # stale (the view or the tip moved): build on the new tip
            return
        if not b.txs and self.cfg.max_block_txs > 0:
            self._mempool_dry = True
            return
        d = b.hash()
        sig = self._sign(PRE_PREPARE, self.view, nxt, d)
        if sig is None:
            return
        payload = self.codec.envelope(PRE_PREPARE, self.view, nxt, d, self.me, sig, b.to_wire())
        # the envelope bytes (not the block as a map) so the driver need not encode it again
        self._persist(record_key(nxt, self.view, b"P"),
                      records.pre_prepare_record(self.view, nxt, d, payload))
        self._broadcast(payload)
        sl = self._slot(nxt)
        sl.sent.append(payload)
        sl.digest, sl.block, sl.pp_sig = d, b, sig
        self._blocks[d] = b
        self._note_barrier(nxt, b)
        self._exec[d] = EXEC_OK
        self._arm_progress()
        self._check_prepared(nxt)
        self._maybe_execute(nxt + 1)
        self._maybe_propose()

    # ------------------------------------------------------------------------- view change

    def _start_view_change(self, w: int) -> None:
        if not self._member or w <= self.view:
            return
        self.stats["view_changes_started"] += 1
        self.view = w
        self.in_vc = True
        self._vc_retx = 0
        self._slots.clear()
        self._barrier = self._awaiting_set
        self._building = False
        self._progress_deadline = self._retx_deadline = None
        self._my_nv = None
        base = viewchange.base_proof(self._low_proof, self._tip_cert)
        payload = None
        if base is not None:
            body, digest, att = viewchange.view_change_body(base, self._prepared, self._blocks)
            sig = self._sign(VIEW_CHANGE, w, base.height, digest)
            if sig is not None:
                payload = self.codec.envelope(VIEW_CHANGE, w, base.height, digest, self.me, sig,
                                              body, att or None)
            elif self._my_vc is not None and self.codec.decode(self._my_vc).view == w:
                payload = self._my_vc  # restored: resend exactly what we signed before
        self._my_vc = payload
        self._persist_state()
        if payload is not None:
            self._broadcast(payload)
            self._vc_by_sender[self.me] = self.codec.decode(payload)
        self._vc_deadline = self.now + self._timeout()
        self._vc_since = self.now
        self._process_vc_state()

    def _hand_over(self) -> None:
        """The node is stopping (decision 173): a primary asks for the next view itself, so the
        others start it at once instead of after a view-change timeout. Its VIEW-CHANGE is the
        one its timer would have sent (persisted before it leaves; after a restart the replica
        is in that view change and resends exactly those bytes)."""
        if self.is_primary:
            self.stats["handovers"] += 1
            self._start_view_change(self.view + 1)

    def _recv_view_change(self, m: Message) -> None:
        st = self.stats
        w = m.view
        if m.seq < self.committed and self._tip_cert is not None:
            self._help_laggard(m)
        elif m.seq > max(self.committed, self._ahead):
            self._note_ahead(m)
        if w < self.view or (w == self.view and not self.in_vc):
            if (w == self.view and self._my_nv is not None and self.primary == self.me
                    and self.now - self._nv_resent.get(m.sender, -(10**12)) >= self._timeout()):
                # a replica still asks for the view we run: it lost our NEW-VIEW
                self._nv_resent[m.sender] = self.now
                st["new_views_resent"] += 1
                st["messages_out"] += 1
                self._out.append(Send(m.sender, self._my_nv))
            else:
                st["dropped_old_view"] += 1
            return
        drop = checks.view_change_drop(m, self._vc_by_sender.get(m.sender), self._verify,
                                       self._valid_vc)
        if drop is not None:
            st[drop] += 1
            return
        self._vc_by_sender[m.sender] = m
        for b in m.attachment:
            if b.height > self.low:
                self._blocks.setdefault(b.hash(), b)
        self._check_join()
        if (not self.in_vc and w == self.view + 1 and m.sender == self.primary
                and m.sender != self.me):
            # the primary of our view asks for the next one itself: it is stopping, or its own
            # timer fired (decision 173). It could end this view anyway by going silent: follow
            # it at once. A failed view, as our timer would count it: a primary that times out
            # first must not keep the next view's timer from doubling (a slow network)
            self.stats["handovers_joined"] += 1
            self.failed_views += 1
            self._start_view_change(w)
        if not self.in_vc:
            self._check_early_join()  # (its deadline may have passed before this came)
        if self.in_vc and w == self.view:
            self._process_vc_state()

    def _help_laggard(self, m: Message) -> None:
        """A VIEW-CHANGE whose base is below our last committed block comes from a replica that
        missed COMMITs (a partition, a restart) and may never see them again if traffic stops.
        Resend it the votes that prove our last commit (:func:`.viewchange.laggard_help`): it then
        knows it is behind and fetches the blocks."""
        last = self._nv_resent.get(b"cert" + m.sender)
        if last is not None and self.now - last < self._timeout():
            return
        if not self._verify(m):
            return
        self._nv_resent[b"cert" + m.sender] = self.now
        assert self._tip_cert is not None
        for payload in viewchange.laggard_help(self.codec, m.seq, self._low_proof, self._tip_cert):
            self.stats["messages_out"] += 1
            self._out.append(Send(m.sender, payload))

    def _note_ahead(self, m: Message) -> None:
        """A VIEW-CHANGE proves its sender's base final: above our height, we are behind (an idle
        replica that missed the last COMMITs learns it here)."""
        key = b"ahead" + m.sender
        last = self._nv_resent.get(key)
        if last is not None and self.now - last < self._timeout():
            return
        self._nv_resent[key] = self.now
        if self._verify(m) and viewchange.valid_base(
                self.codec, m.body.base, self._genesis_hash, self._hashes,
                self._set_at(m.body.base.height)):
            self._ahead = m.seq
            if self._ahead_since is None:
                self._ahead_since = self.now

    def _valid_vc(self, m: Message) -> bool:
        return viewchange.valid_view_change(self.codec, m, self._set_at, self._genesis_hash,
                                            self._hashes)

    def _check_join(self) -> None:
        """TRAPS #8: f+1 VIEW-CHANGEs for views above ours mean at least one honest replica
        gave up on our view: join the smallest such view at once instead of lagging."""
        w = self._join_target()
        if w is not None:
            self._start_view_change(w)

    def _process_vc_state(self) -> None:
        w = self.view
        n_ge = sum(1 for m in self._vc_by_sender.values() if m.view >= w)
        if n_ge < self._q:
            return
        if self._vc_deadline is None or n_ge == self._q:
            self._vc_deadline = self.now + self._timeout()  # PBFT: wait this long for NEW-VIEW
        vcs = [m for m in self._vc_by_sender.values() if m.view == w]
        if self.primary == self.me and len(vcs) >= self._q:
            self._try_new_view(sorted(vcs, key=lambda m: m.sender))

    def _try_new_view(self, vcs: list[Message]) -> None:
        w = self.view
        base, blocks = viewchange.new_view_blocks(vcs, self._L, self._blocks, self.low)
        if blocks is None:
            return  # wait for a VIEW-CHANGE whose attachment has the missing block
        sigs = []
        for b in blocks:
            sig = self._sign(PRE_PREPARE, w, b.height, b.hash())
            if sig is None:
                return
            sigs.append(sig)
        body, digest = viewchange.new_view_body(vcs, blocks, sigs)
        sig = self._sign(NEW_VIEW, w, base.height, digest)
        if sig is None:
            return
        payload = self.codec.envelope(NEW_VIEW, w, base.height, digest, self.me, sig, body)
        self._my_nv = payload
        self._enter_view(w, base, blocks, sigs, payload)
        self._after_enter_view()

    def _recv_new_view(self, m: Message) -> None:
        st = self.stats
        w = m.view
        drop = checks.new_view_drop(m, self.view, self.in_vc, self._seen_nv,
                                    self.validators.primary(w), self._verify)
        if drop is not None:
            st[drop] += 1
            return
        res = viewchange.check_new_view(self.codec, m, self.validators, self._q, self._L,
                                         self._hashes, self._valid_vc)
        if res is None:
            st["new_views_rejected"] += 1
            if self.in_vc and w == self.view:
                self.failed_views += 1
                self._start_view_change(w + 1)
            return
        self._seen_nv.add(w)
        self._my_nv = None
        self._enter_view(w, res, list(m.body.blocks), list(m.body.pp_signatures))
        self._after_enter_view()

    def _enter_view(self, w: int, base: BaseProof, blocks: list[Block], sigs: list[bytes],
                    nv_payload: bytes | None = None) -> None:
        self.view = w
        self.in_vc = False
        # nothing is proposed in w at or below the floor but what NEW-VIEW re-proposes
        self._floor = blocks[0].height - 1 if blocks else base.height
        self._vc_deadline = None
        self.stats["view_changes"] += 1
        self._persist_state(with_nv=nv_payload is not None)  # before NEW-VIEW or a vote in w
        if nv_payload is not None:
            self._broadcast(nv_payload)
        self._out.append(ViewChanged(w, self.primary))
        self._out.append(DiscardSpeculative(self.committed))
        self._slots.clear()
        self._exec.clear()
        self._barrier = self._awaiting_set
        self._building = False
        self._mempool_dry = False
        self._vc_by_sender = {k: v for k, v in self._vc_by_sender.items() if v.view > w}
        self._seen_nv = {x for x in self._seen_nv if x >= w}
        self._restart_request_clock()
        i_am_primary = self.primary == self.me
        for b, sig in zip(blocks, sigs, strict=True):
            s = b.height
            d = b.hash()
            self._blocks[d] = b
            if s <= self.committed:
                # final already: vote again so replicas that lag can complete a certificate
                self._vote_final(s, d, i_am_primary)
                continue
            sl = self._slot(s)
            sl.digest, sl.block, sl.pp_sig = d, b, sig
            self._note_barrier(s, b)
        if self._floor > self.committed:
            self._want_fetch()

    def _vote_final(self, s: int, d: bytes, i_am_primary: bool) -> None:
        if not self._member or s <= self.low:
            return
        if not i_am_primary:
            sig = self._sign(PREPARE, self.view, s, d)
            if sig is not None:
                self._persist(record_key(s, self.view, b"p"),
                              records.prepare_record(self.view, s, d))
                self._broadcast(self.codec.envelope(PREPARE, self.view, s, d, self.me, sig))
        sig = self._sign(COMMIT, self.view, s, d)
        if sig is not None:
            self._persist(record_key(s, self.view, b"c"),
                          records.commit_record(self.view, s, d, None))
            self._broadcast(self.codec.envelope(COMMIT, self.view, s, d, self.me, sig))

    def _after_enter_view(self) -> None:
        w = self.view
        future, self._future = self._future, []
        for m in future:
            if m.view > w:
                self._future.append(m)
            elif m.view == w and m.seq > max(self.committed, self._floor):
                if m.kind == PRE_PREPARE:
                    self._on_pre_prepare(m)
                else:
                    self._on_prepare(m)
        self._arm_progress(reset=True)
        self._maybe_execute(self.committed + 1)
        for s in sorted(self._slots):
            self._check_prepared(s)
        self._try_commit()
        self._maybe_propose()

    # ------------------------------------------------------------------------- restore

    def _resume(self, fresh: bool) -> None:
        """The first actions of a (re)started replica, after its records were read back."""
        if fresh:
            self._init_actions.append(Persist(record_key(self.low + 1, self.view, b"S"),
                                              self._initial_state_record()))
        # a (re)started replica does not know how far the others got: ask, and keep asking with
        # back-off until it commits a block itself (_restore set the fetch timer)
        self.stats["fetches"] += 1
        self._init_actions.append(FetchBlocks(self.committed + 1, ()))
        if self._slots:  # a restarted primary re-proposes exactly what it had signed
            self._out = self._init_actions
            self._maybe_execute(self.committed + 1)
            self._out = []
