"""``chainfin testnet demo``: a 4-node testnet tells the whole trade-finance story.

Init in a temp dir, start 4 real node processes on 127.0.0.1, run the story over REST (each
step signed by the identity that would do it in real life, sent to a different node), print each
step with its finality, check the final state on every node, stop everything.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import os
import re
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from chainfin import cli_alerts
from chainfin.client import signed_headers
from chainfin.crypto import Identity, load_identity
from chainfin.iso20022 import TxStatus
from chainfin.types import Transaction
from contracts import credit_sharing, risk
from contracts.trade.norm import container_check_digit
from testnet.launch import Testnet, init_testnet, keyed_genesis, load_manifest

#: what the importer's pain.001 (step 4c) pays the exporter: USD 400.00 + 350.50
PAYMENT_FILE_MINOR = 75_050
#: step 3b's performance guarantee (USD 25,000.00) and what the buyer demands and is paid
GUARANTEE_MINOR, GUARANTEE_DEMAND_MINOR = 2_500_000, 500_000


def containers_of(owner: str, tag: str, n: int = 2) -> list[str]:
    """``n`` ISO 6346 container numbers of owner code ``owner`` (four letters, category U),
    their serials from a digest of the run's random ``tag`` and their check digits computed: the
    testnet requires a B/L's containers (``bill_of_lading_requires_containers``, decision 265),
    and a second run on the same chain must not name the first run's boxes within their 90
    days (decision 228)."""
    base = int.from_bytes(hashlib.sha256(tag.encode()).digest()[:4], "big")
    out = []
    for i in range(n):
        code = f"{owner}{(base + i) % 1_000_000:06d}"
        out.append(f"{code}{container_check_digit(code)}")
    return out


class StoryError(Exception):
    """A step of the story did not end as the story expects."""


@dataclass
class Step:
    title: str
    status: str
    finality_ms: float
    height: int | None
    detail: str = ""


@dataclass
class Story:
    """Drives the demo identities of a running testnet over REST."""

    urls: list[str]
    chain_id: str
    ids: dict[str, Identity]
    session: aiohttp.ClientSession
    out: Any = sys.stdout
    steps: list[Step] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    #: the consortium's fingerprint key (its file, which the genesis commits to), which the
    #: regulator's client hashes watch entries with
    fingerprint_key: bytes = b""
    _rr: itertools.count = field(default_factory=itertools.count)
    _seen: int = 0  # the highest block a step of this story saw committed
    _nonce: itertools.count = field(default_factory=lambda: itertools.count(1))

    def pk(self, name: str) -> str:
        return self.ids[name].public_key.hex()

    async def send(self, title: str, who: str, contract: str, method: str,
                   args: dict[str, Any], expect: str = "committed",
                   expect_error: str | None = None) -> dict[str, Any]:
        tx = Transaction.create(self.ids[who], self.chain_id, next(self._nonce), contract,
                                method, args)
        url = self.urls[next(self._rr) % len(self.urls)]
        await self._caught_up(url)
        t0 = time.perf_counter()
        async with self.session.post(f"{url}/v1/tx?wait=commit", json=tx.to_json(),
                                     timeout=aiohttp.ClientTimeout(total=30)) as r:
            body = await r.json()
        ms = (time.perf_counter() - t0) * 1000
        status = body.get("status", f"http {r.status}")
        err = (body.get("error") or {}).get("code")
        detail = f"refused: {err}" if err else ""
        self.steps.append(Step(title, status, ms, body.get("height"), detail))
        mark = "ok " if status == expect and err == expect_error else "!! "
        h = body.get("height")
        print(f"  {mark}{title:<62} {status:<9} h={h!s:<4} {ms:7.1f} ms  {detail}",
              file=self.out, flush=True)
        if status != expect or err != expect_error:
            raise StoryError(f"{title}: expected {expect}/{expect_error}, got {body}")
        if isinstance(h, int):
            self._seen = max(self._seen, h)
        return body

    async def _caught_up(self, url: str, wait_s: float = 10.0) -> None:
        """Wait (bounded) until the node at ``url`` holds every block this story has seen
        committed: the nodes take turns, and a node a block behind admits a transaction against
        the state before it (the importer paying just after its unfreeze was refused
        `account_frozen` by a replica that had not yet applied the unfreeze)."""
        deadline = time.monotonic() + wait_s
        while self._seen:
            async with self.session.get(f"{url}/v1/status") as r:
                if r.status == 200 and (await r.json()).get("height", 0) >= self._seen:
                    return
            if time.monotonic() > deadline:
                return  # the step itself then says what the node answered
            await asyncio.sleep(0.01)

    def get(self, url: str, who: str) -> Any:
        """GET ``url`` signed as client ``who`` (RFC 9421: every read is signed)."""
        return self.session.get(url, headers=signed_headers(self.ids[who], "GET", url))

    async def state(self, node: int, contract: str, key: str, who: str = "regulator") -> Any:
        """The value at ``contract/key`` as ``who`` may see it (None: missing or not theirs)."""
        async with self.get(f"{self.urls[node]}/v1/state/{contract}/{key}", who) as r:
            if r.status == 404:
                return None
            body = await r.json()
            return body["value"]

    async def run(self) -> None:
        """The story. Raises StoryError at the first step that ends otherwise."""
        exp, imp = self.pk("exporter"), self.pk("importer")
        bank_a, bank_b, bank_c = self.pk("bank0"), self.pk("bank1"), self.pk("bank2")
        now_ms = int(time.time() * 1000)
        uniq = os.urandom(3).hex().upper()
        while {"666", "667"} & {g.lstrip("0") for g in re.findall(r"\d+", uniq)}:
            # its invoice would share the digits of the sanctioned invoices below (INV-2026-0666,
            # -0667) and one of them be read as its copy (suspected_duplicate: an invoice
            # number's digits are remembered per seller, decisions 153, 175)
            uniq = os.urandom(3).hex().upper()
        invoice = {"seller": "Shenzhen Bright Lamps Co., Ltd.", "buyer": "Lumen Imports LLC",
                   "number": f"INV-2026-{uniq}", "issue_date": "2026-11-20",
                   "amount": 12_500_000, "currency": "USD"}
        decl_no, expiry = f"CD{uniq}2026", time.strftime(
            "%Y-%m-%d", time.gmtime(now_ms / 1000 + 30 * 24 * 3600))
        print("1. One shipment, one trade: invoice, customs declaration, bill of lading",
              file=self.out)
        r = await self.send("exporter registers invoice (USD 125,000.00): opens the trade",
                            "exporter", "trade_documents", "register",
                            {"doc_type": "invoice", "fields": invoice,
                             "content_hash": hashlib.sha256(b"invoice pdf " + uniq.encode())
                             .hexdigest()})
        inv_id, trade_id = r["result"]["doc_id"], r["result"]["trade_id"]
        r = await self.send("exporter registers the customs declaration in the trade",
                            "exporter", "trade_documents", "register",
                            {"doc_type": "customs_declaration", "trade_id": trade_id,
                             "fields": {"declaration_number": decl_no,
                                        "exporter": invoice["seller"],
                                        "amount": "125,000.00", "currency": "USD"},
                             "content_hash": hashlib.sha256(b"cd pdf " + uniq.encode())
                             .hexdigest()})
        decl_id = r["result"]["doc_id"]
        bl_fields = {"carrier": "MAEU", "bl_number": f"MAEU{uniq}01",
                     "shipper": invoice["seller"], "consignee": invoice["buyer"],
                     "vessel": "Maersk Essen", "port_of_loading": "Yantian",
                     "port_of_discharge": "Los Angeles", "voyage": "447W"}
        # the testnet's consortium requires a B/L's boxes (decision 265): a re-issued B/L
        # cannot leave them off to escape the container rules
        await self.send("a B/L without its containers: the consortium requires them",
                        "exporter", "trade_documents", "register",
                        {"doc_type": "bill_of_lading", "trade_id": trade_id,
                         "fields": bl_fields,
                         "content_hash": hashlib.sha256(b"bl no boxes " + uniq.encode())
                         .hexdigest()},
                        expect="rejected", expect_error="missing_field")
        r = await self.send("exporter registers the bill of lading with its 2 containers",
                            "exporter", "trade_documents", "register",
                            {"doc_type": "bill_of_lading", "trade_id": trade_id,
                             "fields": {**bl_fields, "containers": containers_of("MSKU", uniq)},
                             "content_hash": hashlib.sha256(b"bl pdf " + uniq.encode())
                             .hexdigest()})
        bl_id = r["result"]["doc_id"]
        await self.send("customs attests the declaration: match, USD 125,000.00", "customs",
                        "trade_documents", "attest",
                        {"doc_id": decl_id, "result": "match", "declared_amount": 12_500_000})
        print("2. One financing pool per trade, never financed twice", file=self.out)
        await self.send("USD issuer funds bank A",
                        "usd_issuer", "settlement", "issue",
                        {"currency": "USD", "to": bank_a, "amount": 50_000_000})
        await self.send("USD issuer funds the importer's bank (bank C)", "usd_issuer", "settlement", "issue",
                        {"currency": "USD", "to": bank_c, "amount": 50_000_000})
        await self.send("bank A verifies the invoice", "bank0", "trade_documents", "verify",
                        {"doc_id": inv_id})
        r = await self.send("bank A finances 80 %: USD 100,000.00 paid to the exporter",
                            "bank0", "trade_documents", "request_financing",
                            {"doc_id": inv_id, "amount": 10_000_000, "currency": "USD",
                             "maturity_date": expiry})
        fin_id = r["result"]["financing_id"]
        await self.send("bank B tries to finance the declaration (USD 50,000.00)", "bank1",
                        "trade_documents", "request_financing",
                        {"doc_id": decl_id, "amount": 5_000_000, "currency": "USD",
                         "maturity_date": expiry},
                        expect="rejected", expect_error="over_financed")
        rekeyed = dict(invoice, seller="  SHENZHEN   bright lamps co., ltd. ",
                       amount="125,000.01", number=invoice["number"].lower())
        await self.send("exporter re-keys the invoice with one cent more", "exporter",
                        "trade_documents", "register",
                        {"doc_type": "invoice", "fields": rekeyed,
                         "content_hash": hashlib.sha256(b"rescanned " + uniq.encode())
                         .hexdigest()},
                        expect="rejected", expect_error="duplicate_document")
        print("3. Letter of credit: a discrepant presentation, a corrected one, proceeds "
              "assigned", file=self.out)
        r = await self.send("bank C issues an LC for the importer, linked to the trade",
                            "bank2", "trade_documents", "issue_lc",
                            {"applicant": imp, "beneficiary": exp, "amount": 12_500_000,
                             "currency": "USD", "expiry_date": expiry,
                             "required_docs": ["invoice", "bill_of_lading"],
                             "lc_number": f"LC{uniq}", "trade_id": trade_id})
        lc_id = r["result"]["lc_id"]
        await self.send("bank C proposes amendment 1: partial drawings allowed", "bank2",
                        "trade_documents", "amend_lc",
                        {"lc_id": lc_id, "changes": {"partial_drawings": True}, "number": 1})
        await self.send("bank C's back office resends amendment 1", "bank2", "trade_documents",
                        "amend_lc", {"lc_id": lc_id, "changes": {"partial_drawings": True},
                                     "number": 1},
                        expect="rejected", expect_error="amendment_number")
        await self.send("exporter accepts amendment 1 (the one it read)", "exporter",
                        "trade_documents", "accept_amendment", {"lc_id": lc_id, "number": 1})
        r = await self.send("exporter presents invoice + bill of lading", "exporter",
                            "trade_documents", "present",
                            {"lc_id": lc_id, "doc_ids": [inv_id, bl_id],
                             "amount": 12_500_000})
        first = r["result"]["presentation_id"]
        await self.send("bank C refuses it: description_mismatch", "bank2", "trade_documents",
                        "refuse_presentation", {"presentation_id": first,
                                                "discrepancies": ["description_mismatch"]})
        r = await self.send("exporter presents the corrected set", "exporter",
                            "trade_documents", "present",
                            {"lc_id": lc_id, "doc_ids": [inv_id, bl_id],
                             "amount": 12_500_000})
        second = r["result"]["presentation_id"]
        r = await self.send("bank C pays: bank A's USD 100,000.00 first, rest to exporter",
                            "bank2", "trade_documents", "accept_presentation",
                            {"presentation_id": second})
        paid = [(p["to"], p["amount"]) for p in r["result"]["payments"]]
        if paid != [(bank_a, 10_000_000), (exp, 2_500_000)]:
            raise StoryError(f"LC proceeds went {paid}, not bank A first")
        gtee_id, demand_id = await self.guarantee(exp, imp, uniq, expiry)
        print("4. USD -> CNY payment-versus-payment", file=self.out)
        await self.send("CNY issuer funds the importer", "cny_issuer", "settlement", "issue",
                        {"currency": "CNY", "to": imp, "amount": 40_000_000})
        r = await self.send("exporter offers USD 10,000.00 for CNY 71,000.00", "exporter",
                            "settlement", "offer_pvp",
                            {"counterparty": imp, "give": {"currency": "USD",
                                                           "amount": 1_000_000},
                             "get": {"currency": "CNY", "amount": 7_100_000},
                             "expires_at": now_ms + 3_600_000})
        offer_id = r["result"]["offer_id"]
        await self.send("importer accepts: both legs settle atomically", "importer",
                        "settlement", "accept_pvp", {"offer_id": offer_id})
        print("4b. A payment sent twice: recalled and returned, settlement still final",
              file=self.out)
        pay = {"to": exp, "currency": "USD", "amount": 250_000,
               "end_to_end_id": f"E2E-{uniq}", "remittance_info": f"INV-2026-{uniq} deposit"}
        await self.send("importer pays the exporter USD 2,500.00 (pacs.008)", "importer",
                        "settlement", "transfer", dict(pay, uetr=str(uuid.uuid4())))
        dup_uetr = str(uuid.uuid4())
        r = await self.send("its back office sends the file again under a new UETR",
                            "importer", "settlement", "transfer", dict(pay, uetr=dup_uetr))
        dup = r["tx_id"]
        await self.send("importer recalls the duplicate (camt.056, reason DUPL)",
                        "importer", "settlement", "recall",
                        {"original_tx": dup, "uetr": dup_uetr, "payer": imp, "reason": "DUPL"})
        await self.send("exporter returns it, linked to the payment (pacs.004)", "exporter",
                        "settlement", "return_payment",
                        {"original_tx": dup, "payer": imp, "uetr": dup_uetr,
                         "currency": "USD", "amount": 250_000, "reason": "FOCR"})
        await self.send("exporter's back office returns it a second time", "exporter",
                        "settlement", "return_payment",
                        {"original_tx": dup, "payer": imp, "uetr": dup_uetr,
                         "currency": "USD", "amount": 250_000, "reason": "FOCR"},
                        expect="rejected", expect_error="over_return")
        await self.payment_file(imp, exp, uniq)
        print("5. Credit record shared with consent", file=self.out)
        record = b'{"subject":"exporter","rating":"BBB+","limit_usd_minor":50000000}'
        salt = os.urandom(16)
        regulators = await self.regulators()
        sealed = credit_sharing.seal_record(record, salt, [bank_a, *regulators])
        commitment = credit_sharing.make_commitment(record, salt)
        r = await self.send("bank A publishes a sealed credit record on the exporter",
                            "bank0", "credit_sharing", "publish",
                            {"subject": exp, "commitment": commitment, "sealed": sealed})
        record_id = r["result"]["record_id"]
        r = await self.send("bank B asks without consent", "bank1", "credit_sharing",
                            "request_access", {"record_id": record_id})
        if r["result"]["status"] != "refused":
            raise StoryError("a request without consent was not refused")
        await self.send("exporter grants bank B consent", "exporter", "credit_sharing",
                        "grant_consent", {"bank": bank_b})
        r = await self.send("bank B asks again", "bank1", "credit_sharing", "request_access",
                            {"record_id": record_id})
        request_id = r["result"]["request_id"]
        t0 = time.perf_counter()
        req = await self.wait_delivery(request_id)
        got = credit_sharing.open_and_check(self.ids["bank1"], req["sealed"], commitment)
        ms = (time.perf_counter() - t0) * 1000
        print(f"  ok {'bank A node delivers automatically; B checks commitment':<62} "
              f"{'delivered':<9} {'':<6} {ms:7.1f} ms", file=self.out)
        if got != record:
            raise StoryError("delivered record differs")
        self.facts = {"invoice": inv_id, "trade": trade_id, "declaration": decl_id,
                      "bill_of_lading": bl_id, "financing": fin_id, "lc": lc_id,
                      "presentation": second, "offer": offer_id, "record": record_id,
                      "recalled": dup,
                      "request": request_id, "guarantee": gtee_id, "demand": demand_id}

    async def guarantee(self, exp: str, imp: str, uniq: str, expiry: str) -> tuple[str, str]:
        """3b. Bank A issues a performance guarantee (URDG 758) for its exporter in favour of
        the buyer; a demand without the statement of breach is refused, the demand with one is
        paid by the guarantor from its own USD (decision 195). Returns the guarantee and
        demand ids."""
        print("3b. A performance guarantee: the buyer demands, the bank pays", file=self.out)
        r = await self.send("bank A issues a USD 25,000.00 performance guarantee (URDG)",
                            "bank0", "trade_documents", "issue_guarantee",
                            {"applicant": exp, "beneficiary": imp, "amount": GUARANTEE_MINOR,
                             "currency": "USD", "form": "DGAR",
                             "guarantee_type": "performance", "guarantee_number": f"PG{uniq}",
                             "underlying_ref": f"Supply contract SC-{uniq}",
                             "expiry_date": expiry})
        gtee_id = r["result"]["guarantee_id"]
        demand = {"guarantee_id": gtee_id, "amount": GUARANTEE_DEMAND_MINOR}
        await self.send("importer demands USD 5,000.00 with no statement of breach",
                        "importer", "trade_documents", "demand", demand,
                        expect="rejected", expect_error="statement_required")
        r = await self.send("importer demands again: 'lamps delivered 3 weeks late'",
                            "importer", "trade_documents", "demand",
                            dict(demand, supporting_statement="The applicant delivered the "
                                 "lamps three weeks after the contract's delivery date"))
        demand_id = r["result"]["demand_id"]
        await self.send("bank A examines and pays USD 5,000.00 from its own USD", "bank0",
                        "trade_documents", "pay_demand", {"demand_id": demand_id})
        return gtee_id, demand_id

    async def payment_file(self, imp: str, exp: str, uniq: str) -> None:
        """4c. The importer's ERP pays two invoices in one pain.001; each is its own transfer,
        the bank answers with a pain.002, and the same MsgId again is refused (DU01): its
        UETRs, derived from the MsgId, are in the importer's payment index."""
        from chainfin.iso20022 import pain001 as p1
        from contracts.settlement import CONTRACT as SETTLEMENT

        print("4c. The importer's ERP sends a payment file (pain.001); the bank answers "
              "(pain.002)", file=self.out)
        msg_id = f"ERP-{uniq}"
        xml = p1.build_pain001(imp, [
            p1.Instruction(f"INV-{uniq}-A", "400.00", "USD", exp, remittance_info="invoice A"),
            p1.Instruction(f"INV-{uniq}-B", "350.50", "USD", exp, remittance_info="invoice B")],
            # PAYMENT_FILE_MINOR in all
            msg_id=msg_id, batch_booking=True)
        ini = p1.parse_pain001(xml, signer=imp, exponents={"USD": 2},
                               parse_args=SETTLEMENT.methods["transfer"].parse_args)
        statuses = {}
        for t in ini.transfers:
            body = await self.send(f"pain.001 {msg_id}: {t.end_to_end_id} USD {t.amount_text}",
                                   "importer", "settlement", "transfer", dict(t.args or {}))
            statuses[t.index] = TxStatus(body["tx_id"], "committed", t.end_to_end_id, t.uetr,
                                         body.get("height"))
        report = p1.Report(ini, statuses=statuses)
        p1.build_pain002(report)  # validated against the official XSD as it is built
        booked = await self.state(0, "settlement", f"uetr/{imp}/{ini.transfers[0].uetr}",
                                  who="importer")
        again = "DU01 (already booked)" if booked else "not found"
        print(f"  ok pain.002: group {p1.group_status(report)}, booked per transaction; the "
              f"same MsgId again: {again}", file=self.out, flush=True)
        if not booked:
            raise StoryError(f"pain.001 {msg_id}: its first UETR is not in the payment index")

    async def regulators(self) -> list[str]:
        v = await self.state(0, "governance", "regulators", "exporter")
        return list(v or [])

    async def wait_delivery(self, request_id: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            req = await self.state(1, "credit_sharing", "request/" + request_id)
            if req and req["status"] == "delivered":
                return req  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)
        raise StoryError("the publisher's node did not deliver the record")

    async def check_everywhere(self) -> list[str]:
        """The state the story leaves, read back from every node. Returns the problems."""
        exp, imp, bank_c = self.pk("exporter"), self.pk("importer"), self.pk("bank2")
        bank_a = self.pk("bank0")
        f = self.facts
        want = {
            ("trade_documents", "trade/" + f["trade"]): lambda t: t["status"] == "repaid"
            and t["financed"] == 10_000_000 and t["outstanding"] == 0,
            ("trade_documents", "fin/" + f["financing"]): lambda x: x["status"] == "repaid",
            ("trade_documents", "lc/" + f["lc"]): lambda d: d["status"] == "drawn",
            ("trade_documents", "pres/" + f["presentation"]): lambda p: p["status"] == "paid",
            # the guarantee's demand paid by bank A, the guarantor, from its own USD
            ("trade_documents", "gtee/" + f["guarantee"]): lambda g: g["status"] == "issued"
            and g["paid"] == GUARANTEE_DEMAND_MINOR and g["reserved"] == 0,
            ("trade_documents", "gdem/" + f["demand"]): lambda d: d["status"] == "paid",
            ("settlement", f"bal/{bank_a}/USD"): lambda v: v == 50_000_000
            - GUARANTEE_DEMAND_MINOR,
            # the PvP's USD 10,000.00 out, the deposit of USD 2,500.00 in (its duplicate returned)
            ("settlement", f"bal/{exp}/USD"): lambda v: v == 12_500_000 - 1_000_000 + 250_000
            + PAYMENT_FILE_MINOR,
            ("settlement", f"bal/{exp}/CNY"): lambda v: v == 7_100_000,
            ("settlement", f"bal/{imp}/USD"): lambda v: v == 1_000_000 - 250_000
            - PAYMENT_FILE_MINOR + GUARANTEE_DEMAND_MINOR,
            ("settlement", f"bal/{imp}/CNY"): lambda v: v == 40_000_000 - 7_100_000,
            ("settlement", f"bal/{bank_c}/USD"): lambda v: v == 50_000_000 - 12_500_000,
            ("settlement", "pvp/" + f["offer"]): lambda o: o["status"] == "accepted",
            ("settlement", "recall/" + f["recalled"]): lambda r: r["returned"] == 250_000
            and r["recall"]["status"] == "returned",
            ("credit_sharing", "request/" + f["request"]): lambda r: r["status"] == "delivered",
        }
        # each item read by one who may see it: a balance by its owner, a trade's records by
        # the exporter, the offer and the credit request by the regulator
        owner = {self.pk(n): n for n in self.ids}
        readers = {k: owner[k[1].split("/")[1]] if k[1].startswith("bal/") else
                   "exporter" if k[0] == "trade_documents" else "regulator" for k in want}
        problems = []
        for node in range(len(self.urls)):
            for (contract, key), ok in want.items():
                for _ in range(50):  # a node may be a block behind the one that answered
                    v = await self.state(node, contract, key, readers[contract, key])
                    if v is not None and ok(v):
                        break
                    await asyncio.sleep(0.1)
                else:
                    problems.append(f"node {node}: {contract}/{key} = {v!r}")
        return problems


