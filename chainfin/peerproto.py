"""The peer protocol without IO: the handshake as a state machine, frame sealing and opening.

Bytes in, bytes out (h11's idea): nothing here touches a socket, an event loop, the clock or the
global RNG. :mod:`node.transport` reads websocket messages, feeds them to a :class:`Handshake` or
a :class:`FrameChannel` and writes what they return; the handshake's deadline is the transport's.
Randomness (nonces, ephemeral X25519 secrets) comes from the ``randbytes`` the caller passes
(``os.urandom`` in the node, a seeded ``random.Random(...).randbytes`` in tests).

Handshake (canonical msgpack maps, at most ``HANDSHAKE_MAX`` bytes each)
    1. dialer -> acceptor  HELLO  {v, chain_id, pubkey: D, nonce: Nd, eph: Ed}
    2. acceptor -> dialer  HELLO  {v, chain_id, pubkey: A, nonce: Na, eph: Ea,
                                   sig: Sign_A("handshake", [H, "acceptor", A])}
    3. dialer -> acceptor  AUTH   {sig: Sign_D("handshake", [H, "dialer", D])}
    where H = SHA-256(canonical [PROTOCOL, chain_id, D, A, Nd, Na, Ed, Ea]). Nonces are 32 random
    bytes, Ed/Ea fresh X25519 public keys. The acceptor refuses a D that is not one of its peers,
    or that should have dialed (the lower key dials); the dialer refuses an A other than the key
    it dialed. Each signature covers the other side's fresh nonce, so neither can be replayed
    into another session. Session keys: HKDF-SHA256(X25519(e, E'), salt=H, info=PROTOCOL) -> 64
    bytes, split into the dialer->acceptor key and the acceptor->dialer key (one key per
    direction: a frame cannot be reflected to its sender). With TLS, the key the peer's
    certificate names must be the key the handshake proves.

Frames
    One websocket message = ``body || mac``; ``body`` = canonical msgpack ``[seq, [[kind,
    payload], ...]]`` and ``mac`` = keyed BLAKE2b-128 of ``body`` under the direction's session
    key. ``seq`` starts at 1 and must strictly increase per direction (it may jump): a replayed
    or reordered message is dropped. Session keys come from a transcript that includes the chain
    id, so a frame of another chain's session fails the MAC.

Every refusal names the transport counter it is counted under (``Failed.stat``,
``Dropped.stat``) and says why in words (``reason``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chainfin import codec, crypto
from chainfin.errors import CodecError, InvalidSignature

__all__ = [
    "PROTOCOL",
    "MAC_LEN",
    "HANDSHAKE_MAX",
    "Role",
    "TlsCertificate",
    "SessionKeys",
    "Established",
    "Failed",
    "Step",
    "Handshake",
    "Envelope",
    "Dropped",
    "FrameChannel",
    "dials",
    "mac",
    "short",
]

PROTOCOL = "chainfin-p2p/1"
MAC_LEN = 16
HANDSHAKE_MAX = 1024  # bytes of one handshake message
_VERSION = 1

RandBytes = Callable[[int], bytes]


class Role(Enum):
    DIALER = "dialer"
    ACCEPTOR = "acceptor"


def dials(own: bytes, other: bytes) -> bool:
    """True when the node with key ``own`` is the one that dials ``other``: the lower key dials,
    so both sides derive the same single link per pair without a tie-break."""
    return own < other


def short(key: bytes) -> str:
    """A key as people read it in logs and reasons."""
    return key.hex()[:12]


def mac(key: bytes, body: bytes) -> bytes:
    """The frame MAC: keyed BLAKE2b, ``MAC_LEN`` bytes."""
    return hashlib.blake2b(body, key=key, digest_size=MAC_LEN).digest()


# ---------------------------------------------------------------------------------- handshake


@dataclass(frozen=True, slots=True)
class TlsCertificate:
    """What the TLS layer says about the other side: the validator key its certificate names
    (``None``: it names none). Pass one to a :class:`Handshake` when the link runs over TLS."""

    key: bytes | None


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The MAC keys of one established link, from this side's point of view."""

    send: bytes
    receive: bytes


@dataclass(frozen=True, slots=True)
class Established:
    """The handshake succeeded: ``peer`` proved its validator key; frames use ``keys``."""

    peer: bytes
    keys: SessionKeys
    transcript: bytes  # H


