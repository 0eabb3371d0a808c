"""Session 38's auditor walk-through (docs/walkthrough-2026-12-07d.md): an external auditor, with
the genesis file and nothing else it trusts, proves the newest records offline with
``chainfin verify``. Real in-process nodes (the ``desk`` fixture); each test fails on the code
before:

* an STR filed with ``chainfin alerts str --review`` left only a commitment on chain, and no
  command checked a report file against it: ``chainfin verify --report FILE --record CASE``
  (the state proof of ``risk/review/<alert>/<n>``, the record the bank disclosed from ``alerts
  case --json``, which before left out the record's nonce, so the bank could not disclose it
  through the CLI at all);
* a paid guarantee: the ``pay_demand`` proof for the payout's height (``--height``: a proof of
  another height refused in words), the guarantee's record proven at the tip;
* a proof checked against the genesis of another network: said as such.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli
from chainfin.crypto import Identity
from tests.fixtures import Desk, key_file
from tests.unit.test_goaml import alerts_of, config, customer, pay
from tests.unit.trade_cases import T

ADDRESS = {"lines": ["1 Canada Square"], "town": "London", "country": "GB"}


async def _chainfin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = await asyncio.to_thread(cli.main, list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _genesis(d: Desk, tmp_path: Path) -> str:
    path = tmp_path / "genesis.json"
    path.write_text(d.genesis.to_json_text())
    return str(path)


def _other_genesis(d: Desk, tmp_path: Path, chain_id: str | None = None) -> str:
    """The genesis of another network: another chain id, or the same one with other
    validators (a rerun testnet)."""
    doc = json.loads(d.genesis.to_json_text())
    if chain_id is not None:
        doc["chain_id"] = chain_id
    else:
        doc["validators"] = doc["validators"][1:] + doc["validators"][:1]
        doc["validators"][0] = {**doc["validators"][0],
                                "public_key": d.ids["importer"].public_key.hex()}
    path = tmp_path / f"other-{chain_id or 'validators'}.json"
    path.write_text(json.dumps(doc))
    return str(path)


async def test_an_auditor_proves_an_str_file_is_the_report_the_review_sealed(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    await customer(d)
    for amount in (950, 960):
        assert (await pay(d, "USD", amount))["status"] == "committed"
    structured = await pay(d, "USD", 990)
    alert = (await alerts_of(d, structured["tx_id"]))[0]
    url = str(d.http.make_url("")).rstrip("/")
    bank = key_file(d.ids["bank_a"], tmp_path)
    auditor = key_file(d.ids["auditor"], tmp_path)
    note = tmp_path / "note.txt"
    note.write_text("three payments just under the cap")
    report = tmp_path / "str.xml"
    rc, _, err = await _chainfin(capsys, "alerts", "str", alert, "--node", url, "--key", bank,
                                 "--out", str(report), "--config", config(tmp_path),
                                 "--review", "--note", str(note))
    assert rc == 0, err
    assert "chainfin verify --report FILE --record CASE.json" in err  # before: not said

    # the bank discloses its opened record: before, `alerts case --json` left out the nonce
    rc, out, err = await _chainfin(capsys, "alerts", "case", "--node", url, "--key", bank,
                                   "--alert", alert, "--json")
    assert rc == 0, err
    case = json.loads(out)
    assert set(case["reviews"][0]["record"]) == {"alert", "disposition", "note_sha256",
                                                 "report_sha256", "nonce"}
    (tmp_path / "case.json").write_text(out)

    # the auditor fetches the review's state proof and checks the file against it offline
    proof = tmp_path / "review.json"
    rc, _, err = await _chainfin(capsys, "proof", "state", "--node", url, "--identity", auditor,
                                 "--contract", "risk", "--key", f"review/{alert}/0",
                                 "--out", str(proof))
    assert rc == 0, err
    genesis = _genesis(d, tmp_path)
    seal = ("--report", str(report), "--record", str(tmp_path / "case.json"))
    rc, out, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(proof), *seal)
    assert rc == 0, err  # before: --report was an unknown argument (exit 2)
    assert "SEAL MATCHES" in out and f"review 0 of alert {alert}: disposition reported" in out
    assert "trusted root:   genesis" in out

    # the record alone (what `jq .reviews[0].record` gives) serves as well
    rec = tmp_path / "record.json"
    rec.write_text(json.dumps(case["reviews"][0]["record"]))
    rc, out, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(proof),
                                   "--report", str(report), "--record", str(rec))
    assert rc == 0 and "SEAL MATCHES" in out, err

    # a changed byte in the file: refused, saying which hash it has
    changed = tmp_path / "str-changed.xml"
    data = bytearray(report.read_bytes())
    data[len(data) // 2] ^= 0x01
    changed.write_bytes(bytes(data))
    rc, out, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(proof),
                                   "--report", str(changed), "--record", str(rec))
    assert rc == 1 and "chainfin: seal does not match: the report file's SHA-256" in err, err
    assert "the file was changed, or it is another report" in err

    # a record with another nonce (or another disposition) does not open the commitment
    forged = {**case["reviews"][0]["record"], "nonce": "00" * 32}
    rec.write_text(json.dumps(forged))
    rc, _, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(proof),
                                 "--report", str(report), "--record", str(rec))
    assert rc == 1 and "does not open review 0 of alert" in err, err

    # a proof of another key: said what it needs
    other = tmp_path / "bal.json"
    rc, _, err = await _chainfin(capsys, "proof", "state", "--node", url, "--identity", auditor,
                                 "--contract", "risk", "--key", f"review/{alert}/1",
                                 "--out", str(other))
    assert rc == 0, err
    rc, _, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(other), *seal)
    assert rc == 1 and "ABSENT" in err and "no such review was recorded" in err, err


async def test_an_auditor_proves_a_guarantee_payout_at_its_height(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    args: dict[str, Any] = {
        "applicant": d.ids["exporter"].public_key.hex(),
        "beneficiary": d.ids["importer"].public_key.hex(), "amount": 50_000_00,
        "currency": "USD", "form": "DGAR", "guarantee_type": "performance",
        "guarantee_number": "PG-2026-038", "underlying_ref": "CONTRACT 38/2026",
        "expiry_date": "2027-06-30", "advising_bank": d.ids["bank_b"].public_key.hex()}
    gid = (await d.send("bank_a", "issue_guarantee", **args))["guarantee_id"]
    dem = await d.send("importer", "demand", guarantee_id=gid, amount=10_000_00,
                       supporting_statement="The applicant failed to deliver lot 2")
    paid = await d.commit(d.tx("bank_a", T, "pay_demand", {"demand_id": dem["demand_id"]}))
    assert paid["status"] == "committed", paid
    height = paid["height"]
    url = str(d.http.make_url("")).rstrip("/")
    auditor = key_file(d.ids["auditor"], tmp_path)
    genesis = _genesis(d, tmp_path)

    tx = tmp_path / "pay.json"
    rc, _, err = await _chainfin(capsys, "proof", "tx", "--node", url, "--key", auditor,
                                 "--id", paid["tx_id"], "--out", str(tx))
    assert rc == 0, err
    rc, out, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(tx),
                                   "--height", str(height))
    assert rc == 0, err
    assert f"call:           {T}.pay_demand" in out and "outcome:        committed" in out
    assert f"block height:   {height}" in out and "signed by:" in out
    # what was paid, from the proven receipt (before: only "committed")
    assert '"status": "paid"' in out.split("result:", 1)[1].split("\n", 1)[0], out
    events = out.split("events:", 1)[1].split("trusted root:", 1)[0]
    assert f'{T}.guarantee_paid {{"advising_bank": ' in events, out
    assert '"amount": 1000000, "applicant": ' in events, out
    assert f'"guarantee_id": "{gid}"' in events, out
    # the auditor expected another height: refused in words (before: --height unknown)
    rc, _, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(tx),
                                 "--height", str(height + 1))
    assert rc == 1 and (f"the proof is of the block at height {height}, not of height "
                        f"{height + 1}") in err, err

    # a rejected demand: the transaction committed (outcome), the demand was rejected (result)
    dem2 = await d.send("importer", "demand", guarantee_id=gid, amount=5_000_00,
                        supporting_statement="Lot 3 was late")
    rej = await d.commit(d.tx("bank_a", T, "reject_demand", {
        "demand_id": dem2["demand_id"], "discrepancies": [{"code": "missing_document"}]}))
    assert rej["status"] == "committed", rej
    rej_proof = tmp_path / "reject.json"
    rc, _, err = await _chainfin(capsys, "proof", "tx", "--node", url, "--key", auditor,
                                 "--id", rej["tx_id"], "--out", str(rej_proof))
    assert rc == 0, err
    rc, out, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(rej_proof))
    assert rc == 0 and "outcome:        committed" in out, err
    said = json.loads(out.split("result:", 1)[1].split("\n", 1)[0])
    assert said["status"] == "rejected", said  # before: only "committed" was printed

    # the record at the tip: here by the `auditor` key, which the trade genesis also lists as
    # its regulator; a key that is an auditor only is refused gtee/ (decision 195)
    state = tmp_path / "gtee.json"
    rc, _, err = await _chainfin(capsys, "proof", "state", "--node", url, "--identity", auditor,
                                 "--contract", T, "--key", f"gtee/{gid}", "--out", str(state))
    assert rc == 0, err
    rc, out, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(state))
    assert rc == 0, err
    shown = json.loads(out.split("value:", 1)[1].split("\n", 1)[0])
    assert (shown["paid"], shown["reserved"]) == (10_000_00, 0)  # the record at the tip

    # the genesis of another network: said as such (before: "block.header is for chain ...",
    # or, with the same chain id, only that the validators_hash is not the set in force)
    rc, _, err = await _chainfin(capsys, "verify", "--genesis",
                                 _other_genesis(d, tmp_path, "chainfin-other"), str(tx))
    assert rc == 1 and ("this proof is of chain " + repr(d.genesis.chain_id)
                        + " and the genesis file of chain 'chainfin-other'") in err, err
    rc, _, err = await _chainfin(capsys, "verify", "--genesis", _other_genesis(d, tmp_path),
                                 str(tx))
    assert rc == 1 and "validators_hash at height" in err, err  # the reason, as before
    assert "is the genesis file the one of the network that made the proof" in err, err


async def test_an_auditor_proves_a_travel_rule_refusal_and_the_data_a_transfer_carried(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The refusal is a rejected receipt in a full proof; the transfer's proof names the kept
    version of the originator's data (``travel_v``, printed from the proven result: before,
    only "committed"), and that version, never rewritten (decision 224), is proven at the tip
    as it was at the transfer."""
    d = desk
    for name, role, bic in (("payer", "exporter", "BARCGB22"),
                            ("payee", "importer", "CHASUS33")):
        d.ids[name] = Identity.generate(name)
        out = await d.commit(d.tx("bank_a", "governance", "register_identity", {
            "pubkey": d.ids[name].public_key.hex(), "name": name, "role": role, "bank": bic}))
        assert out["status"] == "committed", out
    await d.commit(d.issue(5_000_00, "payer"))
    pay_args = {"to": d.ids["payee"].public_key.hex(), "currency": "USD", "amount": 1_000_00}
    refused = await d.commit(d.tx("payer", "settlement", "transfer", pay_args))
    assert refused["error"]["code"] == "incomplete_originator_info", refused
    payer = d.ids["payer"].public_key.hex()
    out = await d.commit(d.tx("bank_a", "governance", "set_travel_info", {
        "pubkey": payer, "address": ADDRESS}))
    assert out["status"] == "committed", out
    sent = await d.commit(d.tx("payer", "settlement", "transfer", pay_args))
    assert sent["status"] == "committed", sent
    # the home bank records other data later: the transfer's version stays what it carried
    out = await d.commit(d.tx("bank_a", "governance", "set_travel_info", {
        "pubkey": payer, "customer_id": "C-1"}))
    assert out["status"] == "committed", out
    url = str(d.http.make_url("")).rstrip("/")
    auditor = key_file(d.ids["auditor"], tmp_path)
    genesis = _genesis(d, tmp_path)

    async def verified(*fetch: str) -> str:
        path = tmp_path / f"p{len(list(tmp_path.iterdir()))}.json"
        rc, _, err = await _chainfin(capsys, "proof", *fetch, "--node", url, "--out", str(path))
        assert rc == 0, err
        rc, out, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(path))
        assert rc == 0, err
        return out

    out = await verified("tx", "--key", auditor, "--id", refused["tx_id"])
    assert "outcome:        rejected: incomplete_originator_info (" in out, out
    out = await verified("tx", "--key", auditor, "--id", sent["tx_id"])
    result = json.loads(out.split("result:", 1)[1].split("\n", 1)[0])
    assert result["travel_v"] == 1, result
    out = await verified("state", "--identity", auditor, "--contract", "governance",
                         "--key", f"travel/{payer}/{result['travel_v']}")
    shown = json.loads(out.split("value:", 1)[1].split("\n", 1)[0])
    assert shown["info"] == {"address": ADDRESS}, shown