# ---------------------------------------------------------------------------- risk controls
# (issue 16): its own section, after the trade story's state has been checked on every node.


async def run_risk(story: Story) -> None:
    """Risk controls, decided in consensus: a refused over-limit payment, a refused payment to
    a watch-listed counterparty, a freeze and unfreeze, and a structuring alert seen on every
    node. Raises StoryError at the first step that ends otherwise."""
    exp, imp = story.pk("exporter"), story.pk("importer")
    print("6. Risk controls", file=story.out)
    await story.send("regulator caps the exporter at USD 10,000.00 per payment", "regulator",
                     "risk", "set_limit", {"subject": exp, "kind": "max_per_tx",
                                           "currency": "USD", "max": 1_000_000,
                                           "rule_id": "exporter-usd-per-payment"})
    await story.send("exporter pays USD 10,000.01: over the limit", "exporter", "settlement",
                     "transfer", {"to": imp, "currency": "USD", "amount": 1_000_001},
                     expect="rejected", expect_error="limit_exceeded")
    shell = Identity.from_seed_text("chainfin-demo/shell/" + story.chain_id, "shell")
    await story.send("bank A registers Oceanic Shell Trading", "bank0", "governance",
                     "register_identity", {"pubkey": shell.public_key.hex(),
                                           "name": "Oceanic Shell Trading", "role": "importer"})
    digest = risk.watch_digest(risk.watch_key(story.fingerprint_key), "id",
                               shell.public_key.hex())
    await story.send("regulator watch-lists it (a keyed hash only)", "regulator", "risk",
                     "add_watch", {"entries": [digest]})
    await story.send("exporter pays the watch-listed party", "exporter", "settlement",
                     "transfer", {"to": shell.public_key.hex(), "currency": "USD",
                                  "amount": 100_00},
                     expect="rejected", expect_error="sanctioned_party")
    name_entries = risk.watch_entries(risk.watch_key(story.fingerprint_key),
                                      "Oceanic Shell Trading Ltd.")
    await story.send("regulator watch-lists the name Oceanic Shell Trading Ltd.", "regulator",
                     "risk", "add_watch", {"entries": name_entries})
    sanctioned = {"seller": "Shenzhen Bright Lamps Co., Ltd.",
                  "buyer": "OCEANIC shell trading ltd",
                  "number": "INV-2026-0666", "issue_date": "2026-01-05",
                  "amount": 5_000_000, "currency": "USD"}
    await story.send("exporter invoices that buyer, spelt otherwise",
                     "exporter", "trade_documents", "register",
                     {"doc_type": "invoice", "fields": sanctioned,
                      "content_hash": hashlib.sha256(b"sanctioned " + story.chain_id.encode())
                      .hexdigest()},
                     expect="rejected", expect_error="sanctioned_party")
    alike = {**sanctioned, "buyer": "Oseanic Shel Treding", "number": "INV-2026-0667"}
    await story.send("exporter invoices 'Oseanic Shel Treding': it sounds alike",
                     "exporter", "trade_documents", "register",
                     {"doc_type": "invoice", "fields": alike,
                      "content_hash": hashlib.sha256(b"alike " + story.chain_id.encode())
                      .hexdigest()})
    for _ in range(50):  # node 0 may be a block behind the one that answered
        if await story.state(0, "risk", "alert_count/possible_watch_match"):
            break
        await asyncio.sleep(0.1)
    else:
        raise StoryError("the regulator sees no possible_watch_match alert")
    print(f"  ok {'committed, and a possible-match alert for the regulator':<62}",
          file=story.out)
    await story.send("regulator refuses chips (HS 8542) to Russia (EU 833/2014)", "regulator",
                     "risk", "set_goods_control",
                     {"code": "8542", "level": "refuse", "to": ["RU"],
                      "reason": "EU Reg. 833/2014 art. 2a"})
    await story.send("exporter ships HS 854231 to Vladivostok (RUVVO)", "exporter",
                     "trade_documents", "register",
                     {"doc_type": "bill_of_lading", "fields": {
                         "carrier": "MAEU", "bl_number": "MAEU" + story.chain_id[-6:] + "RU",
                         "shipper": "Shenzhen Bright Lamps Co., Ltd.",
                         "consignee": "Primorye Components LLC", "vessel": "Maersk Essen",
                         "port_of_loading": "Yantian", "port_of_discharge": "Vladivostok",
                         "port_of_discharge_locode": "RUVVO", "hs_codes": ["854231"],
                         "containers": containers_of("MRKU", story.chain_id[-6:], 1)},
                      "content_hash": hashlib.sha256(b"chips " + story.chain_id.encode())
                      .hexdigest()},
                     expect="rejected", expect_error="controlled_goods")
    await story.send("regulator freezes the importer (order FIU-2026-17)", "regulator",
                     "governance", "freeze_identity", {"pubkey": imp, "reason": "fraud inquiry",
                                                       "order_ref": "FIU-2026-17"})
    await story.send("the frozen importer tries to pay", "importer", "settlement", "transfer",
                     {"to": exp, "currency": "USD", "amount": 1_00},
                     expect="http 400", expect_error="account_frozen")
    await story.send("regulator unfreezes the importer", "regulator", "governance",
                     "unfreeze_identity", {"pubkey": imp, "reason": "inquiry closed",
                                           "order_ref": "FIU-2026-17"})
    await story.send("the importer pays again", "importer", "settlement", "transfer",
                     {"to": exp, "currency": "USD", "amount": 1_00})
    for amount in (950_000, 960_000):
        await story.send(f"exporter pays USD {amount // 100:,}.00, just under the limit",
                         "exporter", "settlement", "transfer",
                         {"to": imp, "currency": "USD", "amount": amount})
    await story.send("and again USD 9,900.00: a structuring alert", "exporter", "settlement",
                     "transfer", {"to": imp, "currency": "USD", "amount": 990_000})
    for node in range(len(story.urls)):
        for _ in range(50):  # a node may be a block behind the one that answered
            # the regulator's key: an account holder never sees its own alerts (decision 144)
            async with story.get(f"{story.urls[node]}/v1/risk/accounts/{exp}",
                                       "regulator") as resp:
                rules = [a["rule"] for a in (await resp.json()).get("alerts", [])]
            if "structuring" in rules:
                break
            await asyncio.sleep(0.1)
        else:
            raise StoryError(f"node {node} lists no structuring alert for the exporter")
    print(f"  ok {'every node lists the alerts (limit_exceeded, structuring)':<62}",
          file=story.out)
    # the alert's case (decision 145): in the supervisors' review queue; the exporter, its
    # subject, cannot see it nor review it; the regulator closes it: the disposition and the
    # note's hash sealed to the regulators and itself, a commitment in clear (decision 151)
    async with story.get(f"{story.urls[0]}/v1/risk/alerts/queue", "regulator") as resp:
        queue = (await resp.json()).get("alerts", [])
    ref = next((a["alert"] for a in queue if a["rule"] == "structuring"
                and exp in a["accounts"]), None)
    if ref is None:
        raise StoryError("the regulator's review queue holds no structuring alert")
    async with story.get(f"{story.urls[0]}/v1/risk/alerts/{ref}", "regulator") as resp:
        seal_to = (await resp.json()).get("seal_to", [])
    record = cli_alerts.review_record(ref, "false_positive",
                                      b"payments match the exporter's supplier invoices", None)
    call = cli_alerts.review_args(record, seal_to)
    await story.send("the exporter tries to close its own alert", "exporter", "risk",
                     "review_alert", call, expect="rejected", expect_error="unknown_alert")
    await story.send("regulator: a false positive (note hashed), sealed", "regulator",
                     "risk", "review_alert", call)
    async with story.get(f"{story.urls[0]}/v1/risk/alerts/{ref}", "regulator") as resp:
        case = await resp.json()
    opened = cli_alerts.open_review(story.ids["regulator"], ref, case["reviews"][-1])
    if case.get("status") != "reviewed" or opened is None or (
            opened["disposition"] != "false_positive"):
        raise StoryError(f"the regulator cannot open its sealed review: {case}")


