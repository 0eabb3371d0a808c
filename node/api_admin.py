"""Operator routes: ``POST /v1/admin/backup`` streams a consistent snapshot of this node's
database to its operator (node/backup.py; docs/operations.md "Backup and restore").

Only this node's own keys may ask (its validator key, or the bank identity it acts for):
anyone else is answered as for a route that does not exist (TRAPS #21). The request carries
nothing: the node writes no file and takes no path; the client decides where the backup goes.
Part of :mod:`node.api`, which registers the routes in ``make_app``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from typing import Any

from aiohttp import web

from node import backup
from node.api import NODE_KEY, OPENAPI, _declare_auth, _op, error, reader_of
from node.runtime import Node

__all__ = ["ADMIN_OPENAPI_PATHS", "add_admin_routes", "is_operator"]

log = logging.getLogger("chainfin.api")

#: the backups being streamed (one at a time: each holds a LevelDB snapshot and a thread)
RUNNING_KEY: web.AppKey[set[str]] = web.AppKey("backups_running", set)
#: frames the worker thread may be ahead of the socket
QUEUE_FRAMES = 4


def is_operator(node: Node, key_hex: str) -> bool:
    """Is ``key_hex`` one of this node's own keys (its validator key, its bank identity)?"""
    own = {node.identity.public_key.hex()}
    if node.bank is not None:
        own.add(node.bank.public_key.hex())
    return key_hex in own


async def post_backup(request: web.Request) -> web.StreamResponse:
    """Stream a backup of the committed chain (node/backup.py frames)."""
    node = request.app[NODE_KEY]
    who = reader_of(request).key
    if not is_operator(node, who):
        return error(404, "not_found", f"no route {request.path}")
    body = await request.read()
    if request.query_string or body.strip() not in (b"", b"{}"):
        return error(400, "bad_request", "a backup takes no parameters: the node writes no "
                                         "file; the client chooses where the backup goes")
    running = request.app[RUNNING_KEY]
    if running:
        return error(409, "backup_running", "a backup of this node is already running")
    if node.syncing_state:
        return error(503, "state_sync", "this node is installing a state snapshot")
    pin_fn = getattr(node.store, "pin", None)
    if pin_fn is None:
        return error(501, "not_supported", "this store cannot be pinned")
    # the snapshot, on the event loop: between two engine steps, so between two commits (each
    # commit is one LevelDB batch, which a snapshot sees whole or not at all)
    pin = pin_fn()
    try:
        head = backup.describe(pin, node.genesis)
    except backup.BackupError as e:
        pin.close()
        return error(409, "backup_refused", str(e))
    head.update(node_id=node.node_id, public_key=node.identity.public_key.hex(),
                estimate_bytes=backup.db_bytes(getattr(node.store, "path", None)))
    running.add(who)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue(QUEUE_FRAMES)
    stop = threading.Event()

    def put(kind: bytes, payload: bytes) -> None:  # in the worker thread
        if stop.is_set():
            raise backup.Cancelled()
        asyncio.run_coroutine_threadsafe(queue.put((kind, payload)), loop).result()

    t0 = time.monotonic()
    log.info("backup of height %d started (%s)", head["height"], who[:16])
    worker = asyncio.ensure_future(asyncio.to_thread(backup.stream_chunks, pin, put, stop))
    resp = web.StreamResponse(headers={"Content-Type": backup.STREAM_TYPE,
                                       "Cache-Control": "no-store"})
    done = False
    try:
        await resp.prepare(request)
        await resp.write(backup.frame(backup.F_HEAD, json.dumps(head).encode()))
        while not done:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, worker}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                if queue.empty():  # the worker ended without a tail (it raised)
                    await resp.write(backup.frame(backup.F_ERROR, b"the backup failed"))
                    break
                continue
            kind, payload = getter.result()
            await resp.write(backup.frame(kind, payload))
            done = kind in (backup.F_TAIL, backup.F_ERROR)
        await resp.write_eof()
        log.info("backup of height %d %s in %.1f s", head["height"],
                 "sent" if done else "failed", time.monotonic() - t0)
    finally:
        stop.set()
        while not worker.done():  # let a put the worker is blocked in go through
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            await asyncio.sleep(0.01)
        if not worker.cancelled() and worker.exception() is not None:
            log.error("backup of height %d failed: %r", head["height"], worker.exception())
        pin.close()
        running.discard(who)
    return resp


def add_admin_routes(app: web.Application) -> None:
    app[RUNNING_KEY] = set()
    app.router.add_post("/v1/admin/backup", post_backup)
    OPENAPI["paths"].update(ADMIN_OPENAPI_PATHS)
    _declare_auth(OPENAPI)  # a signed route: 401, 429 and its security, as every other one


ADMIN_OPENAPI_PATHS: dict[str, Any] = {
    "/v1/admin/backup": {"post": _op(
        "postBackup", "A consistent backup of this node's committed chain, streamed "
        "(frames: head, data, tail; node/backup.py). Only this node's own keys; no "
        "parameters", errors=("400", "404", "409"),
        content_type=backup.STREAM_TYPE)},
}
