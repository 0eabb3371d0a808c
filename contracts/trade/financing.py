"""Financing that moves money: a bank advances against a trade's pool, the exporter (or the
buyer) repays through settlement, block time makes an unpaid financing overdue."""

from __future__ import annotations

import datetime
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import ContractState, TxContext, p_amount, p_currency, p_id
from contracts import risk, risk_goods, settlement
from contracts.amounts import said
from contracts.trade.documents import CONTAINER_DAYS, shipment_live, trade_goods
from contracts.trade.norm import PARTY_ROLES, container_keys, norm_date
from contracts.trade.state import (
    CONTRACT,
    DISPUTE_REASONS,
    NAME,
    check_attestation,
    check_pool,
    distinct_notes,
    end_of_day_ms,
    financing_status,
    get_doc,
    get_financing,
    get_lc,
    get_trade,
    legal_name,
    pool_of,
    refresh_trade,
    same_name,
)


def _maturity(v: Any, name: str) -> str:
    return norm_date(v, name)


def _trade_of(state: ContractState, args: dict[str, Any]) -> tuple[str, str | None]:
    """(trade_id, doc_id) from ``doc_id`` or ``trade_id`` (exactly one)."""
    doc_id, trade_id = args.get("doc_id"), args.get("trade_id")
    if (doc_id is None) == (trade_id is None):
        raise ContractError("pass exactly one of doc_id and trade_id", "missing_field")
    if doc_id is not None:
        doc = get_doc(state, doc_id)
        if doc["status"] == "closed":
            raise ContractError("document is closed", "document_closed")
        if doc["trade_id"] is None:
            raise ContractError(f"the {doc['doc_type']} is in no trade: link it to its trade's "
                                "invoice first", "not_financeable")
        return doc["trade_id"], doc_id
    get_trade(state, str(trade_id))
    return str(trade_id), None


def _p_true(v: Any, name: str) -> bool:
    if v is not True:
        raise ContractError(f"{name} must be true when given", "bad_field")
    return True


def check_distinct_acknowledged(notes: list[dict[str, Any]], acknowledged: bool,
                                boxes: list[dict[str, Any]] | None = None) -> None:
    """A trade a document of which the exporter declared distinct from a similar one
    (``declare_distinct``: its own word that a near copy is another sale) is financed only by a
    bank that says it read the reasons: ``acknowledge_distinct: true``. The reasons came with
    the financing's result, after the money moved, and a bank not yet a party to the trade
    cannot read them before (red-team round 7, decision 153). The refusal gives them. So is a
    trade a container of which is under another trade's live shipment with no reason on
    record (``boxes``, :func:`containers_elsewhere`, decision 256): the refusal names the boxes.

    Raises:
        ContractError: ``distinct_not_acknowledged``.
    """
    if (not notes and not boxes) or acknowledged:
        return
    parts = []
    if notes:
        reasons = "; ".join(repr(n["reason"][:80]) for n in notes[:3])
        more = f" and {len(notes) - 3} more" if len(notes) > 3 else ""
        parts.append(f"the exporter declared {len(notes)} document(s) of this trade distinct "
                     f"from similar ones ({reasons}{more})")
    if boxes:
        named = "; ".join(
            f"{b['container']} (named by "
            + (f"document {b['other_doc']}" if b["other_doc"] else
               "another exporter (not named here)")
            + f", registered {b['other_registered']})" for b in boxes[:3])
        more = f" and {len(boxes) - 3} more" if len(boxes) > 3 else ""
        parts.append(f"{len(boxes)} container(s) of this trade's transport documents are under "
                     f"another trade's live shipment, no reason on record: {named}{more} "
                     "(the box taken after this trade's shipment lapsed, or named by a "
                     "document registered before the container rule)")
    raise ContractError(" and ".join(parts) + ": finance it only after reading them, with "
                        "acknowledge_distinct: true", "distinct_not_acknowledged")


#: the containers a financing looks up at most (five full bills of lading, 100 boxes each:
#: one ``ctr/`` read each): a trade whose transport documents name more is refused as
#: ``not_financeable`` (decision 257); reads stay bounded whatever the number of B/Ls
MAX_FINANCED_CONTAINERS = 500


