"""REST catch-up keeps one HTTP client session for the node's lifetime (node/catchup.py)."""

from __future__ import annotations

import ssl
from types import SimpleNamespace

from node.catchup import CatchUp


async def test_one_session_from_open_to_close_with_the_sync_ca() -> None:
    ctx = ssl.create_default_context()
    cu = CatchUp(SimpleNamespace(sync_urls=["https://a:8443"], sync_ssl=ctx))  # type: ignore[arg-type]
    await cu.open()
    session = cu.session
    assert session is not None and not session.closed
    assert session.connector is not None and session.connector._ssl is ctx
    await cu.close()
    assert session.closed and cu.session is None
    await cu.close()  # a second stop is harmless


async def test_a_node_without_sync_urls_opens_no_session() -> None:
    cu = CatchUp(SimpleNamespace(sync_urls=[], sync_ssl=None))  # type: ignore[arg-type]
    await cu.open()
    assert cu.session is None
    assert await cu._catch_up_rest() is False
