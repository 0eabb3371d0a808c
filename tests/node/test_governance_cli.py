"""``chainfin governance`` against the in-process 4-validator trade cluster (the ``desk``
fixture): the real command in a subprocess, signing and sending through node 0's REST API
(decisions 285-288). Three of the four validators vote a B/L's containers required; the
parameter is then read back with where it came from.

Fails on the code before: there was no ``governance`` command (argparse exits 2), no
``set_trade_params`` action, no ``open_proposals`` list.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tests.fixtures import Desk, key_file

PARAM = "bill_of_lading_requires_containers"


async def cli(*argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chainfin.cli", "governance", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_validators_vote_containers_required_from_the_command_line(
        desk: Desk, tmp_path: Path) -> None:
    d = desk
    url = str(d.http.make_url("")).rstrip("/")
    key = {n: key_file(d.ids[n], tmp_path) for n in ("bank_a", "bank_b", "bank_c", "exporter")}
    form = ("set-trade-params", "--bill-of-lading-requires-containers", "on", "--node", url)

    # a dry run prints the transaction and sends nothing; a customer may not propose; a
    # validator does (its own vote counts)
    (rc, out, err), (rc2, out2, err2), (rc3, out3, err3) = await asyncio.gather(
        cli("propose", *form, "--key", key["bank_a"], "--dry-run"),
        cli("propose", *form, "--key", key["exporter"]),
        cli("propose", *form, "--key", key["bank_a"]))
    assert rc == 0, err
    dry = json.loads(out)
    assert dry["status"] == "dry_run" and dry["method"] == "propose"
    assert dry["args"] == {"action": "set_trade_params", "params": {PARAM: True}}
    assert rc2 == 1 and json.loads(out2)["status"] != "committed"
    assert "only the validators propose and vote" in err2, err2
    rc, out, err = rc3, out3, err3
    assert rc == 0, err
    res = json.loads(out)["result"]
    pid = res["proposal_id"]
    assert (res["status"], res["votes"], res["needed"]) == ("open", 1, 3)

    (rc, out, err), (rc2, _, err2) = await asyncio.gather(
        cli("proposals", "--node", url, "--key", key["bank_b"]),
        cli("vote", pid[:12], "--no", "--node", url, "--key", key["bank_b"]))
    assert rc == 0, err
    assert f"{pid}  set_trade_params" in out
    assert f"does:   set {PARAM} on" in out
    assert "votes:  1 of 3 needed" in out and "open until " in out, out
    assert rc2 == 2 and "the ledger has no vote against" in err2, err2

    rc, out, err = await cli("vote", pid[:12], "--node", url, "--key", key["bank_b"])
    assert rc == 0, err
    assert json.loads(out)["result"]["status"] == "open" and "2 of 3 votes" in err
    rc, out, err = await cli("vote", pid, "--node", url, "--key", key["bank_c"])
    assert rc == 0, err
    assert json.loads(out)["result"]["status"] == "applied"

    (rc, out, err), (rc2, out2, err2) = await asyncio.gather(
        cli("vote", pid, "--node", url, "--key", key["bank_a"]),
        cli("params", "--node", url, "--key", key["bank_a"], "--json"))
    assert rc == 1 and "the proposal is closed (proposal is applied)" in err, err
    assert rc2 == 0, err2
    rows = {r["param"]: r for r in json.loads(out2)["params"]}
    assert rows[PARAM]["value"] is True and rows[PARAM]["source"] == "vote"
    assert rows[PARAM]["proposal_id"] == pid
    assert rows["financing_requires_attestation"]["source"] == "genesis"
    assert (await d.get("/v1/state/governance/params"))[1]["value"][PARAM] is True
