"""``chainfin trade register --ubl | --dcsa`` against the in-process 4-validator trade cluster
(the ``desk`` fixture): the real command in a subprocess, signing and sending through node 0's
REST API; the trade read back from the ledger's state and by ``chainfin trade show``
(docs/documents-ingest.md)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from tests.fixtures import Desk, key_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UBL = FIXTURES / "ubl_peppol_invoice.xml"
DCSA = FIXTURES / "dcsa_transport_document.json"


async def cli(*argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chainfin.cli", *argv, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_an_exporter_registers_its_peppol_invoice_and_dcsa_bill_of_lading(
        desk: Desk, tmp_path: Path) -> None:
    d = desk
    # the invoice is in euros: a currency governance adds (not in the genesis)
    await d.govern("add_currency", {"code": "EUR", "exponent": 2,
                                    "issuer": d.ids["usd_issuer"].public_key.hex()})
    url = str(d.http.make_url("")).rstrip("/")
    exporter = key_file(d.ids["exporter"], tmp_path)
    common = ("--node", url, "--key", exporter)

    # the dry run prints what it would send and sends nothing
    rc, out, err = await cli("trade", "register", "--ubl", str(UBL), *common, "--dry-run")
    assert rc == 0, err
    dry: dict[str, Any] = json.loads(out)
    assert dry["status"] == "dry_run" and dry["args"]["doc_type"] == "invoice"
    assert dry["args"]["fields"]["amount"] == 14_673_90
    assert dry["args"]["content_hash"] == hashlib.sha256(UBL.read_bytes()).hexdigest()
    assert "hs_codes" in err or "hs_codes" in dry["args"]["fields"]

    rc, out, err = await cli("trade", "register", "--ubl", str(UBL), *common)
    assert rc == 0, err
    inv = json.loads(out)
    assert inv["status"] == "committed" and inv["number"] == "INV-2026-0417"
    trade_id, inv_id = inv["trade_id"], inv["doc_id"]

    rc, out, err = await cli("trade", "register", "--dcsa", str(DCSA), *common,
                             "--trade", trade_id)
    assert rc == 0, err
    bl = json.loads(out)
    assert bl["status"] == "committed" and bl["trade_id"] == trade_id

    # read back from the ledger
    trade = await d.value(f"trade/{trade_id}")
    assert trade["owner"] == d.ids["exporter"].public_key.hex()
    assert (trade["amount"], trade["currency"]) == (14_673_90, "EUR")
    assert sorted(trade["docs"]) == sorted([inv_id, bl["doc_id"]])
    doc = await d.value(f"doc/{bl['doc_id']}")
    assert doc["doc_type"] == "bill_of_lading" and doc["trade_id"] == trade_id
    assert doc["content_hash"] == hashlib.sha256(DCSA.read_bytes()).hexdigest()
    # the ports placed by their UN/LOCODEs (decision 153)
    assert doc["port_countries"] == {"port_of_loading": "CN", "port_of_discharge": "IE"}
    assert (await d.value(f"doc/{inv_id}"))["fields"]["amount"] == 14_673_90
    rc, out, err = await cli("trade", "show", "--node", url, "--key", exporter,
                             "--trade", trade_id)
    assert rc == 0, err
    assert "bill_of_lading" in out and "invoice" in out, out

    # the same file again: the ledger's refusal, and what to do
    rc, out, err = await cli("trade", "register", "--ubl", str(UBL), *common)
    assert rc == 1
    assert json.loads(out)["error"] == "duplicate_document"
    assert "already registered" in err and "Traceback" not in err

    # the same sale under another number: suspected, then declared distinct
    other = tmp_path / "inv2.xml"
    other.write_bytes(UBL.read_bytes().replace(b"INV-2026-0417", b"ACME/7781"))
    rc, out, err = await cli("trade", "register", "--ubl", str(other), *common)
    assert rc == 1 and json.loads(out)["error"] == "suspected_duplicate"
    assert "--declare-distinct" in err
    rc, out, err = await cli("trade", "register", "--ubl", str(other), *common,
                             "--declare-distinct", "second shipment of order PO-88123")
    assert rc == 0, err
    again = await d.value(f"doc/{json.loads(out)['doc_id']}")
    assert again["declared_distinct"]["similar_to"] == inv_id

    # another exporter's key: refused before anything is signed
    other_key = key_file(d.ids["exporter2"], tmp_path)
    rc, out, err = await cli("trade", "register", "--dcsa", str(DCSA), "--node", url,
                             "--key", other_key)
    assert rc == 2 and "only the shipper registers it" in err
