"""Red-team round 7 over the data-access rules (docs/redteam-privacy.md): each bank's data to
those entitled to it and no one else. One test per finding, each failing on the code before
its fix, through a real in-process node (the trade cluster: the ``desk`` fixture, where
``auditor`` is a regulator, ``bank_a``..``bank_c`` are validators, and ``bank_d`` — no
validator — is the home bank of ``customer``, the same BIC)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from yarl import URL

from chainfin import codec, merkle, proofs
from chainfin.crypto import Identity
from tests.fixtures import Desk
from tests.node.test_access import check_row, get_as
from tests.node.test_access_privacy import (
    bank_d_and_its_customer,
    in_one_block,
    missing_twin,
    sse_items,
)
from tests.node.test_tipping_off import (
    pay,
    pk,
    structuring,
    structuring_payments,
    structuring_payments_but_the_last,
)


async def until_block_naming(resp: Any, amount: int) -> list[dict[str, Any]]:
    """Every event item up to (including) the block whose events carry ``amount``."""
    seen: list[dict[str, Any]] = []
    async for item in sse_items(resp):
        seen.append(item)
        if item["type"] == "block" and any(isinstance(e["data"], dict)
                                           and e["data"].get("amount") == amount
                                           for e in item["events"]):
            return seen
    raise AssertionError(f"stream ended before a block with amount {amount}: {seen}")


async def two_regulators(d: Desk) -> None:
    """``reg2`` (an auditor by vote) becomes a second regulator, and a seizure or a key rebind
    by a regulator needs two (``set_seize_approvals``)."""
    await d.register("reg2", "auditor")
    await d.govern("add_regulator", {"pubkey": pk(d, "reg2")})
    await d.govern("set_seize_approvals", {"count": 2})


async def audit_rows(d: Desk) -> list[tuple[str, str, str]]:
    st, out = await get_as(d, "auditor", "/v1/audit/reads")
    assert st == 200, out
    return [(e["reader"], e["rule"], e["what"]) for e in out["entries"]]


# ------------------------------------------------------------ a pending two-regulator order


async def test_a_pending_seizure_is_not_told_to_the_account_it_seizes(desk: Desk) -> None:
    """F1 (high). A court-ordered seizure that needs two regulators is recorded by the first
    (``seizure_pending``, naming the account) and executed by the second. The event reached the
    account holder on /v1/events, and made it a party of the first regulator's transaction
    (``GET /v1/tx``): it could empty the account before the second signature. A pending order
    is now its supervisors' and the account's home bank's, like an alert."""
    d = desk
    await bank_d_and_its_customer(d)
    await two_regulators(d)
    await d.commit(d.issue(1_000, "customer"))
    cust = pk(d, "customer")
    async with d.http.get("/v1/events", as_=d.ids["customer"]) as own, \
            d.http.get("/v1/events", as_=d.ids["bank_d"]) as bank:
        first = await d.commit(d.tx("auditor", "settlement", "seize", {
            "account": cust, "currency": "USD", "amount": 600, "order_ref": "COURT-7"}))
        assert first["status"] == "committed" and first["result"]["status"] == "pending", first
        await d.commit(pay(d, "customer", "importer", 7))  # a later block naming the customer
        await d.commit(d.issue(7, "bank_d"))  # and one naming its bank
        got_own = await asyncio.wait_for(until_block_naming(own, 7), 10)
        got_bank = await asyncio.wait_for(until_block_naming(bank, 7), 10)
    names = [e["name"] for i in got_own if i["type"] == "block" for e in i["events"]]
    assert "transferred" in names and "seizure_pending" not in names, got_own
    assert "COURT-7" not in json.dumps(got_own)
    assert "seizure_pending" in [e["name"] for i in got_bank if i["type"] == "block"
                                 for e in i["events"]], got_bank
    path = f"/v1/tx/{first['tx_id']}"
    assert await get_as(d, "customer", path) == (404, await missing_twin(d, path,
                                                                        first["tx_id"]))
    # the second regulator executes it; the seizure itself is the account's to see
    second = await d.commit(d.tx("reg2", "settlement", "seize", {
        "account": cust, "currency": "USD", "amount": 600, "order_ref": "COURT-7"}))
    assert second["status"] == "committed" and second["result"]["status"] == "seized", second
    st, body = await get_as(d, "customer", f"/v1/tx/{second['tx_id']}")
    assert st == 200 and [e["name"] for e in body["events"]] == ["seized"], body


