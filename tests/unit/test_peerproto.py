"""The peer handshake and frame checks without sockets (chainfin.peerproto): machines fed bytes."""

from __future__ import annotations

import ast
import hashlib
import random
import subprocess
import sys
from pathlib import Path

import pytest

import chainfin.peerproto
from chainfin import codec
from chainfin.crypto import Identity
from chainfin.peerproto import (
    MAC_LEN,
    Dropped,
    Envelope,
    Established,
    Failed,
    FrameChannel,
    Handshake,
    SessionKeys,
    TlsCertificate,
    mac,
)

CHAIN = "chainfin-test"
# sorted by public key: LOW dials, HIGH accepts; OTHER is a third validator
LOW, HIGH, OTHER = sorted((Identity.from_seed_text(f"wc{i}") for i in range(3)),
                          key=lambda i: i.public_key)

#: SHA-256 of the three handshake messages (LOW dials HIGH, randomness seeded 1 and 2), as the
#: transport before the sans-IO split wrote them (checked against it when this was introduced)
GOLDEN_TRANSCRIPT = "997b7d851e863702f7992e24cbbf284f6ef36ea2534a93e037324b812b5d9a6c"
#: SHA-256 of the first envelope LOW then seals to HIGH, as that transport sealed it
GOLDEN_ENVELOPE = "a1cd2d4b2b87876ff5519de0e0ecb3211be358a95a165a830aa80e0c95764a88"


def _rand(seed: int) -> random.Random:
    return random.Random(seed)


def dialer(seed: int = 1, *, me: Identity = LOW, to: Identity = HIGH, chain: str = CHAIN,
           certificate: TlsCertificate | None = None) -> Handshake:
    return Handshake.dialer(me, chain, to.public_key, _rand(seed).randbytes,
                            certificate=certificate)


def acceptor(seed: int = 2, *, me: Identity = HIGH, peers: tuple[Identity, ...] = (LOW, OTHER),
             chain: str = CHAIN, certificate: TlsCertificate | None = None) -> Handshake:
    return Handshake.acceptor(me, chain, {p.public_key for p in peers}, _rand(seed).randbytes,
                              certificate=certificate)


def run(d: Handshake, a: Handshake) -> tuple[list[bytes], Established | Failed | None,
                                             Established | Failed | None]:
    """Play the handshake to its end; the messages on the wire and each side's outcome."""
    wire: list[bytes] = []
    step, listener, other = d.start(), a, d
    outcome: dict[Handshake, Established | Failed | None] = {d: step.outcome, a: None}
    while step.send:
        wire.extend(step.send)
        step = listener.receive(step.send[0])
        outcome[listener] = step.outcome
        listener, other = other, listener
    return wire, outcome[d], outcome[a]


def reply_to(d: Handshake, a: Handshake) -> tuple[bytes, bytes]:
    """The dialer's HELLO and the acceptor's answer."""
    hello = d.start().send[0]
    return hello, a.receive(hello).send[0]


def refused(outcome: object, reason: str, stat: str = "handshakes_failed") -> None:
    assert isinstance(outcome, Failed), outcome
    assert reason in outcome.reason and outcome.stat == stat, outcome


# ------------------------------------------------------------------------------ handshake


def test_full_handshake_with_injected_randomness_is_deterministic_and_unchanged() -> None:
    wire, d_out, a_out = run(dialer(), acceptor())
    assert len(wire) == 3
    assert hashlib.sha256(b"".join(wire)).hexdigest() == GOLDEN_TRANSCRIPT
    assert isinstance(d_out, Established) and isinstance(a_out, Established)
    assert d_out.peer == HIGH.public_key and a_out.peer == LOW.public_key
    assert d_out.transcript == a_out.transcript
    # one key per direction, mirrored
    assert d_out.keys == SessionKeys(send=a_out.keys.receive, receive=a_out.keys.send)
    assert d_out.keys.send != d_out.keys.receive
    assert run(dialer(), acceptor())[0] == wire  # same randomness, same bytes
    assert run(dialer(seed=3), acceptor())[0][0] != wire[0]


