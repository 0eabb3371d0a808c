"""Authenticated peer links between validators: aiohttp websockets, one per peer pair.

Who dials
    The node with the lexicographically lower Ed25519 public key dials, the other accepts. Both
    sides derive the same rule from the same keys, so exactly one link exists per pair and no
    tie-break is needed. If an authenticated connection arrives from a peer that already has a
    link, the newest one wins (the peer restarted and the old socket is half dead).

Handshake and frames (:mod:`chainfin.peerproto`, which has the protocol and its rules)
    The handshake is a sans-IO state machine there: this module writes what
    :class:`~chainfin.peerproto.Handshake` returns and feeds it each websocket binary message
    (``HANDSHAKE_TIMEOUT`` seconds in all), draws its randomness from ``os.urandom``, and counts a
    refusal under the counter it names (``handshakes_failed``, ``dropped_unknown_peer``,
    ``dropped_cert_mismatch``). An authenticated link then seals and opens envelopes through a
    :class:`~chainfin.peerproto.FrameChannel`: ``body || mac`` with ``body`` = canonical msgpack
    ``[seq, [[kind, payload], ...]]`` (frames queued in one loop iteration travel together), a
    keyed BLAKE2b-128 MAC per direction and a strictly increasing ``seq``. A MAC over a key that
    only the two handshake parties hold binds every frame to the proven validator key as firmly
    as an Ed25519 signature per frame would, at a fraction of the cost. Messages that fail the
    MAC, do not decode (``chainfin.codec.decode``: bounded), replay a seq or exceed ``max_frame``
    are dropped and counted; after ``max_bad_frames`` such messages the link is closed.

Delivery is at most once: frames queued for a peer (bounded, oldest dropped first) survive a
reconnect; frames in flight when a link dies are lost. Consensus retransmits what matters; the
node resends its pending transactions to a peer whose link comes back
(:meth:`Transport.set_reconnect_handler`).

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
import logging
import os
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from time import thread_time
from typing import Any

import aiohttp
from aiohttp import web

from chainfin import codec, crypto, peerproto
from chainfin.errors import ChainfinError, CodecError
from chainfin.peerproto import PROTOCOL, FrameChannel, Handshake
from node import tls

__all__ = [
    "Transport",
    "RequestError",
    "RequestTimeout",
    "PROTOCOL",
    "STAT_NAMES",
]

log = logging.getLogger("chainfin.transport")

PATH = "/p2p"
HANDSHAKE_TIMEOUT = 5.0
_CLOSE_TIMEOUT = 5.0  # closing the links at stop (each ws close also has its own timeout)
_MAX_KIND = 64
# handshakes waiting at once (x the websocket message limit bounds pre-auth memory); one more
# connection evicts the oldest (_evict_oldest_handshake)
_MAX_PENDING_HANDSHAKES = 32
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
OnLinkUp = Callable[[bytes], None]
#: ``handler(peer_key, up)``: a peer's link came up (True) or was lost (False)
OnLinkState = Callable[[bytes, bool], None]
RequestHandler = Callable[[bytes, bytes], Awaitable[bytes]]


class RequestError(ChainfinError):
    """A request to a peer failed: not connected, link lost, or the peer answered with an error."""


class RequestTimeout(RequestError, TimeoutError):
    """No response within the timeout."""


class _HandshakeError(Exception):
    def __init__(self, message: str, stat: str = "handshakes_failed") -> None:
        super().__init__(message)
        self.stat = stat


_short = peerproto.short


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "timed out"
    return str(e) or type(e).__name__


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


def _exclusive(cpu: dict[str, float], stage: str, t0: float, s0: float) -> None:
    """Add to ``cpu[stage]`` the thread CPU since ``t0`` less what every stage gained since
    (``s0`` was their sum then): the time of the stages this work called into, or that ran
    while it waited, stays theirs."""
    cpu[stage] += max(0.0, (thread_time() - t0) - (sum(cpu.values()) - s0))


class _Link:
    """One authenticated websocket to one peer."""

    __slots__ = ("peer", "ws", "frames", "bad_frames", "writer", "handler_tasks", "pending",
                 "closed")

    def __init__(self, peer: _Peer, ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                 frames: FrameChannel) -> None:
        self.peer = peer
        self.ws = ws
        self.frames = frames  # seals, opens and checks this link's envelopes
        self.bad_frames = 0
        self.writer: asyncio.Task[None] | None = None
        self.handler_tasks: set[asyncio.Task[None]] = set()
        self.pending: set[int] = set()  # ids of our requests sent while this link was up
        self.closed = False


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
        cpu: dict[str, float] | None = None,
    ) -> None:
        """``cpu``: the node's CPU accounting by stage (``NodeMetrics.cpu``); when given, the
        transport adds the CPU of opening and dispatching what arrives (``p2p_in``) and of
        sealing and writing what leaves (``p2p_out``: the websocket frame, TLS, the socket
        write), each without the stages the work calls into (a frame's gossip is ``gossip_in``)."""
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
        self._on_reconnect: OnLinkUp | None = None
        self._on_link_state: OnLinkState | None = None
        self._requests: dict[int, tuple[bytes, asyncio.Future[bytes]]] = {}
        self._next_request = 0
        #: the accepted connections whose handshake is not done, oldest first
        self._handshaking: dict[web.WebSocketResponse, None] = {}
        self._bg: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._running = False
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        self._cpu = cpu
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
        closing = [asyncio.ensure_future(self._close_peer(p)) for p in self._peers.values()]
        if closing:  # together, and bounded: one link that does not close holds up no other
            _, late = await asyncio.wait(closing, timeout=_CLOSE_TIMEOUT)
            for t in late:
                log.warning("stop: the link close %r did not end in %.0f s", t, _CLOSE_TIMEOUT)
                t.cancel()
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
        return peerproto.dials(self.public_key, key)

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

    def set_reconnect_handler(self, handler: OnLinkUp | None) -> None:
        """Call ``handler(peer_key)`` on the event loop each time a link to a peer that was
        linked before comes up again. Frames in flight when the old link died (the socket's
        send buffer, bytes on the wire) are lost without a trace: the handler may resend what
        the node cannot afford to lose (consensus retransmits on its own timers; a
        transaction is gossiped once)."""
        self._on_reconnect = handler

    def set_link_state_handler(self, handler: OnLinkState | None) -> None:
        """Call ``handler(peer_key, up)`` on the event loop when a peer's link comes up and when
        it is lost (the peer's process died: RST/EOF; a heartbeat timeout; the network). A link
        replaced by a newer one to the same peer is not reported lost (decisions 198/199: the
        consensus engine gives up on a view whose primary's link stays lost)."""
        self._on_link_state = handler

    def _report_link(self, key: bytes, up: bool) -> None:
        if self._on_link_state is None:
            return
        try:
            self._on_link_state(key, up)
        except Exception:
            self.stats["handler_errors"] += 1
            log.exception("the link-state handler failed for %s", _short(key))

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
                certificate = None
                if self._client_ssl is not None:  # checked before we say anything to it
                    certificate = peerproto.TlsCertificate(
                        tls.peer_certificate_key(ws.get_extra_info("ssl_object")))
                hs = Handshake.dialer(self.identity, self.chain_id, peer.key, os.urandom,
                                      certificate=certificate)
                done = await asyncio.wait_for(self._handshake(ws, hs, hs.start()),
                                              HANDSHAKE_TIMEOUT)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stats[getattr(e, "stat", "handshakes_failed")] += 1
                log.warning("handshake with %s at %s failed: %s", _short(peer.key), peer.address,
                            _describe(e))
                return False
            link = await self._run_link(peer, ws, done.keys)
            return link is not None and link.bad_frames <= self._max_bad
        finally:
            await ws.close()

    # ------------------------------------------------------------------ accepting

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        if not self._running:
            raise web.HTTPServiceUnavailable(text="busy")
        ws = web.WebSocketResponse(max_msg_size=self._max_frame + _WS_SLACK,
                                   heartbeat=self._heartbeat, compress=False)
        ssl_object = None if request.transport is None else \
            request.transport.get_extra_info("ssl_object")
        if len(self._handshaking) >= _MAX_PENDING_HANDSHAKES:
            self._evict_oldest_handshake()
        self._handshaking[ws] = None
        try:
            await ws.prepare(request)
            try:
                peer, keys = await asyncio.wait_for(self._acceptor_handshake(ws, ssl_object),
                                                    HANDSHAKE_TIMEOUT)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stats[getattr(e, "stat", "handshakes_failed")] += 1
                log.warning("refused p2p connection from %s: %s", request.remote, _describe(e))
                with contextlib.suppress(Exception):
                    await ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION)
                return ws
        finally:
            self._handshaking.pop(ws, None)
        try:
            await self._run_link(peer, ws, keys)
        finally:
            await ws.close()
        return ws

    def _evict_oldest_handshake(self) -> None:
        """Close the connection that has waited longest for its handshake to make room for a
        new one. Refusing the new one instead let anyone who reaches the port keep every
        validator out with ``_MAX_PENDING_HANDSHAKES`` idle connections, opened again as they
        time out; now it must open that many within one honest handshake (a round trip). The
        evicted handshake fails as a closed connection does (``handshakes_failed``)."""
        oldest = next(iter(self._handshaking))
        del self._handshaking[oldest]

        async def close() -> None:
            with contextlib.suppress(Exception):  # (not prepared yet: it was not waiting)
                await oldest.close(code=aiohttp.WSCloseCode.TRY_AGAIN_LATER)

        task = asyncio.get_running_loop().create_task(close())
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def _acceptor_handshake(self, ws: web.WebSocketResponse, ssl_object: Any = None
                                  ) -> tuple[_Peer, peerproto.SessionKeys]:
        certificate = None
        if self._server_ssl is not None:
            certificate = peerproto.TlsCertificate(tls.peer_certificate_key(ssl_object))
        hs = Handshake.acceptor(self.identity, self.chain_id, self._peers, os.urandom,
                                certificate=certificate)
        step = hs.receive(await self._recv_handshake(ws))  # the dialer's HELLO
        peer = self._peers.get(hs.peer) if hs.peer is not None else None  # a member, if it passed
        done = await self._handshake(ws, hs, step)
        if peer is None or self._peers.get(done.peer) is not peer:
            raise _HandshakeError("peer was removed during the handshake", "dropped_unknown_peer")
        return peer, done.keys

    async def _handshake(self, ws: Any, hs: Handshake, step: peerproto.Step
                         ) -> peerproto.Established:
        """Write what the machine returns and feed it what the peer says, until an outcome.

        Raises:
            _HandshakeError: the machine refused (its reason and counter) or the socket closed.
        """
        while True:
            for data in step.send:
                await ws.send_bytes(data)
            if isinstance(step.outcome, peerproto.Failed):
                raise _HandshakeError(step.outcome.reason, step.outcome.stat)
            if isinstance(step.outcome, peerproto.Established):
                return step.outcome
            step = hs.receive(await self._recv_handshake(ws))

    # ------------------------------------------------------------------ TLS

    def _on_tls_failure(self, e: BaseException, where: str = "a p2p client") -> None:
        self.stats["tls_handshakes_failed"] += 1
        self.stats["handshakes_failed"] += 1
        log.warning("TLS handshake with %s failed: %s", where, _describe(e))

    @staticmethod
    async def _recv_handshake(ws: Any) -> bytes:
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise _HandshakeError("connection closed or not binary during the handshake")
        return bytes(msg.data)

    # ------------------------------------------------------------------ a live link

    async def _run_link(self, peer: _Peer, ws: Any, keys: peerproto.SessionKeys) -> _Link | None:
        """Own ``ws`` as the link to ``peer`` until it closes."""
        if self._peers.get(peer.key) is not peer or not self._running:
            return None
        old = peer.link
        link = _Link(peer, ws, FrameChannel(keys, self._max_frame))
        peer.link = link
        if old is not None:
            self._end_link(old)
            await old.ws.close()
        self.stats["handshakes_ok"] += 1
        self.stats["connects"] += 1
        reconnect = peer.ever_connected
        if reconnect:
            self.stats["reconnects"] += 1
        peer.ever_connected = True
        log.info("p2p link up with %s (%s)", _short(peer.key),
                 "dialed" if self.dials(peer.key) else "accepted")
        link.writer = asyncio.get_running_loop().create_task(self._write_loop(link))
        self._report_link(peer.key, True)
        if reconnect and self._on_reconnect is not None:
            try:
                self._on_reconnect(peer.key)
            except Exception:
                self.stats["handler_errors"] += 1
                log.exception("the reconnect handler failed for %s", _short(peer.key))
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
            self._report_link(peer.key, False)
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
                cpu = self._cpu
                if cpu is not None:
                    t0, s0 = thread_time(), sum(cpu.values())
                data = link.frames.seal(items)
                await ws.send_bytes(data)  # (suspends only when the socket's buffer is full)
                if cpu is not None:
                    _exclusive(cpu, "p2p_out", t0, s0)
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
                cpu = self._cpu
                if cpu is not None:
                    t0, s0 = thread_time(), sum(cpu.values())
                self._on_message(link, msg.data)
                if cpu is not None:
                    _exclusive(cpu, "p2p_in", t0, s0)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                              aiohttp.WSMsgType.CLOSED):
                return
            elif msg.type == aiohttp.WSMsgType.ERROR:
                # the websocket reader refused the stream (the peer's fault: an oversized
                # message, a reserved opcode, bad framing) or the socket failed (not counted)
                code = getattr(msg.data, "code", None)
                if code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
                    self.stats["dropped_oversized"] += 1
                    self.stats["disconnects_bad_peer"] += 1
                elif code is not None:
                    self.stats["dropped_malformed"] += 1
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
        env = link.frames.open(data)
        if isinstance(env, peerproto.Dropped):
            return self._bad_frame(link, env.stat)
        self.stats["envelopes_in"] += 1
        for _ in range(env.bad_items):
            self._bad_frame(link, "dropped_malformed")
        sender = link.peer.key
        for kind, payload in env.items:
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
