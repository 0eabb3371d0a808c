"""risk: each rule kind refuses one unit over and passes at the limit, windows slide with block
time, refusals record only their alert, the watch list is kept as keyed hashes, freezes, key
rotation and revocation, seizure, and the pattern alerts."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainfin.errors import ContractError, InvalidTransaction
from chainfin.execution import Overlay, TxContext, check_tx_static, resolve_sender
from contracts import governance as gov
from contracts import risk
from contracts.testing import CHAIN_ID, Ledger, identity

S, R, G = "settlement", "risk", "governance"
HOUR_MS = 3600 * 1000


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    for who in ("bank_a", "exporter", "importer"):
        led.ok("usd_issuer", S, "issue", currency="USD", to=led.pk(who), amount=1_000_000)
    led.ok("jpy_issuer", S, "issue", currency="JPY", to=led.pk("importer"), amount=1_000_000)
    return led


def pay(L: Ledger, frm: str, to: str, amount: int, ccy: str = "USD"):
    return L.tx(frm, S, "transfer", to=L.pk(to), currency=ccy, amount=amount)


def limit(L: Ledger, subject: str, kind: str, mx: int, window_s: int | None = None,
          ccy: str = "USD", by: str = "regulator", rule_id: str = "r1") -> None:
    args = {"subject": L.pk(subject), "kind": kind, "currency": ccy, "max": mx,
            "rule_id": rule_id}
    if window_s is not None:
        args["window_s"] = window_s
    L.ok(by, R, "set_limit", **args)


def alerts(receipt, rule: str) -> list[dict]:
    return [e.data for e in receipt.events if e.name == "alert" and e.data["rule"] == rule]


def watch(L: Ledger, kind: str, value: str) -> str:
    digest = risk.watch_digest(risk.watch_key(bytes.fromhex(L.genesis.fingerprint_key)), kind,
                               value)
    L.ok("regulator", R, "add_watch", entries=[digest])
    return digest


def pass_governance(L: Ledger, action: str, params: dict) -> None:
    pid = L.ok("bank_a", G, "propose", action=action, params=params)["proposal_id"]
    for v in ("bank_b", "bank_c"):
        res = L.ok(v, G, "vote", proposal_id=pid)
    assert res["status"] == "applied"


# ---------------------------------------------------------------------------- limits


def test_a_payment_over_the_per_transaction_limit_is_refused_naming_the_rule(L: Ledger) -> None:
    limit(L, "exporter", "max_per_tx", 1000, rule_id="per-tx-usd")
    assert pay(L, "exporter", "importer", 1000).ok  # at the limit
    r = pay(L, "exporter", "importer", 1001)
    assert r.error_code == "limit_exceeded" and "per-tx-usd" in r.error_message
    (a,) = alerts(r, "limit_exceeded")
    assert a["rule_id"] == "per-tx-usd" and a["accounts"] == [L.pk("exporter")]
    assert pay(L, "exporter", "importer", 999, "JPY").status == "rejected"  # no JPY; other rule
    assert L.balance("exporter", "USD") == 1_000_000 - 1000


def test_window_outflow_refuses_one_unit_over_and_slides_with_block_time(L: Ledger) -> None:
    limit(L, "exporter", "window_outflow", 1000, window_s=3600)
    assert pay(L, "exporter", "importer", 600).ok
    assert pay(L, "exporter", "importer", 400).ok  # 1000 within the hour: at the limit
    assert pay(L, "exporter", "importer", 1).error_code == "limit_exceeded"
    L.now_ms += 3600 * 1000 - 2 * 150_000  # still inside the window
    assert pay(L, "exporter", "importer", 1).error_code == "limit_exceeded"
    L.now_ms += 2 * 150_000  # one window of block time after the first payments
    assert pay(L, "exporter", "importer", 1000).ok
    use = L.get(R, f"use/{L.pk('exporter')}")  # one record per account: {rule_id: counter}
    assert list(use) == ["r1"] and len(use["r1"]["b"]) <= risk.BUCKETS


def test_one_usage_record_per_account_keeps_each_rules_counter(L: Ledger) -> None:
    limit(L, "exporter", "window_outflow", 1000, window_s=3600, rule_id="out")
    limit(L, "exporter", "velocity", 3, window_s=60, ccy="*", rule_id="vel")
    assert pay(L, "exporter", "importer", 600).ok
    use = L.get(R, f"use/{L.pk('exporter')}")
    assert sorted(use) == ["out", "vel"]
    assert [b[1:] for b in use["out"]["b"]] == [[600, 1]]
    assert [b[1:] for b in use["vel"]["b"]] == [[600, 1]]
    # a removed rule's counter stays while inside its window: re-added, it resumes
    L.ok("regulator", R, "remove_limit", subject=L.pk("exporter"), rule_id="out")
    assert pay(L, "exporter", "importer", 1).ok
    assert L.get(R, f"use/{L.pk('exporter')}")["out"] == use["out"]
    limit(L, "exporter", "window_outflow", 1000, window_s=3600, rule_id="out")
    r = pay(L, "exporter", "importer", 401)  # 600 + 401 within the hour
    assert r.error_code == "limit_exceeded" and "out" in r.error_message
    # once its window has passed the entry counts nothing and is dropped at the next write
    L.ok("regulator", R, "remove_limit", subject=L.pk("exporter"), rule_id="out")
    L.now_ms += 3600 * 1000
    assert pay(L, "exporter", "importer", 1).ok
    assert sorted(L.get(R, f"use/{L.pk('exporter')}")) == ["vel"]


def test_velocity_refuses_the_payment_after_k_in_the_window(L: Ledger) -> None:
    limit(L, "exporter", "velocity", 3, window_s=60, ccy="*")
    for _ in range(3):
        assert pay(L, "exporter", "importer", 1).ok
    r = pay(L, "exporter", "importer", 1)
    assert r.error_code == "limit_exceeded" and "velocity" in r.error_message
    L.now_ms += 60_000
    assert pay(L, "exporter", "importer", 1).ok


def test_a_network_limit_needs_a_governance_vote_and_binds_everyone(L: Ledger) -> None:
    L.fails("forbidden", "exporter", R, "set_limit", subject=L.pk("exporter"),
            kind="max_per_tx", currency="USD", max=10**9)  # nobody lifts their own
    pass_governance(L, "set_network_limit",
                    {"kind": "max_per_tx", "currency": "USD", "max": 500, "rule_id": "net"})
    assert pay(L, "bank_a", "importer", 500).ok
    assert pay(L, "bank_a", "importer", 501).error_code == "limit_exceeded"
    assert pay(L, "exporter", "importer", 501).error_code == "limit_exceeded"
    pass_governance(L, "remove_network_limit", {"rule_id": "net"})
    assert pay(L, "exporter", "importer", 501).ok


def test_a_refused_payment_changes_no_state_but_the_rules_record(L: Ledger) -> None:
    limit(L, "exporter", "window_outflow", 10, window_s=3600)
    before = dict(L.state.data)
    r = pay(L, "exporter", "importer", 11)
    assert r.error_code == "limit_exceeded"
    changed = {k.decode() for k in L.state.data if L.state.data[k] != before.get(k)}
    exp = L.pk("exporter")
    # the alert, its case and its place in the supervisors' review queue (decision 145)
    assert changed == {f"risk/alerts/{exp}", "risk/alert_count/limit_exceeded",
                       f"risk/alert/{r.tx_id.hex()}-0", "risk/queue/*", "risk/queue/*/0",
                       f"_nonce/{exp}/{(L.nonces[L.ids['exporter'].public_key] - 1) >> 8}"}
    assert L.get(R, f"alerts/{exp}")[-1]["rule"] == "limit_exceeded"


def test_only_a_regulator_or_the_home_bank_sets_an_identitys_limits(L: Ledger) -> None:
    acme = L.add_identity("acme").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=acme, name="ACME", role="exporter")
    L.ok("bank_a", R, "set_limit", subject=acme, kind="max_per_tx", currency="USD", max=1)
    L.fails("forbidden", "bank_b", R, "set_limit", subject=acme, kind="max_per_tx",
            currency="USD", max=1)
    L.fails("forbidden", "exporter", R, "set_limit", subject=L.pk("importer"),
            kind="max_per_tx", currency="USD", max=1)
    L.fails("bad_field", "regulator", R, "set_limit", subject=acme, kind="window_outflow",
            currency="USD", max=1)  # a window is required


def test_a_pvp_give_leg_counts_against_the_offerers_limits(L: Ledger) -> None:
    limit(L, "exporter", "max_per_tx", 100)
    L.fails("limit_exceeded", "exporter", S, "offer_pvp", counterparty=L.pk("importer"),
            give={"currency": "USD", "amount": 101}, get={"currency": "JPY", "amount": 1},
            expires_at=L.now_ms + 10**6)
    assert L.balance("exporter", "USD") == 1_000_000


# ---------------------------------------------------------------------------- exposure


def _ctx(L: Ledger, who: str) -> tuple[Overlay, TxContext]:
    st = Overlay(L.state)
    tx = L.make_tx(who, R, "add_watch", {"entries": ["00" * 32]})
    ident_id, rec = resolve_sender(st, tx.sender.hex())  # type: ignore[misc]
    return st, TxContext(L.context(), tx, rec, R, ident_id)


def test_financing_over_the_banks_exposure_to_a_buyer_is_refused(L: Ledger) -> None:
    L.ok("bank_a", R, "set_exposure_limit", side="buyer", party="Globex  Corp", currency="USD",
         max=1000)
    L.fails("forbidden", "bank_b", R, "set_exposure_limit", side="buyer", party="Globex",
            currency="USD", max=1, bank=L.pk("bank_a"))
    st, ctx = _ctx(L, "bank_a")
    bank = L.pk("bank_a")
    risk.check_financing_exposure(st, ctx, bank, L.pk("exporter"), "globex corp", "USD", 1000)
    with pytest.raises(ContractError) as ei:
        risk.check_financing_exposure(st, ctx, bank, L.pk("exporter"), "GLOBEX CORP", "USD", 1)
    assert ei.value.code == "limit_exceeded" and "exposure:buyer" in str(ei.value)
    risk.release_financing_exposure(st, bank, L.pk("exporter"), "Globex Corp", "USD", 1)
    risk.check_financing_exposure(st, ctx, bank, L.pk("exporter"), "Globex Corp", "USD", 1)


# ---------------------------------------------------------------------------- watch list


def test_a_payment_to_a_watched_identity_is_refused(L: Ledger) -> None:
    digest = watch(L, "id", L.pk("importer"))
    r = pay(L, "exporter", "importer", 1)
    assert r.error_code == "sanctioned_party" and alerts(r, "sanctioned_party")
    assert pay(L, "importer", "exporter", 1).error_code == "sanctioned_party"
    L.fails("sanctioned_party", "usd_issuer", S, "issue", currency="USD", to=L.pk("importer"),
            amount=1)
    L.fails("sanctioned_party", "exporter", S, "offer_pvp", counterparty=L.pk("importer"),
            give={"currency": "USD", "amount": 1}, get={"currency": "JPY", "amount": 1},
            expires_at=L.now_ms + 10**6)
    L.fails("forbidden", "exporter", R, "remove_watch", entries=[digest], reason="x")
    r = L.tx("regulator", R, "remove_watch", entries=[digest], reason="delisted 2026-01")
    assert [e.name for e in r.events] == ["watch_removed"]
    assert pay(L, "exporter", "importer", 1).ok


def test_the_watch_list_is_not_recoverable_from_state_without_the_key(L: Ledger) -> None:
    watch(L, "id", L.pk("importer"))
    watch(L, "name", "Evil Shipping Co")
    fkey = bytes.fromhex(L.genesis.fingerprint_key)
    stored = [k.decode().split("/")[2] for k, _ in L.state.items_with_prefix(b"risk/watch/")]
    assert len(stored) == 2
    blob = b"".join(k + v for k, v in L.state.data.items())
    for secret in (fkey, risk.watch_key(fkey), b"evil shipping", b"Evil Shipping"):
        assert secret not in blob
    # without the key, hashing the candidates does not find them
    for cand in ("id\0" + L.pk("importer"), "name\0evil shipping co"):
        assert hashlib.sha256(cand.encode()).hexdigest() not in stored
        assert risk.watch_digest(hashlib.sha256(b"guess").digest(), *cand.split("\0")) \
            not in stored


def test_a_document_naming_a_watched_party_is_refused(L: Ledger) -> None:
    watch(L, "name", "Evil  Shipping CO")
    st, ctx = _ctx(L, "exporter")
    risk.screen_parties(st, ctx, {"seller": "ACME", "buyer": "Globex"})
    with pytest.raises(ContractError) as ei:
        risk.screen_parties(st, ctx, {"seller": "ACME", "shipper": "evil shipping co"})
    assert ei.value.code == "sanctioned_party" and "shipper" in str(ei.value)
    assert "evil" not in str(ei.value).lower()
    assert [e.data["party"] for e in ctx.kept_events] == ["shipper"]


# ---------------------------------------------------------------------------- freezes


def test_a_frozen_identitys_transfers_and_pvp_offers_are_refused(L: Ledger) -> None:
    r = L.tx("regulator", G, "freeze_identity", pubkey=L.pk("exporter"), reason="fraud probe",
             order_ref="FIU-1")
    assert r.ok and r.events[0].data["order_ref"] == "FIU-1"
    assert pay(L, "exporter", "importer", 1).error_code == "account_frozen"
    L.fails("account_frozen", "exporter", S, "offer_pvp", counterparty=L.pk("importer"),
            give={"currency": "USD", "amount": 1}, get={"currency": "JPY", "amount": 1},
            expires_at=L.now_ms + 10**6)
    L.fails("account_frozen", "exporter", "trade_documents", "register", doc_type="invoice",
            fields={}, content_hash="00" * 32)
    assert pay(L, "importer", "exporter", 1).error_code == "account_frozen"  # nor paid
    L.fails("forbidden", "bank_b", G, "unfreeze_identity", pubkey=L.pk("exporter"),
            reason="x", order_ref="FIU-1")
    L.ok("regulator", G, "unfreeze_identity", pubkey=L.pk("exporter"), reason="cleared",
         order_ref="FIU-1")
    assert pay(L, "exporter", "importer", 1).ok


def test_a_frozen_account_refuses_its_currency_only(L: Ledger) -> None:
    L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk("importer"), amount=5)
    L.ok("regulator", R, "freeze_account", account=L.pk("importer"), currency="USD",
         reason="court order", order_ref="C-7")
    assert pay(L, "importer", "exporter", 1).error_code == "account_frozen"
    assert pay(L, "exporter", "importer", 1).error_code == "account_frozen"
    assert pay(L, "importer", "exporter", 1, "JPY").ok
    L.ok("regulator", R, "unfreeze_account", account=L.pk("importer"), currency="USD",
         reason="lifted", order_ref="C-7")
    assert pay(L, "importer", "exporter", 1).ok


def test_a_frozen_identity_can_still_rotate_its_key(L: Ledger) -> None:
    L.ok("regulator", G, "freeze_identity", pubkey=L.pk("exporter"), reason="key leaked",
         order_ref="SOC-9")
    new = identity("exporter-key-2")
    proof = new.sign("rotate_key", gov.rotation_message(CHAIN_ID, L.pk("exporter")))
    L.ok("exporter", G, "rotate_key", new_public_key=new.public_key.hex(), proof=proof.hex())
    L.ok("regulator", G, "unfreeze_identity", pubkey=L.pk("exporter"), reason="rotated",
         order_ref="SOC-9")
    assert L.tx(new, S, "transfer", to=L.pk("importer"), currency="USD", amount=1).ok


# ---------------------------------------------------------------------------- keys


def test_after_rotation_the_old_key_is_refused_and_the_new_key_spends_the_same_balance(
        L: Ledger) -> None:
    old = L.pk("exporter")
    new = identity("exporter-key-2")
    bad = identity("someone-else").sign("rotate_key", gov.rotation_message(CHAIN_ID, old))
    L.fails("bad_proof", "exporter", G, "rotate_key", new_public_key=new.public_key.hex(),
            proof=bad.hex())
    L.fails("key_in_use", "exporter", G, "rotate_key", new_public_key=L.pk("importer"),
            proof=bad.hex())
    proof = new.sign("rotate_key", gov.rotation_message(CHAIN_ID, old))
    r = L.tx("exporter", G, "rotate_key", new_public_key=new.public_key.hex(), proof=proof.hex())
    assert r.ok and r.events[0].name == "key_rotated"
    assert pay(L, "exporter", "importer", 1).error_code == "key_rotated"
    r = L.tx(new, S, "transfer", to=L.pk("importer"), currency="USD", amount=1_000_000)
    assert r.ok and r.events[0].data["from"] == old  # the identity id holds the balance
    assert L.balance(old, "USD") == 0
    # money sent to the new key reaches the identity
    assert L.tx("importer", S, "transfer", to=new.public_key.hex(), currency="USD",
                amount=7).ok
    assert L.balance(old, "USD") == 7
    L.fails("identity_exists", "bank_a", G, "register_identity", pubkey=new.public_key.hex(),
            name="x", role="exporter")


def test_a_validator_cannot_rotate_its_consensus_key_away(L: Ledger) -> None:
    new = identity("bank-a-key-2")
    proof = new.sign("rotate_key", gov.rotation_message(CHAIN_ID, L.pk("bank_a")))
    L.fails("forbidden", "bank_a", G, "rotate_key", new_public_key=new.public_key.hex(),
            proof=proof.hex())


def test_a_lost_key_is_revoked_by_the_home_bank(L: Ledger) -> None:
    acme = L.add_identity("acme").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=acme, name="ACME", role="exporter")
    L.ok("bank_a", S, "transfer", to=acme, currency="USD", amount=50)
    L.fails("forbidden", "bank_b", G, "revoke_identity", pubkey=acme, reason="lost",
            order_ref="T-1")
    replacement = identity("acme-key-2")
    L.ok("bank_a", G, "revoke_identity", pubkey=acme, reason="phone lost", order_ref="T-1",
         new_public_key=replacement.public_key.hex())
    assert L.tx("acme", S, "transfer", to=L.pk("importer"), currency="USD",
                amount=1).error_code == "key_rotated"
    assert L.tx(replacement, S, "transfer", to=L.pk("importer"), currency="USD", amount=50).ok
    L.ok("regulator", G, "revoke_identity", pubkey=acme, reason="deceased", order_ref="T-2")
    assert L.tx(replacement, S, "transfer", to=L.pk("importer"), currency="USD",
                amount=1).error_code == "identity_revoked"


# ---------------------------------------------------------------------------- seizure, roles


def test_a_seizure_needs_a_regulator_and_can_need_two(L: Ledger) -> None:
    L.ok("regulator", R, "freeze_account", account=L.pk("exporter"), currency="USD",
         reason="court order", order_ref="C-1")
    L.fails("forbidden", "usd_issuer", S, "seize", account=L.pk("exporter"), currency="USD",
            amount=1, order_ref="C-1")
    r = L.tx("regulator", S, "seize", account=L.pk("exporter"), currency="USD", amount=100,
             order_ref="C-1")
    assert r.ok and r.result["status"] == "seized"
    assert L.balance("exporter", "USD") == 1_000_000 - 100
    assert L.balance("seized", "USD") == 100
    pass_governance(L, "add_regulator", {"pubkey": L.pk("auditor")})
    pass_governance(L, "set_seize_approvals", {"count": 2})
    first = L.ok("regulator", S, "seize", account=L.pk("exporter"), currency="USD", amount=5,
                 order_ref="C-2")
    assert first["status"] == "pending" and L.balance("exporter", "USD") == 1_000_000 - 100
    L.fails("forbidden", "regulator", S, "seize", account=L.pk("exporter"), currency="USD",
            amount=5, order_ref="C-2")
    L.fails("bad_field", "auditor", S, "seize", account=L.pk("exporter"), currency="USD",
            amount=6, order_ref="C-2")
    assert L.ok("auditor", S, "seize", account=L.pk("exporter"), currency="USD", amount=5,
                order_ref="C-2")["status"] == "seized"
    assert L.balance("seized", "USD") == 105


def test_an_auditor_may_not_move_money(L: Ledger) -> None:
    L.fails("forbidden", "auditor", S, "transfer", to=L.pk("importer"), currency="USD",
            amount=1)


# ---------------------------------------------------------------------------- pattern alerts


def test_structuring_alerts_on_the_third_payment_just_under_the_limit(L: Ledger) -> None:
    limit(L, "exporter", "max_per_tx", 1000)
    for i in range(2):
        r = pay(L, "exporter", "importer", 950 + i)
        assert r.ok and not alerts(r, "structuring")
    assert not alerts(pay(L, "exporter", "importer", 500), "structuring")  # not near
    r = pay(L, "exporter", "importer", 999)
    assert r.ok
    (a,) = alerts(r, "structuring")
    assert a["near_limit_payments"] == 3 and a["accounts"] == [L.pk("exporter")]
    assert L.get(R, "alert_count/structuring") == 1


def test_structuring_counts_only_within_a_day_of_block_time(L: Ledger) -> None:
    limit(L, "exporter", "max_per_tx", 1000)
    assert pay(L, "exporter", "importer", 950).ok
    assert pay(L, "exporter", "importer", 950).ok
    L.now_ms += 25 * HOUR_MS
    assert not alerts(pay(L, "exporter", "importer", 950), "structuring")


def test_round_trip_alerts_when_money_comes_back_within_the_window(L: Ledger) -> None:
    assert pay(L, "exporter", "importer", 300).ok
    r = pay(L, "importer", "exporter", 290)
    (a,) = alerts(r, "round_trip")
    assert a["accounts"] == [L.pk("exporter"), L.pk("importer")]
    assert not alerts(pay(L, "importer", "exporter", 5), "round_trip")  # one alert per trip
    L.now_ms += 25 * HOUR_MS
    assert not alerts(pay(L, "exporter", "importer", 1), "round_trip")


def test_counterparty_change_alerts_on_a_large_payment_to_a_new_party(L: Ledger) -> None:
    for _ in range(risk.CHANGE_MIN_HISTORY):
        assert not alerts(pay(L, "bank_a", "importer", 100), "counterparty_change")
    assert not alerts(pay(L, "bank_a", "exporter", 399), "counterparty_change")  # < 4x
    r = pay(L, "bank_a", "usd_issuer", 1000)  # average now 137
    (a,) = alerts(r, "counterparty_change")
    assert a["counterparty"] == L.pk("usd_issuer")
    assert not alerts(pay(L, "bank_a", "importer", 10_000), "counterparty_change")  # known
    assert [x["rule"] for x in L.get(R, "alerts/" + L.pk("bank_a"))] == ["counterparty_change"]


def test_only_a_regulator_or_the_home_bank_freezes_an_identity(L: Ledger) -> None:
    acme = L.add_identity("acme").public_key.hex()
    L.ok("bank_a", G, "register_identity", pubkey=acme, name="ACME", role="exporter")
    order = {"reason": "r", "order_ref": "o"}
    L.fails("forbidden", "exporter", G, "freeze_identity", pubkey=L.pk("importer"), **order)
    L.fails("forbidden", "bank_b", G, "freeze_identity", pubkey=acme, **order)
    L.ok("bank_a", G, "freeze_identity", pubkey=acme, **order)
    L.fails("forbidden", "bank_b", R, "freeze_account", account=acme, currency="USD", **order)


def test_a_removed_regulator_may_no_longer_seize(L: Ledger) -> None:
    pass_governance(L, "remove_regulator", {"pubkey": L.pk("regulator")})
    L.fails("forbidden", "regulator", S, "seize", account=L.pk("exporter"), currency="USD",
            amount=1, order_ref="C-9")
    L.fails("forbidden", "regulator", R, "add_watch", entries=["00" * 32])


def test_accepting_a_pvp_into_a_frozen_account_is_refused(L: Ledger) -> None:
    offer = L.ok("exporter", S, "offer_pvp", counterparty=L.pk("importer"),
                 give={"currency": "USD", "amount": 10}, get={"currency": "JPY", "amount": 1},
                 expires_at=L.now_ms + 10**6)["offer_id"]
    L.ok("regulator", R, "freeze_account", account=L.pk("exporter"), currency="JPY",
         reason="court order", order_ref="C-3")
    L.fails("account_frozen", "importer", S, "accept_pvp", offer_id=offer)
    assert L.balance("importer", "JPY") == 1_000_000
    assert L.balance("escrow", "USD") == 10


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 2_000_000), st.integers(1, 400)), min_size=1,
                max_size=40))
def test_a_window_counts_exactly_the_payments_of_its_last_24_buckets(
        steps: list[tuple[int, int]]) -> None:
    """Against a model that keeps every accepted payment: a payment passes iff the accepted
    ones in the current bucket and the 23 before, plus it, stay within the maximum."""
    led = Ledger()
    led.ok("usd_issuer", S, "issue", currency="USD", to=led.pk("exporter"), amount=10**9)
    limit(led, "exporter", "window_outflow", 1000, window_s=3600)
    size = 3600 * 1000 // risk.BUCKETS
    accepted: list[tuple[int, int]] = []  # (bucket, amount)
    for advance, amount in steps:
        led.now_ms += advance
        now = (led.now_ms + 1000) // size  # the block's time: Ledger.block adds 1000 ms
        inside = sum(a for b, a in accepted if b > now - risk.BUCKETS)
        r = pay(led, "exporter", "importer", amount)
        if inside + amount <= 1000:
            assert r.ok, (inside, amount, r.error_message)
            accepted.append((now, amount))
        else:
            assert r.error_code == "limit_exceeded"
        use = led.get(R, f"use/{led.pk('exporter')}")
        assert use is None or len(use["r1"]["b"]) <= risk.BUCKETS


def test_limits_and_the_watch_list_follow_the_identity_through_a_key_rotation(
        L: Ledger) -> None:
    limit(L, "exporter", "max_per_tx", 100)
    new = identity("exporter-key-2")
    proof = new.sign("rotate_key", gov.rotation_message(CHAIN_ID, L.pk("exporter")))
    L.ok("exporter", G, "rotate_key", new_public_key=new.public_key.hex(), proof=proof.hex())
    assert L.tx(new, S, "transfer", to=L.pk("importer"), currency="USD",
                amount=101).error_code == "limit_exceeded"
    watch(L, "id", L.pk("exporter"))  # listed by its identity id
    assert L.tx("importer", S, "transfer", to=new.public_key.hex(), currency="USD",
                amount=1).error_code == "sanctioned_party"


def test_a_frozen_signer_is_refused_at_admission_already(L: Ledger) -> None:
    L.ok("regulator", G, "freeze_identity", pubkey=L.pk("exporter"), reason="r",
         order_ref="o")
    tx = L.make_tx("exporter", S, "transfer", {"to": L.pk("importer"), "currency": "USD",
                                                "amount": 1})
    with pytest.raises(InvalidTransaction) as ei:
        check_tx_static(tx, L.state, registry=L.registry)
    assert ei.value.code == "account_frozen"
    new = identity("exporter-key-2")
    proof = new.sign("rotate_key", gov.rotation_message(CHAIN_ID, L.pk("exporter")))
    check_tx_static(L.make_tx("exporter", G, "rotate_key", {
        "new_public_key": new.public_key.hex(), "proof": proof.hex()}), L.state,
        registry=L.registry)


def test_the_nodes_alert_rules_are_the_contracts() -> None:
    """/v1/risk/rules and /metrics list the rules from node.api_risk, which cannot import the
    contracts: the two lists must not drift."""
    from contracts.risk import ALERT_RULES
    from node.api_risk import RISK_ALERT_RULES

    assert RISK_ALERT_RULES == ALERT_RULES


@pytest.mark.parametrize(("field", "value"), [("currency", "usd"), ("currency", "US"),
                                              ("kind", "max_per_year")])
def test_a_malformed_limit_is_refused_at_admission(field: str, value: str) -> None:
    """The docs walk-through: set_limit with "usd" was rejected in a block (spending a nonce)
    where settlement.issue refuses the same at admission."""
    from chainfin.types import Transaction
    from contracts import CONTRACTS
    from contracts.testing import make_genesis

    led = Ledger(make_genesis())
    args = {"subject": led.pk("exporter"), "kind": "max_per_tx", "currency": "USD", "max": 10,
            field: value}
    tx = Transaction.create(led.ids["regulator"], led.genesis.chain_id, 1, "risk", "set_limit",
                            args)
    with pytest.raises(InvalidTransaction) as ei:
        check_tx_static(tx, led.state, registry=CONTRACTS, nonce_words=True)
    assert ei.value.code == "bad_field" and field in str(ei.value)