def containers_elsewhere(state: ContractState, ctx: TxContext, trade_id: str,
                         trade: dict[str, Any], notes: list[dict[str, Any]]
                         ) -> list[dict[str, Any]]:
    """The containers of a trade's transport documents under ANOTHER trade's (or no trade's)
    live shipment (:func:`contracts.trade.documents.shipment_live`: 90 days of ledger time from
    its document's registration, and beyond while its trade owes financing) with no reason on
    record between the two documents (``notes``: a declared-distinct note naming the other
    document already asks the bank to read it). Registration meets every box but one: a box
    whose shipment under this trade lapsed (90 days, nothing owed) before another trade's
    document took it, and this trade financed only now — two financings of one cargo
    (decision 256). Each as ``{container, doc_id (this trade's), other_doc (named only when the
    exporter's own, as decision 230), other_registered (its date)}``.

    Reads: one ``ctr/`` key per distinct container (at most
    :data:`MAX_FINANCED_CONTAINERS`), and each other holding document (and its trade, past its
    window) once. A trade without containers reads nothing more.

    Raises:
        ContractError: ``not_financeable`` (more boxes than a financing reads).
    """
    mine = set(trade["docs"])
    boxes: dict[str, str] = {}
    for doc_id in trade["docs"]:
        for c in get_doc(state, doc_id)["fields"].get("containers", ()):
            boxes.setdefault(c, doc_id)
    if not boxes:
        return []
    if len(boxes) > MAX_FINANCED_CONTAINERS:
        raise ContractError(f"the trade's transport documents name {len(boxes)} containers; a "
                            f"financing checks at most {MAX_FINANCED_CONTAINERS} (finance the "
                            "shipment as several trades)", "not_financeable")
    noted = {v for n in notes for v in (n.get("similar_to"), n.get("container_of"),
                                        n.get("doc_id"))}
    holders: dict[str, tuple[Any, bool]] = {}
    out = []
    for container, k in container_keys(ctx.fingerprint_key, {"containers": list(boxes)}):
        entry = state.peek(NAME, k)
        if entry is None or str(entry["doc"]) in mine or str(entry["doc"]) in noted:
            continue
        other_id = str(entry["doc"])
        if other_id not in holders:
            holder = state.peek(NAME, "doc/" + other_id)
            holders[other_id] = (holder, holder is not None
                                 and holder["trade_id"] != trade_id
                                 and shipment_live(state, ctx, entry, holder))
        holder, live = holders[other_id]
        if not live:
            continue
        registered_ms = int(entry["until_ms"]) - CONTAINER_DAYS * 86_400_000
        out.append({"container": container, "doc_id": boxes[container],
                    "other_doc": other_id if holder["owner"] == trade["owner"] else None,
                    "other_registered": _date(registered_ms)})
    return out


def _date(ms: int) -> str:
    """An ISO date of a ledger time (UTC)."""
    days = ms // 86_400_000
    return (_EPOCH + datetime.timedelta(days=days)).isoformat()


_EPOCH = datetime.date(1970, 1, 1)


@CONTRACT.method(roles=("bank",),
                 params={"amount": p_amount, "currency": p_currency, "maturity_date": _maturity},
                 optional={"doc_id": p_id, "trade_id": p_id, "acknowledge_distinct": _p_true})