async def run_demo(directory: Path, out: Any = sys.stdout) -> int:
    init_testnet(directory, nodes=4)
    manifest = load_manifest(directory)
    ids = {c.name: load_identity(c.key_file) for c in manifest.clients}
    t_start = time.perf_counter()
    with Testnet(directory) as tn:
        print(f"starting 4 nodes of {manifest.chain_id} in {directory} ...", file=out)
        tn.start()
        await asyncio.to_thread(tn.wait_ready, 30)
        print(f"up in {time.perf_counter() - t_start:.1f} s; the story "
              "(step, outcome, block height, finality seen by the client):", file=out)
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=tn.ssl_context())) as session:
            story = Story([n.rest_url for n in manifest.nodes], manifest.chain_id, ids,
                          session, out,
                          fingerprint_key=keyed_genesis(manifest).fingerprint_key_bytes())
            try:
                await story.run()
                problems = await story.check_everywhere()
                if not problems:
                    await run_risk(story)
            except StoryError as e:
                print(f"demo failed: {e}", file=sys.stderr)
                return 1
        if problems:
            for p in problems:
                print(f"state check failed: {p}", file=sys.stderr)
            return 1
        fin = sorted(s.finality_ms for s in story.steps if s.height is not None)
        p50 = fin[len(fin) // 2]
        print(f"all {len(story.steps)} steps final; every node holds the same final state.",
              file=out)
        print(f"finality per step: min {fin[0]:.1f} ms, median {p50:.1f} ms, "
              f"max {fin[-1]:.1f} ms (submit -> committed with a 3-of-4 certificate)", file=out)
        print("stopping the nodes ...", file=out)
    print(f"done in {time.perf_counter() - t_start:.1f} s", file=out)
    return 0


def cli_demo(args: argparse.Namespace) -> int:
    if args.dir:
        return asyncio.run(run_demo(Path(args.dir)))
    with tempfile.TemporaryDirectory(prefix="chainfin-demo-") as d:
        return asyncio.run(run_demo(Path(d) / "testnet"))
