import pytest

from chainfin import codec, crypto
from chainfin.consensus.quorum import quorum
from chainfin.errors import InvalidMessage, InvalidTransaction
from chainfin.types import (
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
