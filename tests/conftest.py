"""Pytest fixtures shared by the tests; what they build is in tests/fixtures.py."""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
from asyncio import events as asyncio_events
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chainfin.genesis import Genesis
from node import api
from testnet.launch import Manifest, init_testnet
from tests.fixtures import (
    TRADE_ROLES,
    Desk,
    Harness,
    SigningClient,
    start_cluster,
    stop_cluster,
    trade_genesis,
)

# Tests that start real node processes or browsers run one after another on one xdist worker
# (`pytest -n auto`, the README's test command): they take free ports by probing and measure
# stalls in seconds, so two of them at once would race for ports and for the cores. The unit,
# simulator and in-process cluster tests (whose servers bind port 0) share the other workers
# (decision 209). A node test module counts as starting processes when its text names the
# launcher or probes for a port. (A scheduler of our own rather than `--dist loadgroup`, whose
# marks pytest 9.2 no longer carries to the scheduler: pytest-dev/pytest-xdist#1386.)
_SERIAL_DIRS = ("e2e", "browser")
_PROCESS_MARKS = ("testnet.launch", "free_port", "init_testnet", "subprocess")


@functools.cache
def _starts_processes(path: Path) -> bool:
    if path.parent.name in _SERIAL_DIRS:
        return True
    if path.parent.name != "node" or not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    return any(mark in text for mark in _PROCESS_MARKS)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class ProcessTestsInOneScope(LoadScopeScheduling):
        """Every process-starting test in one scope (one worker, in collection order); every
        other test a scope of its own, as `--dist load` would spread them."""

        def _split_scope(self, nodeid: str) -> str:
            path = config.rootpath / nodeid.split("::", 1)[0]
            return "real-processes" if _starts_processes(path) else nodeid

    return ProcessTestsInOneScope(config, log)


@pytest.hookimpl(wrapper=True, optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Any:
    """A test past the timeout (pyproject's ``timeout``, pytest-timeout) fails with the stack
    of every asyncio task of its event loop printed first: a hung asyncio test sits in
    ``select()`` with nothing on the threads' stacks to say what it waits for."""
    result = yield
    original = signal.getsignal(signal.SIGALRM)
    if callable(original):
        def dump_tasks_then(signum: int, frame: Any) -> None:
            loop = asyncio_events._get_running_loop()
            if loop is not None:
                for task in asyncio.all_tasks(loop):
                    print(f"--- {task!r}", file=sys.stderr)
                    task.print_stack(file=sys.stderr)
            original(signum, frame)

        signal.signal(signal.SIGALRM, dump_tasks_then)
    return result


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    """A 4-validator in-process cluster and a client signing as the auditor on node 0's REST."""
    genesis, nodes, ids = await start_cluster()
    http = SigningClient(TestServer(api.make_app(nodes[0])), ids["auditor"])
    await http.start_server()
    try:
        yield Harness(genesis, nodes, ids, http)
    finally:
        await http.close()
        await stop_cluster(nodes)


@pytest.fixture
async def desk() -> AsyncIterator[Desk]:
    """The trade cluster: validators node0..2 are also ``bank_a``..``bank_c``, each holding
    USD 100,000,000.00; a client signing as the auditor on node 0's REST."""
    async for d in _desk(trade_genesis):
        yield d


@pytest.fixture
async def desk3() -> AsyncIterator[Desk]:
    """:func:`desk` on a chain of ledger format 3 (salted tree leaves, decision 129)."""
    async for d in _desk(lambda v, c: trade_genesis(v, c, ledger_format=3)):
        yield d


async def _desk(genesis_of: Callable[..., Genesis]) -> AsyncIterator[Desk]:
    genesis, nodes, ids = await start_cluster(roles=TRADE_ROLES, outsider=False,
                                              genesis=genesis_of)
    for i, nd in enumerate(nodes[:3]):
        ids["bank_" + "abc"[i]] = nd.identity
    http = SigningClient(TestServer(api.make_app(nodes[0])), ids["auditor"])
    await http.start_server()
    try:
        d = Desk(genesis, nodes, ids, http)
        for bank in ("bank_a", "bank_b", "bank_c"):
            await d.commit(d.tx("usd_issuer", "settlement", "issue", {
                "currency": "USD", "to": ids[bank].public_key.hex(), "amount": 10**10}))
        yield d
    finally:
        await http.close()
        await stop_cluster(nodes)


@pytest.fixture(scope="module")
def net4(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A 4-node testnet directory (init only, nothing started), once per module."""
    d = tmp_path_factory.mktemp("tn") / "net"
    return d, init_testnet(d, nodes=4, rest_tls=False)  # the stand-ins serve plain HTTP