def request_financing(state: ContractState, ctx: TxContext, args: dict[str, Any]
                      ) -> dict[str, Any]:
    """A bank finances part of a trade (named by the trade or any of its documents): the
    amount leaves the bank's settlement balance for the exporter in this transaction. A trade
    with documents declared distinct, or a container under another trade's live shipment
    (:func:`containers_elsewhere`), needs ``acknowledge_distinct: true``."""
    trade_id, doc_id = _trade_of(state, args)
    trade = get_trade(state, trade_id)
    if get_doc(state, trade["invoice"])["status"] == "closed":
        raise ContractError("the trade's invoice is closed", "document_closed")
    amount, ccy = args["amount"], args["currency"]
    if ccy != trade["currency"]:
        raise ContractError(f"the trade is in {trade['currency']}, not {ccy}",
                            "currency_mismatch")
    due_ms = end_of_day_ms(args["maturity_date"])
    if due_ms <= ctx.timestamp_ms:
        raise ContractError("maturity_date has already passed", "bad_field")
    check_not_disputed(state, trade)
    check_attestation(state, trade)
    remaining = check_pool(state, trade, amount, trade_id)
    notes = distinct_notes(state, trade)
    boxes = containers_elsewhere(state, ctx, trade_id, trade, notes)
    check_distinct_acknowledged(notes, bool(args.get("acknowledge_distinct")), boxes)
    bank = ctx.sender_hex
    screen_trade(state, ctx, trade)
    screen_trade_goods(state, ctx, trade_id, trade)
    risk.check_financing_exposure(state, ctx, bank, trade["owner"], trade["buyer"], ccy, amount)
    settlement.pay(state, ctx, bank, trade["owner"], ccy, amount, f"financing:{trade_id}")
    financing_id = ctx.derive_id()
    state.put(NAME, "fin/" + financing_id, {
        "trade_id": trade_id, "doc_id": doc_id, "bank": bank, "exporter": trade["owner"],
        "amount": amount, "currency": ccy, "repaid": 0, "maturity_date": args["maturity_date"],
        "due_ms": due_ms, "status": "open", "height": ctx.height})
    if trade.get("pool") is None:
        trade["pool"] = pool_of(state, trade)
    trade["financings"] = [*trade["financings"], financing_id]
    trade["financed"] += amount
    refresh_trade(state, trade, ctx.timestamp_ms)
    state.put(NAME, "trade/" + trade_id, trade)
    # the boxes only when there are some: a financing's result and event as before otherwise
    seen = {"containers_elsewhere": boxes} if boxes else {}
    ctx.emit("financed", {"financing_id": financing_id, "trade_id": trade_id, "doc_id": doc_id,
                          "bank": bank, "amount": amount, "currency": ccy,
                          "remaining": remaining, "declared_distinct": notes, **seen})
    return {"financing_id": financing_id, "trade_id": trade_id, "financed": trade["financed"],
            "remaining": remaining, "declared_distinct": notes, **seen}


def check_not_disputed(state: ContractState, trade: dict[str, Any]) -> None:
    """No trade holding a disputed document is financed (a copy of an LC its issuing bank
    issued to another beneficiary: ``letters_of_credit.dispute_copy``; a declaration customs
    attested ``not_declarant``: ``documents.attest``). Financing already advanced stays (the
    money moved); none follows.

    Raises:
        ContractError: ``document_disputed``.
    """
    for doc_id in trade["docs"]:
        disputed = get_doc(state, doc_id).get("disputed")
        if disputed is not None:
            raise ContractError("a document of this trade is disputed: "
                                + DISPUTE_REASONS.get(disputed["reason"], disputed["reason"]),
                                "document_disputed")


def screen_trade(state: ContractState, ctx: TxContext, trade: dict[str, Any]) -> None:
    """Financing re-screens every party, vessel and port of every document of the trade (one
    may have been watch-listed since it was registered: red-team F8b), and the places of its
    ports by the countries recorded at registration (``port_countries``: ports written as
    UN/LOCODEs; a jurisdiction may have been listed since). A document registered before the
    countries were recorded has none: its ports are not placed (docs/risk.md "Jurisdictions").

    Raises:
        ContractError: ``sanctioned_party`` naming the role (the alert is kept);
            ``jurisdiction_refused`` naming the port's role and its place (the alert is kept).
    """
    names = {"seller": trade["seller"], "buyer": trade["buyer"]}
    ports: dict[str, str] = {}
    lc_banks: list[str] = []
    for doc_id in trade["docs"]:
        doc = get_doc(state, doc_id)
        fields = doc["fields"]
        for role in PARTY_ROLES:
            if role in fields and fields[role] not in names.values():
                names[role if role not in names else f"{role}:{doc_id[:8]}"] = fields[role]
        for role, cc in doc.get("port_countries", {}).items():
            ports[f"{role}:{doc_id[:8]}"] = cc
        if isinstance(fields.get("issuing_bank"), str):
            lc_banks.append(fields["issuing_bank"])
    risk.screen_parties(state, ctx, names, ports)
    # the banks behind the trade's credits, watched since they issued (red-team round 12
    # Left, decision 264): the issuer of each issued LC attached to it, and the bank an LC
    # copy names by its BIC — financing against a listed bank's promise disbursed
    issuers = sorted({str(get_lc(state, lc_id)["issuer"]) for lc_id in trade.get("lcs", ())})
    if issuers:
        risk.screen_identities(state, ctx, issuers, places=False)
    for code in dict.fromkeys(lc_banks):
        risk.screen_bank_code(state, ctx, "issuing_bank", code)


