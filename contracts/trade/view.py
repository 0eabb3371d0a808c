"""One trade as a credit officer reads it before saying yes: its documents and their checks, the
customs attestation, the pool, every financing, every LC drawing (``chainfin trade show``).

Pure: ``fetch(key)`` returns the value of ``trade_documents/<key>`` or None (the CLI reads them
over REST; tests read a ledger's state). Amounts print in major units of their currency.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from contracts.amounts import money  # the one formatter (decision 223); view.money stays
from contracts.trade.state import BPS, DISPUTE_REASONS, financing_status, last_day

Fetch = Callable[[str], Any]

#: a presentation's payment to a financing the reader may not read names neither its payee nor
#: the financing (``node.access.WITHHELD``; docs/api.md "who may read what")
WITHHELD = "withheld"


#: what the report says of what the node did not show the reader (it answers the same for a
#: record that does not exist: TRAPS 21)
HIDDEN = "not found or not visible to you"


def _utc(ms: int) -> str:
    """Block time as ``YYYY-MM-DD HH:MM UTC``."""
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.UTC)
    return t.strftime("%Y-%m-%d %H:%M UTC")


def counted_by(pres: dict[str, Any]) -> str:
    """How a presentation's examination deadline was counted (decision 142): `` [calendar
    GB]``, or `` [calendar GB: weekends only, no holiday list for a year of the period]``;
    nothing for one counted Monday to Friday with no calendar (no place known for the bank, or
    recorded before decision 142)."""
    cal = pres.get("calendar")
    if cal is None:
        return ""
    if pres.get("weekends_only"):
        return f" [calendar {cal}: weekends only, no holiday list for a year of the period]"
    return f" [calendar {cal}]"


#: The disposal of a refusal's documents as the report says it (UCP 600 art. 16 c iii).
DISPOSAL_WORDS = {
    "HOLD": "documents held pending the presenter's instructions",
    "NOTIFY": "documents held until the applicant waives and the bank agrees",
    "RETURN": "documents returned",
    "PREVINST": "documents dealt with on the presenter's previous instructions (freed)",
}


def refusal_notes(p: dict[str, Any]) -> str:
    """What became of a refusal's documents: its disposal and date, while held its bound (and
    whether it lapsed), the applicant's waiver, their return."""
    refused = p.get("refused")
    if not refused:
        return ""
    out = (f"  refused {_utc(refused['timestamp_ms'])}: "
           f"{DISPOSAL_WORDS.get(refused['disposal'], refused['disposal'])}")
    if p["status"] == "held" and refused.get("held_until_ms") is not None:
        out += (f" (hold lapsed {_utc(refused['held_until_ms'])}: they can only be returned)"
                if p.get("hold_lapsed_now") else
                f" (until {_utc(refused['held_until_ms'])} at most)")
    if p.get("waiver"):
        out += f"  discrepancies waived by the applicant {_utc(p['waiver']['timestamp_ms'])}"
    if p.get("returned"):
        who = "the beneficiary's" if p["returned"]["by"] == "beneficiary" else "the bank's"
        out += f"  documents returned on {who} instruction {_utc(p['returned']['timestamp_ms'])}"
    return out