async def test_a_pending_key_rebind_is_not_told_to_the_key_it_replaces(desk: Desk) -> None:
    """F1 (high), the other two-regulator order: a regulator rebinding a customer's (stolen)
    key records ``rebind_pending`` naming the identity; the key being replaced read it on
    /v1/events and could move the money before the second regulator signed."""
    d = desk
    await bank_d_and_its_customer(d)
    await two_regulators(d)
    await d.commit(d.issue(1_000, "customer"))
    fresh = Identity.generate("customer-new")
    async with d.http.get("/v1/events", as_=d.ids["customer"]) as own:
        first = await d.commit(d.tx("auditor", "governance", "revoke_identity", {
            "pubkey": pk(d, "customer"), "reason": "key reported stolen",
            "order_ref": "REBIND-7", "new_public_key": fresh.public_key.hex()}))
        assert first["status"] == "committed" and first["result"]["status"] == "pending", first
        await d.commit(pay(d, "customer", "importer", 8))
        got_own = await asyncio.wait_for(until_block_naming(own, 8), 10)
    assert "rebind_pending" not in json.dumps(got_own) and "REBIND-7" not in json.dumps(got_own)
    path = f"/v1/tx/{first['tx_id']}"
    assert await get_as(d, "customer", path) == (404, await missing_twin(d, path,
                                                                        first["tx_id"]))


# ---------------------------------------------------------------------------------- /metrics


async def test_metrics_tell_only_supervisors_and_validators_about_alerts(desk: Desk) -> None:
    """F2 (medium). ``/v1/state/risk/alert_count/…`` is the supervisors' (a count read beside a
    payment told the payer its payment raised an alert, decision 120), but ``/metrics`` served
    the same counts (``chainfin_risk_alerts_total{rule}``) and the open-alert gauges to any
    identity: a structurer read the ``structuring`` count before and after its payment."""
    d = desk
    await structuring(d)
    for who in ("customer", "importer", "bank_d", "customs"):
        st, text = await get_as(d, who, "/metrics")
        assert st == 200 and b"chainfin_height" in text, who
        assert b"chainfin_risk_alert" not in text, (who, text[:200])
    for who in ("auditor", "bank_a"):  # a regulator, a validator: they read every block
        st, text = await get_as(d, who, "/metrics")
        assert st == 200 and b'chainfin_risk_alerts_total{rule="structuring"} 1' in text, who


# ------------------------------------------------------------------------------- read log


async def test_alerts_a_home_bank_follows_on_the_event_stream_are_logged(desk: Desk) -> None:
    """F3 (medium). A bank read its customer's alerts (risk data of another) on /v1/events
    with no entry in the read log, where the same alert read at ``/v1/state/risk/alerts/<id>``
    or ``/v1/risk/alerts/{alert}`` is logged: a bank could watch every customer's alerts
    unseen. Each alert delivered to a home bank is now logged (rule ``home_bank``)."""
    d = desk
    await bank_d_and_its_customer(d)
    async with d.http.get("/v1/events", as_=d.ids["bank_d"]) as bank:
        await structuring_payments(d)
        got = []
        async for item in sse_items(bank):
            got.append(item)
            if item["type"] == "alert":
                break
    alert = got[-1]
    assert alert["rule"] == "structuring", got
    rows = await audit_rows(d)
    assert (pk(d, "bank_d"), "home_bank", f"GET /v1/events alert {alert['alert']}") in rows, rows
    # the customer's own events stay unlogged
    assert all(r[0] != pk(d, "customer") for r in rows)