def screen_trade_goods(state: ContractState, ctx: TxContext, trade_id: str,
                       trade: dict[str, Any]) -> None:
    """Financing screens the trade's goods — the ``hs_codes`` of all its documents together —
    against the controlled-goods list as it stands now (an entry listed after registration
    stops a new financing at ``refuse`` and alerts at ``monitor``), to every destination the
    trade records (:func:`contracts.trade.documents.trade_goods`: each document's port of
    discharge, the buyer's bank of an LC copy, the issuing bank and the applicant of an issued
    LC attached to it); goods without codes to a destination whose entry requires them are
    refused (``codes_required``, red-team round 8). One read when nothing is listed
    (docs/risk.md "Controlled goods").

    Raises:
        ContractError: ``controlled_goods``, ``hs_codes_required`` (the alert is kept).
    """
    if risk_goods.listed(state) is None:
        return
    codes, places = trade_goods(state, trade)
    detail = {"trade_id": trade_id}
    risk_goods.require_codes(state, ctx, codes, places, trade["owner"], detail)
    risk_goods.screen_goods(state, ctx, codes, places, trade["owner"], detail)


def record_repayment(state: ContractState, ctx: TxContext, financing_id: str,
                     fin: dict[str, Any], amount: int, by: str) -> None:
    """Book ``amount`` (already paid to the bank) against a financing and its trade. The pool
    is not freed: ``financed`` counts what was ever advanced."""
    fin["repaid"] += amount
    fin["status"] = financing_status(fin, ctx.timestamp_ms)
    state.put(NAME, "fin/" + financing_id, fin)
    trade = get_trade(state, fin["trade_id"])
    risk.release_financing_exposure(state, fin["bank"], fin["exporter"], trade["buyer"],
                                    fin["currency"], amount)
    refresh_trade(state, trade, ctx.timestamp_ms)
    state.put(NAME, "trade/" + fin["trade_id"], trade)
    ctx.emit("repaid", {"financing_id": financing_id, "trade_id": fin["trade_id"],
                        "bank": fin["bank"], "amount": amount, "by": by,
                        "outstanding": fin["amount"] - fin["repaid"], "status": fin["status"]})


@CONTRACT.method(roles=("exporter", "importer"),
                 params={"financing_id": p_id, "amount": p_amount})
def repay(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The exporter (or the trade's buyer) pays part or all of a financing to its bank through
    settlement; the financing is ``repaid`` once nothing is outstanding."""
    financing_id, amount = args["financing_id"], args["amount"]
    fin = get_financing(state, financing_id)
    payer = ctx.sender_hex
    if payer != fin["exporter"]:
        trade = get_trade(state, fin["trade_id"])
        if ctx.role != "importer" or not same_name(trade["buyer"], legal_name(state, payer)):
            raise ContractError("only the exporter or the trade's buyer repays a financing",
                                "forbidden")
    outstanding = fin["amount"] - fin["repaid"]
    if outstanding <= 0:
        raise ContractError("the financing is repaid", "repaid")
    if amount > outstanding:
        raise ContractError(f"only {said(state, outstanding, fin['currency'])} is "
                            f"outstanding, not {said(state, amount, fin['currency'])}",
                            "over_repaid")
    if payer != fin["exporter"]:  # the buyer pays the exporter's debt (decision 178)
        risk.check_on_behalf(state, ctx, (fin["exporter"],), fin["currency"])
    settlement.pay(state, ctx, payer, fin["bank"], fin["currency"], amount,
                   f"repayment:{financing_id}")
    record_repayment(state, ctx, financing_id, fin, amount, payer)
    return {"financing_id": financing_id, "outstanding": outstanding - amount,
            "status": fin["status"]}


@CONTRACT.method(roles=None, params={"financing_id": p_id})
def mark_overdue(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Anyone records that block time has passed a financing's maturity with money still
    outstanding (a state change needs a transaction; reads compute it too)."""
    financing_id = args["financing_id"]
    fin = get_financing(state, financing_id)
    if financing_status(fin, ctx.timestamp_ms) != "overdue":
        raise ContractError("the financing is not overdue at this block's time", "not_overdue")
    if fin["status"] == "overdue":
        raise ContractError("the financing is already marked overdue", "not_overdue")
    fin["status"] = "overdue"
    state.put(NAME, "fin/" + financing_id, fin)
    trade = get_trade(state, fin["trade_id"])
    refresh_trade(state, trade, ctx.timestamp_ms)
    state.put(NAME, "trade/" + fin["trade_id"], trade)
    ctx.emit("financing_overdue", {"financing_id": financing_id, "trade_id": fin["trade_id"],
                                   "bank": fin["bank"],
                                   "outstanding": fin["amount"] - fin["repaid"]})
    return {"financing_id": financing_id, "status": "overdue"}