def test_the_steps_of_each_side() -> None:
    d, a = dialer(), acceptor()
    assert a.start().send == () and a.peer is None
    hello = d.start()
    assert len(hello.send) == 1 and hello.outcome is None
    answer = a.receive(hello.send[0])
    assert len(answer.send) == 1 and answer.outcome is None and a.peer == LOW.public_key
    auth = d.receive(answer.send[0])
    assert len(auth.send) == 1 and isinstance(auth.outcome, Established) and d.done
    last = a.receive(auth.send[0])
    assert last.send == () and isinstance(last.outcome, Established) and a.done
    with pytest.raises(AssertionError):
        a.receive(auth.send[0])  # no input after an outcome


def test_non_member_is_refused() -> None:
    d = dialer(me=LOW)
    a = acceptor(peers=(OTHER,))
    step = a.receive(d.start().send[0])
    assert step.send == ()  # refused before saying anything
    refused(step.outcome, f"key {LOW.public_key.hex()[:12]} is not a peer", "dropped_unknown_peer")
    assert a.done


def test_wrong_validator_key_answering_is_refused_by_the_dialer() -> None:
    # LOW dials HIGH's address but OTHER answers there (a member too, with a valid handshake)
    d = dialer(to=HIGH)
    a = acceptor(me=OTHER, peers=(LOW,))
    _, answer = reply_to(d, a)
    step = d.receive(answer)
    assert step.send == ()
    refused(step.outcome, "peer answered with key", "dropped_unknown_peer")


def test_a_key_claimed_without_its_secret_is_refused() -> None:
    # OTHER answers claiming to be HIGH: its signature does not verify for HIGH's key
    d = dialer(to=HIGH)
    a = acceptor(me=OTHER, peers=(LOW,))
    _, answer = reply_to(d, a)
    forged = codec.encode({**codec.decode(answer), "pubkey": HIGH.public_key})
    refused(d.receive(forged).outcome, "bad handshake signature")
    # a dialer claiming LOW's key, signing with OTHER's
    impostor = Handshake.dialer(OTHER, CHAIN, HIGH.public_key, _rand(1).randbytes)
    hello = codec.decode(impostor.start().send[0])
    a = acceptor()
    answer = a.receive(codec.encode({**hello, "pubkey": LOW.public_key})).send[0]
    auth = impostor.receive(codec.encode({**codec.decode(answer), "pubkey": HIGH.public_key}))
    assert isinstance(auth.outcome, Failed)  # the impostor cannot check HIGH's signature either
    forged_auth = codec.encode({"sig": OTHER.sign("handshake", b"x")})
    refused(a.receive(forged_auth).outcome, "bad handshake signature")


@pytest.mark.parametrize("field", ["nonce", "eph", "chain_id"])
def test_tampered_hello_is_refused(field: str) -> None:
    d, a = dialer(), acceptor()
    hello, answer = reply_to(d, a)
    msg = codec.decode(answer)
    if field == "chain_id":
        refused(d.receive(codec.encode({**msg, field: "x"})).outcome, "peer is on another chain")
        return
    value = bytearray(msg[field])
    value[0] ^= 1
    refused(d.receive(codec.encode({**msg, field: bytes(value)})).outcome,
            "bad handshake signature")


def test_tampered_dialer_hello_fails_the_dialers_check() -> None:
    # a man in the middle changes the dialer's nonce: the acceptor signs a transcript the dialer
    # did not see, so the dialer refuses the answer
    d, a = dialer(), acceptor()
    hello = codec.decode(d.start().send[0])
    answer = a.receive(codec.encode({**hello, "nonce": b"\x00" * 32})).send[0]
    refused(d.receive(answer).outcome, "bad handshake signature")


