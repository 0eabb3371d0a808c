"""Authenticated peer links between validators: aiohttp websockets, one per peer pair.

Who dials
    The node with the lexicographically lower Ed25519 public key dials, the other accepts. Both
    sides derive the same rule from the same keys, so exactly one link exists per pair and no
    tie-break is needed. If an authenticated connection arrives from a peer that already has a
    link, the newest one wins (the peer restarted and the old socket is half dead).

Handshake (websocket binary messages, canonical msgpack, ``HANDSHAKE_TIMEOUT`` seconds in all)
    1. dialer -> acceptor  HELLO  {v, chain_id, pubkey: D, nonce: Nd, eph: Ed}
    2. acceptor -> dialer  HELLO  {v, chain_id, pubkey: A, nonce: Na, eph: Ea,
                                   sig: Sign_A("handshake", [H, "acceptor", A])}
    3. dialer -> acceptor  AUTH   {sig: Sign_D("handshake", [H, "dialer", D])}
    where H = SHA-256(canonical [PROTOCOL, chain_id, D, A, Nd, Na, Ed, Ea]). Nonces are 32 random
    bytes, Ed/Ea fresh X25519 public keys. The acceptor refuses a D that is not one of its peers
    (counted ``dropped_unknown_peer``); the dialer refuses an A other than the key it dialed. Each
    signature covers the other side's fresh nonce, so neither can be replayed into another session.
    Session keys: HKDF-SHA256(X25519(e, E'), salt=H, info=PROTOCOL) -> 64 bytes, split into the
    dialer->acceptor key and the acceptor->dialer key (one key per direction: no reflection).

Frames
    One websocket message = ``body || mac``; ``body`` = canonical msgpack ``[seq, [[kind,
    payload], ...]]`` (an envelope: frames queued in one loop iteration travel together) and
    ``mac`` = keyed BLAKE2b-128 of ``body`` under the direction's session key. ``seq`` starts at 1
    and must strictly increase per direction (replay protection). A MAC over a key that only the
    two handshake parties hold binds every frame to the proven validator key as firmly as an
    Ed25519 signature per frame would, at a fraction of the cost. Messages that fail the MAC, do
    not decode (``chainfin.codec.decode``: bounded), replay a seq or exceed ``max_frame`` are
    dropped and counted; after ``max_bad_frames`` such messages the link is closed.

Delivery is at most once: frames queued for a peer (bounded, oldest dropped first) survive a
reconnect; frames in flight when a link dies are lost. Consensus retransmits what matters.

TLS (``server_ssl`` / ``client_ssl``, built by :mod:`node.tls` when the node's config has ``tls``)
    Links then run over mutual TLS with the consortium CA as the only trust root, *under* the
    handshake above (which stays: it proves the validator key and keys the frame MACs). A
    certificate names its validator key (SAN URI ``chainfin:node:<hex>``); the dialer refuses a
    peer whose certificate names another key than the one it dials (before sending anything),
    the acceptor one whose certificate names another key than its HELLO (both counted
    ``dropped_cert_mismatch``). A failed TLS handshake (a plain-TCP client, no certificate, one
    from another CA) counts ``tls_handshakes_failed`` and ``handshakes_failed`` on either side;
    the listener learns of it through :func:`node.tls.count_handshake_failures`, which this
    transport installs on ``server_ssl`` (so give each transport its own server context).

The payload of one frame is at most ``max_payload`` = min(codec.MAX_BIN, max_frame - 1 KiB)
bytes (2 MiB with the defaults); larger payloads are refused by :meth:`Transport.send` (logged
and counted ``dropped_oversized_out``): chunk block fetches above that.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import logging
import os
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chainfin import codec, crypto
from chainfin.errors import ChainfinError, CodecError
from node import tls

__all__ = [
    "Transport",
    "RequestError",
    "RequestTimeout",
    "PROTOCOL",
    "STAT_NAMES",
]

log = logging.getLogger("chainfin.transport")

PROTOCOL = "chainfin-p2p/1"
PATH = "/p2p"
MAC_LEN = 16
HANDSHAKE_TIMEOUT = 5.0
_HANDSHAKE_MAX = 1024  # bytes of one handshake message
_MAX_KIND = 64
_MAX_PENDING_HANDSHAKES = 32  # x the websocket message limit bounds pre-auth memory
_MAX_INFLIGHT_REQUESTS = 64  # per peer, requests it sent us that are being served
_BATCH_BYTES = 1024 * 1024
_WS_SLACK = 64 * 1024  # messages up to max_frame + this are read, counted and dropped
_BATCH_ITEMS = 4096
_ITEM_OVERHEAD = 16  # msgpack array/str/bin headers of one [kind, payload]

#: Every counter in :attr:`Transport.stats`, all present from the start (for /metrics).
STAT_NAMES = (
    "frames_in",
    "frames_out",
    "envelopes_in",
    "envelopes_out",
    "bytes_in",
    "bytes_out",
    "dropped_bad_mac",
    "dropped_malformed",
    "dropped_oversized",
    "dropped_replay",
    "dropped_unsolicited_response",
    "dropped_unknown_peer",
    "dropped_queue_full",
    "dropped_no_peer",
    "dropped_oversized_out",
    "handshakes_ok",
    "handshakes_failed",
    "tls_handshakes_failed",
    "dropped_cert_mismatch",
    "connects",
    "reconnects",
    "disconnects",
    "disconnects_bad_peer",
    "dial_failures",
    "requests_out",
    "requests_in",
    "requests_failed",
    "requests_refused",
    "handler_errors",
)

OnFrame = Callable[[bytes, str, bytes], None]
RequestHandler = Callable[[bytes, bytes], Awaitable[bytes]]


class RequestError(ChainfinError):
    """A request to a peer failed: not connected, link lost, or the peer answered with an error."""


class RequestTimeout(RequestError, TimeoutError):
    """No response within the timeout."""


class _HandshakeError(Exception):
    def __init__(self, message: str, stat: str = "handshakes_failed") -> None:
        super().__init__(message)
        self.stat = stat


def _short(key: bytes) -> str:
    return key.hex()[:12]


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "timed out"
    return str(e) or type(e).__name__


def _transcript_hash(chain_id: str, dialer: bytes, acceptor: bytes, n_d: bytes, n_a: bytes,
                     e_d: bytes, e_a: bytes) -> bytes:
    return codec.hash_value([PROTOCOL, chain_id, dialer, acceptor, n_d, n_a, e_d, e_a])


def _auth_message(th: bytes, role: str, signer: bytes) -> bytes:
    return codec.encode([th, role, signer])


def _session_keys(eph: X25519PrivateKey, peer_eph: bytes, th: bytes) -> tuple[bytes, bytes]:
    """(dialer->acceptor key, acceptor->dialer key)."""
    try:
        shared = eph.exchange(X25519PublicKey.from_public_bytes(peer_eph))
    except ValueError as e:  # wrong length or a low-order point (all-zero shared secret)
        raise _HandshakeError(f"bad ephemeral key: {e}") from e
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=th, info=PROTOCOL.encode()).derive(shared)
    return okm[:32], okm[32:]


def _mac(key: bytes, body: bytes) -> bytes:
    return hashlib.blake2b(body, key=key, digest_size=MAC_LEN).digest()


def _is_tls_error(e: BaseException) -> bool:
    """A dial failed in the TLS handshake (our side refused, or the peer sent an alert)."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ssl.SSLError | aiohttp.ClientSSLError):
            return True
        seen.add(id(cur))
        cur = getattr(cur, "os_error", None) or cur.__cause__ or cur.__context__
    return False


