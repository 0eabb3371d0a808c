"""Third red-team round over the peer protocol: what a connected validator, a removed one or a
stranger can make a replica do with messages that decode. Each test is an attack that worked on
the code before (docs/reliability.md, "Red-team round 3"); the node-level ones are in
tests/node/test_redteam3_wire.py."""

from __future__ import annotations

import hashlib

import pytest

from chainfin import codec
from chainfin.consensus.api import BlockExecuted, Commit, ExecuteBlock, Received, Send, Synced
from chainfin.consensus.engine import PbftConfig, PbftEngine
from chainfin.consensus.messages import (
    COMMIT,
    PRE_PREPARE,
    PREPARE,
    VIEW_CHANGE,
    BaseProof,
    MessageCodec,
    PreparedCert,
    ViewChange,
)
from chainfin.crypto import Identity
from chainfin.errors import InvalidMessage
from chainfin.types import Block, BlockHeader, Transaction, ValidatorSet, Vote

CHAIN = "redteam3"
GENESIS = hashlib.sha256(b"redteam3 genesis").digest()
MC = MessageCodec(CHAIN)


def _ids(n: int) -> list[Identity]:
    return sorted((Identity.from_seed_text(f"rt3-{i}") for i in range(n)),
                  key=lambda i: i.public_key)


def _engine(me: Identity, vs: ValidatorSet, **cfg: int) -> PbftEngine:
    e = PbftEngine(PbftConfig(chain_id=CHAIN, **cfg), me, vs, 0, GENESIS, codec=MC)
    e.step(Synced(0, GENESIS, vs))  # (its first actions: the initial record and a probe)
    return e


def _block(height: int, prev: bytes, vs: ValidatorSet, proposer: bytes, view: int = 0,
           next_vs: ValidatorSet | None = None, salt: int = 0,
           txs: tuple[Transaction, ...] = ()) -> Block:
    return Block(BlockHeader(CHAIN, height, view, prev, b"\1" * 32,
                             hashlib.sha256(salt.to_bytes(8, "big")).digest(), vs.hash(),
                             (next_vs or vs).hash(), 1000 + height, proposer), txs)


def _vote(who: Identity, kind: str, view: int, seq: int, digest: bytes) -> bytes:
    return MC.envelope(kind, view, seq, digest, who.public_key,
                       MC.sign(who, kind, view, seq, digest))


def _pp(primary: Identity, b: Block, view: int = 0) -> bytes:
    d = b.hash()
    return MC.envelope(PRE_PREPARE, view, b.height, d, primary.public_key,
                       MC.sign(primary, PRE_PREPARE, view, b.height, d), b.to_wire())


def _feed(e: PbftEngine, payloads: list[bytes]) -> list:
    out = []
    for p in payloads:
        out += e.step(Received(b"", p))
    return out


def _execute_all(e: PbftEngine, actions: list) -> list:
    """Answer every ExecuteBlock as the driver would for a valid block (and what follows)."""
    out, todo = [], list(actions)
    while todo:
        a = todo.pop(0)
        out.append(a)
        if type(a) is ExecuteBlock:
            todo += e.step(BlockExecuted(a.block.hash(), True))
    return out


def _sent(actions: list, kind: str) -> list:
    return [a for a in actions if type(a) is Send and MC.decode(a.payload).kind == kind]


# ------------------------------------------------------------------ malformed messages


@pytest.mark.parametrize("kind", [[1], {"k": 1}, [PREPARE]])
def test_a_consensus_message_whose_kind_is_not_a_string_is_dropped_not_raised(kind) -> None:
    """The kind was looked up in a frozenset: a list or map (unhashable) raised TypeError out
    of ``MessageCodec.decode`` and ``engine.step``, which the node's consensus loop does not
    catch (only ChainfinError): one 40-byte frame from any linked validator stopped the node."""
    payload = codec.encode([kind, 0, 1, b"\1" * 32, b"\2" * 32, b"\3" * 64, None, None])
    with pytest.raises(InvalidMessage):
        MC.decode(payload)
    ids = _ids(4)
    e = _engine(ids[1], ValidatorSet(tuple(i.public_key for i in ids)))
    assert e.step(Received(ids[2].public_key, payload)) == []
    assert e.stats["dropped_malformed"] == 1


# ------------------------------------------------------------------ view changes