@dataclass(frozen=True, slots=True)
class Failed:
    """The handshake is refused; ``stat`` is the transport counter it is counted under."""

    reason: str
    stat: str = "handshakes_failed"


@dataclass(frozen=True, slots=True)
class Step:
    """What one input produced: messages to write, in order, then the outcome if there is one
    (``None``: write ``send`` and wait for the next message)."""

    send: tuple[bytes, ...] = ()
    outcome: Established | Failed | None = None


class _Refuse(Exception):
    def __init__(self, reason: str, stat: str = "handshakes_failed") -> None:
        super().__init__(reason)
        self.failed = Failed(reason, stat)


def _transcript_hash(chain_id: str, dialer: bytes, acceptor: bytes, n_d: bytes, n_a: bytes,
                     e_d: bytes, e_a: bytes) -> bytes:
    return codec.hash_value([PROTOCOL, chain_id, dialer, acceptor, n_d, n_a, e_d, e_a])


def _auth_message(th: bytes, role: Role, signer: bytes) -> bytes:
    return codec.encode([th, role.value, signer])


def _session_keys(eph: X25519PrivateKey, peer_eph: bytes, th: bytes) -> tuple[bytes, bytes]:
    """(dialer->acceptor key, acceptor->dialer key)."""
    try:
        shared = eph.exchange(X25519PublicKey.from_public_bytes(peer_eph))
    except ValueError as e:  # wrong length or a low-order point (all-zero shared secret)
        raise _Refuse(f"bad ephemeral key: {e}") from e
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=th, info=PROTOCOL.encode()).derive(shared)
    return okm[:32], okm[32:]


def _bytes_field(d: dict[str, Any], name: str, size: int) -> bytes:
    v = d.get(name)
    if not isinstance(v, bytes) or len(v) != size:
        raise _Refuse(f"handshake field {name} must be {size} bytes")
    return v


def _decode(data: bytes) -> dict[str, Any]:
    if len(data) > HANDSHAKE_MAX:
        raise _Refuse("handshake message too large")
    value = codec.decode(data)
    if not isinstance(value, dict):
        raise _Refuse("handshake message is not a map")
    return value


class _State(Enum):
    START = "start"            # dialer: before start()
    WAIT_HELLO = "wait_hello"  # dialer: HELLO sent; acceptor: nothing received yet
    WAIT_AUTH = "wait_auth"    # acceptor: its HELLO sent
    DONE = "done"              # established or failed: no more input


