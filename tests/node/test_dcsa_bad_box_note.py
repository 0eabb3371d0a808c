"""``chainfin trade register --dcsa``: an eBL's equipment whose number the ledger refuses (not
ISO 6346, a wrong check digit) is left off the bill of lading so the rest registers — and the
note says so, with why, instead of calling it a field the ledger does not have (walk-through
2026-12-07e)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures import Desk, key_file
from tests.node.test_docs_ingest import DCSA, cli


async def test_a_refused_container_is_said_apart_from_fields_the_ledger_lacks(
        desk: Desk, tmp_path: Path) -> None:
    doc = json.loads(DCSA.read_text())
    for eq in doc["utilizedTransportEquipments"]:
        eq["equipment"]["equipmentReference"] = "MSKU7712340"  # ISO 6346 wants ...2
    for item in (c for ce in doc.get("consignmentItems", ()) for c in ce.get("cargoItems", ())):
        item["equipmentReference"] = "MSKU7712340"
    bad = tmp_path / "ebl.json"
    bad.write_text(json.dumps(doc))
    url = str(desk.http.make_url("")).rstrip("/")
    rc, out, err = await cli("trade", "register", "--dcsa", str(bad), "--node", url,
                             "--key", key_file(desk.ids["exporter"], tmp_path), "--dry-run")
    assert rc == 0, err
    line = next(x for x in err.splitlines() if "MSKU7712340" in x)
    assert "not sent as containers" in line and "check digit" in line, err
    assert "has no such field" not in line
    assert "containers" not in json.loads(out)["args"]["fields"]