async def test_a_read_of_a_customers_freeze_is_logged(desk: Desk) -> None:
    """F4 (low). An identity's standing (``status``, ``frozen_by``…) is shown only to it, its
    home bank and the supervisors, but their reads of it went unlogged (``governance/`` is
    read under ``any``): a home bank or an auditor read a customer's freeze unseen. Logged now
    under the rule that shows it; a record without standing, and the owner's own, are not."""
    d = desk
    await bank_d_and_its_customer(d)
    cust = pk(d, "customer")
    path = f"/v1/state/governance/id/{cust}"
    await get_as(d, "bank_d", path)  # no standing yet: network data, not logged
    out = await d.commit(d.tx("bank_d", "governance", "freeze_identity", {
        "pubkey": cust, "reason": "kyc refresh overdue", "order_ref": "KYC-7"}))
    assert out["status"] == "committed", out
    for who in ("customer", "bank_d", "auditor", "importer"):
        st, body = await get_as(d, who, path)
        assert st == 200, body
        assert ("status" in body["value"]) == (who != "importer"), (who, body)
    rows = [r for r in await audit_rows(d) if r[2] == f"GET {path}"]
    assert sorted(rows) == sorted([(pk(d, "bank_d"), "home_bank", f"GET {path}"),
                                   (pk(d, "auditor"), "regulator", f"GET {path}")]), rows


async def test_a_nodes_read_log_anchor_is_not_for_its_customers(desk: Desk) -> None:
    """F5 (low). ``governance/readlog/<node key>`` (the anchored seq and head of a node's read
    log, decision 130) was network data: a customer watching it beside its payments saw its
    bank's node log reads of others' data (its alerts read, now also on /v1/events). The node
    itself and those who read every block read it; anyone else gets a missing key's 404."""
    d = desk
    await bank_d_and_its_customer(d)
    node = d.node
    key = node.identity.public_key.hex()
    path = f"/v1/state/governance/readlog/{key}"
    st, _ = await get_as(d, "auditor", f"/v1/state/settlement/bal/{pk(d, 'bank_a')}/USD")
    assert st == 200  # a read of another's data: logged
    node.anchor.interval_s = 0.01
    for _ in range(500):
        st, out = await get_as(d, "auditor", path)
        if st == 200:
            break
        await asyncio.sleep(0.02)
    node.anchor.interval_s = 0
    assert st == 200 and out["value"]["seq"] >= 1, out
    for who in ("bank_a", "auditor"):  # the node's own key (a validator), a regulator
        assert (await get_as(d, who, path))[0] == 200, who
    for who in ("customer", "bank_d", "importer", "customs"):
        assert await get_as(d, who, path) == (404, await missing_twin(d, path, key)), who


# ------------------------------------------------------------------ the sender's tx proof


