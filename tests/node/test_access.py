"""Confidential by default (issue 17), through a real in-process node: every row of the
authorization table (node/access.py READ_TABLE, docs/api.md) allowed for whom it names and
refused for others exactly as a missing item (same 404 and body); each 401 reason; 429; the
read log. The world is the trade cluster (the ``desk`` fixture of tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chainfin import cli, codec, httpsig, proofs, readlog
from chainfin.client import Client, ClientError, signed_headers
from chainfin.crypto import Identity, save_identity
from contracts import credit_sharing
from node import access, api
from tests.fixtures import Desk, SigningClient, T, key_file
from tests.unit.trade_cases import h

ANY_ID = "ab" * 32  # an id nobody uses: its answers are the "missing item" twins


@dataclass
class World:
    d: Desk
    trade: str
    inv: str
    fin: str
    lc: str
    pres: str
    record: str
    transfer: str

    def pk(self, who: str) -> str:
        return self.d.ids[who].public_key.hex()


async def build_world(d: Desk) -> World:
    """Balances, a financed trade with an LC and a presentation, a consent, a credit record,
    a transfer; a pure auditor and a customer registered by bank_a (its home bank)."""
    for name, role in (("pure_auditor", "auditor"), ("customer", "exporter")):
        await d.register(name, role)
    for to in ("exporter", "customer"):
        await d.commit(d.issue(1000, to))
    t = await d.commit(d.tx("exporter", "settlement", "transfer", {
        "to": d.ids["importer"].public_key.hex(), "currency": "USD", "amount": 10}))
    trade, inv_id, _ = await d.attested_trade()
    fin = (await d.send("bank_a", "request_financing", trade_id=trade, currency="USD",
                        maturity_date="2099-12-31", amount=1000_00))["financing_id"]
    lc = (await d.send("bank_c", "issue_lc", applicant=d.ids["importer"].public_key.hex(),
                       beneficiary=d.ids["exporter"].public_key.hex(), amount=90_000_00,
                       currency="USD", expiry_date="2099-12-31", lc_number="LC-ACCESS-1",
                       required_docs=["invoice"], trade_id=trade))["lc_id"]
    pres = (await d.send("exporter", "present", lc_id=lc, doc_ids=[inv_id],
                         amount=1000_00))["presentation_id"]
    out = await d.commit(d.tx("exporter", "credit_sharing", "grant_consent",
                              {"bank": d.ids["bank_b"].public_key.hex()}))
    assert out["status"] == "committed", out
    sealed = credit_sharing.seal_record(b"record", b"salt", [
        d.ids["bank_a"].public_key, d.ids["auditor"].public_key])
    out = await d.commit(d.tx("bank_a", "credit_sharing", "publish", {
        "subject": d.ids["exporter"].public_key.hex(), "commitment": h("c"), "sealed": sealed}))
    assert out["status"] == "committed", out
    return World(d, trade, inv_id, fin, lc, pres, out["result"]["record_id"], t["tx_id"])


async def get_as(d: Desk, who: str | None, path: str) -> tuple[int, Any]:
    ident = d.ids[who] if who else None
    async with d.http.get(path, as_=ident) as r:
        body = await r.json() if r.content_type == "application/json" else await r.read()
        return r.status, body


async def check_row(d: Desk, path: str, allowed: list[str], refused: list[str],
                    twin: tuple[str, str]) -> None:
    """``allowed`` read ``path`` (200); each of ``refused`` gets exactly what a missing item
    gets: ``twin`` = (the id in ``path``, an id of nothing) — the regulator's answer for the
    path with the missing id, with the id put back."""
    real, missing = twin
    st, missing_body = await get_as(d, "auditor", path.replace(real, missing))
    assert st == 404, (path, missing_body)
    want = json.loads(json.dumps(missing_body).replace(missing, real)
                      .replace(missing.lstrip("/"), real.lstrip("/")))
    for who in allowed:
        st, body = await get_as(d, who, path)
        assert st == 200, (who, path, body)
    for who in refused:
        st, body = await get_as(d, who, path)
        assert (st, body) == (404, want), (who, path)


async def test_every_row_of_the_authorization_table(desk: Desk) -> None:
    w = await build_world(desk)
    d, pk = desk, w.pk
    exp, cust, node3 = pk("exporter"), pk("customer"), d.nodes[3].identity.public_key.hex()
    d.ids["node3"] = d.nodes[3].identity
    rows: list[tuple[str, list[str], list[str], tuple[str, str]]] = [
        # balances: owner, home bank, currency issuer, regulator, auditor
        (f"/v1/state/settlement/bal/{exp}/USD",
         ["exporter", "usd_issuer", "auditor", "pure_auditor"],
         ["exporter2", "importer", "bank_b", "customs"], (exp, ANY_ID)),
        (f"/v1/state/settlement/bal/{cust}/USD", ["customer", "bank_a"], ["bank_b"],
         (cust, ANY_ID)),
        # trade records: parties of the record or its trade, regulator, auditor
        (f"/v1/state/{T}/trade/{w.trade}",
         ["exporter", "bank_a", "bank_c", "importer", "auditor", "pure_auditor"],
         ["exporter2", "bank_b"], (w.trade, ANY_ID)),
        (f"/v1/state/{T}/doc/{w.inv}", ["exporter", "bank_a", "pure_auditor"],
         ["exporter2", "bank_b"], (w.inv, ANY_ID)),
        (f"/v1/state/{T}/fin/{w.fin}", ["bank_a", "exporter"], ["bank_b", "exporter2"],
         (w.fin, ANY_ID)),
        (f"/v1/state/{T}/lc/{w.lc}", ["bank_c", "importer", "exporter"],
         ["bank_b", "exporter2"], (w.lc, ANY_ID)),
        (f"/v1/state/{T}/pres/{w.pres}", ["bank_c", "exporter"], ["exporter2", "bank_b"],
         (w.pres, ANY_ID)),
        # credit-sharing metadata: publisher, subject, consented banks, regulators
        (f"/v1/state/credit_sharing/record/{w.record}",
         ["bank_a", "exporter", "bank_b", "auditor"], ["pure_auditor", "exporter2", "bank_c"],
         (w.record, ANY_ID)),
        (f"/v1/state/credit_sharing/consent/{exp}/{pk('bank_b')}",
         ["exporter", "bank_b", "auditor"], ["exporter2", "pure_auditor"], (exp, ANY_ID)),
        # risk data of an account; the nonce
        (f"/v1/risk/accounts/{exp}", ["exporter", "auditor", "pure_auditor"],
         ["exporter2", "bank_b"], (exp, ANY_ID)),
        # a transaction: sender, parties its events name (their own part of it: see
        # test_access_privacy.py), validators, regulators, auditors; its proof (the receipt
        # and its neighbours' hashes): the supervisors only
        (f"/v1/tx/{w.transfer}", ["exporter", "importer", "auditor", "pure_auditor", "node3"],
         ["exporter2", "customer"], (w.transfer, ANY_ID)),
        (f"/v1/proofs/tx/{w.transfer}", ["pure_auditor", "node3"],
         ["exporter", "importer", "exporter2"], (w.transfer, ANY_ID)),
        # blocks: validators, regulators, auditors
        ("/v1/blocks/1", ["node3", "auditor", "pure_auditor"], ["exporter", "customer"],
         ("/1", "/999999")),
    ]
    for path, allowed, refused, twin in rows:
        await check_row(d, path, allowed, refused, twin)
    # routes whose refusal is "no route": the same as a path that does not exist
    for path, allowed, refused in (
            ("/v1/sync/blocks", ["node3", "pure_auditor"], ["exporter", "customer"]),
            (f"/v1/nonce/{exp}", ["exporter", "pure_auditor", "node3"], ["exporter2", "customer"]),
            ("/v1/audit/reads", ["auditor", "pure_auditor"], ["exporter", "node3"])):
        await check_row(d, path, allowed, refused, (path, "/v1/no-such-route"))
    # network data: any identity; anything else in state: regulators and auditors only
    assert (await get_as(d, "exporter2", "/v1/state/governance/regulators"))[0] == 200
    assert (await get_as(d, "exporter2", "/v1/risk/rules"))[0] == 200
    assert (await get_as(d, "exporter2", "/metrics"))[0] == 200
    assert node3 != exp


async def test_proofs_for_authorized_readers_verify_offline(desk: Desk) -> None:
    w = await build_world(desk)
    d, exp = desk, w.pk("exporter")
    # transaction proofs are the supervisors' (they carry the block's other receipts' hashes)
    assert (await get_as(d, "exporter", f"/v1/proofs/tx/{w.transfer}"))[0] == 404
    st, doc = await get_as(d, "pure_auditor", f"/v1/proofs/tx/{w.transfer}")
    assert st == 200
    proofs.verify_proof(d.genesis, doc)
    path = f"/v1/proofs/state/settlement/bal/{exp}/USD"
    st, doc = await get_as(d, "pure_auditor", path)
    assert st == 200 and doc["value"] > 0
    proofs.verify_proof(d.genesis, doc)
    # refused: the answer of a key nobody may see and nobody has (no non-inclusion proof);
    # state proofs are for supervisors only, so the owner too (test_access_privacy.py)
    for who in ("exporter2", "exporter"):
        st, body = await get_as(d, who, path)
        st2, body2 = await get_as(d, who, path.replace(exp, ANY_ID))
        assert st == st2 == 404 and body == json.loads(json.dumps(body2).replace(ANY_ID, exp))
    # a key whose rule does not depend on its content still proves its absence
    st, doc = await get_as(d, "auditor", f"/v1/proofs/state/settlement/bal/{exp}/EUR")
    assert st == 200 and doc["value"] is None
    proofs.verify_proof(d.genesis, doc)


async def read_events(resp: Any, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async for raw in resp.content:
        line = raw.decode().strip()
        if line.startswith("data: "):
            ev = json.loads(line[6:])
            if ev["type"] == "block":
                out.append(ev)
                if len(out) >= n:
                    return out
    return out


async def test_events_are_filtered_to_those_naming_the_reader(desk: Desk) -> None:
    d = desk
    async with d.http.get("/v1/events", as_=d.ids["exporter2"]) as mine, \
            d.http.get("/v1/events", as_=d.ids["auditor"]) as everything:
        assert mine.status == everything.status == 200
        await d.commit(d.issue(5, "exporter"))
        await d.commit(d.issue(7, "exporter2"))
        got_all = await asyncio.wait_for(read_events(everything, 2), 10)
        got_mine = await asyncio.wait_for(read_events(mine, 1), 10)
    assert len(got_all) == 2 and "txs" in got_all[0]
    me = d.ids["exporter2"].public_key.hex()
    assert [e["data"]["to"] for e in got_mine[0]["events"]] == [me]
    assert "txs" not in got_mine[0]


async def test_the_read_log_records_reads_of_others_data(desk: Desk) -> None:
    d = desk
    w = await build_world(d)
    exp, cust = w.pk("exporter"), w.pk("customer")
    await get_as(d, "exporter", f"/v1/state/settlement/bal/{exp}/USD")  # its own: not logged
    await get_as(d, "bank_a", f"/v1/state/settlement/bal/{cust}/USD")  # a customer's: logged
    await get_as(d, "pure_auditor", f"/v1/state/settlement/bal/{exp}/USD")
    st, out = await get_as(d, "auditor", "/v1/audit/reads")
    assert st == 200
    entries = out["entries"]
    assert access.verify_chain(entries) and entries[-1]["hash"] == out["head"]
    rows = [(e["reader"], e["rule"], e["what"]) for e in entries]
    assert (w.pk("bank_a"), "home_bank", f"GET /v1/state/settlement/bal/{cust}/USD") in rows
    assert (w.pk("pure_auditor"), "auditor", f"GET /v1/state/settlement/bal/{exp}/USD") in rows
    assert all(e["reader"] != exp for e in entries)
    # tampering breaks the chain
    forged = [dict(e) for e in entries]
    forged[0]["reader"] = exp
    assert not access.verify_chain(forged)
    # the node anchors its log's head on the chain (decision 130)
    node = d.node
    node.anchor.interval_s = 0.01
    key = node.identity.public_key.hex()
    for _ in range(500):
        st, out = await get_as(d, "auditor", f"/v1/state/governance/readlog/{key}")
        if st == 200:
            break
        await asyncio.sleep(0.02)
    assert st == 200 and out["value"]["seq"] >= len(entries), out
    node.anchor.interval_s = 0  # no more anchors: the log below stays as anchored
    # chainfin audit reads --node URL --key K [--verify]
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"aud-{os.getpid()}.json")
    save_identity(d.ids["pure_auditor"], path)
    try:
        base = str(d.http.make_url("/")).rstrip("/")

        async def audit(*extra: str) -> int:
            return await asyncio.to_thread(cli.main, ["audit", "reads", "--node", base,
                                                      "--key", path, "--json", *extra])

        assert await audit() == 0
        assert await audit("--verify") == 0
        # the operator rewrites an anchored entry (and rehashes it): --verify says so
        first = node.read_log.entries(0, 1)[0]
        forged = dict(first, reader=exp)
        forged["hash"] = readlog.entry_hash(forged)
        node.store.put(access.P_READLOG + (1).to_bytes(8, "big"), codec.encode(forged))
        assert await audit("--verify") == 1
    finally:
        os.unlink(path)


async def test_audit_reads_with_a_key_not_served_says_who_reads_the_log(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    """The node answers an exporter's read of the log as a missing route (TRAPS 21); the CLI
    says whom the log is served to, so the 404 does not read as an old node."""
    d = desk
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"exp-{os.getpid()}.json")
    save_identity(d.ids["exporter"], path)
    try:
        base = str(d.http.make_url("/")).rstrip("/")
        rc = await asyncio.to_thread(cli.main, ["audit", "reads", "--node", base, "--key", path])
    finally:
        os.unlink(path)
    assert rc == 1  # (the CLI's exit for a node's refusal)
    assert "served to regulators and auditors only" in capsys.readouterr().err


# --------------------------------------------------------------------------- 401 and 429


async def raw_get(d: Desk, path: str, headers: dict[str, str], data: bytes = b""
                  ) -> tuple[int, Any]:
    async with d.http.request("GET", path, signed=False, headers=headers, data=data) as r:
        return r.status, await r.json()


async def test_each_unauthenticated_reason_is_a_401(desk: Desk) -> None:
    d = desk
    path = "/v1/state/governance/regulators"
    url = str(d.http.make_url(path))
    me = d.ids["exporter"]
    now = time.time()

    def reason(st: int, body: Any) -> str:
        assert st == 401 and body["error"]["code"] == "unauthenticated", body
        return str(body["error"]["message"]).split(":")[0]

    assert reason(*await raw_get(d, path, {})) == "missing"
    assert reason(*await raw_get(d, path, signed_headers(me, "GET", url, now=now - 60))) \
        == "expired"
    assert reason(*await raw_get(d, path, signed_headers(me, "GET", url, now=now + 60))) \
        == "future"
    hd = signed_headers(me, "GET", url)
    assert (await raw_get(d, path, hd))[0] == 200
    assert reason(*await raw_get(d, path, hd)) == "replayed"
    assert reason(*await raw_get(d, path, signed_headers(me, "GET", url, b"a"), b"b")) \
        == "digest_mismatch"
    assert reason(*await raw_get(d, path, signed_headers(me, "GET", url + "?x=1"))) \
        == "bad_signature"
    assert reason(*await raw_get(d, path, signed_headers(Identity.generate("x"), "GET", url))) \
        == "unknown_identity"
    # public routes need no signature; POST /v1/tx is authorized by the transaction itself
    for public in ("/healthz", "/v1/status", "/openapi.json"):
        async with d.http.get(public, as_=None) as r:
            assert r.status == 200, public
    async with d.http.post("/v1/tx?wait=commit", as_=None,
                           data=json.dumps(d.issue(1).to_json())) as r:
        assert r.status == 200


async def test_rate_limits_answer_429_with_retry_after(desk: Desk) -> None:
    d = desk
    tight = api.AccessLimits(per_identity_rate=0.01, per_identity_burst=2,
                             per_address_rate=0.01, per_address_burst=5)
    async with SigningClient(TestServer(api.make_app(d.node, tight)), d.ids["exporter"]) as c:
        codes = []
        for _ in range(3):
            async with c.get("/v1/state/governance/regulators") as r:
                codes.append(r.status)
                retry = r.headers.get("Retry-After")
        assert codes == [200, 200, 429] and retry is not None and int(retry) >= 1
        # another identity has its own bucket, but the address bucket runs out too
        codes = []
        for _ in range(3):
            async with c.get("/v1/state/governance/regulators", as_=d.ids["exporter2"]) as r:
                codes.append(r.status)
                body = await r.json()
        assert codes == [200, 200, 429] and body["error"]["code"] == "rate_limited"
        async with c.get("/healthz", as_=None) as r:  # before authentication: by address
            assert r.status == 429
    # transactions, unsigned requests, take from the address's bucket too (red-team round 3:
    # any client made the node check signatures as fast as it could send them); on the stream,
    # each envelope does (the stream's own request took one token)
    tight = api.AccessLimits(per_address_rate=0.01, per_address_burst=3)
    async with SigningClient(TestServer(api.make_app(d.node, tight)), d.ids["exporter"]) as c:
        codes = []
        for _ in range(4):
            async with c.post("/v1/tx", as_=None, data=json.dumps(d.issue(1).to_json())) as r:
                codes.append(r.status)
                body = await r.json()
        assert codes == [202, 202, 202, 429] and body["error"]["code"] == "rate_limited", body
    tight = api.AccessLimits(per_address_rate=0.01, per_address_burst=3)
    async with SigningClient(TestServer(api.make_app(d.node, tight)), d.ids["exporter"]) as c:
        async with c.ws_connect("/v1/tx/stream") as ws:
            await ws.send_str(json.dumps([d.issue(1).to_json() for _ in range(3)]))
            answers: list = []
            while len(answers) < 3:
                answers += json.loads((await ws.receive()).data)
        refused = [a for a in answers if a["status"] == "refused"]
        assert len(refused) == 1 and refused[0]["http_status"] == 429, answers


def test_the_table_in_docs_is_the_table_in_code() -> None:
    text = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "api.md")).read()
    for what, routes, who in access.READ_TABLE:
        assert f"| {what} | {routes} | {who} |" in text, what


def test_signature_base_matches_the_docs_example() -> None:
    ident = Identity.from_seed_text("docs-example")
    hd = httpsig.sign_request(ident, "GET", "https://127.0.0.1:8443/v1/status", b"",
                              1765000000, "0123456789abcdef")
    text = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "api.md")).read()
    for v in hd.values():
        assert v in text, v


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAINFIN_KEY", raising=False)


async def test_the_sdk_and_the_cli_sign_their_reads(desk: Desk, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    base = str(d.http.make_url("/")).rstrip("/")
    exp = d.ids["exporter"]
    await d.commit(d.issue(42, "exporter"))
    key = f"bal/{exp.public_key.hex()}/USD"
    async with Client(base, identity=exp) as c:
        assert (await c.state("settlement", key))["value"] == 42
        # call() reads the sender's own nonce as the sender
        out = await c.call(d.ids["usd_issuer"], "settlement", "issue",
                           {"currency": "USD", "to": exp.public_key.hex(), "amount": 1},
                           wait=True)
        assert out["status"] == "committed", out
    async with Client(base) as c:
        with pytest.raises(ClientError) as e:
            await c.state("settlement", key)
        assert (e.value.status, e.value.code) == (401, "unauthenticated")
    async with Client(base, identity=d.ids["exporter2"]) as c:
        with pytest.raises(ClientError) as e:
            await c.state("settlement", key)
        assert (e.value.status, e.value.code) == (404, "not_found")
    kf = key_file(exp, tmp_path)
    code = await asyncio.to_thread(cli.main, ["query", "--node", base, "--key", kf,
                                              "/v1/state/settlement/" + key])
    assert code == 0 and json.loads(capsys.readouterr().out)["value"] == 43
    code = await asyncio.to_thread(cli.main, ["curl", "--key", kf, base + "/v1/status"])
    printed = capsys.readouterr().out
    assert code == 0 and printed.startswith("curl ") and "Signature-Input: sig1=" in printed