def _prepared(ids: list[Identity], vs: ValidatorSet, b: Block, view: int = 0) -> PreparedCert:
    """A genuine prepared certificate of ``b``: its primary's signature and quorum - 1 PREPAREs."""
    primary = next(i for i in ids if i.public_key == vs.primary(view))
    d = b.hash()
    others = [i for i in ids if i is not primary][:vs.quorum - 1]
    return PreparedCert(view, b.height, b.header, MC.sign(primary, PRE_PREPARE, view, b.height, d),
                        tuple(Vote(i.public_key, MC.sign(i, PREPARE, view, b.height, d))
                              for i in others))


def _view_change(who: Identity, view: int, prepared: tuple[PreparedCert, ...] = (),
                 attachment: list[Block] | None = None) -> bytes:
    body = ViewChange(BaseProof("genesis", 0, GENESIS, 0, ()), prepared).to_wire()
    d = codec.hash_value(body)
    return MC.envelope(VIEW_CHANGE, view, 0, d, who.public_key,
                       MC.sign(who, VIEW_CHANGE, view, 0, d), body,
                       None if attachment is None else [b.to_wire() for b in attachment])


def test_a_view_change_attaches_only_the_blocks_of_its_prepared_certificates() -> None:
    """A VIEW-CHANGE's attachment is unsigned and was taken whole: a validator could send one
    VIEW-CHANGE after another (each for a higher view, which is all the duplicate check asks)
    with any blocks attached, at heights no commit or checkpoint ever prunes, and each replica
    kept them all (``_blocks`` grew by a frame's worth per message, without bound)."""
    ids = _ids(4)
    vs = ValidatorSet(tuple(i.public_key for i in ids))
    e = _engine(ids[1], vs)
    attacker = ids[2]
    pc = _prepared(ids, vs, _block(1, GENESIS, vs, vs.primary(0)))
    junk = [_block(10**12 + i, b"\7" * 32, vs, attacker.public_key, salt=i) for i in range(50)]
    for i, b in enumerate(junk):
        e.step(Received(b"", _view_change(attacker, 1000 + i, (pc,), [b])))
    assert e.stats["dropped_malformed"] == len(junk)
    assert e.log_sizes()["blocks"] == 0
    # the block of its certificate is still taken (what the attachment is for)
    b1 = _block(1, GENESIS, vs, vs.primary(0))
    e.step(Received(b"", _view_change(attacker, 2000, (pc,), [b1])))
    assert b1.hash() in e._blocks


# ------------------------------------------------------------------ held above a set change


def _barrier_engine(max_held_bytes: int) -> tuple[PbftEngine, list[Identity], ValidatorSet]:
    """A replica that accepted a proposal changing the set at height 1: what arrives for heights
    above it is held until the change is applied."""
    ids = _ids(4)
    vs = ValidatorSet(tuple(i.public_key for i in ids))
    primary = next(i for i in ids if i.public_key == vs.primary(0))
    me = next(i for i in ids if i is not primary)
    e = _engine(me, vs, max_held_bytes=max_held_bytes)
    grown = ValidatorSet(vs.members + (Identity.from_seed_text("rt3-new").public_key,))
    e.step(Received(b"", _pp(primary, _block(1, GENESIS, vs, primary.public_key, next_vs=grown))))
    assert e._barrier == 1
    return e, ids, vs


def test_messages_held_above_a_set_change_are_bounded_in_bytes_and_by_the_window() -> None:
    """Above a known, uncommitted set change every PRE-PREPARE, PREPARE, COMMIT and CHECKPOINT
    was held before any other check (sender, window, signature): up to ``max_buffered`` (4,096)
    payloads of up to 2 MiB each, ~8 GiB from anyone linked, and far-future heights too."""
    budget = 256 * 1024
    e, ids, vs = _barrier_engine(budget)
    stranger = Identity.from_seed_text("rt3-stranger")
    fat = tuple(Transaction.create(stranger, CHAIN, n, "x", "y", {"p": "z" * 30_000})
                for n in range(2))
    for s in range(2, 30):  # ~60 KiB each, inside the window
        b = _block(s, b"\7" * 32, vs, stranger.public_key, salt=s, txs=fat)
        e.step(Received(b"", _pp(stranger, b)))
    held = sum(map(len, e._held))
    assert held <= budget, held
    assert e.stats["dropped_buffer_full"] > 0
    # far above the window: not held at all (it would be dropped after the change anyway)
    before = len(e._held)
    e.step(Received(b"", _vote(ids[2], COMMIT, 0, 10**9, b"\5" * 32)))
    assert len(e._held) == before
    assert e.stats["dropped_out_of_window"] == 1


# ------------------------------------------------------------------ removed validators


