"""``chainfin proof state`` refused (the node's 404, the same for every key a reader may not
prove) says why and what to do instead, as ``chainfin proof tx`` does — it printed a bare
"not found" to an exporter proving its own balance (walk-through 2026-12-07d)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import Desk, key_file
from tests.node.test_walkthrough_s38_audit import _chainfin


async def test_a_refused_state_proof_says_who_is_served_and_what_to_do(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = str(desk.http.make_url("")).rstrip("/")
    exporter = desk.ids["exporter"]
    rc, _, err = await _chainfin(
        capsys, "proof", "state", "--node", url, "--identity", key_file(exporter, tmp_path),
        "--contract", "settlement", "--key", f"bal/{exporter.public_key.hex()}/USD",
        "--out", str(tmp_path / "p.json"))
    assert rc != 0
    assert "served to the supervisors" in err and "chainfin query /v1/state" in err, err
    assert not (tmp_path / "p.json").exists()
