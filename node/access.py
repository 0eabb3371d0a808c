"""Who may read what over REST: one table, decided from the committed chain state.

Every REST read is signed (chainfin.httpsig); the signer's key is resolved to a :class:`Reader`
(its identity, role, and whether it is a validator or a regulator). Each route asks one rule
function below; a rule answers the name of the row that grants the read (``owner``,
``home_bank``, ``regulator``, ...) or ``None``. ``None`` is answered exactly like a missing item
(TRAPS 21): the route returns its ordinary 404.

:data:`READ_TABLE` is the table docs/api.md prints; a test checks the two agree.

An authorized read of data that is not the reader's own is appended to the node's
:class:`ReadLog` (who, what, when, which rule), a hash chain in the node's store.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chainfin import codec, readlog
from chainfin.store import KVStore
from contracts import credit_sharing, governance, settlement_recall
from contracts.risk import HOLDER_ALERT_RULES

#: (what, routes, who may read it) — the one authorization table; docs/api.md prints it.
READ_TABLE: tuple[tuple[str, str, str], ...] = (
    ("balance", "`/v1/state/settlement/bal/<holder>/<ccy>`",
     "owner, home_bank, currency_issuer, regulator, auditor"),
    ("trade record", "`/v1/state/trade_documents/{trade,doc,lc,pres}/<id>`, "
     "`fp/`, `cfp/`, `content/`, `lcfp/`, `agent/`; `chainfin trade show`",
     "party (owner, registrant, verifying / financing / LC-issuing bank, applicant, "
     "beneficiary of the record or of its trade), regulator, auditor; a trade's financing "
     "(`financings`, `pool`, `financed`, `outstanding`, `status` of `trade/`; a presentation's "
     "`payments`) only to its exporter, the banks that financed it and the supervisors, and "
     "`financings`, `outstanding` and the payments to the issuing bank of one of its LCs "
     "(a payment to a financing the reader may not read: its payee withheld)"),
    ("financing", "`/v1/state/trade_documents/fin/<id>`",
     "party (its bank, its exporter), regulator, auditor; lc_issuer (the issuing bank of an LC "
     "of its trade, whose proceeds repay it first): its `trade_id`, `bank`, `exporter`, "
     "`amount`, `currency`, `repaid` only; not the buyer, a verifying bank or another bank "
     "that financed the trade"),
    ("credit-sharing metadata",
     "`/v1/state/credit_sharing/{record,request,consent,dispute,purpose}/…`",
     "publisher, subject, consented_bank (a bank with a live consent of the subject covering "
     "the record's publisher, until the record's retention end: a record without its "
     "`retain_until_ms`, red-team round 10; the requester of a request and of its `purpose/`), "
     "regulator; a request's `purpose/` never to the publisher"),
    ("credit correction notices", "`/v1/state/credit_sharing/notice/<bank>[/<n>]` (a record "
     "delivered to the bank was corrected, decision 200; `chainfin credit notices`)",
     "notified_bank (that bank only), regulator"),
    ("credit recipients of a record", "`/v1/state/credit_sharing/{rcpt,got}/<record>[/…]` (the "
     "banks a record was delivered to and whether they were told of its correction)",
     "publisher, subject, regulator"),
    ("credit access report", "`/v1/state/credit_sharing/access/<subject>[/<n>]` (who asked for "
     "the subject's records, when, for what purpose, refused or delivered; `chainfin credit "
     "report`)", "subject, regulator"),
    ("credit subject index", "`/v1/state/credit_sharing/subj/<subject>[/{r,b}/<page>]` (every "
     "record about the subject and every bank it consented to, since decision 192; `chainfin "
     "credit records`)", "subject, regulator"),
    ("settlement offer", "`/v1/state/settlement/pvp/<id>`",
     "party (maker, taker), regulator, auditor"),
    ("payment index", "`/v1/state/settlement/uetr/<debtor>/<uetr>` (the transfer booked under "
     "a UETR: its tx id, payee, amount, time)", "owner (the debtor), party (the payee it names), "
     "home_bank (of either), regulator, auditor"),
    ("payment recall", "`/v1/state/settlement/recall/<original tx id>` (its recalls and "
     "returns)", "party (payer; payee, unless its home bank answers for it), home_bank (of the "
     "payer or the payee), regulator, auditor"),
    ("risk limits of an account", "`/v1/risk/accounts/{account}` (its `alerts` excepted), "
     "`/v1/state/risk/{profile,use}/<id>…`", "owner, home_bank, regulator, auditor"),
    ("risk alerts of an account", "`alerts` in `/v1/risk/accounts/{account}`, "
     "`/v1/state/risk/{alerts,stats}/<id>…` (its alerts, its pattern memory)",
     "home_bank, regulator, auditor; never the account itself (no tipping off: "
     "[docs/risk.md](risk.md#who-sees-an-alert))"),
    ("alert review queue", "`/v1/risk/alerts/queue` (a page of open alerts, their accounts' "
     "names, the `counts` open and reviewed, the cursor `next`)",
     "regulator, auditor: every alert; a bank: the alerts naming its customers (home_bank), "
     "counted as queued when raised"),
    ("alert case", "`/v1/risk/alerts/{alert}` (the alert and its reviews)",
     "home_bank (of an account it names), regulator, auditor"),
    ("sanctions watch list", "`/v1/state/risk/watch/…`", "regulator, auditor"),
    ("network data", "`/v1/state/governance/…` (`readlog/` excepted), "
     "`/v1/state/settlement/supply/…`, "
     "`/v1/state/risk/{profile/*,param/…,jurisdictions,goods_controls,rates/<BASE>}`, "
     "`/v1/risk/rules`, "
     "`/metrics` "
     "(without its `chainfin_risk_*` families)", "any identity"),
    ("alert counts", "`/v1/state/risk/alert_count/…`, the `chainfin_risk_*` families of "
     "`/metrics` (read beside a payment, a count told its payer that it raised an alert)",
     "validator, regulator, auditor; for `/metrics` also the node's own keys"),
    ("standing of an identity", "`status`, `frozen_by`, `frozen_by_regulator` in "
     "`/v1/state/governance/id/<id>`", "owner, home_bank, validator, regulator, auditor (anyone "
     "else reads the record without these fields)"),
    ("travel-rule data of an identity", "`travel` (address, national or customer id, date and "
     "place of birth: FATF R.16) in `/v1/state/governance/id/<id>`; in `/v1/tx/{tx_id}` of a "
     "transfer, `travel` (the originator's name, account and that data as the transfer carried "
     "it; the beneficiary's name and account); its versions and linked sum in "
     "`/v1/state/governance/travel/<id>/…`", "the record and those keys: owner, home_bank, "
     "validator, regulator, auditor; a transfer's "
     "`travel`: home_bank (of the originator), beneficiary_bank (the payee's home bank, which "
     "reads of the transaction only its status, the `transferred` events and `travel` of the "
     "payments to its customers and the events naming it: red-team round 11), "
     "validator, regulator, auditor"),
    ("nonce", "`/v1/nonce/{sender}`", "owner, home_bank, validator, regulator, auditor"),
    ("transaction", "`/v1/tx/{tx_id}`",
     "sender, home_bank (of the sender; not of a customer's credit-sharing transaction, "
     "red-team round 9), validator, regulator, auditor: all of it (the sender: a "
     "`sanctioned_party` refusal's message withheld); party (named by its events, risk alerts "
     "and pending orders excepted, and a `presentation_paid` naming only its beneficiary): its "
     "status, height, index and own events only"),
    ("transaction proof", "`/v1/proofs/tx/{tx_id}`",
     "validator, regulator, auditor; in ledger format 3 also the sender's home bank (the whole "
     "proof: it carries the receipt, alerts included; not of a customer's credit-sharing "
     "transaction) and the sender, inclusion-only: without "
     "the receipt, for every transaction alike, from a block holding an institution's "
     "transaction too (a bank's, an issuer's, a validator's: not only customers'; see [full and "
     "inclusion-only "
     "proofs](proofs.md#25-full-and-inclusion-only-transaction-proofs))"),
    ("state proof", "`/v1/proofs/state/{contract}/{key}`",
     "validator, regulator, auditor, for a key they may read and a value they read whole (not "
     "one shown with fields withheld: a proof carries it whole, red-team round 11; see [what a "
     "proof "
     "discloses](proofs.md#what-a-proof-discloses))"),
    ("blocks", "`/v1/blocks/…`, `/v1/sync/blocks`, `/v1/sync/snapshot`, `/v1/sync/chunk`, "
     "`/v1/events` (all events)", "validator, regulator, auditor"),
    ("own events", "`/v1/events`", "any identity: only the events whose data names it; a risk "
     "alert only to the home banks of the accounts it lists (and a `limit_exceeded` alert to "
     "those accounts); an `alert_reviewed` to its reviewer and the home banks of the accounts "
     "its alert lists, never to those accounts; a regulator's pending order (`seizure_pending`, "
     "`rebind_pending`) only to the home bank of the account it names; a `presentation_paid` to "
     "its beneficiary, not to the financing banks its payments list"),
    ("read log", "`/v1/audit/reads`", "regulator, auditor"),
    ("read-log anchor", "`/v1/state/governance/readlog/<node key>` (how many reads of others' "
     "data a node logged)", "owner (the node), validator, regulator, auditor"),
    ("guarantee", "`/v1/state/trade_documents/{gtee,gdem,gtfp}/<id>` (a demand guarantee or "
     "standby, its demands; `chainfin guarantee show`)",
     "party (guarantor, applicant, beneficiary, advising bank), regulator; no auditor, no other "
     "bank or customer"),
    ("anything else in state", "`/v1/state/…`", "regulator, auditor"),
)

#: rules under which a reader reads its own data: not logged
OWN_RULES = frozenset({"owner", "sender", "any", "publisher", "subject", "party", "own_events",
                       "validator"})

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Reader:
    """The signer of a request, as the chain knows it."""

    key: str  # the public key that signed (hex)
    ident_id: str | None  # its identity id (None: a validator key that is no identity)
    role: str | None
    bank: str | None  # BIC/LEI of a bank identity
    validator: bool
    regulator: bool

    @property
    def auditor(self) -> bool:
        return self.role == "auditor"

    @property
    def supervisor(self) -> str | None:
        """``regulator`` / ``auditor`` when the reader is one."""
        return "regulator" if self.regulator else "auditor" if self.auditor else None

    def names(self) -> set[str]:
        return {x for x in (self.key, self.ident_id) if x}

    def is_(self, who: Any) -> bool:
        return isinstance(who, str) and who in self.names()


StateGet = Callable[[str, str], Any]


def resolve_reader(get: StateGet, key_hex: str) -> Reader | None:
    """The reader behind ``key_hex``, or None when it is not an active identity's current key
    nor the key of a validator that has no identity record (``unknown_identity``): a revoked
    identity's or a replaced key reads nothing, in the validator set or not."""
    validators = get("governance", "validators") or []
    ident_id: str | None = key_hex
    rec = get("governance", "id/" + key_hex)
    if rec is None:
        ident_id = get("governance", "key/" + key_hex)
        rec = get("governance", "id/" + ident_id) if ident_id else None
    if rec is not None and (rec.get("key", ident_id) != key_hex or rec.get("status") == "revoked"):
        # a replaced key, or a revoked identity, reads nothing: not even a validator's key,
        # which stays in the set until a vote removes it (a stolen node key read every block;
        # red-team round 3)
        return None
    if rec is None:
        if key_hex not in validators:
            return None
        ident_id = None
    return Reader(key=key_hex, ident_id=ident_id, role=rec.get("role") if rec else None,
                  bank=rec.get("bank") if rec else None, validator=key_hex in validators,
                  regulator=ident_id is not None and ident_id in (
                      get("governance", "regulators") or []))