def _eph_public(eph: X25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _bytes_field(d: dict[str, Any], name: str, size: int) -> bytes:
    v = d.get(name)
    if not isinstance(v, bytes) or len(v) != size:
        raise _HandshakeError(f"handshake field {name} must be {size} bytes")
    return v


class _Link:
    """One authenticated websocket to one peer."""

    __slots__ = ("peer", "ws", "k_out", "k_in", "send_seq", "recv_seq", "bad_frames", "writer",
                 "handler_tasks", "pending", "closed")

    def __init__(self, peer: _Peer, ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                 k_out: bytes, k_in: bytes) -> None:
        self.peer = peer
        self.ws = ws
        self.k_out = k_out
        self.k_in = k_in
        self.send_seq = 0
        self.recv_seq = 0
        self.bad_frames = 0
        self.writer: asyncio.Task[None] | None = None
        self.handler_tasks: set[asyncio.Task[None]] = set()
        self.pending: set[int] = set()  # ids of our requests sent while this link was up
        self.closed = False

    def seal(self, seq: int, items: list[list[Any]]) -> bytes:
        """``body || mac`` of one envelope (tests use it to craft frames)."""
        body = codec.encode([seq, items])
        return body + _mac(self.k_out, body)


@dataclass(eq=False)
class _Peer:
    key: bytes
    address: str
    queue: collections.deque[tuple[str, bytes]] = field(default_factory=collections.deque)
    queued_bytes: int = 0
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    link: _Link | None = None
    dialer: asyncio.Task[None] | None = None
    ever_connected: bool = False


class Transport:
    """Peer links of one validator.

    ``peers`` maps each other validator's Ed25519 public key to its ``"host:port"`` p2p address.
    ``on_frame(sender_pubkey, kind, payload)`` is called on the event loop for every authenticated
    frame, in order per peer; it must not block (enqueue and return). Kinds starting with ``_``
    are reserved for the transport (request/response).

    Not thread-safe: use it from the event loop it was started on.
    """

    def __init__(
        self,
        identity: crypto.Identity,
        chain_id: str,
        host: str,
        port: int,
        peers: dict[bytes, str],
        on_frame: OnFrame,
        *,
        max_queue: int = 10_000,
        max_queue_bytes: int = 32 * 2**20,
        max_frame: int = 4 * 2**20,
        max_bad_frames: int = 32,
        backoff_min: float = 0.1,
        backoff_max: float = 5.0,
        heartbeat: float | None = 5.0,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_frame < 4096 or max_frame > codec.MAX_FRAME:
            raise ValueError(f"max_frame must be within 4096..{codec.MAX_FRAME}")
        self.identity = identity
        self.public_key = identity.public_key
        self.chain_id = chain_id
        self.host = host
        self.port = port
        self._on_frame = on_frame
        self._max_queue = max_queue
        self._max_queue_bytes = max_queue_bytes
        self._max_frame = max_frame
        self._max_payload = min(codec.MAX_BIN, max_frame - 1024)
        self._batch_bytes = min(_BATCH_BYTES, self._max_payload)
        self._max_bad = max_bad_frames
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._heartbeat = heartbeat
        self._server_ssl = server_ssl
        self._client_ssl = client_ssl
        if server_ssl is not None:
            tls.count_handshake_failures(server_ssl, self._on_tls_failure)
        self._rng = rng or random.Random()
        self._peers: dict[bytes, _Peer] = {}
        self._handlers: dict[str, RequestHandler] = {}
        self._requests: dict[int, tuple[bytes, asyncio.Future[bytes]]] = {}
        self._next_request = 0
        self._pending_handshakes = 0
        self._bg: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._running = False
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        for key, address in peers.items():
            if key != self.public_key:
                self._add_peer(key, address)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen on ``host:port`` (``port`` 0 picks a free one; :attr:`port` then holds it) and
        start dialing the peers this node dials."""
        if self._running:
            return
        app = web.Application()
        app.router.add_get(PATH, self._accept)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self._server_ssl,
                           reuse_address=True)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=HANDSHAKE_TIMEOUT))
        self._running = True
        for peer in self._peers.values():
            self._maybe_dial(peer)
        log.info("p2p listening on %s:%d as %s", self.host, self.port, _short(self.public_key))

    async def stop(self) -> None:
        """Close every link, stop dialing and listening; pending requests fail."""
        if not self._running:
            return
        self._running = False
        for peer in list(self._peers.values()):
            await self._close_peer(peer)
        for _, fut in list(self._requests.values()):
            if not fut.done():
                fut.set_exception(RequestError("transport stopped"))
        self._requests.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # ------------------------------------------------------------------ peers

    def set_peers(self, peers: dict[bytes, str]) -> None:
        """The validator set changed: link to new peers, drop removed ones, follow new addresses.
        This node's own key may be in ``peers``: it is skipped."""
        for key in [k for k in self._peers if k not in peers]:
            peer = self._peers.pop(key)
            if peer.dialer is not None or peer.link is not None:
                task = asyncio.get_running_loop().create_task(self._close_peer(peer))
                self._bg.add(task)
                task.add_done_callback(self._bg.discard)
        for key, address in peers.items():
            if key == self.public_key:
                continue  # a validator set includes this node itself
            if key in self._peers:
                self._peers[key].address = address
            else:
                peer = self._add_peer(key, address)
                if self._running:
                    self._maybe_dial(peer)

    def _add_peer(self, key: bytes, address: str) -> _Peer:
        if len(key) != 32:
            raise ValueError("a peer key is a 32-byte Ed25519 public key")
        if key == self.public_key:
            raise ValueError("a node is not its own peer")
        peer = _Peer(key, address)
        self._peers[key] = peer
        return peer

    def connected(self) -> list[bytes]:
        """Public keys of the peers with an authenticated link, sorted."""
        return sorted(k for k, p in self._peers.items() if p.link is not None)

    def peers(self) -> list[bytes]:
        return sorted(self._peers)

    def queue_sizes(self) -> dict[bytes, int]:
        """Frames waiting per peer (a gauge for /metrics)."""
        return {k: len(p.queue) for k, p in self._peers.items()}

    def dials(self, key: bytes) -> bool:
        """True when this node is the one that dials ``key`` (the lower public key dials)."""
        return self.public_key < key

    # ------------------------------------------------------------------ sending

    def send(self, to: bytes, kind: str, payload: bytes) -> None:
        """Queue one frame for ``to``. Never blocks; never raises for a disconnected or unknown peer
        (counted). When the peer's queue is full the oldest frame is dropped."""
        if len(kind) > _MAX_KIND or kind.startswith("_"):
            raise ValueError(f"frame kind {kind!r} is reserved or too long")
        peer = self._peers.get(to)
        if peer is None:
            self.stats["dropped_no_peer"] += 1
            return
        self._enqueue(peer, kind, payload)

    def broadcast(self, kind: str, payload: bytes) -> None:
        """Queue one frame for every peer."""
        for key in self._peers:
            self.send(key, kind, payload)

    def _enqueue(self, peer: _Peer, kind: str, payload: bytes) -> bool:
        size = len(payload)
        if size > self._max_payload:
            self.stats["dropped_oversized_out"] += 1
            log.error("refusing to send a %s frame of %d bytes to %s (limit %d)", kind, size,
                      _short(peer.key), self._max_payload)
            return False
        q = peer.queue
        while q and (len(q) >= self._max_queue or peer.queued_bytes + size > self._max_queue_bytes):
            _, old = q.popleft()
            peer.queued_bytes -= len(old)
            self.stats["dropped_queue_full"] += 1
        q.append((kind, bytes(payload)))
        peer.queued_bytes += size
        peer.wakeup.set()
        return True

    # ------------------------------------------------------------------ request / response

    def set_request_handler(self, kind: str, handler: RequestHandler) -> None:
        """Serve requests of ``kind``: ``await handler(sender_pubkey, payload) -> response``.
        A handler that raises answers the requester with an error (its message, not a traceback)."""
        self._handlers[kind] = handler

    async def request(self, to: bytes, kind: str, payload: bytes, timeout: float) -> bytes:
        """Ask ``to`` and wait for its answer.

        Raises:
            RequestError: the peer is unknown or not connected, the link dropped, or the peer's
                handler failed (its message is the error's).
            RequestTimeout: no answer within ``timeout`` seconds.
        """
        peer = self._peers.get(to)
        link = peer.link if peer is not None else None
        if peer is None or link is None:
            raise RequestError(f"peer {_short(to)} is not connected")
        self._next_request += 1
        rid = self._next_request
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._requests[rid] = (to, fut)
        link.pending.add(rid)
        self.stats["requests_out"] += 1
        try:
            if not self._enqueue(peer, "_req", codec.encode([rid, kind, payload])):
                raise RequestError(f"request of {len(payload)} bytes is too large")
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError as e:
            self.stats["requests_failed"] += 1
            raise RequestTimeout(
                f"{kind} request to {_short(to)} timed out after {timeout}s") from e
        except RequestError:
            self.stats["requests_failed"] += 1
            raise
        finally:
            self._requests.pop(rid, None)
            link.pending.discard(rid)

    async def _serve_request(self, link: _Link, rid: int, kind: str, payload: bytes) -> None:
        handler = self._handlers.get(kind)
        try:
            if handler is None:
                raise RequestError(f"no handler for {kind!r}")
            result = await handler(link.peer.key, payload)
            if not isinstance(result, bytes | bytearray):
                raise TypeError(f"request handler for {kind!r} returned {type(result).__name__}")
            if len(result) > self._max_payload - 256:
                raise RequestError(f"response of {len(result)} bytes is too large")
            answer = codec.encode([rid, 0, bytes(result)])
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if not isinstance(e, ChainfinError):
                self.stats["handler_errors"] += 1
                log.exception("request handler for %r failed", kind)
            answer = codec.encode([rid, 1, str(e)[:500]])
        if link.peer.link is link:
            self._enqueue(link.peer, "_resp", answer)

    def _on_response(self, sender: bytes, payload: bytes) -> None:
        msg = codec.decode(payload)
        if (not isinstance(msg, list) or len(msg) != 3 or type(msg[0]) is not int
                or msg[1] not in (0, 1)):
            raise CodecError("bad response")
        rid, status, body = msg
        entry = self._requests.get(rid)
        if entry is None or entry[0] != sender:
            self.stats["dropped_unsolicited_response"] += 1  # late (timed out) or not ours
            return
        fut = entry[1]
        if fut.done():
            return
        if status == 0 and isinstance(body, bytes):
            fut.set_result(body)
        else:
            fut.set_exception(RequestError(f"peer {_short(sender)} answered: {body}"))

    # ------------------------------------------------------------------ dialing

    def _maybe_dial(self, peer: _Peer) -> None:
        if self.dials(peer.key) and (peer.dialer is None or peer.dialer.done()):
            peer.dialer = asyncio.get_running_loop().create_task(self._dial_loop(peer))

    async def _dial_loop(self, peer: _Peer) -> None:
        attempt = 0
        while self._running and self._peers.get(peer.key) is peer:
            try:
                if await self._dial_once(peer):
                    attempt = 0  # a healthy link ended: reconnect promptly
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stats["dial_failures"] += 1
                if self._client_ssl is not None and _is_tls_error(e):
                    self._on_tls_failure(e, peer.address)
                else:
                    log.debug("dial %s at %s failed: %s", _short(peer.key), peer.address, e)
            if not self._running or self._peers.get(peer.key) is not peer:
                return
            delay = min(self._backoff_max, self._backoff_min * 2**attempt)
            attempt = min(attempt + 1, 30)
            await asyncio.sleep(delay * (0.5 + self._rng.random() / 2))

    async def _dial_once(self, peer: _Peer) -> bool:
        """One connection attempt; True when a link was up and ended without misbehaviour."""
        assert self._session is not None
        host, _, port = peer.address.rpartition(":")
        scheme = "https" if self._client_ssl is not None else "http"
        url = f"{scheme}://{host}:{port}{PATH}"
        ws = await self._session.ws_connect(
            url, max_msg_size=self._max_frame + _WS_SLACK, heartbeat=self._heartbeat,
            ssl=self._client_ssl if self._client_ssl is not None else True,
            autoclose=True,
        )
        try:
            try:
                if self._client_ssl is not None:  # before we say anything to it
                    self._check_certificate(ws.get_extra_info("ssl_object"), peer.key)
                k_out, k_in = await asyncio.wait_for(self._dialer_handshake(ws, peer.key),
                                                     HANDSHAKE_TIMEOUT)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stats[getattr(e, "stat", "handshakes_failed")] += 1
                log.warning("handshake with %s at %s failed: %s", _short(peer.key), peer.address,
                            _describe(e))
                return False
            link = await self._run_link(peer, ws, k_out, k_in)
            return link is not None and link.bad_frames <= self._max_bad
        finally:
            await ws.close()

    async def _dialer_handshake(self, ws: aiohttp.ClientWebSocketResponse,
                                expected: bytes) -> tuple[bytes, bytes]:
        eph = X25519PrivateKey.generate()
        n_d, e_d = os.urandom(32), _eph_public(eph)
        await ws.send_bytes(codec.encode({"v": 1, "chain_id": self.chain_id,
                                          "pubkey": self.public_key, "nonce": n_d, "eph": e_d}))
        hello = await self._recv_handshake(ws)
        if hello.get("chain_id") != self.chain_id:
            raise _HandshakeError("peer is on another chain")
        a = _bytes_field(hello, "pubkey", 32)
        if a != expected:
            raise _HandshakeError(
                f"peer answered with key {_short(a)}, expected {_short(expected)}",
                "dropped_unknown_peer")
        n_a, e_a = _bytes_field(hello, "nonce", 32), _bytes_field(hello, "eph", 32)
        th = _transcript_hash(self.chain_id, self.public_key, a, n_d, n_a, e_d, e_a)
        crypto.verify(a, "handshake", _auth_message(th, "acceptor", a),
                      _bytes_field(hello, "sig", 64))
        k_d2a, k_a2d = _session_keys(eph, e_a, th)
        sig = self.identity.sign("handshake", _auth_message(th, "dialer", self.public_key))
        await ws.send_bytes(codec.encode({"sig": sig}))
        return k_d2a, k_a2d

    # ------------------------------------------------------------------ accepting

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        if not self._running or self._pending_handshakes >= _MAX_PENDING_HANDSHAKES:
            raise web.HTTPServiceUnavailable(text="busy")
        ws = web.WebSocketResponse(max_msg_size=self._max_frame + _WS_SLACK,
                                   heartbeat=self._heartbeat, compress=False)
        ssl_object = None if request.transport is None else \
            request.transport.get_extra_info("ssl_object")
        self._pending_handshakes += 1
        try:
            await ws.prepare(request)
            try:
                peer, k_out, k_in = await asyncio.wait_for(
                    self._acceptor_handshake(ws, ssl_object), HANDSHAKE_TIMEOUT)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stats[getattr(e, "stat", "handshakes_failed")] += 1
                log.warning("refused p2p connection from %s: %s", request.remote, _describe(e))
                with contextlib.suppress(Exception):
                    await ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION)
                return ws
        finally:
            self._pending_handshakes -= 1
        try:
            await self._run_link(peer, ws, k_out, k_in)
        finally:
            await ws.close()
        return ws

    async def _acceptor_handshake(self, ws: web.WebSocketResponse,
                                  ssl_object: Any = None) -> tuple[_Peer, bytes, bytes]:
        hello = await self._recv_handshake(ws)
        if hello.get("v") != 1:
            raise _HandshakeError("unsupported protocol version")
        if hello.get("chain_id") != self.chain_id:
            raise _HandshakeError("peer is on another chain")
        d = _bytes_field(hello, "pubkey", 32)
        peer = self._peers.get(d)
        if peer is None:
            raise _HandshakeError(f"key {_short(d)} is not a peer", "dropped_unknown_peer")
        if self.dials(d):
            raise _HandshakeError(
                f"{_short(d)} dialed, but the lower key {_short(self.public_key)} dials")
        if self._server_ssl is not None:
            self._check_certificate(ssl_object, d)
        n_d, e_d = _bytes_field(hello, "nonce", 32), _bytes_field(hello, "eph", 32)
        eph = X25519PrivateKey.generate()
        n_a, e_a = os.urandom(32), _eph_public(eph)
        th = _transcript_hash(self.chain_id, d, self.public_key, n_d, n_a, e_d, e_a)
        k_d2a, k_a2d = _session_keys(eph, e_d, th)
        sig = self.identity.sign("handshake", _auth_message(th, "acceptor", self.public_key))
        await ws.send_bytes(codec.encode({"v": 1, "chain_id": self.chain_id,
                                          "pubkey": self.public_key, "nonce": n_a, "eph": e_a,
                                          "sig": sig}))
        auth = await self._recv_handshake(ws)
        crypto.verify(d, "handshake", _auth_message(th, "dialer", d), _bytes_field(auth, "sig", 64))
        if self._peers.get(d) is not peer:
            raise _HandshakeError("peer was removed during the handshake", "dropped_unknown_peer")
        return peer, k_a2d, k_d2a

    # ------------------------------------------------------------------ TLS

    def _check_certificate(self, ssl_object: Any, expected: bytes) -> None:
        """The TLS peer's certificate must name ``expected`` (the validator key being proven)."""
        named = tls.peer_certificate_key(ssl_object)
        if named != expected:
            what = "no validator key" if named is None else f"key {_short(named)}"
            raise _HandshakeError(f"TLS certificate names {what}, the peer is {_short(expected)}",
                                  "dropped_cert_mismatch")

    def _on_tls_failure(self, e: BaseException, where: str = "a p2p client") -> None:
        self.stats["tls_handshakes_failed"] += 1
        self.stats["handshakes_failed"] += 1
        log.warning("TLS handshake with %s failed: %s", where, _describe(e))

    @staticmethod
    async def _recv_handshake(ws: Any) -> dict[str, Any]:
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise _HandshakeError("connection closed or not binary during the handshake")
        if len(msg.data) > _HANDSHAKE_MAX:
            raise _HandshakeError("handshake message too large")
        value = codec.decode(msg.data)
        if not isinstance(value, dict):
            raise _HandshakeError("handshake message is not a map")
        return value

    # ------------------------------------------------------------------ a live link

    async def _run_link(self, peer: _Peer, ws: Any, k_out: bytes, k_in: bytes) -> _Link | None:
        """Own ``ws`` as the link to ``peer`` until it closes."""
        if self._peers.get(peer.key) is not peer or not self._running:
            return None
        old = peer.link
        link = _Link(peer, ws, k_out, k_in)
        peer.link = link
        if old is not None:
            self._end_link(old)
            await old.ws.close()
        self.stats["handshakes_ok"] += 1
        self.stats["connects"] += 1
        if peer.ever_connected:
            self.stats["reconnects"] += 1
        peer.ever_connected = True
        log.info("p2p link up with %s (%s)", _short(peer.key),
                 "dialed" if self.dials(peer.key) else "accepted")
        link.writer = asyncio.get_running_loop().create_task(self._write_loop(link))
        try:
            await self._read_loop(link)
        finally:
            self._end_link(link)
            log.info("p2p link down with %s", _short(peer.key))
        return link

    def _end_link(self, link: _Link) -> None:
        if link.closed:
            return
        link.closed = True
        self.stats["disconnects"] += 1
        if link.writer is not None:
            link.writer.cancel()
        for t in link.handler_tasks:
            t.cancel()
        peer = link.peer
        if peer.link is link:
            peer.link = None
        for rid in list(link.pending):
            entry = self._requests.get(rid)
            if entry is not None and not entry[1].done():
                entry[1].set_exception(RequestError(f"link to {_short(peer.key)} was lost"))

    async def _write_loop(self, link: _Link) -> None:
        peer, ws = link.peer, link.ws
        try:
            while not link.closed:
                if not peer.queue:
                    peer.wakeup.clear()
                    await peer.wakeup.wait()
                    continue
                items: list[list[Any]] = []
                size = 0
                q = peer.queue
                while q and len(items) < _BATCH_ITEMS:
                    kind, payload = q[0]
                    sz = len(payload) + len(kind) + _ITEM_OVERHEAD
                    if items and size + sz > self._batch_bytes:
                        break
                    q.popleft()
                    peer.queued_bytes -= len(payload)
                    items.append([kind, payload])
                    size += sz
                link.send_seq += 1
                data = link.seal(link.send_seq, items)
                await ws.send_bytes(data)
                self.stats["envelopes_out"] += 1
                self.stats["frames_out"] += len(items)
                self.stats["bytes_out"] += len(data)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the socket died under us: the reader sees it too
            log.debug("write to %s failed: %s", _short(peer.key), e)
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read_loop(self, link: _Link) -> None:
        ws = link.ws
        while not link.closed:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                self._on_message(link, msg.data)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                              aiohttp.WSMsgType.CLOSED):
                return
            elif msg.type == aiohttp.WSMsgType.ERROR:
                if getattr(msg.data, "code", None) == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
                    self.stats["dropped_oversized"] += 1
                    self.stats["disconnects_bad_peer"] += 1
                return
            else:
                self._bad_frame(link, "dropped_malformed")
            if link.bad_frames > self._max_bad:
                self.stats["disconnects_bad_peer"] += 1
                log.warning("closing the link to %s after %d bad frames", _short(link.peer.key),
                            link.bad_frames)
                await ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION)
                return
            await asyncio.sleep(0)  # bound the work per loop iteration (TRAPS #15)

    def _bad_frame(self, link: _Link, stat: str) -> None:
        self.stats[stat] += 1
        link.bad_frames += 1

    def _on_message(self, link: _Link, data: bytes) -> None:
        self.stats["bytes_in"] += len(data)
        if len(data) > self._max_frame:
            return self._bad_frame(link, "dropped_oversized")
        if len(data) <= MAC_LEN:
            return self._bad_frame(link, "dropped_malformed")
        body, mac = data[:-MAC_LEN], data[-MAC_LEN:]
        if not hmac.compare_digest(_mac(link.k_in, body), mac):
            return self._bad_frame(link, "dropped_bad_mac")
        try:
            env = codec.decode(body)
        except CodecError:
            return self._bad_frame(link, "dropped_malformed")
        if (not isinstance(env, list) or len(env) != 2 or type(env[0]) is not int
                or not isinstance(env[1], list)):
            return self._bad_frame(link, "dropped_malformed")
        seq, items = env
        if seq <= link.recv_seq:
            return self._bad_frame(link, "dropped_replay")
        link.recv_seq = seq
        self.stats["envelopes_in"] += 1
        sender = link.peer.key
        for item in items:
            if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str)
                    or not isinstance(item[1], bytes)):
                self._bad_frame(link, "dropped_malformed")
                continue
            kind, payload = item
            self.stats["frames_in"] += 1
            if kind.startswith("_"):
                self._on_internal(link, kind, payload)
                continue
            try:
                self._on_frame(sender, kind, payload)
            except Exception:
                self.stats["handler_errors"] += 1
                log.exception("on_frame failed for a %r frame from %s", kind, _short(sender))

    def _on_internal(self, link: _Link, kind: str, payload: bytes) -> None:
        try:
            if kind == "_resp":
                self._on_response(link.peer.key, payload)
                return
            if kind != "_req":
                raise CodecError(f"unknown reserved kind {kind!r}")
            msg = codec.decode(payload)
            if (not isinstance(msg, list) or len(msg) != 3 or type(msg[0]) is not int
                    or not isinstance(msg[1], str) or not isinstance(msg[2], bytes)):
                raise CodecError("bad request")
        except CodecError:
            self._bad_frame(link, "dropped_malformed")
            return
        rid, rkind, body = msg
        self.stats["requests_in"] += 1
        if len(link.handler_tasks) >= _MAX_INFLIGHT_REQUESTS:
            self.stats["requests_refused"] += 1
            self._enqueue(link.peer, "_resp", codec.encode([rid, 1, "busy"]))
            return
        task = asyncio.get_running_loop().create_task(self._serve_request(link, rid, rkind, body))
        link.handler_tasks.add(task)
        task.add_done_callback(link.handler_tasks.discard)

    async def _close_peer(self, peer: _Peer) -> None:
        if peer.dialer is not None:
            peer.dialer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await peer.dialer
            peer.dialer = None
        link = peer.link
        if link is not None:
            self._end_link(link)
            with contextlib.suppress(Exception):
                await link.ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)
        peer.queue.clear()
        peer.queued_bytes = 0