async def test_two_colluding_customers_get_no_proof_to_test_an_alert_with(desk3: Desk) -> None:
    """F6 (medium). The sender's inclusion-only proof (decision 147) is served only from a block
    holding another identity's transaction, whose salted receipt leaf the sender cannot
    compute. Two customers acting together — a structurer's second account (smurfing) — send
    one payment each in one block: each holds both envelopes and knows both outcomes, so with
    one proof it hashes the block's receipts "without an alert" against the header's
    receipts_root, and learns that its payment raised one. Shown with the auditor's proofs,
    then refused: another customer's transaction no longer opens the sender's proof; an
    institution's (a bank's, an issuer's, a validator's) does."""
    d = desk3
    await bank_d_and_its_customer(d)
    d.ids["mule"] = Identity.generate("mule")
    out = await d.commit(d.tx("bank_a", "governance", "register_identity", {
        "pubkey": pk(d, "mule"), "name": "mule", "role": "importer", "bank": "TESTDEFFXXX"}))
    assert out["status"] == "committed", out
    await d.commit(d.issue(1_000, "mule"))
    await structuring_payments_but_the_last(d)
    loud_tx, mule_tx = pay(d, "customer", "importer", 990), pay(d, "mule", "importer", 5)
    loud, mule = await in_one_block(d, loud_tx, mule_tx)
    encodings = {}
    for out in (loud, mule):
        st, full = await get_as(d, "auditor", f"/v1/proofs/tx/{out['tx_id']}")
        assert st == 200 and full["block"]["header"]["tx_count"] == 2, full
        encodings[out["tx_id"]] = codec.decode(bytes.fromhex(full["receipt_encoding"]))
    guess = dict(encodings[loud["tx_id"]])
    assert [e["data"]["rule"] for e in guess["events"] if e["name"] == "alert"] == [
        "structuring"]
    guess["events"] = [e for e in guess["events"] if e["name"] != "alert"]
    leaves = {loud["index"]: loud_tx.leaf() + codec.encode(guess),
              mule["index"]: mule_tx.leaf() + codec.encode(encodings[mule["tx_id"]])}
    root = merkle.root([leaves[i] for i in sorted(leaves)]).hex()
    assert root != full["block"]["header"]["receipts_root"]  # the oracle: "there was an alert"
    leaves[loud["index"]] = loud_tx.leaf() + codec.encode(encodings[loud["tx_id"]])
    assert merkle.root([leaves[i] for i in sorted(leaves)]).hex() == full["block"]["header"][
        "receipts_root"]  # and the guess with the alert matches: every leaf was known
    path = f"/v1/proofs/tx/{loud['tx_id']}"
    assert await get_as(d, "customer", path) == (404, await missing_twin(d, path,
                                                                        loud["tx_id"]))
    # beside an institution's transaction (the issuer's) the sender still gets its proof
    out, _ = await in_one_block(d, pay(d, "customer", "importer", 7), d.issue(1, "exporter"))
    st, doc = await get_as(d, "customer", f"/v1/proofs/tx/{out['tx_id']}")
    assert st == 200 and "receipt" not in doc, doc
    assert proofs.verify_proof(d.genesis, doc).inclusion_only


async def test_the_read_log_names_what_was_read_however_the_path_is_spelled(desk: Desk) -> None:
    """F7 (low). The read log recorded the path as sent (``raw_path``): a bank reading its
    customer's balance as ``/v1/state/settlement/bal/%33%66…/USD``, or a transaction by its id
    in capitals, was logged under a spelling in which an auditor searching the log for the
    customer's key or the transaction's id does not find it. Logged now decoded, with every
    64-hex-digit id in lower case."""
    d = desk
    await bank_d_and_its_customer(d)
    await d.commit(d.issue(500, "customer"))
    out = await d.commit(pay(d, "customer", "importer", 5))
    cust, tx_id = pk(d, "customer"), out["tx_id"]
    spelled = "".join(f"%{ord(c):02X}" for c in cust)
    for path in (f"/v1/state/settlement/bal/{spelled}/USD", f"/v1/tx/{tx_id.upper()}",
                 f"/v1/risk/accounts/{cust.upper()}"):
        async with d.http.get(URL(path, encoded=True), as_=d.ids["bank_d"]) as r:  # as spelled
            assert r.status == 200 and r.url.raw_path == path, (path, await r.text())
    whats = [w for r, rule, w in await audit_rows(d) if r == pk(d, "bank_d")]
    assert whats == [f"GET /v1/state/settlement/bal/{cust}/USD", f"GET /v1/tx/{tx_id}",
                     f"GET /v1/risk/accounts/{cust}"], whats


# -------------------------------------------------------------- what held (a regression sweep)


