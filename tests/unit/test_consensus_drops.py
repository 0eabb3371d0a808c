"""Whatever is foreign, forged, stale, replayed or malformed is dropped and counted."""

from __future__ import annotations

import pytest

from chainfin import codec
from chainfin.consensus.api import Received
from chainfin.consensus.messages import COMMIT, PRE_PREPARE, PREPARE, MessageCodec
from chainfin.crypto import Identity
from tests.sim.harness import CHAIN, Cluster, make_txs


def _vote(c, i, kind, view, seq, digest=b"\x07" * 32):
    ident = c.nodes[i].identity
    sig = c.codec.sign(ident, kind, view, seq, digest)
    return c.codec.envelope(kind, view, seq, digest, ident.public_key, sig)


def _target(c):
    return next(nd for nd in c.nodes if nd is not c.primary)


def test_non_member_dropped():
    c = Cluster(4)
    outsider = Identity.from_seed_text("outsider")
    sig = c.codec.sign(outsider, PREPARE, 0, 1, b"\1" * 32)
    payload = c.codec.envelope(PREPARE, 0, 1, b"\1" * 32, outsider.public_key, sig)
    e = _target(c).engine
    assert e.step(Received(outsider.public_key, payload)) == []
    assert e.stats["dropped_non_member"] == 1


def test_bad_signature_dropped_and_does_not_block_the_genuine_vote():
    c = Cluster(4)
    t = _target(c)
    other = next(nd for nd in c.nodes if nd is not t and nd is not c.primary)
    c.submit(make_txs(1), [c.primary.idx])
    pp = next(p for s, d, p in c.wire if d == t.idx)
    c.wire.clear()
    c.step(t.idx, Received(c.primary.key, pp))  # t executes the proposal and PREPAREs it
    m = c.decode(_vote(c, other.idx, PREPARE, 0, 1, c.decode(pp).digest))
    forged = c.codec.envelope(PREPARE, 0, 1, m.digest, m.sender, bytes(64))
    t.engine.step(Received(other.key, forged))
    assert t.engine.stats["dropped_bad_signature"] == 1
    assert not c.sent(t.idx, COMMIT)  # its own PREPARE alone does not prepare the block
    c.step(t.idx, Received(other.key, m.payload))  # not mistaken for a duplicate of the forgery
    assert t.engine.stats["dropped_duplicate"] == 0
    # the genuine vote counted: with its own it makes the quorum - 1 PREPAREs, so t COMMITs
    assert [x.digest for x in c.sent(t.idx, COMMIT)] == [m.digest]


def test_signature_from_another_chain_is_a_bad_signature():
    c = Cluster(4)
    t = _target(c)
    other = next(nd for nd in c.nodes if nd is not t and nd is not c.primary)
    foreign = MessageCodec("another-chain")
    sig = foreign.sign(other.identity, PREPARE, 0, 1, b"\1" * 32)
    t.engine.step(Received(other.key, foreign.envelope(PREPARE, 0, 1, b"\1" * 32, other.key,
                                                       sig)))
    assert t.engine.stats["dropped_bad_signature"] == 1


def test_duplicates_and_equivocating_votes_dropped():
    c = Cluster(4)
    t = _target(c)
    other = next(nd for nd in c.nodes if nd is not t and nd is not c.primary)
    a = _vote(c, other.idx, PREPARE, 0, 1, b"\1" * 32)
    b = _vote(c, other.idx, PREPARE, 0, 1, b"\2" * 32)
    for p in (a, a, b):
        t.engine.step(Received(other.key, p))
    assert t.engine.stats["dropped_duplicate"] == 1
    assert t.engine.stats["dropped_equivocation"] == 1


