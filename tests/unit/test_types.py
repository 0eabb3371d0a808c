import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainfin import codec, crypto
from chainfin.consensus.quorum import quorum
from chainfin.errors import InvalidMessage, InvalidTransaction
from chainfin.types import (
    ZERO_HASH,
    Block,
    BlockHeader,
    CommitCertificate,
    Transaction,
    ValidatorSet,
    Vote,
    vote_message,
)


def test_tx_sign_verify_and_id():
    ident = crypto.Identity.generate()
    tx = Transaction.create(ident, "test", 1, "settlement", "transfer", {"to": "x", "amount": 5})
    tx.verify_signature()
    back = Transaction.decode(tx.encode())
    assert back.tx_id == tx.tx_id and back == tx
    back.verify_signature()
    forged = Transaction.from_wire({**tx.to_wire(), "nonce": 2})
    with pytest.raises(InvalidTransaction):
        forged.verify_signature()
    js = Transaction.from_wire(tx.to_json())
    assert js.tx_id == tx.tx_id


_IDENT = crypto.Identity.from_seed_text("wire")
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.text(max_size=20),
                    st.binary(max_size=20))
_value = st.recursive(_scalar, lambda c: st.one_of(
    st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(args=st.dictionaries(st.text(max_size=10), _value, max_size=5),
       nonce=st.integers(0, 2**63 - 1), method=st.text(min_size=1, max_size=64))
def test_wire_bytes_are_the_canonical_encoding_and_carry_the_id(args, nonce, method):
    tx = Transaction.create(_IDENT, "chain-w", nonce, "settlement", method, args)
    wire = tx.encode()
    assert wire == codec.encode(tx.to_wire())  # derived from the body, the same bytes
    assert Transaction.wire_id(wire) == tx.tx_id
    assert Transaction.decode(wire) == tx


def test_wire_id_of_other_layouts_is_none():
    tx = Transaction.create(_IDENT, "c", 1, "settlement", "transfer", {"amount": 1})
    assert Transaction.wire_id(b"") is None
    assert Transaction.wire_id(codec.encode(tx.body_dict())) is None  # unsigned body
    assert Transaction.wire_id(tx.encode()[:-1]) is None
    unsigned = Transaction("c", _IDENT.public_key, 1, "settlement", "transfer", {})
    assert unsigned.encode() == codec.encode(unsigned.to_wire())  # the general path


def test_block_wire_carries_tx_bytes_and_reads_the_map_form_too():
    txs = tuple(Transaction.create(_IDENT, "c", n, "settlement", "transfer", {"amount": n})
                for n in (1, 2))
    h = BlockHeader("c", 1, 0, ZERO_HASH, ZERO_HASH, ZERO_HASH, ZERO_HASH, ZERO_HASH, 5,
                    _IDENT.public_key, 2)
    b = Block(h, txs)
    w = b.to_wire()
    assert w["txs"] == [t.encode() for t in txs]
    assert Block.from_wire(codec.decode(codec.encode(w))) == b
    # records written before decision 25 hold transactions as maps
    assert Block.from_wire({"header": h.to_wire(), "txs": [t.to_wire() for t in txs]}) == b
    # a known transaction is taken as it is; an unknown one is decoded
    seen = []

    def known(data):
        seen.append(data)
        return txs[0] if data == txs[0].encode() else None

    got = Block.from_wire(w, known)
    assert got.txs[0] is txs[0] and got == b and seen == w["txs"]
    with pytest.raises(InvalidMessage):
        Block.from_wire({"header": h.to_wire(), "txs": [b"\x87junk"]})


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("nonce"),
    lambda d: d.update(nonce=-1),
    lambda d: d.update(nonce=1.0),
    lambda d: d.update(args=[1]),
    lambda d: d.update(args={"x": 1.5}),
    lambda d: d.update(sender="zz"),
    lambda d: d.update(extra=1),
])
def test_tx_validation(mutate):
    ident = crypto.Identity.generate()
    d = Transaction.create(ident, "t", 1, "c", "m", {}).to_json()
    mutate(d)
    with pytest.raises(InvalidTransaction):
        Transaction.from_wire(d)


def test_certificate_counts_distinct_members():
    ids = [crypto.Identity.from_seed_text(f"v{i}") for i in range(4)]
    vs = ValidatorSet(tuple(i.public_key for i in ids))
    h = codec.sha256(b"block")
    msg = vote_message("c", "commit", 0, 7, h)
    votes = [Vote(i.public_key, i.sign("consensus", msg)) for i in ids[:3]]
    CommitCertificate("c", 7, 0, h, tuple(votes)).verify(vs, "c")
    with pytest.raises(InvalidMessage, match="twice"):
        CommitCertificate("c", 7, 0, h, (votes[0], votes[0], votes[1])).verify(vs)
    with pytest.raises(InvalidMessage, match="distinct"):
        CommitCertificate("c", 7, 0, h, (votes[0], votes[1])).verify(vs)
    outsider = crypto.Identity.generate()
    with pytest.raises(InvalidMessage):
        CommitCertificate("c", 7, 0, h, (*votes[:2], Vote(outsider.public_key, outsider.sign("consensus", msg)))).verify(vs)
    with pytest.raises(InvalidMessage):  # replay into another view
        CommitCertificate("c", 7, 1, h, tuple(votes)).verify(vs)
    with pytest.raises(InvalidMessage):
        CommitCertificate("c", 7, 0, h, tuple(votes)).verify(vs, "other-chain")
    cert = CommitCertificate("c", 7, 0, h, tuple(votes))
    assert CommitCertificate.from_wire(codec.decode(codec.encode(cert.to_wire()))) == CommitCertificate("c", 7, 0, h, tuple(sorted(votes, key=lambda v: v.validator)))


def test_quorum_intersection_holds_for_all_n():
    from chainfin.consensus.quorum import max_faulty
    for n in range(1, 101):
        q, f = quorum(n), max_faulty(n)
        assert 2 * q - n >= f + 1  # two quorums share an honest validator
        assert q <= n - f  # liveness: the honest ones alone form a quorum