async def test_a_bank_hands_its_auditor_the_proof_of_its_own_review_transaction(
        desk3: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bank's own auditor is no chain identity (docs/risk.md "Who reads a disposition") and a
    bank is served no state proof; but on a chain of ledger format 3 the bank is served the
    proof of its own ``review_alert`` transaction (inclusion-only, or whole for a validator's
    bank as here), whose signed arguments carry the commitment: ``verify --report`` takes it
    (the caveat of an inclusion-only one: tests/unit/test_walkthrough_s38_audit.py)."""
    d = desk3
    await customer(d)
    for amount in (950, 960):
        assert (await pay(d, "USD", amount))["status"] == "committed"
    structured = await pay(d, "USD", 990)
    alert = (await alerts_of(d, structured["tx_id"]))[0]
    url = str(d.http.make_url("")).rstrip("/")
    bank = key_file(d.ids["bank_a"], tmp_path)
    note = tmp_path / "note.txt"
    note.write_text("filed")
    report = tmp_path / "str.xml"
    rc, out, err = await _chainfin(capsys, "alerts", "str", alert, "--node", url, "--key", bank,
                                   "--out", str(report), "--config", config(tmp_path),
                                   "--review", "--note", str(note))
    assert rc == 0, err
    review_tx = json.loads(out.splitlines()[1])["tx_id"]
    rc, out, err = await _chainfin(capsys, "alerts", "case", "--node", url, "--key", bank,
                                   "--alert", alert, "--json")
    assert rc == 0, err
    case = tmp_path / "case.json"
    case.write_text(out)
    genesis = _genesis(d, tmp_path)
    auditor = key_file(d.ids["auditor"], tmp_path)
    for who, key in (("bank_a", bank), ("auditor", auditor)):
        proof = tmp_path / f"review-tx-{who}.json"
        rc, _, err = await _chainfin(capsys, "proof", "tx", "--node", url, "--key",
                                     key, "--id", review_tx,
                                     "--out", str(proof))
        assert rc == 0, err
        rc, out, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(proof),
                                       "--report", str(report), "--record", str(case))
        assert rc == 0 and "SEAL MATCHES" in out, (who, err)
        assert f"the review_alert transaction {review_tx} of alert {alert}" in out
        # an inclusion-only proof (a bank that is no validator) says what it leaves open
        assert ("caveat:         the outcome is not proven" in out) is (
            "outcome:        not proven" in out), (who, out)
    # a proof of another transaction: said what it is and what is needed
    other = tmp_path / "pay.json"
    rc, _, err = await _chainfin(capsys, "proof", "tx", "--node", url, "--key", auditor,
                                 "--id", structured["tx_id"], "--out", str(other))
    assert rc == 0, err
    rc, _, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(other),
                                 "--report", str(report), "--record", str(case))
    assert rc == 1 and "this proof is of a transaction of settlement.transfer" in err, err