def test_old_view_dropped_after_a_view_change():
    c = Cluster(4)
    c.submit(make_txs(1), [nd.idx for nd in c.nodes if nd is not c.primary])
    c.advance(1500)  # the primary never heard of the tx: the backups time out
    c.deliver()
    assert all(nd.engine.view == 1 and not nd.engine.in_vc for nd in c.nodes)
    t = _target(c)
    other = next(nd for nd in c.nodes if nd is not t and nd is not c.primary)
    assert t.app.height == 1
    t.engine.step(Received(other.key, _vote(c, other.idx, PREPARE, 0, 2)))
    assert t.engine.stats["dropped_old_view"] >= 1


def test_stale_and_out_of_window_dropped():
    c = Cluster(4, checkpoint_interval=2, window=2)
    c.submit(make_txs(1))
    c.deliver()
    t = _target(c)
    other = next(nd for nd in c.nodes if nd is not t and nd is not c.primary)
    t.engine.step(Received(other.key, _vote(c, other.idx, COMMIT, 0, 1)))
    assert t.engine.stats["dropped_stale"] >= 1
    far = c.cfg.log_window + 10
    t.engine.step(Received(other.key, _vote(c, other.idx, PREPARE, 0, far)))
    assert t.engine.stats["dropped_out_of_window"] == 1


@pytest.mark.parametrize("payload", [
    b"",
    b"\xc1",
    codec.encode([1, 2, 3]),
    codec.encode(["prepare", 0, 1, b"\1" * 31, b"\2" * 32, b"\3" * 64, None, None]),
    codec.encode(["nope", 0, 1, b"\1" * 32, b"\2" * 32, b"\3" * 64, None, None]),
    codec.encode(["prepare", -1, 1, b"\1" * 32, b"\2" * 32, b"\3" * 64, None, None]),
    codec.encode(["pre-prepare", 0, 1, b"\1" * 32, b"\2" * 32, b"\3" * 64, {"x": 1}, None]),
    codec.encode(["view-change", 1, 0, b"\1" * 32, b"\2" * 32, b"\3" * 64, {}, None]),
])
def test_malformed_dropped(payload):
    c = Cluster(4)
    e = c.nodes[1].engine
    assert e.step(Received(b"", payload)) == []
    assert e.stats["dropped_malformed"] == 1


def test_pre_prepare_from_a_backup_or_prepare_from_the_primary_dropped():
    c = Cluster(4)
    t = _target(c)
    backup = next(nd for nd in c.nodes if nd is not t and nd is not c.primary)
    sig = c.codec.sign(backup.identity, PRE_PREPARE, 0, 1, b"\1" * 32)
    blockless = c.codec.envelope(PREPARE, 0, 1, b"\1" * 32, backup.key, sig)
    t.engine.step(Received(c.primary.key, _vote(c, c.primary.idx, PREPARE, 0, 1)))
    assert t.engine.stats["dropped_invalid"] == 1
    assert t.engine.stats["dropped_bad_signature"] == 0
    t.engine.step(Received(backup.key, blockless))
    assert t.engine.stats["dropped_bad_signature"] == 1  # a pre-prepare signature is no prepare


def test_replayed_messages_change_nothing():
    c = Cluster(4)
    c.submit(make_txs(2))
    transcript = []
    c.deliver(lambda s, d, m: transcript.append((s, d, m.payload)) or True)
    before = [nd.app.height for nd in c.nodes]
    for s, d, p in transcript:
        c.step(d, Received(c.nodes[s].key, p))
    c.deliver()
    assert [nd.app.height for nd in c.nodes] == before
    for nd in c.nodes:
        st = nd.engine.stats
        assert st["dropped_duplicate"] + st["dropped_stale"] > 0


def test_certificate_votes_are_the_commit_signatures():
    c = Cluster(4)
    c.submit(make_txs(1))
    c.deliver()
    block, cert = c.nodes[0].app.certified(1)
    for v in cert.votes:
        env = c.codec.envelope(COMMIT, cert.view, 1, block.hash(), v.validator, v.signature)
        assert c.codec.verify(c.decode(env))
    assert cert.chain_id == CHAIN