def test_tampered_auth_is_refused() -> None:
    d, a = dialer(), acceptor()
    _, answer = reply_to(d, a)
    auth = bytearray(d.receive(answer).send[0])
    auth[-1] ^= 1
    refused(a.receive(bytes(auth)).outcome, "bad handshake signature")


def test_auth_replayed_into_another_session_is_refused() -> None:
    d, a = dialer(), acceptor()
    _, answer = reply_to(d, a)
    old_auth = d.receive(answer).send[0]
    d2, a2 = dialer(), acceptor(seed=9)  # same dialer bytes, the acceptor's nonce differs
    reply_to(d2, a2)
    refused(a2.receive(old_auth).outcome, "bad handshake signature")


def test_another_chain_is_refused_both_ways() -> None:
    d = dialer(chain="another-chain")
    refused(acceptor().receive(d.start().send[0]).outcome, "peer is on another chain")
    d = dialer()
    a = acceptor(chain="another-chain")
    hello = d.start().send[0]
    refused(a.receive(hello).outcome, "peer is on another chain")


def test_the_higher_key_dialing_is_refused() -> None:
    d = Handshake.dialer(HIGH, CHAIN, LOW.public_key, _rand(1).randbytes)
    a = acceptor(me=LOW, peers=(HIGH,))
    refused(a.receive(d.start().send[0]).outcome, "dialed, but the lower key")


def test_bad_version_size_shape_and_ephemeral_key_are_refused() -> None:
    hello = codec.decode(dialer().start().send[0])
    refused(acceptor().receive(codec.encode({**hello, "v": 2})).outcome,
            "unsupported protocol version")
    refused(acceptor().receive(b"\x00" * 1025).outcome, "handshake message too large")
    refused(acceptor().receive(codec.encode([1, 2])).outcome, "handshake message is not a map")
    refused(acceptor().receive(b"\xc1").outcome, "malformed frame")
    refused(acceptor().receive(codec.encode({**hello, "nonce": b"1"})).outcome,
            "handshake field nonce must be 32 bytes")
    refused(acceptor().receive(codec.encode({**hello, "eph": b"\x00" * 32})).outcome,
            "bad ephemeral key")  # a low-order point: an all-zero shared secret


def test_tls_certificate_must_name_the_proven_key() -> None:
    # the dialer checks before it sends anything
    step = dialer(certificate=TlsCertificate(OTHER.public_key)).start()
    assert step.send == ()
    refused(step.outcome, f"TLS certificate names key {OTHER.public_key.hex()[:12]}",
            "dropped_cert_mismatch")
    refused(dialer(certificate=TlsCertificate(None)).start().outcome,
            "TLS certificate names no validator key", "dropped_cert_mismatch")
    # the acceptor checks the key of the HELLO against the certificate the dialer showed
    a = acceptor(certificate=TlsCertificate(OTHER.public_key))
    step = a.receive(dialer().start().send[0])
    assert step.send == ()
    refused(step.outcome, "TLS certificate names key", "dropped_cert_mismatch")
    wire, d_out, a_out = run(dialer(certificate=TlsCertificate(HIGH.public_key)),
                             acceptor(certificate=TlsCertificate(LOW.public_key)))
    assert isinstance(d_out, Established) and isinstance(a_out, Established)
    assert hashlib.sha256(b"".join(wire)).hexdigest() == GOLDEN_TRANSCRIPT


# ------------------------------------------------------------------------------ frames


def channels(chain: str = CHAIN, max_frame: int = 4096) -> tuple[FrameChannel, FrameChannel]:
    _, d_out, a_out = run(dialer(chain=chain), acceptor(chain=chain))
    assert isinstance(d_out, Established) and isinstance(a_out, Established)
    return FrameChannel(d_out.keys, max_frame), FrameChannel(a_out.keys, max_frame)


