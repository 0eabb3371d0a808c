"""The load generator's lean clients: keep-alive HTTP/1.1 for ``POST /v1/tx?wait=commit``, one
WebSocket per node for ``/v1/tx/stream``, the reading of their answers, and the nodes' signed
``/metrics`` reads. Both clients speak TLS to https:// nodes."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from chainfin.client import signed_headers
from chainfin.crypto import Identity

_JSON_HEADERS = {"Content-Type": "application/json"}


class HttpError(Exception):
    """The lean client's transport failure (connection refused/lost, malformed answer)."""


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one request at a time, answer parsed in place."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        w = self.waiter
        if w is not None and not w.done():
            w.set_exception(HttpError(f"connection lost: {exc or 'closed by the node'}"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        w = self.waiter
        if w is None or w.done():
            return
        try:
            parsed = _parse_response(self.buf)
        except HttpError as e:
            w.set_exception(e)
            self.close()
            return
        if parsed is not None:
            status, body, keep = parsed
            self.keep_alive = keep
            self.buf.clear()
            w.set_result((status, body))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _parse_response(buf: bytearray) -> tuple[int, bytes, bool] | None:
    """(status, body, keep-alive) of a complete HTTP/1.1 response in ``buf``, None while it is
    incomplete. Content-Length and chunked bodies.

    Raises:
        HttpError: not an HTTP/1.x response.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > 65536:
            raise HttpError("response header too large")
        return None
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise HttpError(f"not an HTTP response: {head[0][:60]!r}")
    try:
        status = int(parts[1])
    except ValueError:
        raise HttpError(f"bad status line {head[0][:60]!r}") from None
    length: int | None = None
    chunked = False
    keep = parts[0] == "HTTP/1.1"
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection":
            keep = value.lower() != "close"
    start = end + 4
    if chunked:
        body = bytearray()
        pos = start
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            if len(buf) < eol + 2 + size + 2:
                return None
            if size == 0:
                return status, bytes(body), keep
            body += buf[eol + 2:eol + 2 + size]
            pos = eol + 2 + size + 2
    if length is None:
        raise HttpError("response without Content-Length")
    if len(buf) < start + length:
        return None
    return status, bytes(buf[start:start + length]), keep


class LeanClient:
    """Keep-alive HTTP/1.1 connections to a few ``host:port`` s for pre-built requests. About a
    quarter of aiohttp's client CPU per request: the load generator shares the cores with the
    nodes, so its cost is the measurement's. At most ``max_conns`` connections per address;
    more concurrent requests wait for one (and that wait counts against finality)."""

    def __init__(self, max_conns: int = 4096, ssl: Any = None) -> None:
        self.max_conns = max_conns
        self._ssl = ssl  # an ssl.SSLContext for https:// nodes (their CA), else plain TCP
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._open: dict[tuple[str, int], int] = {}
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._all: set[_Conn] = set()

    @staticmethod
    def request_bytes(host: str, port: int, path: str, body: bytes) -> bytes:
        return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body

    async def request(self, host: str, port: int, raw: bytes, timeout: float
                      ) -> tuple[int, bytes]:
        """Send ``raw`` (a whole request) and return (status, body).

        Raises:
            TimeoutError: no complete answer within ``timeout`` s.
            HttpError / OSError: the connection failed.
        """
        addr = (host, port)
        slots = self._slots.get(addr)
        if slots is None:
            slots = self._slots[addr] = asyncio.Semaphore(self.max_conns)
        loop = asyncio.get_running_loop()
        async with slots:
            idle = self._idle.setdefault(addr, [])
            while True:
                conn = None
                while idle:
                    c = idle.pop()
                    if not c.closed:
                        conn = c
                        break
                fresh = conn is None
                if conn is None:
                    _, conn = await loop.create_connection(
                        _Conn, host, port, ssl=self._ssl,
                        server_hostname=host if self._ssl is not None else None)
                    self._all.add(conn)
                fut: asyncio.Future[tuple[int, bytes]] = loop.create_future()
                conn.waiter = fut
                assert conn.transport is not None
                conn.transport.write(raw)
                try:
                    status, body = await asyncio.wait_for(fut, timeout)
                except HttpError:
                    conn.close()
                    self._all.discard(conn)
                    if not fresh and not conn.buf:
                        continue  # a kept-alive connection the node had closed: retry once anew
                    raise
                except BaseException:
                    conn.close()
                    self._all.discard(conn)
                    raise
                break
            conn.waiter = None
            if conn.keep_alive and not conn.closed:
                idle.append(conn)
            else:
                conn.close()
                self._all.discard(conn)
            return status, body

    def close(self) -> None:
        for c in list(self._all):
            c.close()
        self._all.clear()
        self._idle.clear()


#: ``--api stream``: the load generator sends what is due every 5 ms, one message (a JSON array
#: of envelopes) per node, as a payment engine that batches its submissions would
STREAM_TICK_S = 0.005
#: at most this many envelopes per message (a node takes up to 1,000 and 1 MiB per message)
STREAM_MESSAGE_TXS = 500
#: how the load generator submits (``--api``): one ``POST /v1/tx?wait=commit`` per transaction
#: on keep-alive connections, or messages on one ``/v1/tx/stream`` WebSocket per node
APIS = ("rest", "stream")
API_NAMES = {"rest": "REST (POST /v1/tx?wait=commit)", "stream": "the /v1/tx/stream WebSocket"}


class StreamClient:
    """One WebSocket per node to ``/v1/tx/stream``. :meth:`send_many` writes envelopes on a
    node's socket as one message; the node's answers (JSON arrays, each answer with the
    ``seq`` of its envelope) go to ``on_answer(key, answer)`` as they arrive, and to
    ``on_lost(key)`` for every send still unanswered when a socket closes. No future, task or
    timer per transaction: the load generator shares the cores with the nodes."""

    def __init__(self, session: Any, urls: Sequence[str],
                 on_answer: Callable[[int, dict[str, Any]], None],
                 on_lost: Callable[[int], None]) -> None:
        self._session = session
        self._urls = list(urls)
        self._socks: list[Any] = []
        self._next = [0] * len(urls)
        self._waiting: list[dict[int, int]] = [{} for _ in urls]  # seq -> key
        self._readers: list[asyncio.Task[None]] = []
        import aiohttp

        self._text = aiohttp.WSMsgType.TEXT
        self._on_answer = on_answer
        self._on_lost = on_lost
        self.outstanding = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def open(self) -> None:
        for i, u in enumerate(self._urls):
            self._socks.append(await self._session.ws_connect(u + "/v1/tx/stream",
                                                              max_msg_size=0))
            self._readers.append(asyncio.get_running_loop().create_task(self._read(i)))

    def _settled(self, n: int) -> None:
        self.outstanding -= n
        if self.outstanding <= 0:
            self.idle.set()

    async def _read(self, i: int) -> None:
        ws, waiting = self._socks[i], self._waiting[i]
        try:
            async for msg in ws:
                if msg.type != self._text:
                    continue
                answered = 0
                for a in json.loads(msg.data):
                    key = waiting.pop(a.get("seq"), None)
                    if key is not None:
                        answered += 1
                        self._on_answer(key, a)
                self._settled(answered)
        finally:
            lost = list(waiting.values())
            waiting.clear()
            for key in lost:
                self._on_lost(key)
            self._settled(len(lost))

    async def send_many(self, i: int, keys: Sequence[int], bodies: Sequence[str]) -> None:
        """Write ``bodies`` (one envelope each, for ``keys``) on node ``i``'s socket as one
        message: a JSON array, whose envelopes the node numbers one ``seq`` each."""
        seq = self._next[i]
        self._next[i] = seq + len(keys)
        waiting = self._waiting[i]
        for key in keys:
            waiting[seq] = key
            seq += 1
        self.outstanding += len(keys)
        self.idle.clear()
        await self._socks[i].send_str("[" + ",".join(bodies) + "]")

    async def close(self) -> None:
        for ws in self._socks:
            await ws.close()
        for t in self._readers:
            t.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


def _classify_stream(a: dict[str, Any]) -> tuple[str, str | None, int | None]:
    """(status, error code, height) of one answer of ``/v1/tx/stream``."""
    if a.get("status") == "refused":
        return _classify(int(a.get("http_status") or 400), {"error": a.get("error")})
    return _classify(200, a)


async def _post(session: Any, url: str, body: bytes, timeout: float) -> tuple[int, Any]:
    import aiohttp

    async with session.post(url, data=body, headers=_JSON_HEADERS,
                            timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        raw = await resp.read()
        status = resp.status
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def _classify(status: int, body: Any) -> tuple[str, str | None, int | None]:
    """(status, error code, height) of one answer to ``POST /v1/tx?wait=commit``."""
    if not isinstance(body, dict):
        return "error", f"http_{status}", None
    if status >= 300:
        err = body.get("error")
        code = err.get("code") if isinstance(err, dict) else None
        return "error", str(code or f"http_{status}"), None
    st = body.get("status")
    err = body.get("error")
    code = str(err.get("code")) if isinstance(err, dict) and err.get("code") else None
    height = body.get("height") if isinstance(body.get("height"), int) else None
    if st == "committed":
        return "committed", None, height
    if st == "rejected":
        return "rejected", code or "rejected", height
    return "timeout", code or f"status_{st}", height


_CPU_LINE = re.compile(r'^chainfin_cpu_seconds_total\{stage="([a-z0-9_]+)"\} ([0-9.e+-]+)$', re.M)
_PHASE_LINE = re.compile(
    r'^chainfin_block_phase_seconds_(sum|count)\{phase="([a-z_]+)"\} ([0-9.e+-]+)$', re.M)


_GC_LINE = re.compile(
    r'^chainfin_gc_pause_seconds_(sum|count|bucket)\{generation="([0-2])"(?:,le="0.01")?\} '
    r'([0-9.e+-]+)$', re.M)


def parse_gc(text: str) -> dict[str, float]:
    """``chainfin_gc_pause_seconds`` of a /metrics page as ``{"<gen>_count": n, "<gen>_sum":
    seconds, "<gen>_le10ms": pauses of at most 10 ms}``."""
    names = {"sum": "sum", "count": "count", "bucket": "le10ms"}
    return {f"{g}_{names[what]}": float(v) for what, g, v in _GC_LINE.findall(text)}


_GOSSIP_LINE = re.compile(
    r'^chainfin_node_total\{what="(gossip_txs_in|gossip_deferred_out)"\} ([0-9.e+-]+)$', re.M)


def parse_gossip(text: str) -> dict[str, float]:
    """The node's gossip counters of a /metrics page: transactions it took in from peers'
    gossip (``gossip_txs_in``) and the ones of its own clients it broadcast because no
    proposal held them in time (``gossip_deferred_out``, decision 99)."""
    return {k: float(v) for k, v in _GOSSIP_LINE.findall(text)}


def parse_phases(text: str) -> dict[str, float]:
    """``chainfin_block_phase_seconds`` (decision 98) of a /metrics page as ``{"<phase>_sum":
    seconds, "<phase>_count": n}``."""
    return {f"{ph}_{what}": float(v) for what, ph, v in _PHASE_LINE.findall(text)}


async def _cpu_stages(session: Any, urls: Sequence[str], reader: Identity | None = None
                      ) -> list[dict[str, float] | None]:
    """Each node's CPU seconds by pipeline stage (``chainfin_cpu_seconds_total`` of /metrics)
    and its block phases' sums and counts (keys ``phase:<phase>_sum`` / ``_count``) and GC
    pauses (``gc:<generation>_count`` / ``_sum`` / ``_le10ms``) and gossip counters
    (``gossip:<counter>``), or None for a node that does not answer."""
    import aiohttp

    async def one(u: str) -> dict[str, float] | None:
        url = u + "/metrics"
        headers = signed_headers(reader, "GET", url) if reader is not None else None
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=5),
                                   headers=headers) as r:
                text = await r.text()
        except (TimeoutError, aiohttp.ClientError):
            return None
        out = {k: float(v) for k, v in _CPU_LINE.findall(text)}
        if not out:
            return None
        out.update({"phase:" + k: v for k, v in parse_phases(text).items()})
        out.update({"gc:" + k: v for k, v in parse_gc(text).items()})
        out.update({"gossip:" + k: v for k, v in parse_gossip(text).items()})
        return out

    return list(await asyncio.gather(*(one(u) for u in urls)))