def _home_bank(get: StateGet, reader: Reader, holder: str) -> bool:
    """Is the reader the home bank of identity ``holder``: the contracts' own rule
    (:func:`contracts.governance.home_bank_rule`), on the reader's identity as resolved."""
    if reader.ident_id is None:
        return False
    target = get("governance", "id/" + holder)
    if target is None:
        return False
    return governance.home_bank_rule(reader.ident_id, {"role": reader.role, "bank": reader.bank},
                                     holder, target, get("governance", "regulators") or [])


def _supervised(reader: Reader, auditors: bool = True) -> str | None:
    if reader.regulator:
        return "regulator"
    if auditors and reader.auditor:
        return "auditor"
    return None


def account_rule(get: StateGet, reader: Reader, holder: str) -> str | None:
    """An account's own data (its balance, risk profile, nonce): owner, home bank, regulator,
    auditor."""
    if reader.is_(holder):
        return "owner"
    if _home_bank(get, reader, holder):
        return "home_bank"
    return _supervised(reader)


def hex_names(value: Any, limit: int = 4096) -> set[str]:
    """Every 64-hex-digit string anywhere in ``value`` (identity ids and keys it names)."""
    out: set[str] = set()
    stack = [value]
    while stack and limit > 0:
        limit -= 1
        v = stack.pop()
        if isinstance(v, str):
            if len(v) == 64 and _HEX64.fullmatch(v):
                out.add(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return out


_PARTY_FIELDS = ("owner", "registrant", "verified_by", "bank", "exporter", "issuer",
                 "applicant", "beneficiary", "maker", "taker", "from", "to")


def _fields(rec: Any) -> set[str]:
    if not isinstance(rec, dict):
        return set()
    return hex_names([rec.get(f) for f in _PARTY_FIELDS])


def trade_parties(get: StateGet, trade_id: str) -> set[str]:
    """The parties of a trade: its exporter, every document's registrant and verifying banks,
    every financing's bank, every LC's issuer, applicant and beneficiary."""
    trade = get("trade_documents", "trade/" + trade_id)
    if not isinstance(trade, dict):
        return set()
    out = _fields(trade)
    for kind, ids in (("doc/", trade.get("docs") or []), ("fin/", trade.get("financings") or []),
                      ("lc/", trade.get("lcs") or [])):
        for i in ids[:256]:
            out |= _fields(get("trade_documents", kind + str(i)))
    return out


def trade_record_parties(get: StateGet, key: str) -> set[str] | None:
    """Parties of the trade_documents record at ``key`` (None: no such record)."""
    kind, _, rest = key.partition("/")
    if kind in ("fp", "cfp", "content", "lcfp"):
        target = get("trade_documents", key)
        if not isinstance(target, str):
            return None
        return trade_record_parties(get, ("lc/" if kind == "lcfp" else "doc/") + target)
    if kind == "agent":
        exporter, _, bank = rest.partition("/")
        return {exporter, bank}
    rec = get("trade_documents", key)
    if not isinstance(rec, dict):
        return None
    out = _fields(rec)
    if kind == "trade":
        return out | trade_parties(get, rest)
    if kind == "pres" and rec.get("lc_id"):
        out |= _fields(get("trade_documents", "lc/" + str(rec["lc_id"])))
    if rec.get("trade_id"):
        out |= trade_parties(get, str(rec["trade_id"]))
    return out


#: ``trade_documents`` keys of a guarantee (decision 195): its record, a demand, its number
GUARANTEE_KEYS = ("gtee/", "gdem/", "gtfp/")
GUARANTEE_PARTIES = ("guarantor", "applicant", "beneficiary", "advising_bank")


def guarantee_rule(get: StateGet, reader: Reader, key: str) -> str | None:
    """A guarantee, its demands and its number key: its guarantor, applicant, beneficiary and
    advising bank (``party``) and the regulators, nobody else: not an auditor (a guarantee is
    a bank's undertaking for its customer, not a trade's record), not another bank."""
    rec = get("trade_documents", key)
    if isinstance(rec, str) and key.startswith("gtfp/"):
        rec = get("trade_documents", "gtee/" + rec)
    if isinstance(rec, dict) and key.startswith("gdem/"):
        rec = get("trade_documents", "gtee/" + str(rec.get("guarantee_id")))
    if not isinstance(rec, dict):
        return None
    if any(reader.is_(rec.get(f)) for f in GUARANTEE_PARTIES):
        return "party"
    return _supervised(reader, auditors=False)


# ------------------------------------------------------------ who reads a trade's financing
# A bank's financing of an exporter's receivable is the bank's and the exporter's: undisclosed
# ("silent") receivables financing is none of the buyer's business, and a bank's amount, pricing
# and maturity none of a competing bank's. The issuing bank of an LC of the trade pays the
# financing banks first out of the LC's proceeds (assignment of proceeds, UCP 600 art. 39;
# decision 43): it reads what it pays — which bank, how much was advanced and repaid — not the
# terms.

#: fields of ``trade/<id>`` that are its financing: the exporter's, the banks' that financed it
#: (a co-financier: the pool is shared, and LC proceeds pay the older financings first) and the
#: supervisors'. Left out for anyone else, financed or not (the answer's shape tells nothing)
TRADE_FINANCING_FIELDS = ("financings", "pool", "financed", "outstanding", "status")
#: of those, what the issuing bank of one of the trade's LCs reads: the financings its
#: proceeds pay first, oldest first, and their outstanding total
ASSIGNED_TRADE_FIELDS = ("financings", "outstanding")
#: the fields of ``fin/<id>`` that issuing bank reads (no maturity, no status, no document)
ASSIGNED_FIN_FIELDS = ("trade_id", "bank", "exporter", "amount", "currency", "repaid")
#: what stands for the payee and the financing of a presentation's payment to a financing the
#: reader may not read (a co-financier reads that proceeds went to an older financing, not whose)
WITHHELD = "withheld"


def _trade_banks(get: StateGet, trade: dict[str, Any], kind: str, field: str) -> set[str]:
    """The ``field`` of each of the trade's ``fin/`` (``financings``) or ``lc/`` (``lcs``)
    records."""
    out: set[str] = set()
    ids = trade.get("financings" if kind == "fin/" else "lcs")
    for i in (ids if isinstance(ids, list) else [])[:256]:
        rec = get("trade_documents", kind + str(i))
        if isinstance(rec, dict) and isinstance(rec.get(field), str):
            out.add(rec[field])
    return out


def financing_view(get: StateGet, reader: Reader, trade: Any) -> str | None:
    """How much of a trade's financing ``reader`` reads: ``all`` (the supervisors, the exporter,
    a bank that financed the trade), ``assigned`` (the issuing bank of one of the trade's LCs,
    whose proceeds pay the financing banks first), or None (the buyer, a verifying bank that did
    not finance, an agent: the trade without its financing)."""
    if _supervised(reader):
        return "all"
    if not isinstance(trade, dict):
        return None
    if reader.is_(trade.get("owner")) or reader.names() & _trade_banks(get, trade, "fin/",
                                                                          "bank"):
        return "all"
    if reader.names() & _trade_banks(get, trade, "lc/", "issuer"):
        return "assigned"
    return None


def financing_rule(get: StateGet, reader: Reader, fin: Any) -> str | None:
    """``fin/<id>``: its bank and its exporter (``party``), the supervisors, and the issuing
    bank of an LC of its trade (``lc_issuer``: the fields it pays by,
    :data:`ASSIGNED_FIN_FIELDS`); nobody else — not the buyer, not a verifying bank, not another
    bank that financed the same trade. An absent record is refused as any absent key is."""
    rule = _supervised(reader)
    if rule is not None or not isinstance(fin, dict):
        return rule
    if reader.is_(fin.get("bank")) or reader.is_(fin.get("exporter")):
        return "party"
    trade = get("trade_documents", "trade/" + str(fin.get("trade_id")))
    if isinstance(trade, dict) and reader.names() & _trade_banks(get, trade, "lc/", "issuer"):
        return "lc_issuer"
    return None


def _presentation_trade(get: StateGet, pres: dict[str, Any]) -> tuple[Any, Any]:
    """(the LC, the trade) of a presentation: the trade it pays (its own, else its LC's)."""
    lc = get("trade_documents", "lc/" + str(pres.get("lc_id")))
    tid = pres.get("trade_id") or (lc.get("trade_id") if isinstance(lc, dict) else None)
    return lc, get("trade_documents", "trade/" + str(tid)) if tid else None


def trade_value(get: StateGet, reader: Reader, key: str, value: Any) -> Any:
    """A ``trade_documents`` record as ``reader`` (a party, :func:`state_rule`) may see it: a
    trade without its financing (:data:`TRADE_FINANCING_FIELDS`) for those
    :func:`financing_view` does not show it to; a financing as the LC's issuing bank reads it
    (:data:`ASSIGNED_FIN_FIELDS`); a presentation without its ``payments`` for those who read no
    financing of its trade, and each payment to a financing the reader may not read with its
    payee and financing :data:`WITHHELD`."""
    kind = key.partition("/")[0]
    if not isinstance(value, dict) or _supervised(reader):
        return value
    if kind == "trade":
        view = financing_view(get, reader, value)
        keep = () if view is None else ASSIGNED_TRADE_FIELDS if view == "assigned" else None
        if keep is None:
            return value
        return {k: v for k, v in value.items() if k not in TRADE_FINANCING_FIELDS or k in keep}
    if kind == "fin":
        if financing_rule(get, reader, value) == "lc_issuer":
            return {k: v for k, v in value.items() if k in ASSIGNED_FIN_FIELDS}
        return value
    if kind == "pres" and isinstance(value.get("payments"), list):
        lc, trade = _presentation_trade(get, value)
        if trade is None or (isinstance(lc, dict) and reader.is_(lc.get("issuer"))):
            return value  # no financing paid; or the bank that paid them
        if financing_view(get, reader, trade) is None:
            return {k: v for k, v in value.items() if k != "payments"}
        out = []
        for p in value["payments"]:
            fid = p.get("financing_id") if isinstance(p, dict) else None
            if fid is not None and financing_rule(
                    get, reader, get("trade_documents", "fin/" + str(fid))) is None:
                p = {**p, "to": WITHHELD, "financing_id": WITHHELD}
            out.append(p)
        return value | {"payments": out}
    return value


def _credit_rule(get: StateGet, reader: Reader, key: str, now_ms: int | None = None
                 ) -> str | None:
    kind, _, rest = key.partition("/")
    if reader.regulator:
        return "regulator"
    if kind == "consent":
        subject, _, bank = rest.partition("/")
        return "subject" if reader.is_(subject) else "consented_bank" if reader.is_(bank) else None
    if kind == "access":
        # the subject's access report (decision 179, GDPR art. 15): who asked for its records,
        # when, why, refused or delivered: its own and the regulators', never a bank's
        return "subject" if reader.is_(rest.partition("/")[0]) else None
    if kind == "subj":
        # the subject index (decision 192): every record about the subject and every bank it
        # consented to. Who holds credit with whom is confidential (red-team rounds 7, 9):
        # the subject's and the regulators' only, never a publisher's or a consented bank's
        return "subject" if reader.is_(rest.partition("/")[0]) else None
    if kind == "notice":
        # a bank's correction notices (decision 200): its own; no bank learns who else was told
        return "notified_bank" if reader.is_(rest.partition("/")[0]) else None
    if kind in ("rcpt", "got"):
        # whom a record was delivered to (decision 200): its publisher (it delivered them) and
        # its subject (GDPR art. 19), never a bank that received it
        rec = get("credit_sharing", "record/" + rest.partition("/")[0])
        if not isinstance(rec, dict):
            return None
        return ("publisher" if reader.is_(rec.get("publisher"))
                else "subject" if reader.is_(rec.get("subject")) else None)
    rec = get("credit_sharing", key)
    if not isinstance(rec, dict):
        return None
    if reader.is_(rec.get("publisher")):
        return "publisher"
    if reader.is_(rec.get("subject")):
        return "subject"
    if reader.is_(rec.get("requester")):
        return "consented_bank"
    # a consent opens the subject's records, not other banks' requests for them: who else
    # asked, and when, is between the requester, the publisher and the subject
    about = rec.get("subject")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if kind == "record" and isinstance(about, str) and reader.ident_id is not None \
            and reader.role == "bank" and not credit_sharing.expired(rec, now) \
            and credit_sharing.consent_opens(
                get("credit_sharing", f"consent/{about}/{reader.ident_id}"),
                rec.get("publisher"), now):
        # to a bank, while the consent lasts and covers the record's publisher (red-team
        # round 9: an ended consent, one for another publisher's records, or one to an
        # identity no longer a bank told who holds a credit record about the subject), and
        # while the record is kept (round 10: past its retention end, its existence — an old
        # default, perhaps — is no longer reported, decision 214)
        return "consented_bank"
    return None


#: fields of a credit record (``record/<id>``) that only its publisher, its subject and the
#: regulators read: the retention end (decision 201) is the publisher's choice for that record,
#: and a publisher that keeps an adverse item (a default, a write-off: FCRA s. 605's seven years)
#: longer than a positive one told every bank a consent opens the metadata to what kind of record
#: it is, with no request in the subject's access report (red-team round 10)
CREDIT_RECORD_PRIVATE_FIELDS = ("retain_until_ms",)


def credit_value(reader: Reader, key: str, value: Any) -> Any:
    """A ``credit_sharing`` value as ``reader`` (let by :func:`_credit_rule`) may see it: a
    record without :data:`CREDIT_RECORD_PRIVATE_FIELDS` for anyone but its publisher, its
    subject and the regulators (a consented bank reads the record's metadata, not what the end
    its publisher set says of it: it learns the content by a request, which the subject's access
    report lists; after the end it reads nothing of the record, :func:`_credit_rule`)."""
    if (not key.startswith("record/") or not isinstance(value, dict) or reader.regulator
            or reader.is_(value.get("publisher")) or reader.is_(value.get("subject"))):
        return value
    return {k: v for k, v in value.items() if k not in CREDIT_RECORD_PRIVATE_FIELDS}


_PUBLIC_RISK = re.compile(r"(profile/\*|param/.*|jurisdictions|goods_controls|rates/[A-Z]{3})")
_ACCOUNT_RISK = re.compile(r"(profile|alerts|stats|use)/([0-9a-f]{64})(/.*)?")


def state_rule(get: StateGet, reader: Reader, contract: str, key: str,
               now_ms: int | None = None) -> str | None:
    """The rule that lets ``reader`` read state ``contract/key``, or None (answer 404).
    ``now_ms``: the time a rule that lapses is read at (a credit consent's end); default the
    node's clock."""
    if contract == "governance":
        if key.startswith("readlog/"):
            # a node's read-log anchor counts its reads of others' data: watched beside a
            # payment, its growth told a customer that its bank read its alerts (red-team round
            # 7). The node itself and those who read every block (auditors check it)
            return "owner" if reader.is_(key[8:]) else chain_rule(reader)
        if key.startswith(TRAVEL_PREFIX):
            # an identity's travel-data versions and linked-transfer sum (decisions 224, 225):
            # read as its record's ``travel`` is; a transfer's two banks read the version it
            # carried through that transfer's view (:func:`travel_view`)
            holder = key[len(TRAVEL_PREFIX):].partition("/")[0]
            rec = get("governance", "id/" + holder)
            return standing_rule(get, reader, holder, rec if isinstance(rec, dict) else {})
        return "any"
    if contract == "settlement":
        kind, _, rest = key.partition("/")
        if kind == "supply":
            return "any"
        if kind == "bal":
            holder, _, ccy = rest.partition("/")
            rule = account_rule(get, reader, holder)
            if rule is None:
                cur = get("governance", "currency/" + ccy)
                if isinstance(cur, dict) and reader.is_(cur.get("issuer")):
                    rule = "currency_issuer"
            return rule
        if kind == "pvp":
            rec = get("settlement", key)
            if reader.names() & hex_names(rec):
                return "party"
            return _supervised(reader)
        if kind == "recall":
            return recall_rule(get, reader, get("settlement", key))
        if kind == "uetr":
            debtor = rest.partition("/")[0]
            rule = account_rule(get, reader, debtor)
            if rule is not None:
                return rule
            payee = (get("settlement", key) or {}).get("to")
            if reader.is_(payee):
                return "party"
            return "home_bank" if isinstance(payee, str) and _home_bank(get, reader, payee) \
                else None
    if contract == "trade_documents":
        if key.startswith(GUARANTEE_KEYS):
            return guarantee_rule(get, reader, key)
        if _supervised(reader):
            return _supervised(reader)
        if key.startswith("fin/"):  # not every party of its trade: financing_rule
            return financing_rule(get, reader, get("trade_documents", key))
        parties = trade_record_parties(get, key)
        return "party" if parties and reader.names() & parties else None
    if contract == "credit_sharing":
        return _credit_rule(get, reader, key, now_ms)
    if contract == "risk":
        if _PUBLIC_RISK.fullmatch(key):
            return "any"
        m = _ACCOUNT_RISK.fullmatch(key)
        if m:
            if m[1] in _MONITORING_RISK:
                return monitoring_rule(get, reader, m[2])
            return account_rule(get, reader, m[2])
    return _supervised(reader)


def recall_rule(get: StateGet, reader: Reader, rec: Any) -> str | None:
    """A payment's recalls and returns: its payer, the payer's and the payee's home banks and
    the supervisors; the payee itself only when no home bank answers for it
    (:func:`contracts.settlement_recall.has_home_bank`), whatever the recalls' reasons: a fraud
    recall is its bank's (no tipping off), and a record that turned unreadable when one was
    made would say as much."""
    if not isinstance(rec, dict):
        return _supervised(reader)
    payer, payee = rec.get("payer"), rec.get("payee")
    if reader.is_(payer):
        return "party"
    if reader.is_(payee) and isinstance(payee, str) and not settlement_recall.has_home_bank(
            get("governance", "id/" + payee)):
        return "party"
    if any(isinstance(h, str) and _home_bank(get, reader, h) for h in (payer, payee)):
        return "home_bank"
    return _supervised(reader)


#: an account's risk keys that are its monitoring (its alerts, its pattern memory: a moving
#: average and near-limit counts, which would let a structurer calibrate): never the owner's
_MONITORING_RISK = frozenset({"alerts", "stats"})


def monitoring_rule(get: StateGet, reader: Reader, holder: str) -> str | None:
    """An account's alerts and pattern memory: its home bank, regulators, auditors — never the
    account itself, whoever else it is (FATF Recommendation 21: no tipping off)."""
    if _home_bank(get, reader, holder):
        return "home_bank"
    return _supervised(reader)


def chain_rule(reader: Reader) -> str | None:
    """Blocks, /v1/sync/blocks and every event: validators, regulators, auditors (the
    *supervisors*: they read every block body anyway)."""
    return _supervised(reader) or ("validator" if reader.validator else None)


def is_alert(event: dict[str, Any]) -> bool:
    """A risk alert event: it carries an account's risk data (its limits, its averages)."""
    return event.get("contract") == "risk" and event.get("name") == "alert"


def is_alert_review(event: dict[str, Any]) -> bool:
    """A review of an alert (``risk.review_alert``'s ``alert_reviewed``): it names the reviewer
    only; its alert's home banks get it by :func:`event_rule`, its subjects never."""
    return event.get("contract") == "risk" and event.get("name") == "alert_reviewed"


#: the events of a regulator's pending two-regulator order (``contracts.risk.regulator_order``:
#: a seizure, a key rebound by a regulator), recorded by the first regulator and executed by a
#: second: the field naming the account it is about. Told to the account, a pending seizure let
#: it move the money out before the second signature (red-team round 7): supervision data of
#: that account, like an alert: its home bank's and the supervisors', never the account's
PENDING_ORDER_EVENTS = {"seizure_pending": "account", "rebind_pending": "identity"}


def is_pending_order(event: dict[str, Any]) -> bool:
    """A regulator's pending order (:data:`PENDING_ORDER_EVENTS`), whatever the contract of the
    transaction that recorded it (``settlement.seize``, ``governance.revoke_identity``)."""
    return event.get("name") in PENDING_ORDER_EVENTS


def is_supervision(event: dict[str, Any]) -> bool:
    """An event that is an account's supervision data (an alert, a pending order): it makes no
    one a party, and reaches only whom :func:`event_rule` says."""
    return is_alert(event) or is_pending_order(event)


def event_rule(get: StateGet, reader: Reader, event: dict[str, Any]) -> str | None:
    """The rule under which ``event`` is one of the reader's events on ``/v1/events`` (and in a
    party's view of a transaction), or None.

    An ordinary event is the reader's own (``own_events``) when its data names the reader (its
    id or key). A risk alert is risk data of the accounts it lists (``accounts``), whatever else
    it names (a ``counterparty``): it goes to those accounts' home banks (``home_bank``), and to
    the accounts themselves (``own_events``) only when it is their own refusal for a limit
    (:data:`contracts.risk.HOLDER_ALERT_RULES`): any other alert would tip its subject off. A
    regulator's pending order (:data:`PENDING_ORDER_EVENTS`) goes to the home bank of the
    account it names, never to the account (nor to anyone else it names). A review of an alert
    (``alert_reviewed``, which names only its reviewer) goes to the reviewer and, looked up from
    the alert it names, to the home banks of the accounts the alert lists (``home_bank``: a
    regulator's review of its customer's alert), never to those accounts (no tipping off)."""
    data = event.get("data")
    if is_alert_review(event):
        if reader.names() & hex_names(naming_data(event)):
            return "own_events"
        ref = data.get("alert") if isinstance(data, dict) else None
        rec = get("risk", "alert/" + ref) if isinstance(ref, str) and len(ref) <= 80 else None
        accounts = rec.get("accounts") if isinstance(rec, dict) else None
        return "home_bank" if isinstance(accounts, list) and any(
            isinstance(a, str) and _home_bank(get, reader, a) for a in accounts[:64]) else None
    if is_pending_order(event):
        acct = data.get(PENDING_ORDER_EVENTS[str(event.get("name"))]) if isinstance(
            data, dict) else None
        return "home_bank" if isinstance(acct, str) and _home_bank(get, reader, acct) else None
    if not is_alert(event):
        return "own_events" if reader.names() & hex_names(naming_data(event)) else None
    accounts = data.get("accounts") if isinstance(data, dict) else None
    if not isinstance(accounts, list):
        return None
    holder_sees = isinstance(data, dict) and data.get("rule") in HOLDER_ALERT_RULES
    accounts = [a for a in accounts[:64] if isinstance(a, str)]
    if holder_sees and any(reader.is_(a) for a in accounts):
        return "own_events"
    return "home_bank" if any(_home_bank(get, reader, a) for a in accounts) else None


def event_names_reader(get: StateGet, reader: Reader, event: dict[str, Any]) -> bool:
    """Is ``event`` one of the reader's events (:func:`event_rule`)?"""
    return event_rule(get, reader, event) is not None


def tx_parties(receipt: dict[str, Any]) -> set[str]:
    """The identities a transaction's events name, risk alerts and pending orders excepted: an
    alert names the payer's counterparty without making it a party to the payer's risk data,
    and a pending seizure names the account it is about (:func:`is_supervision`)."""
    events = receipt.get("events") or []
    return hex_names([naming_data(e) for e in events
                      if isinstance(e, dict) and not is_supervision(e)])


#: events whose data lists a presentation's payments: the financing banks repaid first out of
#: an LC's proceeds are named there beside each other, and a co-financier named in it read whom
#: else the LC repaid, and how much (the financing record it may not read)
PAYMENT_LIST_EVENTS = frozenset({"presentation_paid"})


def naming_data(event: dict[str, Any]) -> Any:
    """The part of an event's data whose identities make it theirs (:func:`event_rule`) and
    make them parties of its transaction (:func:`tx_parties`): all of it, except that a
    ``presentation_paid`` names only its beneficiary among its payees (a payment with no
    ``financing_id``), not the financing banks — each reads its own ``repaid`` and
    ``transferred`` events of that transaction instead."""
    data = event.get("data")
    if (event.get("contract") != "trade_documents" or event.get("name") not in PAYMENT_LIST_EVENTS
            or not isinstance(data, dict)):
        return data
    payments = data.get("payments")
    return data | {"payments": [p for p in payments if isinstance(p, dict)
                                and p.get("financing_id") is None]
                   if isinstance(payments, list) else payments}


#: rules that see a whole transaction (its result, its error and every event); ``party`` sees
#: only the status, the place in the chain and its own events (:func:`party_view`)
FULL_TX_RULES = frozenset({"sender", "home_bank", "regulator", "auditor", "validator"})


def credit_tx_withheld(get: StateGet, sender: str, contract: str | None) -> bool:
    """Is this a customer's credit-sharing transaction, which its home bank does not read
    whole? A consent says to which bank the customer turns for credit, and for what; a
    dispute, what it contests and why: the state keeps them from the home bank (``consent/``
    is the subject's and that bank's, ``dispute/`` the subject's and the publisher's), and
    ``GET /v1/tx`` gave them to it (red-team round 9). ``contract``: the transaction's (None:
    not known, no withholding)."""
    return contract == credit_sharing.NAME and not _institution(get, sender_identity(get, sender))


def tx_rule(get: StateGet, reader: Reader, sender: str,
            receipt: dict[str, Any] | None, contract: str | None = None) -> str | None:
    """A transaction: its sender, the sender's home bank, validators, regulators and auditors
    see all of it; a party its events name (risk alerts excepted) sees its own part of it.
    A customer's credit-sharing transaction is not its home bank's (:func:`credit_tx_withheld`;
    ``contract``: the transaction's, asked for when the answer would be ``home_bank``).

    The result and the error are the sender's: a payment's result is the payer's balance, a
    refusal names the payer's limit. So a counterparty is a ``party``, never more."""
    sender = sender_identity(get, sender)
    if reader.is_(sender):
        return "sender"
    rule = chain_rule(reader)
    if rule is not None:
        return rule
    if _home_bank(get, reader, sender) and not credit_tx_withheld(get, sender, contract):
        return "home_bank"
    if receipt is not None and any(_home_bank(get, reader, to)
                                   for to in transfer_payees(receipt, sender)):
        return "beneficiary_bank"
    if receipt is not None and reader.names() & tx_parties(receipt):
        return "party"
    return None


# ---------------------------------------------------------------------------- the travel rule


def transfer_payees(receipt: dict[str, Any], sender: str) -> list[str]:
    """The payees of the payments ``sender`` made in a committed transaction (its
    ``settlement`` ``transferred`` events from it): the beneficiaries of FATF R.16."""
    return [data["to"] for data in _transfers(receipt, sender)]


def _transfers(receipt: dict[str, Any], sender: str) -> list[dict[str, Any]]:
    """The data of the ``settlement`` ``transferred`` events from ``sender`` in a committed
    transaction's receipt."""
    if receipt.get("status") != "committed":
        return []
    out = []
    for e in (receipt.get("events") or [])[:64]:
        data = e.get("data") if isinstance(e, dict) else None
        if (isinstance(data, dict) and e.get("name") == "transferred"
                and e.get("contract") == "settlement" and data.get("from") == sender
                and isinstance(data.get("to"), str)):
            out.append(data)
    return out


#: who reads a transfer's R.16 data in its view (decision 222): the originator's bank (the
#: sender's home bank), the beneficiary's bank, and the supervisors (who read the identity
#: records' ``travel`` and every block anyway)
TRAVEL_RULES = frozenset({"home_bank", "beneficiary_bank", "regulator", "auditor", "validator"})


def _travel_party(get: StateGet, ident_id: str, version: Any = None) -> dict[str, Any]:
    """A party of a transfer as R.16 names it; the originator (``version``: not None) with its
    travel data as the transfer carried it (version ``version`` of ``travel/<id>/<v>``, decision
    224; False: none carried), never as the record holds it now."""
    rec = get("governance", "id/" + ident_id)
    rec = rec if isinstance(rec, dict) else {}
    out: dict[str, Any] = {"id": ident_id, "account": ident_id,
                           "name": rec.get("legal_name") or rec.get("name")}
    if version is not None:  # the beneficiary's R.16 data is its name and account only
        if isinstance(rec.get("bank"), str) and rec.get("role") not in governance.CUSTOMER_ROLES:
            out["bic"] = rec["bank"]
        kept = get("governance", f"{TRAVEL_PREFIX}{ident_id}/{version}") if (
            type(version) is int and version > 0) else None
        if isinstance(kept, dict) and isinstance(kept.get("info"), dict):
            out.update(kept["info"])
            out["travel_v"] = version
    return out


def travel_view(get: StateGet, receipt: dict[str, Any], sender: str,
                payee: Callable[[str], bool] | None = None) -> list[dict[str, Any]]:
    """A transfer's R.16 data (FATF Recommendation 16; decisions 222, 224), per payment the
    sender made in it: the originator's name, account and address or identifier as the payment
    carried them (the version of its travel data named by the result's ``travel_v``, or an
    institution's BIC/LEI), the beneficiary's name and account. Shown in the transaction's view
    to :data:`TRAVEL_RULES` only: the two banks of that transfer read each other's customer's
    data for that transfer, never through the identity record, and never the data recorded
    after it (red-team round 11: the view showed the record as read now). ``payee``: which
    payments to show (None: all; the beneficiary's bank: those to its customers only)."""
    sender = sender_identity(get, sender)
    result = receipt.get("result")
    result = result if isinstance(result, dict) else {}
    carried = result.get("travel_v") or False
    under, ben = result.get("underlying"), result.get("underlying_beneficiary")
    if isinstance(under, str):
        # a cover payment (decision 271): the originator is the customer the bank paid for,
        # with the data the transfer carried; the bank is the ordering institution
        return [{"originator": _travel_party(get, under, carried),
                 "beneficiary": _travel_party(get, ben if isinstance(ben, str) else data["to"]),
                 "ordering_bank": _travel_party(get, sender, False)}
                for data in _transfers(receipt, sender) if payee is None or payee(data["to"])]
    return [{"originator": _travel_party(get, sender, carried),
             "beneficiary": _travel_party(get, data["to"])}
            for data in _transfers(receipt, sender) if payee is None or payee(data["to"])]


def beneficiary_bank_view(get: StateGet, outcome: dict[str, Any], receipt: dict[str, Any],
                          sender: str, reader: Reader | None = None) -> dict[str, Any]:
    """What the beneficiary's bank reads of a transfer to its customer: where and how it
    ended, the ``transferred`` events (amount, currency, references) and the R.16 data
    (:func:`travel_view`) of the payments to *its* customers; not the payer's result (its
    balance), nor its alerts, nor the sender's payments to others in the same transaction: an
    LC's proceeds repay the trade's financing banks before the rest goes to the exporter, and
    the exporter's bank read which other bank had financed its customer, and how much (red-team
    round 11; ``fin/`` is not its to read, round 7 F8). The events naming the bank itself
    (``own_events``: a bank that financed the trade reads its repayment, as a party would) stay
    in; an alert does not (it reaches the bank on ``/v1/events`` and its queue).
    ``reader``: that bank (None: every payment of the sender, for a caller that has already
    chosen)."""
    sender = sender_identity(get, sender)

    def ours(payee: Any) -> bool:
        return isinstance(payee, str) and (reader is None or _home_bank(get, reader, payee))

    events = [e for e in receipt.get("events") or []
              if isinstance(e, dict) and (
                  (e.get("name") == "transferred" and e.get("contract") == "settlement"
                   and isinstance(e.get("data"), dict) and e["data"].get("from") == sender
                   and ours(e["data"].get("to")))
                  or (reader is not None and event_rule(get, reader, e) == "own_events"))]
    return {k: outcome[k] for k in ("tx_id", "status", "height", "index") if k in outcome} | {
        "events": codec.to_json(events), "travel": travel_view(get, receipt, sender, ours)}


#: refusals whose message a sender reads withheld (:func:`sender_error`): the code stays
WITHHELD_MESSAGES = {
    "sanctioned_party": "refused for compliance reasons (a watch-list check); the sender's "
                        "bank can say more",
}


def sender_error(error: Any) -> Any:
    """A rejected transaction's ``error`` as its sender reads it: the code as recorded (the
    sender must know it was refused, and why in a word), but a watch-list refusal's message,
    which names the party's role (``the buyer is on the watch list``), replaced by a generic
    one, as a bank tells its customer. The receipt on chain is unchanged; the sender's home bank
    and the supervisors read it whole."""
    if isinstance(error, dict) and error.get("code") in WITHHELD_MESSAGES:
        return {**error, "message": WITHHELD_MESSAGES[error["code"]]}
    return error


def sender_identity(get: StateGet, key: str) -> str:
    """The identity id that signed with ``key``: a key an identity rotated to (or away from)
    maps to its id (``governance/key/<key>``); an identity's first key is its id."""
    owner = get("governance", "key/" + key)
    return owner if isinstance(owner, str) else key


def tx_proof_rule(get: StateGet, reader: Reader, sender: str, salted: bool = False,
                  block_senders: Iterable[str] = (), contract: str | None = None) -> str | None:
    """The proof of a transaction. It carries the hashes of the block's other transactions and
    receipts; unsalted (ledger formats 1 and 2), a receipt's result (a payer's balance) is found
    from its hash by trying candidates, as a state proof's neighbour is (red-team round 2;
    docs/proofs.md §7), so the proof is for the supervisors only (validators, regulators,
    auditors). Salted (format 3, decision 129), every neighbouring hash commits to a signature
    its reader does not hold: the whole proof goes to the sender's home bank too (not for a
    customer's credit-sharing transaction: :func:`credit_tx_withheld`), never to a mere party,
    since it shows the whole receipt.

    The sender (``sender``: the proof is then served inclusion-only, without the receipt,
    decision 147) reads neither the receipt, which holds the alerts its transaction raised
    (no tipping off, decision 144), nor the header's ``receipts_root`` when it could recompute
    it: in a block whose transactions are all its own it knows every receipt leaf but for the
    alerts, and the root would tell whether there was one. So the sender's proof needs a
    transaction in the block (``block_senders``: the sender keys of the block's transactions)
    whose leaf it cannot compute: an institution's (:func:`_institution`), not merely another
    identity's — a second customer account acting with it (a structurer's other account) holds
    its own envelope and outcome, and the two knew every leaf (red-team round 7). The answer
    depends on who sent what, never on an alert."""
    rule = chain_rule(reader)
    if rule is not None or not salted:
        return rule
    owner = sender_identity(get, sender)
    if _home_bank(get, reader, owner) and not credit_tx_withheld(get, owner, contract):
        return "home_bank"
    if reader.is_(owner) and any(not reader.is_(ident) and _institution(get, ident)
                                 for ident in {sender_identity(get, s)
                                               for s in set(block_senders)}):
        return "sender"
    return None


def _institution(get: StateGet, ident_id: str) -> bool:
    """Is ``ident_id`` an institution — a bank, a currency issuer, customs, an auditor, a
    regulator, a validator's key — rather than a customer (``governance.CUSTOMER_ROLES``)?
    Customers may act together (one holder's several accounts); an institution's signed
    transactions are not handed to a customer."""
    rec = get("governance", "id/" + ident_id)
    return not isinstance(rec, dict) or rec.get("role") not in governance.CUSTOMER_ROLES


def party_view(get: StateGet, reader: Reader, outcome: dict[str, Any],
               receipt: dict[str, Any]) -> dict[str, Any]:
    """What a ``party`` of a transaction reads: where and how it ended, and the events that
    are its own (:func:`event_names_reader`); no result, no error, no one else's events. A bank
    paid by a cover payment (a bank paying on its customer's behalf, naming it: decision 271)
    reads its R.16 data as a customer's bank reads a transfer to its customer (``travel``)."""
    events = [e for e in receipt.get("events") or []
              if isinstance(e, dict) and event_names_reader(get, reader, e)]
    out = {k: outcome[k] for k in ("tx_id", "status", "height", "index") if k in outcome} | {
        "events": codec.to_json(events)}
    result = receipt.get("result")
    if reader.role == "bank" and reader.ident_id and isinstance(result, dict) and isinstance(
            result.get("underlying"), str):
        me = reader.ident_id
        payers = {e["data"]["from"] for e in events if e.get("name") == "transferred"
                  and e.get("contract") == "settlement" and isinstance(e.get("data"), dict)
                  and e["data"].get("to") == me and isinstance(e["data"].get("from"), str)}
        travel = [t for frm in sorted(payers)
                  for t in travel_view(get, receipt, frm, lambda p: p == me)]
        if travel:
            out["travel"] = travel
    return out


def state_proof_rule(get: StateGet, reader: Reader, contract: str, key: str) -> str | None:
    """A state proof: for the supervisors (validators, regulators, auditors), and only of a key
    they may read. A proof carries hashes of other keys' leaves (the neighbouring leaf of a
    non-inclusion proof, the siblings of every path), and a small value (a balance) is found
    from its hash by trying every candidate: any other reader is answered as for a key it may
    not read (docs/proofs.md, "What a proof discloses")."""
    if chain_rule(reader) is None:
        return None
    return state_rule(get, reader, contract, key)


#: fields of a ``governance/id/<id>`` record that are the identity's standing with its
#: supervisors (a regulatory freeze and who ordered it), not network data
PRIVATE_ID_FIELDS = ("status", "frozen_by", "frozen_by_regulator")
#: the field of a ``governance/id/<id>`` record holding the identity's travel-rule data (its
#: address or identifier, FATF R.16: :mod:`contracts.travel_rule`): read as its standing is
TRAVEL_FIELD = "travel"
#: the governance keys of an identity's travel-data versions and linked-transfer sum
#: (``contracts.travel_rule.PREFIX``: decisions 224, 225)
TRAVEL_PREFIX = "travel/"


def standing_rule(get: StateGet, reader: Reader, holder: str, value: dict[str, Any]
                  ) -> str | None:
    """The rule under which ``reader`` reads the standing (:data:`PRIVATE_ID_FIELDS`) of
    identity ``holder`` (its record ``value``): ``owner``, a supervisor's (``regulator``,
    ``auditor``, ``validator``), ``home_bank``, or None."""
    if reader.is_(holder) or reader.is_(value.get("key")):
        return "owner"
    return chain_rule(reader) or ("home_bank" if _home_bank(get, reader, holder) else None)


def visible_value(get: StateGet, reader: Reader, contract: str, key: str, value: Any) -> Any:
    """``value`` of ``contract/key`` as ``reader`` may see it. An identity record is network
    data except its standing (:data:`PRIVATE_ID_FIELDS`), which only the identity, its home
    bank and the supervisors read: a freeze tells the frozen party's counterparties nothing. A
    trade record is shown without the financing the reader may not read (:func:`trade_value`)."""
    if contract == "trade_documents":
        return trade_value(get, reader, key, value)
    if contract == "credit_sharing":
        return credit_value(reader, key, value)
    if contract != "governance" or not key.startswith("id/") or not isinstance(value, dict):
        return value
    if standing_rule(get, reader, key[3:], value) is not None:
        return value
    return {k: v for k, v in value.items()
            if k not in PRIVATE_ID_FIELDS and k != TRAVEL_FIELD}


def standing_read_rule(get: StateGet, reader: Reader, contract: str, key: str,
                       value: Any) -> str | None:
    """When ``reader``'s answer for ``contract/key`` shows an identity's standing (a record
    that has one of :data:`PRIVATE_ID_FIELDS`: frozen, revoked), the rule that let it: the read
    log records a home bank's or a supervisor's read of a customer's freeze as it does any other
    read of another's data (red-team round 7); None otherwise."""
    if (contract != "governance" or not key.startswith("id/") or not isinstance(value, dict)
            or not any(f in value for f in (*PRIVATE_ID_FIELDS, TRAVEL_FIELD))):
        return None
    return standing_rule(get, reader, key[3:], value)


def logged(rule: str) -> bool:
    """Is a read under ``rule`` a read of another's data (appended to the read log)?"""
    return rule not in OWN_RULES


# ---------------------------------------------------------------------------- the read log

P_READLOG = b"r/"  # the node's own key space: r/<seq, 8 bytes big-endian> -> entry


class ReadLog:
    """Append-only, hash-chained log of authorized reads of others' data, in the node's store.

    Entry ``n``: ``{"seq", "time_ms", "reader", "what", "rule", "prev", "hash"}`` where ``hash``
    is SHA-256 of the canonical msgpack of the other fields and ``prev`` the previous entry's
    hash (32 zero bytes, hex, for the first): changing or dropping an entry breaks the chain.
    """

    def __init__(self, store: KVStore) -> None:
        self.store = store
        last = None
        for _, v in store.iterate(prefix=P_READLOG, reverse=True):
            last = codec.decode(v)
            break
        self.seq = last["seq"] if last else 0
        self.head = last["hash"] if last else "00" * 32

    def append(self, time_ms: int, reader: str, what: str, rule: str) -> dict[str, Any]:
        seq = self.seq + 1
        body: dict[str, Any] = {"seq": seq, "time_ms": time_ms, "reader": reader, "what": what,
                                "rule": rule, "prev": self.head}
        digest = readlog.entry_hash(body)
        entry = body | {"hash": digest}
        self.store.put(P_READLOG + seq.to_bytes(8, "big"), codec.encode(entry))
        self.seq, self.head = seq, digest
        return entry

    def entries(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        out = []
        for _, v in self.store.iterate(prefix=P_READLOG,
                                       start=P_READLOG + (after + 1).to_bytes(8, "big")):
            out.append(codec.decode(v))
            if len(out) >= limit:
                break
        return out


verify_chain = readlog.verify_chain  # (the chain's rule lives in chainfin.readlog)


# ---------------------------------------------------------------------------- rate limits


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; time is an input."""

    __slots__ = ("rate", "burst", "tokens", "at")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, now

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else math.inf


class RateLimiter:
    """Token buckets by key (a source address, an identity), at most ``max_keys`` of them: the
    fullest (idle) buckets are forgotten first, which loses nothing (they would be full anyway)."""

    def __init__(self, rate: float, burst: float, max_keys: int = 10_000) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, now: float) -> float:
        """0 when allowed, else the seconds to wait (``Retry-After``)."""
        if self.rate <= 0:
            return 0.0
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_idle(now)
            b = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
        return b.take(now)

    def _forget_idle(self, now: float) -> None:
        for k in [k for k, b in self._buckets.items()
                  if b.tokens + (now - b.at) * b.rate >= b.burst]:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:  # all busy: forget the oldest half
            for k in list(self._buckets)[: self.max_keys // 2]:
                del self._buckets[k]


def what_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