def trade_report(fetch: Fetch, trade_id: str, now_ms: int, exponent: int = 2,
                 params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The trade with its documents, financings and LC drawings resolved (JSON-able), as far as
    the reader reads them (node/access.py: a trade's financing is its exporter's, its financing
    banks' and the supervisors'). A trade read without its financing (the buyer, a verifying
    bank: no ``financed``) has ``pool``, ``lc_paid_out`` and ``remaining`` None, and
    ``financings`` None when it has no ``financings`` either (an LC's issuing bank reads those
    and ``outstanding``); a financing read as that issuing bank reads it (no ``due_ms``) has
    ``status_now`` None; a financing the reader may not read at all is None.

    Raises:
        KeyError: no trade ``trade_id``.
    """
    trade = fetch("trade/" + trade_id)
    if trade is None:
        raise KeyError(trade_id)
    docs = {d: fetch("doc/" + d) for d in trade["docs"]}
    fin_ids = trade.get("financings")
    fins = None if fin_ids is None else {f: fetch("fin/" + f) for f in fin_ids}
    for f in (fins or {}).values():
        if f is not None:  # no due_ms: read as the LC's issuing bank reads it (its terms not)
            f["status_now"] = financing_status(f, now_ms) if "due_ms" in f else None
    lcs = {}
    for lc_id in trade["lcs"]:
        lc = fetch("lc/" + lc_id)
        if lc is not None:
            lc["presentation_records"] = {p: fetch("pres/" + p) for p in lc["presentations"]}
            for p in lc["presentation_records"].values():
                deadline = None if p is None else p.get("examination_deadline_ms")
                if deadline is not None:  # none on a presentation before decision 138
                    p["examination_over_now"] = now_ms >= deadline
                held_until = None if p is None else (p.get("refused") or {}).get(
                    "held_until_ms")
                if held_until is not None:  # a refusal that held the documents
                    p["hold_lapsed_now"] = now_ms >= held_until
            until = lc.get("cancel_consent_until_ms")
            lc["cancel_consent_now"] = bool(lc.get("cancel_consent")) and until is not None \
                and now_ms < until
            lcs[lc_id] = lc
    if "financed" not in trade:  # the trade read without its financing: no pool to show
        return {"trade_id": trade_id, "trade": trade, "documents": docs, "financings": fins,
                "letters_of_credit": lcs, "pool": None, "lc_paid_out": None,
                "remaining": None, "exponent": exponent}
    rate = (params or {}).get("max_advance_rate_bps", BPS)
    base = trade["amount"]
    decl = docs.get(trade["declaration"]) if trade["declaration"] else None
    if decl is not None:
        att = decl["attestation"]
        base = min(base, att["declared_amount"] if att else decl["fields"]["amount"])
    pool = trade["pool"] if trade.get("pool") is not None else base * rate // BPS
    # what the trade's LCs paid the exporter counts against the pool (state.lc_paid_out)
    paid_out = sum(x["amount"] for lc in lcs.values()
                   for p in lc["presentation_records"].values()
                   if p is not None and p["status"] == "paid"
                   and p["trade_id"] in (None, trade_id)
                   for x in p.get("payments") or [] if x["financing_id"] is None)
    return {"trade_id": trade_id, "trade": trade, "documents": docs, "financings": fins,
            "letters_of_credit": lcs, "pool": pool, "lc_paid_out": paid_out,
            "remaining": max(0, pool - trade["financed"] - paid_out), "exponent": exponent}


def render(report: dict[str, Any]) -> str:
    """The report as text, one section per question a credit officer asks."""
    t, ccy, e = report["trade"], report["trade"]["currency"], report["exponent"]

    def m(x: int | None) -> str:
        return money(x, ccy, e)

    status = t["status"] if "status" in t else "(financing not shown)"
    out = [f"trade {report['trade_id']}  status {status}",
           f"  seller {t['seller']!r}  buyer {t['buyer']!r}  owner {t['owner'][:16]}…",
           f"  invoice amount {m(t['amount'])}",
           "documents:"]
    for doc_id, d in report["documents"].items():
        if d is None:
            continue
        flags = []
        if doc_id == t["invoice"]:
            flags.append("opened the trade")
        if d["verified_by"]:
            flags.append(f"verified by {len(d['verified_by'])} bank(s)")
        if d["declared_distinct"]:
            flags.append(f"declared distinct from {d['declared_distinct']['similar_to'][:12]}…: "
                         f"{d['declared_distinct']['reason']!r}")
        if d.get("disputed"):
            why = DISPUTE_REASONS.get(d["disputed"]["reason"], d["disputed"]["reason"])
            flags.append(f"DISPUTED: {why} (the trade is not financed)")
        for c in d["distinct_copies"]:
            flags.append(f"copy {c['doc_id'][:12]}… declared distinct: {c['reason']!r}")
        amount = d["fields"].get("amount")
        out.append(f"  {d['doc_type']:<21} {doc_id[:16]}…  {m(amount) if amount else '':<20}"
                   f" {d['status']}{'; ' + '; '.join(flags) if flags else ''}")
    out.append("checks: parties, currency and declaration amount cross-checked when each "
               "document joined (a mismatch is refused, never stored)")
    decl = report["documents"].get(t["declaration"]) if t["declaration"] else None
    if decl is None:
        out.append("customs: no declaration in the trade")
    elif decl["attestation"] is None:
        out.append("customs: declaration NOT attested")
    else:
        a = decl["attestation"]
        out.append(f"customs: attested {a['result']} at height {a['height']}, "
                   f"declared {m(a['declared_amount'])}")
    if report["pool"] is not None:
        out.append(f"pool: {m(report['pool'])}  financed (ever) {m(t['financed'])}  "
                   f"remaining {m(report['remaining'])}  outstanding {m(t['outstanding'])}"
                   + (f"  paid to the exporter under its LCs {m(report['lc_paid_out'])}"
                      if report.get("lc_paid_out") else ""))
    elif "outstanding" in t:
        out.append(f"pool: {HIDDEN}; its LCs' proceeds repay the financing banks first: "
                   f"outstanding {m(t['outstanding'])}")
    else:
        out.append(f"pool: {HIDDEN}")
    out.append("financings (oldest first):")
    if report["financings"] is None:
        out.append(f"  {HIDDEN} (a financing is its bank's and its exporter's)")
    for fid, f in (report["financings"] or {}).items():
        if f is None:
            out.append(f"  {fid[:16]}…  {HIDDEN}")
        elif f["status_now"] is None:
            out.append(f"  {fid[:16]}…  bank {f['bank'][:16]}…  {m(f['amount'])}  repaid "
                       f"{m(f['repaid'])}  outstanding {m(f['amount'] - f['repaid'])}  "
                       "(proceeds assigned: its terms not shown)")
        else:
            out.append(f"  {fid[:16]}…  bank {f['bank'][:16]}…  {m(f['amount'])}  repaid "
                       f"{m(f['repaid'])}  matures {f['maturity_date']}  {f['status_now']}")
    if report["financings"] == {}:
        out.append("  none")
    out.append("letters of credit:")
    for lc_id, lc in report["letters_of_credit"].items():
        amd = lc["amendment"]
        number = f" {amd['number']}" if amd and "number" in amd else ""
        out.append(f"  {lc_id[:16]}…  {m(lc['amount'])} +{lc['tolerance_bps']} bps  expires "
                   f"{lc['expiry_date']}  drawn {m(lc['drawn'])}  {lc['status']}"
                   + (f"  (amendment{number} pending)" if amd else "")
                   + (f"  (cancellation consented, lapses {_utc(lc['cancel_consent_until_ms'])})"
                      if lc.get("cancel_consent_now") else ""))
        for pid, p in lc["presentation_records"].items():
            if p is None:
                continue
            extra = (f" discrepancies {', '.join(p['discrepancies'])}" if p["discrepancies"]
                     else "")
            if p["status"] == "presented" and p.get("examination_deadline_ms") is not None:
                extra += f"  examine by {last_day(p['examination_deadline_ms'])}"
                if p.get("examination_over_now"):
                    extra += " (passed: the beneficiary may claim honour)"
                extra += counted_by(p)
            if p.get("claimed"):
                extra += "  honoured on the beneficiary's claim (no decision in time)"
            extra += refusal_notes(p)
            if p.get("paid"):
                extra += f"  paid {_utc(p['paid']['timestamp_ms'])}"
            paid = ", ".join(f"{m(x['amount'])} to another bank's financing"
                             if x["to"] == WITHHELD else f"{m(x['amount'])} to {x['to'][:12]}…"
                             for x in p.get("payments") or [])
            out.append(f"    drawing {pid[:16]}…  {m(p['amount'])}  {p['status']}{extra}"
                       + (f"  paid: {paid}" if paid else "")
                       + (f"  ref {p['reference']!r}" if p.get("reference") else "")
                       + (f"  presented {_utc(p['presented_ms'])}" if p.get("presented_ms")
                          else ""))
    if not report["letters_of_credit"]:
        out.append("  none")
    return "\n".join(out)