def _shrinking() -> tuple[list[Identity], ValidatorSet, ValidatorSet, Identity, Identity,
                          list[Identity], Identity]:
    """Six validators, two of which (``removed``) leave at height 1: (ids, old set, new set,
    the new set's primary of view 0, a replica of the new set (``me``), the removed, and
    another member of the new set (``member``))."""
    ids = _ids(6)
    old = ValidatorSet(tuple(i.public_key for i in ids))
    old_primary = old.primary(0)
    removed = [i for i in ids if i.public_key != old_primary][-2:]
    new = ValidatorSet(tuple(i.public_key for i in ids if i not in removed))
    primary = next(i for i in ids if i.public_key == new.primary(0))
    me, member = [i for i in ids if i not in removed and i is not primary][:2]
    return ids, old, new, primary, me, removed, member


def _synced_to_the_new_set(e: PbftEngine, new: ValidatorSet) -> bytes:
    """Catch-up committed block 1, which removed two validators (the engine hears of it as
    ``Synced``, not by committing it itself)."""
    h1 = b"\x11" * 32
    e.step(Synced(1, h1, new))
    assert e.validators == new
    return h1


def test_commit_votes_of_removed_validators_do_not_count_after_catch_up() -> None:
    """COMMITs a replica took from validators of the old set, for heights above the change it
    then learned by catch-up (``Synced``), stayed in its vote table and counted towards the
    quorum of the new set: two removed validators and one faulty member made a certificate of
    the new set (quorum 3 of 4) that ``CommitCertificate.verify`` refuses, and the replica
    committed it."""
    ids, old, new, primary, me, removed, member = _shrinking()
    e = _engine(me, old)
    h1_block_hash = b"\x11" * 32
    x = _block(2, h1_block_hash, new, primary.public_key)
    d = x.hash()
    _feed(e, [_vote(v, COMMIT, 0, 2, d) for v in (*removed, member)])
    _synced_to_the_new_set(e, new)
    out = _execute_all(e, e.step(Received(b"", _pp(primary, x))))
    commits = [a for a in out if type(a) is Commit]
    assert commits == [], [c.certificate.votes for c in commits]


def test_prepares_of_removed_validators_do_not_prepare_a_block_after_catch_up() -> None:
    """A PREPARE of a validator of the old set, for a height above the change, stayed in the
    slot and counted for the new set's prepared certificate: with the replica's own PREPARE it
    made quorum - 1, so the replica sent a COMMIT no member but itself had prepared."""
    ids, old, new, primary, me, removed, member = _shrinking()
    e = _engine(me, old)
    x = _block(2, b"\x11" * 32, new, primary.public_key)
    _feed(e, [_vote(removed[0], PREPARE, 0, 2, x.hash())])
    _synced_to_the_new_set(e, new)
    out = _execute_all(e, e.step(Received(b"", _pp(primary, x))))
    assert _sent(out, PREPARE)  # it prepares the proposal itself ...
    assert not _sent(out, COMMIT)  # ... but one removed validator's PREPARE does not prepare it


def test_view_changes_of_removed_validators_do_not_make_a_replica_join() -> None:
    """A VIEW-CHANGE a removed validator sent while it was a member stayed among those a
    replica counts: with one faulty member's it made the f + 1 that make a replica give up
    its view (TRAPS #8), so one faulty validator alone could start view changes."""
    ids, old, new, primary, me, removed, member = _shrinking()
    e = _engine(me, old)
    _feed(e, [_view_change(removed[0], 5)])
    assert e.view == 0  # one of six: not f + 1
    _synced_to_the_new_set(e, new)
    _feed(e, [_view_change(member, 7)])
    assert (e.view, e.in_vc) == (0, False)


# ------------------------------------------------------------------ vote tables


def test_checkpoint_votes_of_one_sender_stay_bounded_whatever_heights_it_names() -> None:
    """Each validator keeps ``CKPT_PER_SENDER`` CHECKPOINT votes; forgetting its oldest left
    that height's table behind, empty, and nothing prunes a height above the stable checkpoint:
    CHECKPOINTs for ever higher heights (any multiple of the interval is taken) grew the table
    by one height each, without bound."""
    ids = _ids(4)
    vs = ValidatorSet(tuple(i.public_key for i in ids))
    e = _engine(ids[1], vs, checkpoint_interval=4)
    attacker = ids[2]
    from chainfin.consensus.messages import CHECKPOINT

    for i in range(1, 301):
        e.step(Received(b"", _vote(attacker, CHECKPOINT, 0, 4 * 10**6 * i, bytes([i % 256]) * 32)))
    assert e.log_sizes()["checkpoint_votes"] <= 4