async def test_another_banks_customer_is_a_missing_item_to_every_outsider(desk: Desk) -> None:
    """What held in round 7, swept in one world: ``customer`` (bank_d's) has a balance, a limit,
    a structuring alert with its case, a pending seizure; every route to its data answers an
    outsider — another bank that is no validator (``bank_e``), another bank's customer
    (``exporter2``), customs, the payee of its payments (``importer``) — exactly what a missing
    item gets (no existence oracle), and an unregistered key or no key a 401. The entitled
    read it (its home bank, a regulator; the owner its own limits and balance)."""
    d = desk
    await structuring(d)  # registers bank_d and customer
    await d.register("bank_e", "bank")  # no BIC: no one's home bank
    cust = pk(d, "customer")
    st, body = await get_as(d, "bank_d", f"/v1/risk/accounts/{cust}")
    alert = body["alerts"][-1]
    alert_id, tx_id = alert["alert"], alert["tx_id"]
    outsiders = ["bank_e", "exporter2", "customs", "importer"]
    rows: list[tuple[str, list[str], list[str], tuple[str, str]]] = [
        (f"/v1/state/settlement/bal/{cust}/USD", ["customer", "bank_d", "auditor"], outsiders,
         (cust, "ab" * 32)),
        (f"/v1/state/risk/profile/{cust}", ["customer", "bank_d", "auditor"], outsiders,
         (cust, "ab" * 32)),
        (f"/v1/state/risk/alerts/{cust}", ["bank_d", "auditor"], [*outsiders, "customer"],
         (cust, "ab" * 32)),
        (f"/v1/state/risk/stats/{cust}/USD", ["bank_d", "auditor"], [*outsiders, "customer"],
         (cust, "ab" * 32)),
        (f"/v1/state/risk/alert/{alert_id}", ["auditor"], [*outsiders, "customer", "bank_d"],
         (tx_id, "ab" * 32)),
        (f"/v1/risk/accounts/{cust}", ["customer", "bank_d", "auditor"], outsiders,
         (cust, "ab" * 32)),
        (f"/v1/risk/alerts/{alert_id}", ["bank_d", "auditor"], [*outsiders, "customer"],
         (tx_id, "ab" * 32)),
        (f"/v1/tx/{tx_id}", ["customer", "bank_d", "auditor"], ["bank_e", "exporter2",
                                                                  "customs"],
         (tx_id, "ab" * 32)),
        (f"/v1/proofs/tx/{tx_id}", ["auditor"], [*outsiders, "customer", "bank_d"],
         (tx_id, "ab" * 32)),
    ]
    for path, allowed, refused, twin in rows:
        await check_row(d, path, allowed, refused, twin)
    # a state proof: the supervisors'; anyone else the 404 of a key it may not read
    path = f"/v1/proofs/state/settlement/bal/{cust}/USD"
    assert (await get_as(d, "auditor", path))[0] == 200
    for who in [*outsiders, "customer", "bank_d"]:
        assert await get_as(d, who, path) == (404, {"error": {
            "code": "not_found", "message": f"no value at settlement/bal/{cust}/USD"}}), who
    for path, allowed, refused in (
            (f"/v1/nonce/{cust}", ["customer", "bank_d", "auditor"], outsiders),
            ("/v1/audit/reads", ["auditor"], [*outsiders, "customer", "bank_d"]),
            ("/v1/sync/blocks", ["auditor"], [*outsiders, "customer", "bank_d"])):
        await check_row(d, path, allowed, refused, (path, "/v1/no-such-route"))
    st, body = await get_as(d, "bank_e", "/v1/risk/alerts/queue")  # its queue: none of these
    assert st == 200 and body["alerts"] == [] and "open" not in body, body
    d.ids["stranger"] = Identity.generate("stranger")
    for who in (None, "stranger"):  # no signature; a key the chain does not know
        for path in (f"/v1/state/settlement/bal/{cust}/USD", f"/v1/risk/accounts/{cust}",
                     "/v1/events", "/metrics"):
            st, body = await get_as(d, who, path)
            assert st == 401 and body["error"]["code"] == "unauthenticated", (who, path)
