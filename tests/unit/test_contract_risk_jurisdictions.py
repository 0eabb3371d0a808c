"""The regulator's jurisdiction list (docs/risk.md "Jurisdictions", decision 149): strictly
validated ISO 3166-1 codes, a regulator's act, ``refuse`` stops payments, documents, financing
and credits involving the place (the alert kept), ``monitor`` alerts the home bank and the
supervisors — never the subject — once per payer and place per 24 h of block time, ports read
from UN/LOCODEs, removal restores."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import risk
from contracts import risk_jurisdictions as jur
from contracts.testing import Ledger
from node import access
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    INVOICE,
    T,
    h,
    register,
    state_without_receipts,
    trade_ledger,
)

S, R, G = "settlement", "risk", "governance"
DAY_MS = 24 * 3600 * 1000

#: name -> (role, BIC): customers of banks in Great Britain, Iran, Nigeria, and a bank in Iran
PARTIES = {"gb_exporter": ("exporter", "BARCGB22"), "ir_importer": ("importer", "MELIIRTH"),
           "ng_importer": ("importer", "FBNINGLA"), "ir_bank": ("bank", "BMJIIRTH")}


def onboard(led: Ledger) -> None:
    for name, (role, bic) in PARTIES.items():
        led.add_identity(name)
        led.ok("bank_a", G, "register_identity", pubkey=led.pk(name), name=name, role=role,
               bank=bic)
        led.ok("usd_issuer", S, "issue", currency="USD", to=led.pk(name), amount=1_000_000)


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    onboard(led)
    return led


def pay(led: Ledger, frm: str, to: str, amount: int = 100):
    return led.tx(frm, S, "transfer", to=led.pk(to), currency="USD", amount=amount)


def alerts(receipt: Any, rule: str | None = None) -> list[dict[str, Any]]:
    return [e.data for e in [*receipt.events] if e.name == "alert"
            and (rule is None or e.data["rule"] == rule)]


def list_(led: Ledger, code: str, level: str, **extra: Any) -> dict[str, Any]:
    return led.ok("regulator", R, "set_jurisdiction", code=code, level=level, **extra)


# ---------------------------------------------------------------------------- the list


@pytest.mark.parametrize("code", ["ir", "Ir", "IRN", "I", "I1", "", " IR", 98, "ＩＲ"])
def test_a_code_not_written_as_two_upper_case_letters_is_refused(L: Ledger, code: Any) -> None:
    r = L.tx("regulator", R, "set_jurisdiction", code=code, level="refuse")
    assert r.status == "rejected" and r.error_code == "bad_jurisdiction"


@pytest.mark.parametrize("code", ["UK", "EU", "ZZ", "AA", "AN", "YU", "CS", "SU", "UN", "XX"])
def test_a_code_that_is_not_assigned_is_refused(L: Ledger, code: str) -> None:
    r = L.fails("bad_jurisdiction", "regulator", R, "set_jurisdiction", code=code,
                level="monitor")
    if code == "UK":
        assert "GB" in r.error_message
    assert L.get(R, "jurisdictions") is None


def test_the_table_is_the_249_assigned_codes_and_kosovo() -> None:
    assert len(jur.ASSIGNED) == 250 and "XK" in jur.ASSIGNED
    assert {"GB", "IR", "KP", "MM", "NG", "CN", "US", "SS", "BQ", "CW", "SX"} <= jur.ASSIGNED
    assert not {"UK", "EU", "AN", "YU", "CS", "TP", "ZR"} & jur.ASSIGNED


def test_kosovo_is_listable(L: Ledger) -> None:
    assert list_(L, "XK", "monitor")["level"] == "monitor"


def test_a_level_other_than_refuse_or_monitor_is_refused(L: Ledger) -> None:
    r = L.tx("regulator", R, "set_jurisdiction", code="IR", level="block")
    assert r.status == "rejected" and r.error_code == "bad_field"


@pytest.mark.parametrize("who", ["bank_a", "gb_exporter", "auditor", "customs"])
def test_only_a_regulator_publishes_or_removes(L: Ledger, who: str) -> None:
    L.fails("forbidden", who, R, "set_jurisdiction", code="IR", level="refuse")
    list_(L, "IR", "refuse")
    L.fails("forbidden", who, R, "remove_jurisdiction", code="IR", reason="x")
    assert L.get(R, "jurisdictions")["IR"]["level"] == "refuse"


def test_each_change_is_an_event_and_the_list_is_one_record(L: Ledger) -> None:
    r = L.tx("regulator", R, "set_jurisdiction", code="MM", level="monitor",
             reason="FATF increased monitoring")
    (ev,) = [e.data for e in r.events if e.name == "jurisdiction_set"]
    assert ev == {"code": "MM", "level": "monitor", "previous": None,
                  "reason": "FATF increased monitoring", "by": L.pk("regulator")}
    r = L.tx("regulator", R, "set_jurisdiction", code="MM", level="refuse")
    (ev,) = [e.data for e in r.events if e.name == "jurisdiction_set"]
    assert ev["previous"] == "monitor" and ev["level"] == "refuse"
    assert set(L.get(R, "jurisdictions")) == {"MM"}
    r = L.tx("regulator", R, "remove_jurisdiction", code="MM", reason="delisted")
    (ev,) = [e.data for e in r.events if e.name == "jurisdiction_removed"]
    assert ev == {"code": "MM", "level": "refuse", "reason": "delisted",
                  "by": L.pk("regulator")}
    assert L.get(R, "jurisdictions") is None  # an empty list is no key: one absent read
    L.fails("unknown_jurisdiction", "regulator", R, "remove_jurisdiction", code="MM",
            reason="again")


def test_the_list_is_bounded_by_the_table(L: Ledger) -> None:
    txs = [L.make_tx("regulator", R, "set_jurisdiction", {"code": c, "level": "monitor"})
           for c in sorted(jur.ASSIGNED)]
    res = L.block(txs)
    assert all(r.status == "committed" for r in res.receipts)
    assert len(L.get(R, "jurisdictions")) == jur.MAX_JURISDICTIONS == len(jur.ASSIGNED)


# ---------------------------------------------------------------------------- places


@pytest.mark.parametrize("bic,cc", [("BARCGB22", "GB"), ("barc gb 22", "GB"),
                                    ("DEUTDEFF500", "DE"), ("RBKOXKPR", "XK"),
                                    ("BANK_A", None), ("ABCDUK22", None),
                                    ("529900T8BM49AURSDO55", None), ("", None)])
def test_a_bics_country_is_its_fifth_and_sixth_characters(bic: str, cc: str | None) -> None:
    assert jur.bic_country(bic) == cc


#: five-letter port names (and a two-letter word then a three-letter one) whose first letters
#: are an assigned code: the stored skeleton read them as UN/LOCODEs (decision 149's limit)
PORT_NAMES = ["Lagos", "Genoa", "La Paz", "Lima", "Santos", "Colon", "Tokyo", "Cadiz", "Beira",
              "Malmo", "Arica", "Natal", "Belem", "Varna", "Aqaba", "Basra", "Dover", "Le Havre",
              "Port of Lagos", "Lagos (Apapa)", "Genoa, Italy"]


@pytest.mark.parametrize("port,cc", [
    ("CNSHA", "CN"), ("CN SHA", "CN"), ("CN-SHA", "CN"), ("US LAX", "US"), ("NL RTM", "NL"),
    ("IRBND", "IR"), ("NGLOS", "NG"), ("ITGOA", "IT"), ("SAJED", "SA"), ("SA JED", "SA"),
    ("SA-JED", "SA"), ("CO BAQ", "CO"), ("AG SJO", "AG"), ("BV-ABC", "BV"), ("GBLO2", "GB"),
    ("  CNSHA ", "CN"), ("XK PRN", "XK"),
    *((name, None) for name in PORT_NAMES),
    ("cnsha", None), ("Cnsha", None), ("cn sha", None), ("CNsha", None), ("ＣＮＳＨＡ", None),
    ("Shanghai", None), ("Port of Shanghai", None), ("Bandar Abbas", None),
    ("Shanghai (CNSHA)", None), ("UKLON", None), ("ZZABC", None), ("EU ABC", None),
    ("ANCUR", None), ("CNSH1", None), ("CNSH0", None), ("CN SHAN", None), ("CN  SHA", None),
    ("CN_SHA", None), ("CN/SHA", None), ("CN -SHA", None), ("C NSHA", None), ("", None)])
def test_a_port_is_placed_only_when_written_as_a_locode(port: str, cc: str | None) -> None:
    """Read on the field as submitted: two upper-case letters of an assigned code, then three
    upper-case letters or digits 2-9 (UN/LOCODE never uses 0 or 1), together or apart by one
    space or hyphen. A name is never placed; lower case is not a LOCODE as written."""
    assert jur.locode_country(port) == cc


def test_the_ports_recorded_are_only_those_written_as_locodes() -> None:
    assert jur.port_countries({"port_of_loading": "SA JED", "port_of_discharge": "Genoa",
                               "vessel": "CNSHA"}) == {"port_of_loading": "SA"}
    assert jur.port_countries({"port_of_loading": "Lagos", "port_of_discharge": "cnsha"}) == {}


# ---------------------------------------------------------------------------- payments


def test_refuse_blocks_a_payment_to_a_bic_in_the_country_and_keeps_the_alert(L: Ledger) -> None:
    list_(L, "IR", "refuse")
    before = state_without_receipts(L)
    r = pay(L, "gb_exporter", "ir_importer")
    assert r.status == "rejected" and r.error_code == "jurisdiction_refused"
    assert "payee" in r.error_message and "IR" in r.error_message
    (a,) = alerts(r)
    assert a["rule"] == "jurisdiction_refused" and a["jurisdiction"] == "IR"
    assert a["accounts"] == [L.pk("gb_exporter")] and a["party"] == "payee"
    after = state_without_receipts(L)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed and all(k.startswith(b"risk/") for k in changed)  # only the alert is kept
    assert L.get(R, "alert_count/jurisdiction_refused") == 1
    assert L.get(R, "alert/" + a["alert"])["status"] == "open"  # a case to review
    assert L.balance("ir_importer", "USD") == 1_000_000


def test_refuse_blocks_the_payer_in_the_country_and_a_pvp_leg(L: Ledger) -> None:
    list_(L, "IR", "refuse")
    r = pay(L, "ir_importer", "gb_exporter")
    assert r.error_code == "jurisdiction_refused" and "payer" in r.error_message
    L.fails("jurisdiction_refused", "gb_exporter", S, "offer_pvp",
            counterparty=L.pk("ir_bank"), give={"currency": "USD", "amount": 5},
            get={"currency": "JPY", "amount": 5}, expires_at=L.now_ms + 10**6)
    assert pay(L, "gb_exporter", "ng_importer").ok  # elsewhere: untouched


def test_removal_restores_payments(L: Ledger) -> None:
    list_(L, "IR", "refuse")
    assert pay(L, "gb_exporter", "ir_importer").error_code == "jurisdiction_refused"
    L.ok("regulator", R, "remove_jurisdiction", code="IR", reason="programme lifted")
    r = pay(L, "gb_exporter", "ir_importer")
    assert r.ok and not alerts(r)


def test_an_issuance_to_a_refused_place_is_refused(L: Ledger) -> None:
    list_(L, "IR", "refuse")
    L.fails("jurisdiction_refused", "usd_issuer", S, "issue", currency="USD",
            to=L.pk("ir_importer"), amount=1)


def test_a_customer_without_a_bic_is_placed_by_its_registering_bank(L: Ledger) -> None:
    home, cust, other = "a1" * 32, "c1" * 32, "c2" * 32
    L.state.put(G, "id/" + home, {"name": "h", "role": "bank", "admin": True,
                                  "bank": "MELIIRTH"})
    L.state.put(G, "id/" + cust, {"name": "c", "role": "exporter", "admin": False,
                                  "bank": None, "registered_by": home})
    L.state.put(G, "id/" + other, {"name": "o", "role": "exporter", "admin": False,
                                   "bank": None, "registered_by": L.pk("bank_a")})
    assert jur.identity_country(L.state, cust) == "IR"
    assert jur.identity_country(L.state, other) is None  # BANK_A is no BIC: no place
    assert jur.identity_country(L.state, L.pk("ir_bank")) == "IR"
    assert jur.identity_country(L.state, L.pk("gb_exporter")) == "GB"
    assert jur.identity_country(L.state, L.pk("regulator")) is None  # no bank: no place


def test_monitor_alerts_once_per_payer_and_place_per_24_hours(L: Ledger) -> None:
    list_(L, "NG", "monitor")
    r = pay(L, "gb_exporter", "ng_importer")
    assert r.ok  # allowed
    (a,) = alerts(r, "high_risk_jurisdiction")
    assert a["jurisdiction"] == "NG" and a["party"] == "payee"
    assert a["accounts"] == [L.pk("gb_exporter")]  # the payer; never the payee
    for _ in range(3):  # the same payer and place within 24 h: no second alert
        r = pay(L, "gb_exporter", "ng_importer")
        assert r.ok and not alerts(r)
    # another payer: its own alert
    (b,) = alerts(pay(L, "ir_importer", "ng_importer"), "high_risk_jurisdiction")
    assert b["accounts"] == [L.pk("ir_importer")]
    # 24 h of block time after the first: again
    L.now_ms += DAY_MS
    assert len(alerts(pay(L, "gb_exporter", "ng_importer"), "high_risk_jurisdiction")) == 1
    assert L.get(R, "alert_count/high_risk_jurisdiction") == 3
    assert len(L.get(R, f"stats/{L.pk('gb_exporter')}/jurisdictions")) == 1


def test_a_payer_in_a_monitored_place_alerts_once_a_day_not_per_payment(L: Ledger) -> None:
    list_(L, "NG", "monitor")
    r = pay(L, "ng_importer", "gb_exporter")
    (a,) = alerts(r, "high_risk_jurisdiction")
    assert a["party"] == "payer" and a["accounts"] == [L.pk("ng_importer")]
    assert not alerts(pay(L, "ng_importer", "ir_importer"))  # same payer, same place


def test_a_monitor_alert_goes_to_the_home_bank_and_supervisors_never_the_subject(
        L: Ledger) -> None:
    list_(L, "NG", "monitor")
    r = pay(L, "gb_exporter", "ng_importer")
    (ev,) = [e for e in r.events if e.name == "alert"]
    event = {"contract": ev.contract, "name": ev.name, "data": ev.data}

    def reader(name: str) -> access.Reader:
        rd = access.resolve_reader(L.get, L.pk(name))
        assert rd is not None
        return rd

    payer, payee = L.pk("gb_exporter"), L.pk("ng_importer")
    assert "high_risk_jurisdiction" not in risk.HOLDER_ALERT_RULES
    assert not access.event_names_reader(L.get, reader("gb_exporter"), event)
    assert not access.event_names_reader(L.get, reader("ng_importer"), event)
    assert access.event_names_reader(L.get, reader("bank_a"), event)  # home bank (registered)
    assert not access.event_names_reader(L.get, reader("bank_b"), event)
    for key in (f"alerts/{payer}", f"stats/{payer}/jurisdictions"):
        assert access.state_rule(L.get, reader("gb_exporter"), R, key) is None
        assert access.state_rule(L.get, reader("bank_a"), R, key) == "home_bank"
        assert access.state_rule(L.get, reader("regulator"), R, key) == "regulator"
    assert access.state_rule(L.get, reader("ng_importer"), R, f"alerts/{payee}") is None
    case = L.get(R, "alert/" + ev.data["alert"])
    assert case["rule"] == "high_risk_jurisdiction" and case["status"] == "open"
    assert set(case["queues"]) == {"*", "id:" + L.pk("bank_a"), "bic:BARCGB22XXX"}


def test_a_monitor_alert_of_a_refused_payment_is_not_remembered(L: Ledger) -> None:
    list_(L, "NG", "monitor")
    L.ok("regulator", R, "set_limit", subject=L.pk("gb_exporter"), kind="max_per_tx",
         currency="USD", max=50, rule_id="cap")
    r = pay(L, "gb_exporter", "ng_importer", 100)
    assert r.error_code == "limit_exceeded" and not alerts(r, "high_risk_jurisdiction")
    assert L.get(R, f"stats/{L.pk('gb_exporter')}/jurisdictions") is None
    assert len(alerts(pay(L, "gb_exporter", "ng_importer", 10), "high_risk_jurisdiction")) == 1


def test_the_monitor_memory_is_bounded(L: Ledger) -> None:
    from chainfin.execution import Overlay, TxContext, resolve_sender

    st = Overlay(L.state)
    tx = L.make_tx("gb_exporter", S, "transfer", {})
    ident_id, rec = resolve_sender(st, tx.sender.hex())  # type: ignore[misc]
    ctx = TxContext(L.context(), tx, rec, S, ident_id)
    payer = L.pk("gb_exporter")
    codes = sorted(jur.ASSIGNED)[:jur.MAX_SEEN + 8]
    lst = {c: {"level": "monitor"} for c in codes}
    jur.screen_places(st, ctx, lst, [("payee", c) for c in codes], payer)
    seen = st.get(R, f"stats/{payer}/jurisdictions")
    assert len(seen) == jur.MAX_SEEN and [c for c, _ in seen] == codes[-jur.MAX_SEEN:]


def test_no_list_no_new_state_and_the_payment_reads_one_absent_key(L: Ledger) -> None:
    before = state_without_receipts(L)
    assert pay(L, "gb_exporter", "ng_importer").ok
    after = state_without_receipts(L)
    assert not any(k.startswith(b"risk/stats/") and k.endswith(b"/jurisdictions")
                   for k in set(after) - set(before))


# ---------------------------------------------------------------------------- trade


def _bl(**ports: str) -> dict[str, str]:
    return {**BILL_OF_LADING, **ports}


def _open_trade(led: Ledger, bl: dict[str, str]) -> dict[str, str]:
    inv = register(led, "invoice", INVOICE)
    trade = inv["trade_id"]
    decl = register(led, "customs_declaration", DECLARATION, trade_id=trade)["doc_id"]
    register(led, "bill_of_lading", bl, trade_id=trade)
    led.ok("customs", T, "attest", doc_id=decl, result="match", declared_amount=98_000_00)
    return {"trade": trade}


def test_a_document_whose_port_is_a_locode_in_a_refused_place_is_refused() -> None:
    led = trade_ledger()
    led.ok("regulator", R, "set_jurisdiction", code="IR", level="refuse")
    before = state_without_receipts(led)
    r = led.fails("jurisdiction_refused", "exporter", T, "register", doc_type="bill_of_lading",
                  fields=_bl(port_of_discharge="IRBND"), content_hash=h("bl-ir"))
    assert "port_of_discharge" in r.error_message and "IR" in r.error_message
    (a,) = alerts(r)
    assert a["rule"] == "jurisdiction_refused" and a["party"] == "port_of_discharge"
    after = state_without_receipts(led)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed and not any(k.startswith(b"trade_documents/") for k in changed)
    # the same port written as a name is not placed (no gazetteer): it registers
    register(led, "bill_of_lading", _bl(port_of_discharge="Bandar Abbas"), tag="bl-name")


def test_a_document_whose_port_is_monitored_alerts_the_supervisors_and_registers() -> None:
    led = trade_ledger()
    led.ok("regulator", R, "set_jurisdiction", code="CN", level="monitor")
    r = led.tx("exporter", T, "register", doc_type="bill_of_lading",
               fields=_bl(port_of_loading="CN SHA"), content_hash=h("bl-cn"))
    assert r.ok
    (a,) = alerts(r, "high_risk_jurisdiction")
    assert a["jurisdiction"] == "CN" and a["party"] == "port_of_loading"
    assert a["accounts"] == [led.pk("exporter")]


def test_a_letter_of_credit_copy_from_a_bank_in_a_refused_place_is_refused() -> None:
    led = trade_ledger()
    led.ok("regulator", R, "set_jurisdiction", code="IR", level="refuse")
    lc = {"issuing_bank": "MELIIRTH", "lc_number": "LC-77", "applicant": "Globex Corp",
          "beneficiary": "ACME Exports Ltd", "amount": 100_000_00, "currency": "USD",
          "expiry_date": "2026-03-31"}
    r = led.fails("jurisdiction_refused", "exporter", T, "register",
                  doc_type="letter_of_credit", fields=lc, content_hash=h("lc-ir"))
    assert "issuing_bank" in r.error_message


def test_a_listing_after_registration_stops_financing_and_removal_restores_it() -> None:
    led = trade_ledger()
    ids = _open_trade(led, _bl(port_of_loading="CNSHA", port_of_discharge="NLRTM"))
    led.ok("regulator", R, "set_jurisdiction", code="NL", level="refuse")
    r = led.fails("jurisdiction_refused", "bank_a", T, "request_financing", amount=1000,
                  currency="USD", maturity_date="2026-02-28", trade_id=ids["trade"])
    assert "port_of_discharge" in r.error_message
    assert led.get(T, "trade/" + ids["trade"])["financed"] == 0
    led.ok("regulator", R, "remove_jurisdiction", code="NL", reason="error")
    led.ok("regulator", R, "set_jurisdiction", code="CN", level="monitor")
    r = led.tx("bank_a", T, "request_financing", amount=1000, currency="USD",
               maturity_date="2026-02-28", trade_id=ids["trade"])
    assert r.ok
    (a,) = alerts(r, "high_risk_jurisdiction")
    assert a["jurisdiction"] == "CN" and a["accounts"] == [led.pk("bank_a")]


def _doc_of(led: Ledger, trade: str, doc_type: str) -> tuple[str, dict[str, Any]]:
    for doc_id in led.get(T, "trade/" + trade)["docs"]:
        doc = led.get(T, "doc/" + doc_id)
        if doc["doc_type"] == doc_type:
            return doc_id, doc
    raise AssertionError(doc_type)


def _finance(led: Ledger, trade: str) -> Any:
    return led.tx("bank_a", T, "request_financing", amount=1000, currency="USD",
                  maturity_date="2026-02-28", trade_id=trade)


def test_five_letter_port_names_are_never_placed_at_registration_or_financing() -> None:
    """"Lagos" is not Laos, "Genoa" not Georgia, "La Paz" not Laos: with every country their
    first letters spell refused, their bills of lading register and their trades finance."""
    led = trade_ledger()
    for code in ("LA", "GE", "LI", "CO", "TO", "BE", "NA"):
        led.ok("regulator", R, "set_jurisdiction", code=code, level="refuse")
    ids = _open_trade(led, _bl(port_of_loading="Lagos", port_of_discharge="Genoa"))
    _, doc = _doc_of(led, ids["trade"], "bill_of_lading")
    assert "port_countries" not in doc  # names: nothing recorded, the record as before
    for i, (pol, pod) in enumerate([("La Paz", "Lima"), ("Colon", "Tokyo"), ("Belem", "Natal")]):
        register(led, "bill_of_lading", _bl(port_of_loading=pol, port_of_discharge=pod,
                                            bl_number=f"MAEU-1{i}"), tag=f"bl-name-{i}")
    r = _finance(led, ids["trade"])
    assert r.ok, r.error_message
    assert not alerts(r, "jurisdiction_refused")


def test_a_locode_is_placed_and_recorded_as_written() -> None:
    led = trade_ledger()
    led.ok("regulator", R, "set_jurisdiction", code="NG", level="refuse")
    led.ok("regulator", R, "set_jurisdiction", code="SA", level="refuse")
    for port, tag in (("NGLOS", "ng"), ("SA JED", "sa1"), ("SA-JED", "sa2"), ("SAJED", "sa3")):
        r = led.fails("jurisdiction_refused", "exporter", T, "register",
                      doc_type="bill_of_lading", fields=_bl(port_of_discharge=port),
                      content_hash=h(tag))
        assert "port_of_discharge" in r.error_message
    led.ok("regulator", R, "set_jurisdiction", code="IT", level="monitor")
    ids = _open_trade(led, _bl(port_of_loading="CNSHA", port_of_discharge="ITGOA"))
    _, doc = _doc_of(led, ids["trade"], "bill_of_lading")
    assert doc["port_countries"] == {"port_of_loading": "CN", "port_of_discharge": "IT"}
    assert doc["fields"]["port_of_discharge"] == "itgoa"  # the name as stored: unchanged


def test_a_lower_case_or_unassigned_locode_is_not_a_place() -> None:
    """``cnsha`` is not written as a UN/LOCODE (it could be a name): not placed. A code whose
    country is not assigned (``UKLON``: the code is GB; ``ZZABC``) is no place either."""
    led = trade_ledger()
    for code in ("CN", "GB"):
        led.ok("regulator", R, "set_jurisdiction", code=code, level="refuse")
    for i, (pol, pod) in enumerate([("cnsha", "cn sha"), ("UKLON", "ZZABC")]):
        r = register(led, "bill_of_lading", _bl(port_of_loading=pol, port_of_discharge=pod,
                                                bl_number=f"MAEU-2{i}"), tag=f"bl-lc-{i}")
        assert "port_countries" not in led.get(T, "doc/" + r["doc_id"])


def test_a_listing_after_registration_stops_financing_by_the_recorded_country() -> None:
    """"SA JED" lost its ``SA`` in the stored skeleton: financing now screens the country
    recorded at registration, so a listing after it stops the trade."""
    led = trade_ledger()
    ids = _open_trade(led, _bl(port_of_loading="Genoa", port_of_discharge="SA JED"))
    led.ok("regulator", R, "set_jurisdiction", code="SA", level="refuse")
    led.ok("regulator", R, "set_jurisdiction", code="GE", level="refuse")
    r = led.fails("jurisdiction_refused", "bank_a", T, "request_financing", amount=1000,
                  currency="USD", maturity_date="2026-02-28", trade_id=ids["trade"])
    assert "port_of_discharge" in r.error_message and "SA" in r.error_message
    (a,) = alerts(r)
    assert a["jurisdiction"] == "SA" and a["party"] == "port_of_discharge"
    led.ok("regulator", R, "remove_jurisdiction", code="SA", reason="error")
    assert _finance(led, ids["trade"]).ok  # Genoa is not Georgia


def test_financing_reads_the_recorded_country_and_a_record_without_one_has_none() -> None:
    """Financing reads ``port_countries``, not the stored name. A document registered before
    the countries were recorded (no field) has no port place at financing (decision: its ports
    were screened at its registration; the old reading of its skeleton was the bug)."""
    led = trade_ledger()
    ids = _open_trade(led, _bl(port_of_loading="CNSHA", port_of_discharge="Rotterdam"))
    doc_id, doc = _doc_of(led, ids["trade"], "bill_of_lading")
    led.ok("regulator", R, "set_jurisdiction", code="IR", level="refuse")
    led.state.put(T, "doc/" + doc_id, {**doc, "port_countries": {"port_of_discharge": "IR"}})
    r = led.fails("jurisdiction_refused", "bank_a", T, "request_financing", amount=1000,
                  currency="USD", maturity_date="2026-02-28", trade_id=ids["trade"])
    assert "port_of_discharge" in r.error_message and "IR" in r.error_message
    led.ok("regulator", R, "set_jurisdiction", code="CN", level="refuse")
    legacy = {k: v for k, v in doc.items() if k != "port_countries"}
    led.state.put(T, "doc/" + doc_id, legacy)  # as registered before this change
    assert _finance(led, ids["trade"]).ok


def test_a_credit_for_an_applicant_in_a_refused_place_is_refused() -> None:
    led = trade_ledger()
    onboard(led)
    led.ok("regulator", R, "set_jurisdiction", code="IR", level="refuse")
    led.fails("jurisdiction_refused", "bank_b", T, "issue_lc", applicant=led.pk("ir_importer"),
              beneficiary=led.pk("exporter"), amount=100_000_00, currency="USD",
              expiry_date="2026-03-31", lc_number="LC-1")
    led.ok("bank_b", T, "issue_lc", applicant=led.pk("importer"),
           beneficiary=led.pk("exporter"), amount=100_000_00, currency="USD",
           expiry_date="2026-03-31", lc_number="LC-2")


# ---------------------------------------------------------------------------- the client


def test_the_clients_levels_are_the_contracts_and_it_checks_the_codes_form() -> None:
    from chainfin import cli_jurisdictions as cli
    from chainfin.errors import ChainfinError

    assert cli.LEVELS == jur.LEVELS
    assert cli.parse_code(" ir ") == "IR"
    for bad in ("UK", "IRN", "I1", ""):
        with pytest.raises(ChainfinError):
            cli.parse_code(bad)