class Handshake:
    """One side of one handshake. Build it with :meth:`dialer` or :meth:`acceptor`, call
    :meth:`start` once, then :meth:`receive` each message the other side sends until a
    :class:`Step` carries an outcome. Not thread-safe."""

    def __init__(self, role: Role, identity: crypto.Identity, chain_id: str,
                 randbytes: RandBytes, *, expected: bytes | None = None,
                 peers: Container[bytes] = (), certificate: TlsCertificate | None = None) -> None:
        if role is Role.DIALER and expected is None:
            raise ValueError("a dialer needs the key it dials")
        self.role = role
        self.identity = identity
        self.public_key = identity.public_key
        self.chain_id = chain_id
        self._randbytes = randbytes
        self._expected = expected
        self._peers = peers
        self._certificate = certificate
        self._state = _State.START if role is Role.DIALER else _State.WAIT_HELLO
        #: the other side's key once its HELLO passed the checks (not yet proven)
        self.peer: bytes | None = None
        self._ephemeral: X25519PrivateKey | None = None
        self._transcript = b""
        self._keys: tuple[bytes, bytes] | None = None
        self._own_hello: tuple[bytes, bytes] = (b"", b"")  # (nonce, eph public)

    @classmethod
    def dialer(cls, identity: crypto.Identity, chain_id: str, expected: bytes,
               randbytes: RandBytes, *, certificate: TlsCertificate | None = None) -> Handshake:
        """The side that connected, to prove ``expected``'s key."""
        return cls(Role.DIALER, identity, chain_id, randbytes, expected=expected,
                   certificate=certificate)

    @classmethod
    def acceptor(cls, identity: crypto.Identity, chain_id: str, peers: Container[bytes],
                 randbytes: RandBytes, *, certificate: TlsCertificate | None = None) -> Handshake:
        """The side that was connected to; ``peers`` are the keys it accepts (read at HELLO)."""
        return cls(Role.ACCEPTOR, identity, chain_id, randbytes, peers=peers,
                   certificate=certificate)

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    def start(self) -> Step:
        """The dialer's HELLO (checked against the TLS certificate before anything is sent);
        nothing for the acceptor, which speaks second."""
        if self.role is Role.ACCEPTOR:
            return Step()
        assert self._state is _State.START, "start() is called once, first"
        return self._run(self._dialer_hello)

    def receive(self, data: bytes) -> Step:
        """Feed one message from the other side.

        Raises:
            AssertionError: called before :meth:`start` or after an outcome (a caller bug).
        """
        if self._state is _State.WAIT_HELLO:
            if self.role is Role.DIALER:
                return self._run(lambda: self._dialer_on_hello(data))
            return self._run(lambda: self._acceptor_on_hello(data))
        if self._state is _State.WAIT_AUTH:
            return self._run(lambda: self._acceptor_on_auth(data))
        raise AssertionError(f"handshake input in state {self._state.value}")

    def _run(self, transition: Callable[[], Step]) -> Step:
        try:
            step = transition()
        except _Refuse as e:
            step = Step(outcome=e.failed)
        except (CodecError, InvalidSignature) as e:
            step = Step(outcome=Failed(str(e) or type(e).__name__))
        if step.outcome is not None:
            self._state = _State.DONE
            self._ephemeral = None
        return step

    def _check_certificate(self, expected: bytes) -> None:
        if self._certificate is None:
            return
        named = self._certificate.key
        if named != expected:
            what = "no validator key" if named is None else f"key {short(named)}"
            raise _Refuse(f"TLS certificate names {what}, the peer is {short(expected)}",
                          "dropped_cert_mismatch")

    def _fresh(self) -> tuple[bytes, bytes]:
        """A new ephemeral X25519 key and nonce; returns (nonce, eph public)."""
        self._ephemeral = X25519PrivateKey.from_private_bytes(self._randbytes(32))
        nonce = self._randbytes(32)
        eph_public = self._ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._own_hello = (nonce, eph_public)
        return self._own_hello

    # the dialer

    def _dialer_hello(self) -> Step:
        assert self._expected is not None
        self._check_certificate(self._expected)
        n_d, e_d = self._fresh()
        self._state = _State.WAIT_HELLO
        return Step(send=(codec.encode({"v": _VERSION, "chain_id": self.chain_id,
                                        "pubkey": self.public_key, "nonce": n_d, "eph": e_d}),))

    def _dialer_on_hello(self, data: bytes) -> Step:
        hello = _decode(data)
        if hello.get("chain_id") != self.chain_id:
            raise _Refuse("peer is on another chain")
        a = _bytes_field(hello, "pubkey", 32)
        expected = self._expected
        assert expected is not None
        if a != expected:
            raise _Refuse(f"peer answered with key {short(a)}, expected {short(expected)}",
                          "dropped_unknown_peer")
        n_a, e_a = _bytes_field(hello, "nonce", 32), _bytes_field(hello, "eph", 32)
        n_d, e_d = self._own_hello
        th = _transcript_hash(self.chain_id, self.public_key, a, n_d, n_a, e_d, e_a)
        crypto.verify(a, "handshake", _auth_message(th, Role.ACCEPTOR, a),
                      _bytes_field(hello, "sig", 64))
        assert self._ephemeral is not None
        k_d2a, k_a2d = _session_keys(self._ephemeral, e_a, th)
        sig = self.identity.sign("handshake", _auth_message(th, Role.DIALER, self.public_key))
        self.peer = a
        return Step(send=(codec.encode({"sig": sig}),),
                    outcome=Established(a, SessionKeys(send=k_d2a, receive=k_a2d), th))

    # the acceptor

    def _acceptor_on_hello(self, data: bytes) -> Step:
        hello = _decode(data)
        if hello.get("v") != _VERSION:
            raise _Refuse("unsupported protocol version")
        if hello.get("chain_id") != self.chain_id:
            raise _Refuse("peer is on another chain")
        d = _bytes_field(hello, "pubkey", 32)
        if d not in self._peers:
            raise _Refuse(f"key {short(d)} is not a peer", "dropped_unknown_peer")
        if dials(self.public_key, d):
            raise _Refuse(f"{short(d)} dialed, but the lower key {short(self.public_key)} dials")
        self._check_certificate(d)
        n_d, e_d = _bytes_field(hello, "nonce", 32), _bytes_field(hello, "eph", 32)
        n_a, e_a = self._fresh()
        th = _transcript_hash(self.chain_id, d, self.public_key, n_d, n_a, e_d, e_a)
        assert self._ephemeral is not None
        self._keys = _session_keys(self._ephemeral, e_d, th)
        self._ephemeral = None
        self._transcript = th
        sig = self.identity.sign("handshake",
                                 _auth_message(th, Role.ACCEPTOR, self.public_key))
        self.peer = d
        self._state = _State.WAIT_AUTH
        return Step(send=(codec.encode({"v": _VERSION, "chain_id": self.chain_id,
                                        "pubkey": self.public_key, "nonce": n_a, "eph": e_a,
                                        "sig": sig}),))

    def _acceptor_on_auth(self, data: bytes) -> Step:
        auth = _decode(data)
        d = self.peer
        assert d is not None and self._keys is not None
        crypto.verify(d, "handshake", _auth_message(self._transcript, Role.DIALER, d),
                      _bytes_field(auth, "sig", 64))
        k_d2a, k_a2d = self._keys
        return Step(outcome=Established(d, SessionKeys(send=k_a2d, receive=k_d2a), self._transcript))


