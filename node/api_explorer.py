"""The explorer's routes (docs/explorer.md): the page at ``/``, its files under ``/static/``,
and ``/v1/genesis``. Registered by :func:`node.api.make_app`; their OpenAPI entries are in
:data:`node.api.OPENAPI`.

Part of :mod:`node.api`, which imports this module below the helpers it uses: import
:mod:`node.api` (not this module) first."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from node.api import NODE_KEY, _op, _param, error

#: The explorer's files (docs/explorer.md): the page at ``/``, its script, verifier and styles.
STATIC_DIR = Path(__file__).with_name("static")
_STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                 ".png": "image/png", ".svg": "image/svg+xml"}


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def get_static(request: web.Request) -> web.StreamResponse:
    """One file of ``node/static/`` by plain name (no subdirectories, no dot files)."""
    name = request.match_info["name"]
    if not re.fullmatch(r"[a-z0-9_-]{1,64}\.[a-z]{2,4}", name):
        return error(404, "not_found", "no such file")
    ctype = _STATIC_TYPES.get(Path(name).suffix)
    path = STATIC_DIR / name
    if ctype is None or not path.is_file():
        return error(404, "not_found", "no such file")
    return web.FileResponse(path, headers={"Content-Type": ctype, "Cache-Control": "no-cache"})


async def get_genesis(request: web.Request) -> web.Response:
    """The genesis this node runs (its hash is the chain's root of trust: an auditor pins it)."""
    return web.json_response(request.app[NODE_KEY].genesis.document())


async def _end_event_streams(app: web.Application) -> None:
    """On shutdown, end the /v1/events streams (an explorer page keeps one open): otherwise
    the server waits for them until its shutdown timeout."""
    for q in list(app[NODE_KEY].subscribers):
        q.put_nowait({"type": "shutdown"})


def add_explorer_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", get_static)
    app.router.add_get("/v1/genesis", get_genesis)
    app.on_shutdown.append(_end_event_streams)


EXPLORER_OPENAPI_PATHS = {
    "/": {"get": _op("explorer", "Explorer page", content_type="text/html")},
    "/static/{name}": {"get": _op("explorerFile", "A file of the explorer page (script, "
                                  "styles)", content_type="text/javascript",
                                  params=[_param("name", "path", {"type": "string"},
                                                 "file name")], errors=("404",))},
    "/v1/genesis": {"get": _op("getGenesis", "The genesis this node runs (to pin by hash)")},
}