def test_commit_votes_of_one_sender_stay_bounded_whatever_views_it_names() -> None:
    """Per validator and height the COMMITs of its latest ``VOTE_VIEWS`` views are kept; the
    oldest one's (view, digest) table was left behind, empty: COMMITs for one height in ever
    higher views grew that height's table by one entry each until the height committed (in
    an idle network: never), and every commit attempt walks the table."""
    ids = _ids(4)
    vs = ValidatorSet(tuple(i.public_key for i in ids))
    e = _engine(ids[1], vs)
    attacker = ids[2]
    for v in range(300):
        e.step(Received(b"", _vote(attacker, COMMIT, v, 5, b"\5" * 32)))
    assert len(e._cvotes[5]) <= 4


def test_a_certificate_vote_that_is_not_bytes_is_refused() -> None:
    """``bytes(2**33)`` is 8 GiB of zeros: a certificate from the wire took an integer as a
    vote's key or signature that way."""
    import pytest as _pytest

    from chainfin.errors import InvalidMessage
    from chainfin.types import CommitCertificate

    good = {"chain_id": "c", "height": 1, "view": 0, "block_hash": bytes(32),
            "votes": [[bytes(32), bytes(64)]]}
    assert CommitCertificate.from_wire(good).votes[0].validator == bytes(32)
    for bad in ([2**33, bytes(64)], [bytes(32), 64], [bytes(31), bytes(64)]):
        with _pytest.raises(InvalidMessage):
            CommitCertificate.from_wire({**good, "votes": [bad]})


def test_a_vote_under_another_validators_name_is_dropped_before_its_signature() -> None:
    """A linked validator sent PREPAREs attributed to the other validators, with forged
    signatures: each cost a signature check, and 20,000 of them in one envelope held the engine
    1.3 s. A proposal or a PREPARE comes from its signer's own link: under another name it is
    dropped before its signature (COMMITs, CHECKPOINTs and VIEW-CHANGEs, which replicas relay,
    are judged by their signatures, within the link's budget)."""
    ids = _ids(4)
    vs = ValidatorSet(tuple(i.public_key for i in ids))
    me, liar, victim = ids[1], ids[2], ids[3]
    e = _engine(me, vs)
    b = _block(1, GENESIS, vs, vs.primary(0))
    forged = MC.envelope(PREPARE, 0, 1, b.hash(), victim.public_key, b"\0" * 64)
    checked = e.stats["dropped_bad_signature"]
    e.step(Received(liar.public_key, forged))
    assert e.stats["dropped_not_from_signer"] == 1
    assert e.stats["dropped_bad_signature"] == checked  # no signature was checked
    # the same vote from its signer's own link is judged as before
    genuine = _vote(victim, PREPARE, 0, 1, b.hash())
    e.step(Received(victim.public_key, genuine))
    assert e.stats["dropped_not_from_signer"] == 1
    # a COMMIT is relayed to a laggard (viewchange.laggard_help): judged by its signature
    relayed = _vote(victim, COMMIT, 0, 1, b.hash())
    e.step(Received(liar.public_key, relayed))
    assert e.stats["dropped_not_from_signer"] == 1 and e.stats["dropped_bad_signature"] == checked


def test_a_link_sending_bad_signatures_has_a_budget_until_the_next_commit() -> None:
    """Under its own name a linked validator's votes pass the link check; with bad signatures
    each still cost a check, without end. A link gets BAD_SIGNATURE_BUDGET of them between two
    commits; the rest of its messages are dropped unchecked, and an honest link is not
    touched (the budget is the link's, not the signer's: a relayed VIEW-CHANGE under an honest
    name spends its relayer's)."""
    from chainfin.consensus import engine as engine_mod

    ids = _ids(4)
    vs = ValidatorSet(tuple(i.public_key for i in ids))
    me, liar, honest = ids[1], ids[2], ids[3]
    e = _engine(me, vs)
    b = _block(1, GENESIS, vs, vs.primary(0))
    budget = engine_mod.BAD_SIGNATURE_BUDGET
    forged = MC.envelope(COMMIT, 0, 1, b.hash(), liar.public_key, b"\1" * 64)
    for _ in range(budget + 20):  # (a bad one is not remembered: each copy was checked)
        e.step(Received(liar.public_key, forged))
    assert e.stats["dropped_over_signature_budget"] >= 19
    checked = e.stats["dropped_bad_signature"]
    assert checked - e.stats["dropped_over_signature_budget"] <= budget
    # the honest link's vote is still checked (and counts)
    e.step(Received(honest.public_key, _vote(honest, PREPARE, 0, 1, b.hash())))
    assert e.stats["dropped_bad_signature"] == checked