# ---------------------------------------------------------------------------------- frames


@dataclass(frozen=True, slots=True)
class Envelope:
    """One opened message: its ``seq`` and its well-formed ``(kind, payload)`` items, in order;
    ``bad_items`` counts the items of it that were not ``[str, bytes]`` (skipped)."""

    seq: int
    items: list[tuple[str, bytes]]
    bad_items: int = 0


@dataclass(frozen=True, slots=True)
class Dropped:
    """A message refused whole; ``stat`` is the transport counter (``dropped_oversized``,
    ``dropped_malformed``, ``dropped_bad_mac``, ``dropped_replay``)."""

    stat: str
    reason: str


class FrameChannel:
    """The frame layer of one established link: seals what this side sends, opens and checks
    what it receives (MAC, shape, strictly increasing ``seq``). Not thread-safe."""

    __slots__ = ("keys", "max_frame", "send_seq", "recv_seq")

    def __init__(self, keys: SessionKeys, max_frame: int = codec.MAX_FRAME) -> None:
        self.keys = keys
        self.max_frame = max_frame
        self.send_seq = 0  # the last seq sealed by seal()
        self.recv_seq = 0  # the highest seq accepted by open()

    def seal(self, items: Sequence[Sequence[Any]]) -> bytes:
        """``body || mac`` of the next envelope of ``[kind, payload]`` items."""
        self.send_seq += 1
        return self.seal_at(self.send_seq, items)

    def seal_at(self, seq: int, items: Sequence[Sequence[Any]]) -> bytes:
        """``body || mac`` of an envelope with the given ``seq`` (no state changes: tests and the
        fuzzer use it to craft replays)."""
        body = codec.encode([seq, items])
        return body + mac(self.keys.send, body)

    def open(self, data: bytes) -> Envelope | Dropped:
        """Check one received message; on success ``recv_seq`` moves to its ``seq``."""
        if len(data) > self.max_frame:
            return Dropped("dropped_oversized", f"{len(data)} bytes, above {self.max_frame}")
        if len(data) <= MAC_LEN:
            return Dropped("dropped_malformed", "shorter than a MAC")
        body, tag = data[:-MAC_LEN], data[-MAC_LEN:]
        if not hmac.compare_digest(mac(self.keys.receive, body), tag):
            return Dropped("dropped_bad_mac", "the MAC does not match the session key")
        try:
            env = codec.decode(body)
        except CodecError as e:
            return Dropped("dropped_malformed", str(e))
        if (not isinstance(env, list) or len(env) != 2 or type(env[0]) is not int
                or not isinstance(env[1], list)):
            return Dropped("dropped_malformed", "not an envelope [seq, items]")
        seq, raw = env
        if seq <= self.recv_seq:
            return Dropped("dropped_replay", f"seq {seq} is not above {self.recv_seq}")
        self.recv_seq = seq
        items = [(it[0], it[1]) for it in raw
                 if isinstance(it, list) and len(it) == 2 and isinstance(it[0], str)
                 and isinstance(it[1], bytes)]
        return Envelope(seq, items, len(raw) - len(items))
