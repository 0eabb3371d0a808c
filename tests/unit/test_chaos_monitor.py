"""The chaos monitor's bookkeeping, without processes: forks are caught, stalls are measured only
while at most f nodes are faulty."""

from __future__ import annotations

import types

from testnet.chaos import ChaosResult, Monitor


def _monitor(n: int = 4) -> tuple[Monitor, ChaosResult]:
    res = ChaosResult(duration_s=1)
    tn = types.SimpleNamespace(n=n, rest_url=lambda i: f"http://node{i}", reader=lambda: None)
    return Monitor(tn, None, res, f=1), res  # type: ignore[arg-type]


def test_two_hashes_at_one_height_are_a_fork() -> None:
    mon, res = _monitor()
    mon._record(0, 5, "aa" * 32)
    mon._record(1, 5, "aa" * 32)
    assert not res.forks and not res.ok
    mon._record(2, 5, "bb" * 32)
    assert len(res.forks) == 1 and "height 5" in res.forks[0] and "node2" in res.forks[0]


def test_stall_counts_only_within_the_fault_model() -> None:
    mon, res = _monitor()
    mon.observe(0.0, 1)
    mon.observe(2.0, 1)
    assert res.longest_stall_s == 2.0
    mon.observe(2.5, 2)  # a block: the stall ends
    mon.over_f = True  # a split: beyond f, no progress is owed
    mon.observe(10.0, 2)
    assert res.longest_stall_s == 2.0
    mon.over_f = False
    mon.observe(11.0, 2)  # back within f: the clock restarts here, not at the last block
    mon.observe(14.0, 2)
    assert res.longest_stall_s == 3.0
    mon.faulty.update({1, 2})  # two faulty of four: beyond f = 1
    mon.observe(30.0, 2)
    assert res.longest_stall_s == 3.0


async def test_a_read_refused_by_the_rate_limit_waits_and_is_tried_again() -> None:
    """The end check reads thousands of blocks as one identity: a 429 is the node's per-identity
    limit, not a missing block; the reader waits Retry-After and asks again, each time signed
    afresh (a fresh nonce: a repeated signature would be a replay)."""
    import aiohttp
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from chainfin.crypto import Identity
    from testnet.chaos import _get

    seen: list[str] = []

    async def block(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Signature", ""))
        if len(seen) <= 2:
            return web.json_response({"error": {"code": "rate_limited"}}, status=429,
                                     headers={"Retry-After": "0"})
        return web.json_response({"hash": "ab" * 32})

    app = web.Application()
    app.router.add_get("/v1/blocks/1", block)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        status, body = await _get(session, str(server.make_url("/v1/blocks/1")),
                                  Identity.generate("auditor"))
    assert (status, body["hash"]) == (200, "ab" * 32)
    assert len(seen) == 3 and len(set(seen)) == 3 and all(seen)