def test_frames_round_trip_in_order() -> None:
    low, high = channels()
    first = low.seal([["c", b"1"], ["txs", b"\x00" * 5]])
    assert hashlib.sha256(first).hexdigest() == GOLDEN_ENVELOPE
    low.send_seq = 0
    for i in range(3):
        env = high.open(low.seal([["c", bytes([i])], ["txs", b"t"]]))
        assert env == Envelope(i + 1, [("c", bytes([i])), ("txs", b"t")])
    assert high.open(high.seal([["back", b""]])) == Dropped(
        "dropped_bad_mac", "the MAC does not match the session key")  # no reflection
    assert low.open(high.seal([["back", b""]])) == Envelope(2, [("back", b"")])  # seq 1 was sealed


def test_replayed_frame_is_refused() -> None:
    low, high = channels()
    data = low.seal([["c", b"1"]])
    assert isinstance(high.open(data), Envelope)
    dropped = high.open(data)
    assert isinstance(dropped, Dropped) and dropped.stat == "dropped_replay"
    assert dropped.reason == "seq 1 is not above 1"


def test_out_of_order_sequence_is_refused_and_jumps_are_allowed() -> None:
    low, high = channels()
    first, second = low.seal([["c", b"1"]]), low.seal([["c", b"2"]])
    assert high.open(second) == Envelope(2, [("c", b"2")])
    dropped = high.open(first)
    assert isinstance(dropped, Dropped) and dropped.stat == "dropped_replay"
    assert high.open(low.seal_at(1000, [["c", b"3"]])) == Envelope(1000, [("c", b"3")])
    assert high.recv_seq == 1000


def test_frame_for_another_chain_is_refused() -> None:
    # same identities and randomness on another chain: its session keys differ (H binds the
    # chain id), so its frames fail this session's MAC
    other_low, _ = channels(chain="chainfin-other")
    _, high = channels()
    dropped = high.open(other_low.seal([["c", b"1"]]))
    assert isinstance(dropped, Dropped) and dropped.stat == "dropped_bad_mac"
    assert high.recv_seq == 0


def dropped_as(out: Envelope | Dropped) -> str:
    assert isinstance(out, Dropped), out
    return out.stat


def test_tampered_forged_and_malformed_frames_are_refused_with_their_reason() -> None:
    low, high = channels(max_frame=4096)
    data = bytearray(low.seal([["c", b"payload"]]))
    data[3] ^= 1
    assert dropped_as(high.open(bytes(data))) == "dropped_bad_mac"
    body = codec.encode([5, [["c", b"x"]]])
    assert dropped_as(high.open(body + mac(b"k" * 32, body))) == "dropped_bad_mac"
    assert dropped_as(high.open(b"\x93" * MAC_LEN)) == "dropped_malformed"
    assert dropped_as(high.open(b"\x00" * 4097)) == "dropped_oversized"
    for value in ("not an envelope", [1], ["1", []], [1, "items"]):
        body = codec.encode(value)
        assert dropped_as(high.open(body + mac(low.keys.send, body))) == "dropped_malformed"
    body = b"\xc1"
    assert dropped_as(high.open(body + mac(low.keys.send, body))) == "dropped_malformed"
    assert high.recv_seq == 0  # nothing refused moved the sequence
    # bad items are skipped and counted, the good ones delivered in order
    env = high.open(low.seal([["a", b"1"], [1, b"x"], ["b"], ["c", "str"], ["d", b"4"]]))
    assert env == Envelope(2, [("a", b"1"), ("d", b"4")], bad_items=3)


# ------------------------------------------------------------------------------ no IO


def test_the_module_does_no_io_and_reads_no_clock_or_global_randomness() -> None:
    tree = ast.parse(Path(chainfin.peerproto.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"asyncio", "aiohttp", "socket", "ssl", "os", "time", "random",
                           "secrets", "node"}, imported
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, chainfin.peerproto; "
         "print(sorted({'asyncio', 'aiohttp', 'socket'} & set(sys.modules)))"],
        capture_output=True, text=True, check=True, timeout=60)
    assert loaded.stdout.strip() == "[]"
