"""Session 35's second walkthrough against the in-process trade cluster (the ``desk`` fixture): an
exporter's back office registering its ERP's and its carrier's files where a regulator lists
controlled goods, and reading its trade (the parts without a node:
tests/unit/test_walkthrough_s35b.py). Each assertion marked "before" failed on the code before.

* The same UBL file registered twice: ``duplicate_document`` with "Nothing to do if it is yours
  (chainfin trade show)" — which trade, the exporter had to find out. Now the command reads the
  file's ``content/<sha256>`` with the exporter's key (its parties read it; anyone else a 404,
  so nothing is told to a holder of a copy) and names the document and its trade.
* A B/L to a Russian port with goods listed ``refuse`` to RU passed ``--dry-run`` (the list is
  public) and was then refused with no ``what_to_do``; ``sanctioned_party``'s advice told the
  exporter that "the ledger ... has raised an alert" (decision 144: never the account holder).
* ``--dcsa`` without ``--trade`` registered a B/L in no trade, silently.
* ``chainfin trade show`` as the invoice's buyer: "no trade T on URL", for a trade that exists.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainfin.cli_docs_ingest import _HINTS
from tests.fixtures import Desk, key_file
from tests.unit.test_swift_mt700 import _chainfin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UBL = FIXTURES / "ubl_peppol_invoice.xml"
DCSA = FIXTURES / "dcsa_transport_document.json"


def test_no_advice_tells_the_sender_of_an_alert() -> None:
    # before: "sanctioned_party": "... the ledger refuses it and has raised an alert"
    assert not any("alert" in advice for advice in _HINTS.values()), _HINTS
    assert {"controlled_goods", "jurisdiction_refused"} <= set(_HINTS)  # before: no advice


async def test_a_back_office_registers_its_files_where_goods_are_controlled(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    await d.govern("add_currency", {"code": "EUR", "exponent": 2,
                                    "issuer": d.ids["usd_issuer"].public_key.hex()})
    url = str(d.http.make_url("")).rstrip("/")
    exporter = key_file(d.ids["exporter"], tmp_path)
    regulator = key_file(d.ids["auditor"], tmp_path)  # the trade genesis's regulator
    common = ("--node", url, "--key", exporter)
    rc, _, err = await _chainfin(capsys, "risk", "goods", "set", "--node", url, "--key",
                                 regulator, "--code", "8542", "--level", "refuse", "--to", "RU",
                                 "--reason", "EU Reg. 833/2014 art. 2a")
    assert rc == 0, err

    rc, out, err = await _chainfin(capsys, "trade", "register", "--ubl", str(UBL), *common)
    assert rc == 0, err
    trade_id, inv_id = json.loads(out)["trade_id"], json.loads(out)["doc_id"]

    # the same file again: which document, which trade (before: neither)
    rc, out, err = await _chainfin(capsys, "trade", "register", "--ubl", str(UBL), *common)
    line = json.loads(out)
    assert rc == 1 and line["error"] == "duplicate_document"
    assert line["registered_as"] == {"doc_id": inv_id, "trade_id": trade_id}
    assert f"chainfin trade show --trade {trade_id}" in err, err

    # the carrier's B/L to Vladivostok with the goods' codes
    td = json.loads(DCSA.read_text())
    td["transportDocumentReference"] = "MAEU261200010"
    td["transports"]["portOfDischarge"] = {"locationName": "Vladivostok",
                                           "UNLocationCode": "RUVVO"}
    td["consignmentItems"][0]["HSCodes"] = ["853952", "854231"]
    ru = tmp_path / "td_ru.json"
    ru.write_text(json.dumps(td))
    said = ("the goods 854231 fall under 8542, which this network's controlled-goods list "
            "refuses to RU (the port_of_discharge's country): EU Reg. 833/2014 art. 2a")
    rc, out, err = await _chainfin(capsys, "trade", "register", "--dcsa", str(ru), *common,
                                   "--trade", trade_id, "--dry-run")
    assert rc == 0, err
    # before: the dry run said nothing of it
    assert json.loads(out)["would_be_refused"] == {"error": "controlled_goods", "reason": said}
    assert "the ledger would refuse it (controlled_goods)" in err
    rc, out, err = await _chainfin(capsys, "trade", "register", "--dcsa", str(ru), *common,
                                   "--trade", trade_id)
    line = json.loads(out)
    assert rc == 1 and line["error"] == "controlled_goods" and line["reason"] == said
    assert "chainfin risk goods list --code" in line["what_to_do"]  # before: no what_to_do

    # the B/L without --trade: said, before it is sent
    rc, out, err = await _chainfin(capsys, "trade", "register", "--dcsa", str(DCSA), *common,
                                   "--dry-run")
    assert rc == 0 and "no --trade: the bill of lading is registered in no trade" in err, err

    # the buyer reads no trade it is not a party of; it is not told the trade is missing
    importer = key_file(d.ids["importer"], tmp_path)
    rc, out, err = await _chainfin(capsys, "trade", "show", "--node", url, "--key", importer,
                                   "--trade", trade_id)
    assert rc != 0 and "this key is no party of it" in err, err
    rc, out, err = await _chainfin(capsys, "trade", "show", "--node", url, "--key", exporter,
                                   "--trade", trade_id)
    assert rc == 0 and "invoice" in out, err
