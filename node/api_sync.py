"""REST routes of catch-up and state sync (node/catchup.py, node/statesync.py): certified
blocks, the snapshot manifest, state chunks, and the middleware that keeps a node installing a
snapshot from answering with a partial state.
Part of :mod:`node.api`, which imports this module below the helpers it uses and registers
the routes in ``make_app``; :data:`SYNC_OPENAPI_PATHS` is merged into ``node.api.OPENAPI``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from chainfin import codec
from node import access, statesync
from node.api import _DIGITS, MAX_HEIGHT, NODE_KEY, _op, _param, error, may_read, reader_of

__all__ = ["SYNC_OPENAPI_PATHS", "add_sync_routes", "state_sync_middleware"]

async def get_sync_blocks(request: web.Request) -> web.Response:
    """Certified block records as canonical msgpack (``application/msgpack``): a list of
    ``b/<height>`` records from ``from`` (inclusive), at most ``max`` (<= 64). Observers and
    auditors follow the chain with it; every record carries its CommitCertificate."""
    node = request.app[NODE_KEY]
    if not may_read(request, access.chain_rule(reader_of(request))):
        return error(404, "not_found", f"no route {request.path}")
    f, m = request.query.get("from", "1"), request.query.get("max", "64")
    if not (_DIGITS.fullmatch(f) and _DIGITS.fullmatch(m)) or not 1 <= int(f) <= MAX_HEIGHT:
        return error(400, "bad_request",
                     f"from must be an integer from 1 to {MAX_HEIGHT} and max a positive integer")
    start, n = int(f), int(m)
    if n < 1:
        return error(400, "bad_request", "from and max must be positive")
    body = codec.encode(node.sync_records(start, n))
    return web.Response(body=body, content_type="application/msgpack")


_SNAPSHOT_STATUS = {"bad_request": 400, "not_found": 404, "too_large": 413}


async def get_sync_snapshot(request: web.Request) -> web.Response:
    """The state sync manifest (node/statesync.py) as canonical msgpack."""
    node = request.app[NODE_KEY]
    if not may_read(request, access.chain_rule(reader_of(request))):
        return error(404, "not_found", f"no route {request.path}")
    h = request.query.get("height")
    if h is not None and (not _DIGITS.fullmatch(h) or not 1 <= int(h) <= MAX_HEIGHT):
        return error(400, "bad_request", f"height must be an integer from 1 to {MAX_HEIGHT}")
    try:
        body = statesync.manifest(node.ledger, None if h is None else int(h))
    except statesync.SnapshotRefused as e:
        return error(_SNAPSHOT_STATUS.get(e.code, 400), e.code, str(e))
    return web.Response(body=body, content_type="application/msgpack")


async def get_sync_chunk(request: web.Request) -> web.Response:
    """One state chunk (node/statesync.py, chainfin/snapshot.py) as canonical msgpack."""
    node = request.app[NODE_KEY]
    if not may_read(request, access.chain_rule(reader_of(request))):
        return error(404, "not_found", f"no route {request.path}")
    q = request.query
    vals = [q.get("height", ""), q.get("prefix", ""), q.get("depth", "")]
    if not all(_DIGITS.fullmatch(v) for v in vals):
        return error(400, "bad_request", "height, prefix and depth must be integers "
                                         "(prefix below 2**depth, depth at most 32)")
    height, prefix, depth = (int(v) for v in vals)
    node.stats["chunks_served"] += 1
    try:
        body = await asyncio.to_thread(statesync.ledger_chunk, node.ledger, height, prefix,
                                       depth)
    except statesync.SnapshotRefused as e:
        return error(_SNAPSHOT_STATUS.get(e.code, 400), e.code, str(e))
    return web.Response(body=body, content_type="application/msgpack")


#: what a node installing a state snapshot still answers (its state is partial until done)
_WHILE_SYNCING = ("/v1/status", "/healthz", "/metrics", "/openapi.json", "/v1/sync/",
                  "/v1/blocks/", "/v1/genesis")


@web.middleware
async def state_sync_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.app[NODE_KEY].syncing_state and not request.path.startswith(_WHILE_SYNCING):
        return error(503, "state_sync", "this node is installing a state snapshot: its state "
                                        "is partial until then; ask another node or retry",
                     headers={"Retry-After": "1"})
    return await handler(request)


def add_sync_routes(app: web.Application) -> None:
    app.router.add_get("/v1/sync/blocks", get_sync_blocks)
    app.router.add_get("/v1/sync/snapshot", get_sync_snapshot)
    app.router.add_get("/v1/sync/chunk", get_sync_chunk)


SYNC_OPENAPI_PATHS: dict[str, Any] = {
    "/v1/sync/blocks": {"get": _op(
        "getSyncBlocks", "Certified block records (canonical msgpack) for catch-up",
        params=[_param("from", "query", {"type": "integer", "minimum": 1},
                       "first height (default 1)"),
                _param("max", "query", {"type": "integer", "minimum": 1},
                       "most records (default and cap 64)")],
        errors=("400",), content_type="application/msgpack")},
    "/v1/sync/snapshot": {"get": _op(
        "getSyncSnapshot", "State sync manifest (canonical msgpack): the certified record "
        "of the block at the snapshot height and of every validator-set change up to it",
        params=[_param("height", "query", {"type": "integer", "minimum": 1},
                       "the snapshot height (default: the latest this node holds whole)")],
        errors=("400", "404"), content_type="application/msgpack")},
    "/v1/sync/chunk": {"get": _op(
        "getSyncChunk", "One state chunk (canonical msgpack): the entries whose key hash "
        "starts with the depth-bit prefix, with the siblings that tie them to the state "
        "root of the height (413: too large, ask for its two halves)",
        params=[_param("height", "query", {"type": "integer", "minimum": 1}, "height"),
                _param("prefix", "query", {"type": "integer", "minimum": 0},
                       "the region's prefix, below 2**depth"),
                _param("depth", "query", {"type": "integer", "minimum": 0, "maximum": 32},
                       "the prefix's length in bits")],
        errors=("400", "404", "413"), content_type="application/msgpack")},
}
