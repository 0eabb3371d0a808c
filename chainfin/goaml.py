"""A suspicious transaction report (STR) in UNODC goAML XML, from alert cases the bank reviews
(decision 208; docs/risk.md "Filing the report").

``chainfin alerts str`` reads, with the bank's own signed reads and nothing else, the alert's
case (``/v1/risk/alerts/{alert}``: a bank reads its customers' cases only), the transaction
that raised it (``/v1/tx/{tx_id}?tx=1``: whole when the payer is the bank's customer; else the
case's detail, which names the amount, the currency and the counterparty) and, for a
``structuring`` alert, each earlier payment of the pattern its detail names
(``near_limit_txs``, decision 217: the customer's own transfers, read whole the same way; one
of another method is refused, to be reported by hand), the identity
records of the parties and the currency's exponent (network data), and builds one goAML
``report``: the reporting entity and person from a local configuration, ``reason``,
``action`` and one ``transaction`` per ledger transaction. The file stays with the bank: never
on chain, never to the customer (FATF Recommendation 21); only its SHA-256 is the report
reference a ``reported`` review seals.

No goAML XSD is published under a licence that lets it be vendored (UNODC hands the schema
to reporting entities through each FIU's portal): :func:`check_report` checks the elements
this module writes, their order, their number and their types against :data:`SPEC`, shaped
after the goAML schema's ``report`` — a subset, not the FIU's validator. The FIU's own
lookups (transmission mode, funds type, account type and status codes) come from the
configuration.

Money: amounts are integer minor units on the ledger; ``amount_local`` is the decimal
written from them by the currency's ISO 4217 exponent, exactly (integer division, no float).
A transaction in another currency than the report's ``currency_code_local`` (the bank's, from
its configuration) is converted at the ledger's reference rate against that currency
(``risk`` ``rates/<LOCAL>``, decision 187: an exact ratio of minor units), rounded half up to
the local minor unit, and carries its own amount in the goAML schema's ``t_foreign_currency``
on each side (decisions 252-255); a currency with no fresh rate refuses the report.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chainfin.errors import ChainfinError
from chainfin.exec_args import bic_key
from chainfin.money import decimal

#: ``contracts.risk_rates.MAX_RATE_AGE_MS`` (this layer imports nothing from contracts): a rate
#: older than this the ledger counts nothing with (decision 188), nor does a report
MAX_RATE_AGE_MS = 6 * 24 * 3600 * 1000
#: fraction digits of a ``dec`` (goAML ``sql_decimal``, as :data:`_SIMPLE` checks it): a rate
#: that is no exact decimal of at most these is stated in the comments, not written
DEC_DIGITS = 4

#: ``path -> decoded JSON``, or None when the node answers 404 (a signed GET of the bank's)
Get = Callable[[str], Any]

#: the roles that have a home bank (``contracts.governance.CUSTOMER_ROLES``)
CUSTOMER_ROLES = ("exporter", "importer")

#: an account number as goAML takes it (``t_account/account``, at most 50 characters): the
#: first 40 hex digits (160 bits) of the identity id; the whole id is in the account's comments
ACCOUNT_DIGITS = 40


class NotEntitled(ChainfinError):
    """The key may not file this alert: it does not read the case, or it is no home bank of
    an account the alert names."""


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class Filer:
    """The reporting entity, its reporting person and the FIU's lookup codes: a local file
    (``--config``, JSON) and flags, never the chain."""

    rentity_id: int
    reporting_person: Mapping[str, str]
    rentity_branch: str | None = None
    currency_code_local: str | None = None
    submission_code: str = "E"
    transmode_code: str = "A"
    funds_code: str = "A"
    personal_account_type: str = "A"
    status_code: str = "A"
    country: str | None = None


def load_filer(path: str | None, overrides: Mapping[str, Any]) -> Filer:
    """The :class:`Filer` of the JSON file ``path`` (if any) with ``overrides`` (flags; None
    values ignored) on top.

    Raises:
        ChainfinError: no ``rentity_id`` or reporting person's first and last name, a field
            of a wrong type, an unknown field."""
    doc: dict[str, Any] = {}
    if path:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ChainfinError(f"cannot read the goAML configuration {path}: {e}") from e
        if not isinstance(doc, dict):
            raise ChainfinError(f"{path} must hold a JSON object")
    doc |= {k: v for k, v in overrides.items() if v is not None}
    known = set(Filer.__dataclass_fields__)
    if set(doc) - known:
        raise ChainfinError(f"unknown goAML configuration field {sorted(set(doc) - known)[0]}")
    if "rentity_id" not in doc:
        raise ChainfinError("the reporting entity's goAML id is needed: --entity-id or "
                            "rentity_id in --config")
    person = doc.get("reporting_person") or {}
    if not isinstance(person, dict) or not person.get("first_name") or not person.get(
            "last_name"):
        raise ChainfinError("the reporting person's first and last name are needed: "
                            "--reporter 'FIRST LAST' or reporting_person in --config")
    try:
        return Filer(**(doc | {"rentity_id": int(doc["rentity_id"]),
                               "reporting_person": {str(k): str(v) for k, v in person.items()}}))
    except (TypeError, ValueError) as e:
        raise ChainfinError(f"bad goAML configuration: {e}") from e


# ----------------------------------------------------------------------------- values


def decimal_amount(minor: int, exponent: int) -> str:
    """``minor`` integer minor units as the decimal goAML takes, exactly: 1050, 2 ->
    ``10.50``; 7, 3 -> ``0.007``; 500, 0 -> ``500``."""
    if isinstance(minor, bool) or not isinstance(minor, int) or minor < 0:
        raise ChainfinError(f"an amount must be a non-negative integer of minor units, "
                            f"not {minor!r}")
    return decimal(minor, exponent)


def submission_ms(text: str | None, now_ms: int) -> int:
    """``--submission-date`` (ISO 8601; UTC unless it says otherwise) in ms, or ``now_ms``.

    Raises:
        ChainfinError: not an ISO 8601 date and time."""
    if not text:
        return now_ms
    try:
        when = datetime.fromisoformat(text)
    except ValueError as e:
        raise ChainfinError(f"--submission-date {text!r} is not an ISO 8601 date") from e
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def goaml_datetime(ms: int) -> str:
    """A block time (ms since the epoch, UTC) as goAML's ``dateTime``: ``2026-12-07T18:05:09``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def country_of_bic(bic: str | None) -> str | None:
    """ISO 3166 country of a BIC: its 5th and 6th characters."""
    key = bic_key(bic) if bic else ""
    return key[4:6] if re.fullmatch(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?", key) \
        else None


# ----------------------------------------------------------------------------- reads


def state(get: Get, contract: str, key: str) -> Any:
    doc = get(f"/v1/state/{contract}/{key}")
    return doc.get("value") if isinstance(doc, dict) else None


def identity(get: Get, key: str) -> tuple[str, dict[str, Any] | None]:
    """``(identity id, record)`` of an identity id or current key (the record None when the
    chain answers this reader none)."""
    rec = state(get, "governance", "id/" + key)
    if isinstance(rec, dict):
        return key, rec
    ident = state(get, "governance", "key/" + key)
    if isinstance(ident, str):
        rec = state(get, "governance", "id/" + ident)
        return ident, rec if isinstance(rec, dict) else None
    return key, None


def is_my_client(me_id: str, me: Mapping[str, Any], target_id: str,
                 target: Mapping[str, Any] | None) -> bool:
    """The home-bank rule (``contracts.governance.home_bank_rule``) on the records the bank
    reads: a customer that the bank registered, or that carries the bank's BIC."""
    if target is None or target_id == me_id or target.get("role") not in CUSTOMER_ROLES:
        return False
    if me.get("role") != "bank":
        return False
    if target.get("registered_by") == me_id:
        return True
    return bool(me.get("bank") and target.get("bank")
                and bic_key(str(me["bank"])) == bic_key(str(target["bank"])))


@dataclass(frozen=True, slots=True)
class Party:
    """One side of a transaction as the bank reads it."""

    ident: str
    name: str
    mine: bool
    bank_id: str | None  # its bank's BIC or LEI as the chain holds it
    institution: str | None
    country: str | None


def party(get: Get, me_id: str, me: Mapping[str, Any], key: str) -> Party:
    """The party of identity (or key) ``key``: its registered name, whether it is the bank's
    customer, its bank (the BIC it carries, else its registering bank's) and that BIC's
    country."""
    ident, rec = identity(get, key)
    if rec is None:
        return Party(ident, ident[:16], False, None, None, None)
    # the registered legal name (a genesis identity's ``name`` is a handle such as
    # "exporter"; its legal name is what an FIU matches against its records)
    name = str(rec.get("legal_name") or rec.get("name") or ident[:16])
    bank, inst = None, None
    if rec.get("role") == "bank":  # a bank's own account: at itself
        bank, inst = rec.get("bank"), name
    else:
        reg_id = rec.get("registered_by")
        reg = identity(get, reg_id)[1] if isinstance(reg_id, str) else None
        if reg is not None and reg.get("bank") and (
                not rec.get("bank") or bic_key(str(reg["bank"])) == bic_key(str(rec["bank"]))):
            bank, inst = reg["bank"], str(reg.get("name") or reg["bank"])
        elif rec.get("bank"):
            bank = inst = str(rec["bank"])
    bank = bic_key(str(bank)) if bank else None
    return Party(ident, name, is_my_client(me_id, me, ident, rec), bank, inst,
                 country_of_bic(bank))


@dataclass(slots=True)
class LedgerTx:
    """One ledger transaction of the report."""

    tx_id: str
    time_ms: int
    amount: int
    currency: str
    frm: Party
    to: Party
    alerts: list[str] = field(default_factory=list)
    refused: str | None = None  # the error code of a refused (attempted) transaction
    #: the structuring alerts that counted it as an earlier payment of their pattern
    counted_by: list[str] = field(default_factory=list)


def reader_record(get: Get, key_hex: str) -> tuple[str, dict[str, Any]]:
    """The reading key's own identity, which must be a bank's.

    Raises:
        NotEntitled: the key is no bank's."""
    me_id, me = identity(get, key_hex)
    if me is None or me.get("role") != "bank":
        raise NotEntitled("an STR is filed by a reporting bank: this key is no bank identity's")
    return me_id, me


def gather(get: Get, key_hex: str, alerts: Sequence[str]) -> list[LedgerTx]:
    """The ledger transactions of ``alerts`` (each once, in the order first named), read
    with the bank's signed reads: of a ``structuring`` alert of its customer's payments, the
    earlier payments of the pattern it names (``near_limit_txs``, oldest first) before the
    one that raised it (decision 217).

    Raises:
        NotEntitled: the key is no bank's, or a case it does not read, or none of whose
            accounts is its customer (a regulator's or an auditor's read, not a filing).
        ChainfinError: a transaction this command cannot report (no amount the bank reads)."""
    me_id, me = reader_record(get, key_hex)
    out: dict[str, LedgerTx] = {}
    for alert in alerts:
        case = get(f"/v1/risk/alerts/{alert}")
        if not isinstance(case, dict):
            raise NotEntitled(f"no alert {alert} this bank reads: a bank reports its own "
                              f"customers' alerts only")
        accounts = [party(get, me_id, me, a) for a in case.get("accounts") or []]
        mine = [p for p in accounts if p.mine]
        if not mine:
            raise NotEntitled(f"alert {alert} names no customer of this bank")
        for earlier in _pattern_txs(case):
            if earlier in out:
                out[earlier].counted_by.append(alert)
            else:
                out[earlier] = _pattern_tx(get, me_id, me, alert, earlier, mine[0])
        tx_id = str(case["tx_id"])
        if tx_id in out:
            out[tx_id].alerts.append(alert)
            continue
        out[tx_id] = _ledger_tx(get, me_id, me, alert, case, mine[0])
    return list(out.values())


def _pattern_txs(case: Mapping[str, Any]) -> list[str]:
    """The earlier payments a structuring alert of a payer's pattern names (decision 217)."""
    detail = case.get("detail") or {}
    named = detail.get("near_limit_txs") if isinstance(detail, dict) else None
    if case.get("rule") != "structuring" or not isinstance(named, list):
        return []
    return [str(t) for t in named if isinstance(t, str) and re.fullmatch(r"[0-9a-f]{64}", t)]


def _pattern_tx(get: Get, me_id: str, me: Mapping[str, Any], alert: str, tx_id: str,
                customer: Party) -> LedgerTx:
    """An earlier payment of ``alert``'s pattern: the customer's ``settlement.transfer``
    ``tx_id``, read whole (its home bank reads its transactions whole).

    Raises:
        ChainfinError: the bank does not read it, or it is another method (``/v1/tx`` holds
            a transaction's envelope, not its payments: an LC payment's amount is no argument
            of it): goAML's transaction needs its amount and counterparty."""
    doc = get(f"/v1/tx/{tx_id}?tx=1")
    env = doc.get("tx") if isinstance(doc, dict) else None
    if isinstance(doc, dict) and isinstance(env, dict) and (
            env.get("contract"), env.get("method")) == ("settlement", "transfer") and (
            identity(get, str(env.get("sender")))[0] == customer.ident):
        args = env.get("args") or {}
        return LedgerTx(tx_id, int(doc.get("timestamp_ms") or 0), int(args["amount"]),
                        str(args["currency"]), customer,
                        party(get, me_id, me, str(args["to"])), [], None, [alert])
    what = (f"{env.get('contract')}.{env.get('method')}" if isinstance(env, dict)
            else "a transaction this bank does not read whole")
    raise ChainfinError(f"alert {alert}: payment {tx_id} of its pattern is {what}, with no "
                        f"amount and counterparty of the customer's this bank reads: goAML's "
                        f"transaction needs them (report it by hand)")


def _ledger_tx(get: Get, me_id: str, me: Mapping[str, Any], alert: str,
               case: Mapping[str, Any], customer: Party) -> LedgerTx:
    tx_id = str(case["tx_id"])
    detail = case.get("detail") or {}
    doc = get(f"/v1/tx/{tx_id}?tx=1")
    env = doc.get("tx") if isinstance(doc, dict) else None
    refused = None
    if isinstance(doc, dict) and doc.get("status") == "rejected":
        refused = str((doc.get("error") or {}).get("code") or "rejected")
    if isinstance(env, dict) and (env.get("contract"), env.get("method")) == (
            "settlement", "transfer"):
        args = env.get("args") or {}
        return LedgerTx(tx_id, int(doc.get("timestamp_ms") or case["time_ms"]),
                        int(args["amount"]), str(args["currency"]),
                        party(get, me_id, me, str(env["sender"])),
                        party(get, me_id, me, str(args["to"])), [alert], refused)
    amount, ccy, other = detail.get("amount"), detail.get("currency"), detail.get("counterparty")
    if not (isinstance(amount, int) and isinstance(ccy, str) and isinstance(other, str)):
        what = (f"{env.get('contract')}.{env.get('method')}" if isinstance(env, dict)
                else "a transaction this bank does not read whole")
        raise ChainfinError(f"alert {alert}: {what} with no amount, currency and counterparty "
                            f"this bank reads: goAML's transaction needs them (report it by "
                            f"hand)")
    cp = party(get, me_id, me, other)
    sender = str(env.get("sender")) if isinstance(env, dict) else None
    # read whole: its sender is the bank's customer, who pays; else the customer is paid
    frm, to = ((customer, cp) if sender is not None and identity(get, sender)[0]
               == customer.ident else (cp, customer))
    return LedgerTx(tx_id, int(case["time_ms"]), amount, ccy, frm, to, [alert], refused)


#: an alert rule in the words of a report's ``reason`` (docs/risk.md "Alerts"); others by name
RULE_WORDS = {
    "structuring": "payments just under a per-payment limit (structuring)",
    "limit_exceeded": "a payment over a limit (refused)",
    "sanctioned_party": "a watch-list hit (refused)",
    "counterparty_change": "a large payment to a new counterparty",
    "round_trip": "money sent back to its payer within 24 h (round trip)",
    "possible_watch_match": "a name like a watched name",
    "jurisdiction_refused": "a place the regulator refuses (refused)",
    "high_risk_jurisdiction": "a high-risk jurisdiction",
    "controlled_goods": "controlled goods",
    "controlled_goods_refused": "controlled goods to a refused destination (refused)",
    "lc_copy_disputed": "a letter of credit number issued to another beneficiary than its copy's",
    "declaration_disputed": "a customs declaration registered by other than its declarant",
    "watched_bank_customer": "a payment of a customer of a watch-listed bank",
}


def money_currency(detail: Mapping[str, Any], key: str) -> str | None:
    """The currency of an alert detail's field ``key`` when it is an amount of money (integer
    minor units), else None: ``amount`` and ``average`` in the payment's ``currency``,
    ``base_amount`` in the ``base``, ``max`` in the rule's (the base's, for a base-currency
    limit) unless it counts payments (``velocity``)."""
    ccy = {"amount": detail.get("currency"), "average": detail.get("currency"),
           "base_amount": detail.get("base"),
           "max": None if detail.get("kind") == "velocity"
           else detail.get("base") or detail.get("currency")}.get(key)
    return ccy if isinstance(ccy, str) and isinstance(detail.get(key), int) and not isinstance(
        detail.get(key), bool) else None


def default_reason(get: Get, alerts: Sequence[str], exponents: Mapping[str, int]) -> str:
    """A report's ``reason`` when the officer gives none: each alert's rule in words and its
    detail, an amount as the decimal of its currency (never the ledger's minor units), read
    from the cases (which :func:`gather` has checked the bank reads)."""
    parts = []
    for alert in alerts:
        case = get(f"/v1/risk/alerts/{alert}")
        case = case if isinstance(case, dict) else {}
        rule = str(case.get("rule") or "alert")
        raw = case.get("detail")
        detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
        items = []
        for k, v in sorted(detail.items()):
            if k == "currency" or isinstance(v, bool) or not isinstance(v, (str, int)):
                continue
            if (money := money_currency(detail, k)) is not None:
                assert isinstance(v, int)
                exp = exponents[money] if money in exponents else exponent_of(get, money)
                items.append(f"{k.replace('_', ' ')} {money} {decimal_amount(v, exp)}")
            elif k in ("counterparty", "subject") and isinstance(v, str):
                items.append(f"{k} {party_name(get, v)}")
            else:
                items.append(f"{k.replace('_', ' ')} {v}")
        parts.append(f"{RULE_WORDS.get(rule, rule)}: chainfin alert {alert}"
                     + (f" ({', '.join(items)})" if items else ""))
    return "; ".join(parts)


def party_name(get: Get, key: str) -> str:
    """An identity's legal name (else its name), or the key's first 16 hex digits."""
    _, rec = identity(get, key)
    if rec is None:
        return key[:16]
    return str(rec.get("legal_name") or rec.get("name") or key[:16])


def exponent_of(get: Get, ccy: str) -> int:
    rec = state(get, "governance", "currency/" + ccy)
    if not isinstance(rec, dict) or not isinstance(rec.get("exponent"), int):
        raise ChainfinError(f"the ledger names no currency {ccy}")
    return int(rec["exponent"])


# ----------------------------------------------------------------------------- reference rates


@dataclass(frozen=True, slots=True)
class Rate:
    """A reference rate as the ledger holds it (``contracts.risk_rates``, decision 187):
    ``per`` minor units of ``currency`` are worth ``base_units`` minor units of ``base``, as
    of ``time_ms``, published by ``by`` at ``height``."""

    currency: str
    base: str
    per: int
    base_units: int
    time_ms: int
    by: str | None = None
    height: int | None = None


def _no_rate(ccy: str, local: str, why: str) -> ChainfinError:
    return ChainfinError(
        f"{why}: a transaction in {ccy} cannot be written in the report's local currency "
        f"{local} (the report converts at the ledger's reference rate only, never a rate it "
        f"guesses): a regulator publishes one (`chainfin risk rates publish --base {local} "
        f"--rate {ccy}=PER:BASE_UNITS`), or report the {ccy} transactions by hand")


def reference_rates(get: Get, local: str, currencies: Sequence[str],
                    now_ms: int) -> dict[str, Rate]:
    """The ledger's reference rate against ``local`` of each of ``currencies`` other than it
    (one read of the public ``risk`` record ``rates/<LOCAL>``).

    Raises:
        ChainfinError: a currency with no rate against ``local``, or one more than
            :data:`MAX_RATE_AGE_MS` old at ``now_ms``, named (decision 188: the ledger counts
            nothing with such a rate; a report does not convert with it either)."""
    raw = state(get, "risk", "rates/" + local)
    record: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    out: dict[str, Rate] = {}
    for ccy in dict.fromkeys(currencies):
        if ccy == local:
            continue
        r = record.get(ccy)
        if not isinstance(r, dict) or not all(
                isinstance(r.get(k), int) and not isinstance(r.get(k), bool) and r[k] > 0
                for k in ("per", "base_units", "time_ms")):
            raise _no_rate(ccy, local, f"the ledger holds no reference rate of {ccy} against "
                                       f"{local}")
        age = now_ms - int(r["time_ms"])
        if age > MAX_RATE_AGE_MS:
            raise _no_rate(ccy, local, f"the ledger's reference rate of {ccy} against {local} "
                                       f"is {age // 3_600_000} h old (as of "
                                       f"{goaml_datetime(int(r['time_ms']))} UTC; more than "
                                       f"{MAX_RATE_AGE_MS // 3_600_000} h: stale)")
        height = r.get("height")
        out[ccy] = Rate(ccy, local, int(r["per"]), int(r["base_units"]), int(r["time_ms"]),
                        str(r["by"]) if isinstance(r.get("by"), str) else None,
                        int(height) if isinstance(height, int) else None)
    return out


def to_local(amount: int, rate: Rate) -> int:
    """``amount`` minor units of ``rate.currency`` in minor units of ``rate.base``, rounded
    to the nearest, a half up (Council Regulation (EC) No 1103/97, art. 5: a converted amount
    is rounded to the nearest cent, a half upwards): integers only, ``floor((2 * amount *
    base_units + per) / (2 * per))``. Not the limits' rounding (always up, against the
    customer, decision 187): a report states what moved, as near as the local unit says it."""
    return (2 * amount * rate.base_units + rate.per) // (2 * rate.per)


def rate_decimal(rate: Rate, exponents: Mapping[str, int],
                 digits: int = DEC_DIGITS) -> str | None:
    """How many units of the local currency one unit of ``rate.currency`` is worth (goAML's
    ``foreign_exchange_rate``) as an exact decimal of at most ``digits`` fraction digits, or
    None when it has more (1 EUR = ``1.0853`` USD; 1 JPY = ``0.0067`` USD)."""
    num = rate.base_units * 10 ** exponents[rate.currency]
    den = rate.per * 10 ** exponents[rate.base]
    for d in range(digits + 1):
        if (num * 10 ** d) % den == 0:
            return decimal(num * 10 ** d // den, d)
    return None


def conversion_words(amount: int, rate: Rate, exponents: Mapping[str, int]) -> str:
    """What a converted transaction's ``comments`` say of its ``amount_local``: the amount,
    the rate used as the ledger holds it, its date and the rounding."""
    ccy, local = rate.currency, rate.base
    major = rate_decimal(rate, exponents, 12)
    return (f"amount_local is {ccy} {decimal_amount(amount, exponents[ccy])} at the "
            f"ledger's reference rate {ccy} {rate.per} = {local} {rate.base_units} in minor "
            f"units" + (f" (1 {ccy} = {major} {local})" if major is not None else "")
            + f", as of {goaml_datetime(rate.time_ms)} UTC"
            + (f" (published at height {rate.height})" if rate.height is not None else "")
            + f", rounded half up to the {local} minor unit")


# ----------------------------------------------------------------------------- the report


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _account(parent: ET.Element, tag: str, p: Party, ccy: str, filer: Filer) -> None:
    acc = _sub(parent, tag)
    _sub(acc, "institution_name", p.institution or "")
    # goAML's choice: a BIC is a ``swift``; any other bank id (an LEI) an ``institution_code``
    _sub(acc, "swift" if country_of_bic(p.bank_id) else "institution_code", p.bank_id or "")
    _sub(acc, "account", p.ident[:ACCOUNT_DIGITS])
    if p.mine:
        _sub(acc, "currency_code", ccy)
    _sub(acc, "account_name", p.name)
    if p.mine:
        _sub(acc, "personal_account_type", filer.personal_account_type)
        ent = _sub(acc, "t_entity")
        _sub(ent, "name", p.name)
        if p.country:
            _sub(ent, "incorporation_country_code", p.country)
        _sub(acc, "status_code", filer.status_code)
    _sub(acc, "comments", f"chainfin identity {p.ident}")


def _side(tx_el: ET.Element, way: str, p: Party, ccy: str, filer: Filer, home: str,
          foreign: tuple[str, str, str | None] | None = None) -> None:
    side = _sub(tx_el, f"t_{way}_my_client" if p.mine else f"t_{way}")
    _sub(side, f"{way}_funds_code", filer.funds_code)
    if foreign is not None:  # goAML t_foreign_currency: after the funds, before the party
        code, amount, rate = foreign
        fc = _sub(side, f"{way}_foreign_currency")
        _sub(fc, "foreign_currency_code", code)
        _sub(fc, "foreign_amount", amount)
        if rate is not None:
            _sub(fc, "foreign_exchange_rate", rate)
    if p.bank_id:
        _account(side, f"{way}_account", p, ccy, filer)
    else:  # no bank the chain names: the party itself
        ent = _sub(side, f"{way}_entity")
        _sub(ent, "name", p.name)
        _sub(ent, "comments", f"chainfin identity {p.ident}")
    _sub(side, f"{way}_country", p.country or home)


def description(t: LedgerTx) -> str:
    """A transaction's ``transaction_description``: its ledger id, the alerts it raised and
    those that counted it in their pattern (decision 217)."""
    out = f"chainfin transaction {t.tx_id}"
    if t.alerts:
        out += f"; alerts {', '.join(t.alerts)}"
    if t.counted_by:
        out += f"; a payment of the pattern of alerts {', '.join(t.counted_by)}"
    return out


def build_report(filer: Filer, txs: Sequence[LedgerTx], exponents: Mapping[str, int], *,
                 reason: str, action: str | None, submission_ms: int,
                 entity_reference: str | None, home_country: str,
                 rates: Mapping[str, Rate] | None = None) -> bytes:
    """The goAML ``report`` (UTF-8 XML bytes), report code ``STR``.

    A transaction in another currency than the configured ``currency_code_local`` is
    converted at ``rates`` (:func:`reference_rates`; ``exponents`` holds the local
    currency's too): ``amount_local`` by :func:`to_local`, its own amount in each side's
    ``t_foreign_currency``, the rate and its date in its ``comments``. A report all in the
    local currency is written as before, byte for byte.

    Raises:
        ChainfinError: no transaction; one in another currency than the first's when no
            local currency is configured (the bank's local currency is its own, not
            guessed); one in a currency ``rates`` has no rate of."""
    if not txs:
        raise ChainfinError("a goAML STR reports at least one transaction")
    local = filer.currency_code_local or txs[0].currency
    for t in txs:
        if t.currency == local:
            continue
        if not filer.currency_code_local:
            raise ChainfinError(
                f"transaction {t.tx_id[:16]}… is in {t.currency}, the report's local currency "
                f"is {local} (the first transaction's: no currency_code_local configured): "
                f"set the bank's local currency (currency_code_local in --config, or "
                f"--currency-local) to report the others converted at the ledger's reference "
                f"rates, or file one report per currency")
        if t.currency not in (rates or {}):
            raise _no_rate(t.currency, local, f"no reference rate of {t.currency} against "
                                              f"{local} was read")
    root = ET.Element("report")
    _sub(root, "rentity_id", str(filer.rentity_id))
    if filer.rentity_branch:
        _sub(root, "rentity_branch", filer.rentity_branch)
    _sub(root, "submission_code", filer.submission_code)
    _sub(root, "report_code", "STR")
    if entity_reference:
        _sub(root, "entity_reference", entity_reference)
    _sub(root, "submission_date", goaml_datetime(submission_ms))
    _sub(root, "currency_code_local", local)
    rp = _sub(root, "reporting_person")
    for k in ("title", "first_name", "last_name", "email", "occupation"):
        if filer.reporting_person.get(k):
            _sub(rp, k, filer.reporting_person[k])
    _sub(root, "reason", reason)
    if action:
        _sub(root, "action", action)
    for t in txs:
        el = _sub(root, "transaction")
        _sub(el, "transactionnumber", t.tx_id[:50])
        _sub(el, "transaction_description", description(t))
        _sub(el, "date_transaction", goaml_datetime(t.time_ms))
        _sub(el, "transmode_code", filer.transmode_code)
        notes = []
        if t.currency == local:
            _sub(el, "amount_local", decimal_amount(t.amount, exponents[t.currency]))
            foreign = None
        else:
            rate = (rates or {})[t.currency]
            _sub(el, "amount_local", decimal_amount(to_local(t.amount, rate), exponents[local]))
            foreign = (t.currency, decimal_amount(t.amount, exponents[t.currency]),
                       rate_decimal(rate, exponents))
            notes.append(conversion_words(t.amount, rate, exponents))
        _side(el, "from", t.frm, t.currency, filer, home_country, foreign)
        _side(el, "to", t.to, t.currency, filer, home_country, foreign)
        if t.refused:
            notes.insert(0, f"attempted: refused by the ledger ({t.refused}); no funds moved")
        if notes:
            _sub(el, "comments", "; ".join(notes))
    ET.indent(root)
    out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return out + b"\n"


# ----------------------------------------------------------------------------- the checks

_SIMPLE: dict[str, Callable[[str], bool]] = {
    "int": lambda s: re.fullmatch(r"[0-9]{1,18}", s) is not None,
    "dec": lambda s: re.fullmatch(r"[0-9]{1,20}(\.[0-9]{1,4})?", s) is not None,
    "datetime": lambda s: re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", s) is not None,
    "ccy": lambda s: re.fullmatch(r"[A-Z]{3}", s) is not None,
    "country": lambda s: re.fullmatch(r"[A-Z]{2}", s) is not None,
    "bic": lambda s: re.fullmatch(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?", s)
    is not None,
    "submission_code": lambda s: s in ("E", "M"),
    "report_code": lambda s: s == "STR",
    "s50": lambda s: 0 < len(s) <= 50,
    "s255": lambda s: 0 < len(s) <= 255,
    "s4000": lambda s: 0 < len(s) <= 4000,
}

#: complex type -> its children in order: (names, min, max or None for unbounded, types)
#: — a choice is several names with one type each. Shaped after the goAML schema's
#: ``report`` (elements this module writes; an FIU's schema has more, optional ones).
SPEC: dict[str, list[tuple[tuple[str, ...], int, int | None, tuple[str, ...]]]] = {
    "report": [
        (("rentity_id",), 1, 1, ("int",)), (("rentity_branch",), 0, 1, ("s255",)),
        (("submission_code",), 1, 1, ("submission_code",)),
        (("report_code",), 1, 1, ("report_code",)), (("entity_reference",), 0, 1, ("s255",)),
        (("submission_date",), 1, 1, ("datetime",)),
        (("currency_code_local",), 1, 1, ("ccy",)),
        (("reporting_person",), 1, 1, ("person",)), (("reason",), 1, 1, ("s4000",)),
        (("action",), 0, 1, ("s4000",)), (("transaction",), 1, None, ("transaction",))],
    "person": [
        (("title",), 0, 1, ("s50",)), (("first_name",), 1, 1, ("s255",)),
        (("last_name",), 1, 1, ("s255",)), (("email",), 0, 1, ("s255",)),
        (("occupation",), 0, 1, ("s255",))],
    "transaction": [
        (("transactionnumber",), 1, 1, ("s50",)),
        (("transaction_description",), 0, 1, ("s4000",)),
        (("date_transaction",), 1, 1, ("datetime",)), (("transmode_code",), 1, 1, ("s50",)),
        (("amount_local",), 1, 1, ("dec",)),
        (("t_from_my_client", "t_from"), 1, 1, ("from_mine", "from_other")),
        (("t_to_my_client", "t_to"), 1, 1, ("to_mine", "to_other")),
        (("comments",), 0, 1, ("s4000",))],
    "account_mine": [
        (("institution_name",), 1, 1, ("s255",)),
        (("institution_code", "swift"), 1, 1, ("s50", "bic")),
        (("account",), 1, 1, ("s50",)), (("currency_code",), 1, 1, ("ccy",)),
        (("account_name",), 1, 1, ("s255",)), (("personal_account_type",), 1, 1, ("s50",)),
        (("t_entity",), 0, 1, ("entity",)), (("status_code",), 1, 1, ("s50",)),
        (("comments",), 0, 1, ("s4000",))],
    "account_other": [
        (("institution_name",), 1, 1, ("s255",)),
        (("institution_code", "swift"), 1, 1, ("s50", "bic")),
        (("account",), 1, 1, ("s50",)), (("account_name",), 0, 1, ("s255",)),
        (("comments",), 0, 1, ("s4000",))],
    "entity": [
        (("name",), 1, 1, ("s255",)), (("incorporation_country_code",), 0, 1, ("country",)),
        (("comments",), 0, 1, ("s4000",))],
}
#: goAML ``t_foreign_currency`` (the from or to side's ``{way}_foreign_currency``, after its
#: funds code and before its party): the side's own currency when it is not the report's local
#: one, its amount in it, and optionally how much local currency one unit of it is worth
SPEC["foreign_currency"] = [
    (("foreign_currency_code",), 1, 1, ("ccy",)), (("foreign_amount",), 1, 1, ("dec",)),
    (("foreign_exchange_rate",), 0, 1, ("dec",))]
for _way in ("from", "to"):
    SPEC[f"{_way}_mine"] = [
        ((f"{_way}_funds_code",), 1, 1, ("s50",)),
        ((f"{_way}_foreign_currency",), 0, 1, ("foreign_currency",)),
        ((f"{_way}_account",), 1, 1, ("account_mine",)),
        ((f"{_way}_country",), 1, 1, ("country",))]
    SPEC[f"{_way}_other"] = [
        ((f"{_way}_funds_code",), 1, 1, ("s50",)),
        ((f"{_way}_foreign_currency",), 0, 1, ("foreign_currency",)),
        ((f"{_way}_account", f"{_way}_entity"), 1, 1, ("account_other", "entity")),
        ((f"{_way}_country",), 1, 1, ("country",))]


def check_report(data: bytes) -> list[str]:
    """What in ``data`` (a goAML report's XML) breaks :data:`SPEC`: a missing, extra,
    repeated or misplaced element, or a value of a wrong type; an empty list when none."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        return [f"not well-formed XML: {e}"]
    if root.tag != "report":
        return [f"the root element is {root.tag}, not report"]
    problems: list[str] = []
    _check(root, "report", "report", problems)
    # a foreign currency is one other than the local: the local amount is amount_local
    local = (root.findtext("currency_code_local") or "").strip()
    for i, tx in enumerate(root.findall("transaction")):
        for side in tx:
            for fc in side.findall("*"):
                if fc.tag.endswith("_foreign_currency") and (
                        fc.findtext("foreign_currency_code") or "").strip() == local:
                    problems.append(f"report/transaction[{i + 1}]/{side.tag}/{fc.tag}: "
                                    f"{local} is the report's local currency, not a foreign "
                                    f"one")
    return problems


def _check(el: ET.Element, kind: str, path: str, problems: list[str]) -> None:
    if kind in _SIMPLE:
        if len(el):
            problems.append(f"{path}: holds elements, a value is expected")
        elif not _SIMPLE[kind]((el.text or "").strip()):
            problems.append(f"{path}: {el.text!r} is not a valid {kind}")
        return
    children, i = list(el), 0
    for names, lo, hi, types in SPEC[kind]:
        n = 0
        while i < len(children) and children[i].tag in names and (hi is None or n < hi):
            c = children[i]
            _check(c, types[names.index(c.tag)], f"{path}/{c.tag}", problems)
            i, n = i + 1, n + 1
        if n < lo:
            problems.append(f"{path}: {' or '.join(names)} is missing")
    if i < len(children):
        problems.append(f"{path}: unexpected element {children[i].tag} (out of order, "
                        f"repeated or unknown)")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
