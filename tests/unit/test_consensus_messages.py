"""Consensus envelopes: encoding, decoding, signatures, memoisation; small validator sets."""

from __future__ import annotations

import pytest

from chainfin import codec
from chainfin.consensus.messages import (
    COMMIT,
    PRE_PREPARE,
    VIEW_CHANGE,
    BaseProof,
    CachingCodec,
    MessageCodec,
    PreparedCert,
    ViewChange,
)
from chainfin.crypto import Identity
from chainfin.errors import InvalidMessage
from chainfin.testing.sim import SimConfig, run
from chainfin.types import Vote, vote_message
from tests.sim.harness import CHAIN, Cluster, make_txs


def test_vote_signature_is_the_types_vote_message():
    ident = Identity.from_seed_text("m")
    mc = MessageCodec(CHAIN)
    sig = mc.sign(ident, COMMIT, 3, 9, b"\5" * 32)
    assert sig == ident.sign("consensus", vote_message(CHAIN, COMMIT, 3, 9, b"\5" * 32))
    m = mc.decode(mc.envelope(COMMIT, 3, 9, b"\5" * 32, ident.public_key, sig))
    assert (m.kind, m.view, m.seq, m.sender) == (COMMIT, 3, 9, ident.public_key)
    assert mc.verify(m)
    assert not MessageCodec("other").verify(m)


def test_pre_prepare_digest_must_be_the_block_hash():
    c = Cluster(4)
    c.submit(make_txs(1), [c.primary.idx])
    m = c.decode(c.wire[0][2])
    assert m.kind == PRE_PREPARE and m.digest == m.body.hash()
    raw = codec.decode(m.payload)
    raw[3] = b"\0" * 32
    with pytest.raises(InvalidMessage):
        MessageCodec(CHAIN).decode(codec.encode(raw))


def test_view_change_body_roundtrip_and_stripped_attachment():
    ident = Identity.from_seed_text("vc")
    c = Cluster(4)
    c.submit(make_txs(1))
    c.deliver(lambda s, d, m: m.kind != COMMIT)  # prepared, never committed
    c.primary.down = True
    c.advance(1001)  # a backup's VIEW-CHANGE carries the prepared certificate and the block
    backup = next(nd for nd in c.nodes if not nd.down)
    vc = c.sent(backup.idx, VIEW_CHANGE)[0]
    pc = vc.body.prepared[0]
    block = vc.attachment[0]
    assert (pc.seq, pc.digest) == (1, block.hash())
    assert PreparedCert.from_wire(codec.decode(codec.encode(pc.to_wire()))) == pc
    base = BaseProof("genesis", 0, b"\1" * 32, 0, ())
    body = ViewChange(base, (pc,)).to_wire()
    d = codec.hash_value(body)
    mc = MessageCodec(CHAIN)
    sig = mc.sign(ident, VIEW_CHANGE, 1, 0, d)
    env = mc.envelope(VIEW_CHANGE, 1, 0, d, ident.public_key, sig, body, [block.to_wire()])
    m = mc.decode(env)
    assert m.attachment == (block,) and m.body.prepared == (pc,)
    bare = mc.decode(m.stripped())
    assert bare.attachment == () and bare.digest == m.digest and mc.verify(bare)


@pytest.mark.parametrize("mutate", [
    lambda b: b.update(prepared=[{"view": 0}]),
    lambda b: b.update(base={"kind": "genesis", "height": 5, "hash": b"\1" * 32, "view": 0,
                             "votes": []}),
    lambda b: b.update(base={"kind": "magic", "height": 0, "hash": b"\1" * 32, "view": 0,
                             "votes": []}),
])
def test_malformed_view_change_bodies(mutate):
    ident = Identity.from_seed_text("vc")
    body = ViewChange(BaseProof("genesis", 0, b"\1" * 32, 0, ()), ()).to_wire()
    mutate(body)
    mc = MessageCodec(CHAIN)
    d = codec.hash_value(body)
    env = mc.envelope(VIEW_CHANGE, 1, 0, d, ident.public_key, mc.sign(ident, VIEW_CHANGE, 1, 0, d),
                      body)
    with pytest.raises(InvalidMessage):
        mc.decode(env)


def test_caching_codec_memoises_results_including_failures():
    ident = Identity.from_seed_text("cc")
    cc = CachingCodec(CHAIN)
    sig = cc.sign(ident, COMMIT, 0, 1, b"\2" * 32)
    env = cc.envelope(COMMIT, 0, 1, b"\2" * 32, ident.public_key, sig)
    a = cc.decode(env)
    b = cc.decode(env)
    assert a is b and cc.hits == 1
    for _ in range(2):
        with pytest.raises(InvalidMessage):
            cc.decode(b"\xc1")
    assert cc.verify_vote(ident.public_key, COMMIT, 0, 1, b"\2" * 32, sig)
    assert not cc.verify_vote(ident.public_key, COMMIT, 0, 2, b"\2" * 32, sig)


def test_votes_wire_is_sorted_and_distinct_keys_count():
    votes = (Vote(b"\2" * 32, b"\0" * 64), Vote(b"\1" * 32, b"\0" * 64))
    p = BaseProof("commit", 3, b"\3" * 32, 1, votes)
    assert [v[0] for v in p.to_wire()["votes"]] == [b"\1" * 32, b"\2" * 32]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6])
def test_small_and_uneven_validator_sets(n):
    res = run(SimConfig(nodes=n, txs=15, seed=4))
    assert res.safety and res.liveness
