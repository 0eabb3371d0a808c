"""A node's stop always ends: each of its steps is bounded (node.runtime.STOP_STEP_S) and a
step that overruns is logged with its stack, then left behind. Before, a node task that did
not end on cancellation (or a link close that never finished) held ``Node.stop`` for ever,
and with it the test run (a hang seen once in CI: docs/reliability.md)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from node import runtime
from tests.fixtures import start_cluster, stop_cluster


async def _stubborn(release: asyncio.Event) -> None:
    """A task that swallows every cancellation until ``release`` is set."""
    while not release.is_set():
        try:
            await release.wait()
        except asyncio.CancelledError:
            continue


@pytest.mark.timeout(60)
async def test_a_task_that_ignores_cancellation_does_not_hold_the_stop(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(runtime, "STOP_STEP_S", 0.5)
    release = asyncio.Event()
    _, nodes, _ = await start_cluster(4)
    stuck = asyncio.get_running_loop().create_task(_stubborn(release), name="stubborn")
    nodes[0]._tasks.append(stuck)
    try:
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="chainfin.node"):
            await stop_cluster(nodes[:1], timeout=20)
        assert time.monotonic() - t0 < 10
        assert not stuck.done()  # left behind, not awaited for ever
        assert "the node's tasks did not end" in caplog.text
        assert "_stubborn" in caplog.text  # its stack says where it was
        assert not nodes[0].transport._running  # and the stop went on to close the links
    finally:
        release.set()
        await stuck
        await stop_cluster(nodes[1:])


@pytest.mark.timeout(60)
async def test_a_stop_that_does_not_end_fails_the_test_with_its_stack(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixtures' ``stop_cluster`` turns a stop that hangs into a failure naming where."""
    _, nodes, _ = await start_cluster(4)
    release = asyncio.Event()

    async def hangs() -> None:
        await release.wait()

    real_stop = nodes[0].stop

    async def stop() -> None:
        await hangs()
        await real_stop()

    monkeypatch.setattr(nodes[0], "stop", stop)
    try:
        with pytest.raises(AssertionError, match="did not stop in 1 s") as e:
            await stop_cluster(nodes[:1], timeout=1)
        assert "hangs" in str(e.value)
    finally:
        release.set()
        await stop_cluster(nodes)
