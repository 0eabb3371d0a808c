"""ISO 20022 on a real 4-node testnet: a pacs.008 of 50 customer credit transfers becomes 50
committed settlement transfers carrying their EndToEndIds; camt.053 statements of the debtor and
the creditor validate against the official XSD, balance against /v1/state, and an independent
camt.053 reader from PyPI (ofxstatement-iso20022) reads back the same balances and entries;
pacs.002 and camt.054 come from the same ledger."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chainfin import iso20022 as iso
from chainfin.cli import main as chainfin_main
from chainfin.crypto import load_identity
from chainfin.iso20022 import cli as isocli
from contracts.settlement import CONTRACT as SETTLEMENT
from testnet.launch import Testnet, init_testnet

TRANSFER = SETTLEMENT.methods["transfer"].parse_args

N = 50


class Net:
    def __init__(self, d: Path) -> None:
        self.dir = d
        self.tn = Testnet(d)
        self.url = self.tn.rest_url(0)
        self.ca = str(self.tn.manifest.ca)  # REST is HTTPS (the consortium CA)

    def key(self, name: str) -> Path:
        return self.dir / "clients" / f"{name}.json"

    def pk(self, name: str) -> str:
        return load_identity(self.key(name)).public_key.hex()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    d = tmp_path_factory.mktemp("iso") / "tn"
    init_testnet(d, nodes=4)
    n = Net(d)
    n.tn.start()
    try:
        n.tn.wait_ready(30)
        cl = n.tn.client(0)
        r = cl.call(load_identity(n.key("usd_issuer")), "settlement", "issue",
                    {"currency": "USD", "to": n.pk("exporter"), "amount": 1_000_000}, wait=True)
        assert r["status"] == "committed", r
        n.client = cl
        yield n
        cl.close()
    finally:
        n.tn.stop()


def _pacs008(net: Net, amounts: list[str], prefix: str) -> tuple[bytes, list[str], list[str]]:
    e2e = [f"{prefix}-{i:03d}" for i in range(len(amounts))]
    uetrs = [str(uuid.uuid4()) for _ in amounts]
    xml = iso.build_pacs008([
        iso.OutgoingTransfer(e, a, "USD", net.pk("exporter"), net.pk("importer"), uetr=u,
                             remittance_info=f"invoice {e}", debtor_name="Exporter Ltd",
                             creditor_name="Importer GmbH")
        for e, a, u in zip(e2e, amounts, uetrs, strict=True)])
    return xml, e2e, uetrs


def _balance(net: Net, who: str) -> int:
    return int(net.client.state("settlement", f"bal/{net.pk(who)}/USD")["value"])


def test_pacs008_of_50_commits_50_transfers_and_statements_balance(
        net: Net, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAINFIN_KEY", raising=False)  # "without a key" below means none
    amounts = [f"{10 + i}.{i % 100:02d}" for i in range(N)]
    xml, e2e, uetrs = _pacs008(net, amounts, "E2E")
    f = tmp_path / "pacs008.xml"
    f.write_bytes(xml)
    report = tmp_path / "pacs002.xml"
    rc = chainfin_main(["iso20022", "submit", str(f), "--key", str(net.key("exporter")),
                        "--node", net.url, "--ca", net.ca, "--report", str(report)])
    assert rc == 0
    pacs002 = report.read_bytes()
    assert pacs002.count(b"<TxSts>ACSC</TxSts>") == N

    # every transfer committed, carrying its EndToEndId, UETR and remittance info
    ids = _committed_transfers(net)
    by_e2e = {a["end_to_end_id"]: (tx_id, a) for tx_id, a in ids}
    assert sorted(by_e2e) == e2e
    for e, u, amt in zip(e2e, uetrs, amounts, strict=True):
        _, a = by_e2e[e]
        assert a["uetr"] == u and a["remittance_info"] == f"invoice {e}"
        assert a["amount"] == int(Decimal(amt) * 100)

    today = datetime.now(UTC).date().isoformat()
    since = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()  # the chain is younger
    total = sum(int(Decimal(a) * 100) for a in amounts)
    for who, credits, debits in (("importer", N, 0), ("exporter", 1, N)):
        out = tmp_path / f"camt053-{who}.xml"
        rc = chainfin_main(["iso20022", "statement", "--account", net.pk(who), "--currency",
                            "USD", "--from", since, "--to", today, "--node", net.url,
                            "--ca", net.ca, "--key", str(net.key("auditor")),
                            "--out", str(out)])
        assert rc == 0  # 1 would mean: closing balance != /v1/state
        data = out.read_bytes()
        iso.validate("camt.053", data)
        assert data.count(b"<CdtDbtInd>CRDT</CdtDbtInd>") >= credits
        state_balance = _balance(net, who)
        _independent_reader_agrees(out, state_balance, credits + debits, e2e, who)
    assert _balance(net, "importer") == total
    assert _balance(net, "exporter") == 1_000_000 - total
    # the account holder's own key may not read blocks: the command says so (it printed the
    # node's bare "no block at height 1")
    capsysbinary.readouterr()
    assert chainfin_main(["iso20022", "statement", "--account", net.pk("exporter"),
                          "--currency", "USD", "--from", since, "--to", today, "--node",
                          net.url, "--ca", net.ca, "--key", str(net.key("exporter"))]) == 2
    assert b"may not read block" in capsysbinary.readouterr().err

    # pacs.002 by tx id, from the ledger (the CLI, then the function)
    capsysbinary.readouterr()
    # as the auditor (reads the block), then as the sender (reads the tx's own proof)
    for reader in ("auditor", "exporter"):
        assert chainfin_main(["iso20022", "status", "--tx", by_e2e[e2e[1]][0], "--node",
                              net.url, "--ca", net.ca, "--key", str(net.key(reader)),
                              ]) == 0
        out = capsysbinary.readouterr().out
        assert b"<TxSts>ACSC</TxSts>" in out and b"<OrgnlEndToEndId>E2E-001<" in out
    # without a key: the node refuses the read (401), the command says so
    assert chainfin_main(["iso20022", "status", "--tx", by_e2e[e2e[1]][0], "--node",
                          net.url, "--ca", net.ca]) == 2
    assert chainfin_main(["iso20022", "status", "--tx", by_e2e[e2e[1]][0], "--node",
                          net.url, "--ca", net.ca, "--key", str(net.key("exporter"))]) == 0
    out = capsysbinary.readouterr().out
    assert b"<TxSts>ACSC</TxSts>" in out and b"<OrgnlEndToEndId>E2E-001<" in out
    st = asyncio.run(isocli.tx_statuses(net.url, [by_e2e[e2e[0]][0], "00" * 32], net.ca,
                                        net.tn.identity("auditor")))
    assert [s.status for s in st] == ["committed", "unknown"]
    assert st[0].end_to_end_id == e2e[0] and st[0].uetr == uetrs[0]
    doc = iso.build_pacs002(st)
    assert b"<OrgnlEndToEndId>E2E-000</OrgnlEndToEndId>" in doc and b"RJCT" not in doc

    # camt.054: the blocks so far, one notification per block that moved the importer's USD
    d = tmp_path / "camt054"
    d.mkdir()
    n = asyncio.run(isocli.notify(net.url, net.pk("importer"), "USD", start_height=1,
                                  follow=False, limit=None, out_dir=d, ca=net.ca,
                                  identity=net.tn.identity("auditor")))
    files = sorted(d.iterdir())
    assert n == len(files) >= 1
    entries = 0
    for p in files:
        iso.validate("camt.054", p.read_bytes())
        entries += p.read_bytes().count(b"<Ntry>")
    assert entries == N


def _committed_transfers(net: Net) -> list[tuple[str, dict[str, Any]]]:
    tip = net.client.status()["height"]
    out = []
    for h in range(1, tip + 1):
        b = net.client.block(h)
        for tx_id, tx, rc in zip(b["tx_ids"], b["txs"], b["receipts"], strict=True):
            if tx["method"] == "transfer" and "end_to_end_id" in tx["args"]:
                assert rc["status"] == "committed", rc
                ev = rc["events"][0]["data"]
                assert ev["end_to_end_id"] == tx["args"]["end_to_end_id"]
                out.append((tx_id, tx["args"]))
    return out


def _independent_reader_agrees(path: Path, state_balance: int, n_entries: int, e2e: list[str],
                               who: str) -> None:
    from ofxstatement.plugins.iso20022 import Iso20022Parser  # the independent reader (dev dep)

    st = Iso20022Parser(str(path), iban="CHAINFIN").parse()
    assert st.currency == "USD"
    assert st.start_balance == Decimal("0.00") or who == "exporter"
    assert st.end_balance == Decimal(state_balance).scaleb(-2)
    assert len(st.lines) == n_entries
    assert st.start_balance + sum(line.amount for line in st.lines) == st.end_balance
    assert all(line.refnum and len(line.refnum) == 35 for line in st.lines)
    assert all((line.memo or "").startswith("chainfin tx ") for line in st.lines)


def test_rejected_transfer_is_rjct_and_invalid_xml_is_refused(net: Net, tmp_path: Path) -> None:
    xml, _, _ = _pacs008(net, ["999999999.00"], "BIG")
    msg, statuses = asyncio.run(isocli.submit(net.url, str(net.key("exporter")), xml, ca=net.ca,
                                              parse_args=TRANSFER))
    assert [s.status for s in statuses] == ["rejected"]
    assert statuses[0].error_code == "insufficient_funds"
    doc = iso.build_pacs002(statuses, original_msg_id=msg.msg_id)
    assert b"<TxSts>RJCT</TxSts>" in doc and b"insufficient_funds" in doc

    broken = xml.replace(b"<ChrgBr>SLEV</ChrgBr>", b"")
    with pytest.raises(iso.Iso20022Error, match="ChrgBr"):
        iso.parse_payment(broken)
    other = _pacs008(net, ["1.00"], "X")[0].replace(net.pk("exporter").encode(),
                                                   net.pk("auditor").encode())
    # the account's CHAINFIN-PK32 id too (an id of one key and a proxy of another is refused)
    other = other.replace(net.pk("exporter")[:32].encode(), net.pk("auditor")[:32].encode())
    with pytest.raises(iso.Iso20022Error, match="not the signing key"):
        asyncio.run(isocli.submit(net.url, str(net.key("exporter")), other, ca=net.ca,
                                 parse_args=TRANSFER))
    with pytest.raises(iso.Iso20022Error, match="at most 2 decimals"):
        asyncio.run(isocli.submit(net.url, str(net.key("exporter")),
                                  _pacs008(net, ["1.001"], "Y")[0], ca=net.ca,
                                  parse_args=TRANSFER))


def test_notify_follow_emits_camt054_as_blocks_commit(net: Net, tmp_path: Path) -> None:
    """``notify --follow``: nothing for the past, then one camt.054 when a transfer to the
    account commits (announced by /v1/events)."""
    from chainfin.client import Client
    from chainfin.types import Transaction

    exporter = load_identity(net.key("exporter"))

    async def run() -> int:
        task = asyncio.create_task(isocli.notify(
            net.url, net.pk("importer"), "USD", start_height=None, follow=True, limit=1,
            out_dir=tmp_path, ca=net.ca, identity=net.tn.identity("auditor")))
        await asyncio.sleep(0.5)  # subscribed
        async with Client(net.url, ca_file=net.ca, identity=exporter) as c:
            nonce = await c.next_nonce(exporter.public_key)
            tx = Transaction.create(exporter, await c.chain_id(), nonce, "settlement",
                                    "transfer", {"to": net.pk("importer"), "currency": "USD",
                                                 "amount": 42, "end_to_end_id": "LIVE-1"})
            await c.submit(tx, wait=True)
        return await asyncio.wait_for(task, 20)

    assert asyncio.run(run()) == 1
    (f,) = tmp_path.iterdir()
    xml = f.read_bytes()
    iso.validate("camt.054", xml)
    assert b"<EndToEndId>LIVE-1</EndToEndId>" in xml and b"<Amt Ccy=\"USD\">0.42</Amt>" in xml
