"""The explorer's routes: ``/`` and ``/static/{name}`` serve the packaged files with their
content types and nothing else; ``/v1/genesis`` is the genesis whose hash ``chainfin verify``
trusts."""

from __future__ import annotations

from chainfin.genesis import Genesis
from node.api import STATIC_DIR
from tests.fixtures import Harness


async def test_page_and_files(h: Harness) -> None:
    async with h.http.get("/") as r:
        assert r.status == 200 and r.content_type == "text/html"
        page = await r.text()
    for name in ("verify.js", "app.js", "style.css"):
        assert f"/static/{name}" in page
        async with h.http.get(f"/static/{name}") as r:
            assert r.status == 200
            assert r.content_type == ("text/css" if name.endswith(".css") else "text/javascript")
            assert await r.read() == (STATIC_DIR / name).read_bytes()


async def test_nothing_else_is_served(h: Harness) -> None:
    for path in ("/static/..%2Fapi.py", "/static/.hidden.js", "/static/missing.js",
                 "/static/index.py", "/static/%2e%2e%2fapi.py", "/static/verify.js.map",
                 "/static/VERIFY.JS"):
        async with h.http.get(path) as r:
            assert r.status == 404, path


async def test_genesis_is_the_nodes(h: Harness) -> None:
    async with h.http.get("/v1/genesis") as r:
        assert r.status == 200
        doc = await r.json()
    g = Genesis.model_validate(doc)
    assert g.hash() == h.genesis.hash()
