"""Backup and restore with real processes (docs/operations.md "Backup and restore"): a 4-node
testnet under light load; node 1 is backed up online with the CLI, SIGKILLed, its data directory
wiped, the backup verified with the genesis and restored; restarted, it catches up from its peers
and ends with the others' state root."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def _cli(*args: str, timeout: float = 40) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainfin.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


async def test_online_backup_kill_wipe_restore_catch_up(net) -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    stop = asyncio.Event()

    async def light_load() -> None:
        k = 0
        while not stop.is_set():
            tx = net.tx("usd_issuer", "settlement", "issue",
                        {"currency": "USD", "to": net.ids["exporter"].public_key.hex(),
                         "amount": 1})
            await net.post((0, 2, 3)[k % 3], tx, wait=False)  # (node 1 goes down)
            k += 1
            await asyncio.sleep(0.05)

    loader = asyncio.ensure_future(light_load())
    try:
        await net.wait_height(1, 5)
        cfg = str(net.dir / "node1" / "config.json")
        out = net.dir / "backups"
        r = await asyncio.to_thread(_cli, "node", "backup", "--config", cfg, "--out", str(out))
        assert r.returncode == 0, r.stderr
        (backup,) = [p for p in out.iterdir() if not p.name.endswith(".partial")]
        r = await asyncio.to_thread(_cli, "node", "backup", "verify", "--dir", str(backup),
                                    "--genesis", str(net.dir / "genesis.json"))
        assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr
        net.tn.kill(1)  # SIGKILL
        shutil.rmtree(net.dir / "node1" / "data")
        # the network goes on without it (3 of 4 is a quorum)
        h = await net.height(0)
        await net.wait_height(0, h + 5)
        r = await asyncio.to_thread(_cli, "node", "restore", "--backup", str(backup),
                                    "--config", cfg)
        assert r.returncode == 0, r.stderr
        net.tn.start(1)
        await asyncio.to_thread(net.tn.wait_ready, 30, [1])
    finally:
        stop.set()
        await loader
    target = await net.height(0)
    for i in range(4):
        await net.wait_height(i, target, timeout=30)
    roots = set()
    for i in range(4):
        s, b = await net.get(i, f"/v1/blocks/{target}")
        assert s == 200, b
        roots.add((b["hash"], b["header"]["state_root"]))
    assert len(roots) == 1, roots
    assert time.monotonic() - t0 < 60
