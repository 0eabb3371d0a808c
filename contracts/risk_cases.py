"""Alert review (cases): what a compliance officer or a regulator did about each risk alert,
recorded on chain (docs/risk.md "Reviewing alerts"; decision 145). Part of the ``risk``
contract: :func:`review_alert` is its method ``risk.review_alert``.

Every alert :func:`contracts.risk._alert` raises opens a case, and the case is queued for
review in the queues of whoever reviews it:

- ``alert/<alert id>`` -> ``{"rule", "accounts", "tx_id", "height", "time_ms", "detail",
  "status", "reviews", "queues"}``: the alert (its id is ``<tx id>-<n>``, ``n`` its ordinal
  among the alerts the transaction raised: stable, deterministic, and it names the transaction),
  its status (``open`` until reviewed, then ``escalated``, ``reported`` or ``closed``), how many
  reviews it has, and its entry in each queue (``{queue: seq}``).
- ``review/<alert id>/<n>`` -> ``{"by", "disposition", "note_sha256", "height", "time_ms"[,
  "report_sha256"]}``: the ``n``-th review (0 first), at most :data:`MAX_REVIEWS`.
- ``queue/<q>`` -> ``{"head", "next", "open"}`` and ``queue/<q>/<seq>`` -> alert id: the open
  (unreviewed) alerts of queue ``q`` in the order raised. ``q`` is ``*`` (every alert: the
  supervisors'), ``id:<bank id>`` (the customers an admin bank registered) or ``bic:<BIC>``
  (the customers whose ``bank`` is that BIC): an alert is queued for the home banks of the
  accounts it names (:func:`home_queues`). An entry is live while its alert is open and the
  alert's ``queues`` names it; a review leaves it in place, and the head moves past entries that
  are no longer live at most :data:`HEAD_STEPS` at a time (no scan, no unbounded value).

Raising an alert writes its record and two keys per queue (at most 5 queues: ``*`` and two per
account named, at most two accounts): O(1) per alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import ContractState, TxContext, bic_key, p_hex, p_text
from contracts import governance as gov
from contracts.risk import CONTRACT, NAME

#: a review's disposition, and the case's status after it
DISPOSITIONS = {
    "escalated": "escalated",  # passed to a senior officer / the MLRO: still under review
    "reported": "reported",  # a suspicious transaction report filed (report_sha256 names it)
    "false_positive": "closed",  # nothing suspicious
    "closed": "closed",  # reviewed, no further action
    "reopened": "open",  # a regulator reopens a case (back in the queues)
}
CLOSED = "closed"
OPEN = "open"
ALL = "*"  # the supervisors' queue: every alert
MAX_REVIEWS = 64  # per alert
HEAD_STEPS = 64  # dead queue entries a review skips (and deletes) at a queue's head
MAX_ALERT_REF = 80

Get = Callable[[str, str], Any]


def next_alert_id(ctx: TxContext) -> str:
    """The id of the next alert this transaction raises: ``<tx id>-<n>``, ``n`` the number of
    alerts it raised before (those of its events and kept events, in the order raised)."""
    n = sum(1 for e in ctx.events if e.contract == NAME and e.name == "alert")
    n += sum(1 for e in ctx.kept_events if e.contract == NAME and e.name == "alert")
    return f"{ctx.tx_hex}-{n}"


def home_queues(state: ContractState, accounts: Iterable[str]) -> list[str]:
    """The review queues of the home banks of ``accounts`` (their customers'), besides
    :data:`ALL`: ``id:<registered_by>`` and ``bic:<BIC>`` of each customer account (the two ways
    :func:`contracts.governance.home_bank_rule` makes a bank its home bank). Who reads a queue
    is decided again at every read by that rule."""
    out: list[str] = []
    for acct in accounts:
        rec = gov.peek_identity(state, acct)
        if rec is None or rec.get("role") not in gov.CUSTOMER_ROLES:
            continue
        for q in (f"id:{rec['registered_by']}" if rec.get("registered_by") else None,
                  f"bic:{bic_key(rec['bank'])}" if rec.get("bank") else None):
            if q is not None and q not in out:
                out.append(q)
    return out


def _enqueue(get: Get, q: str, alert_id: str) -> tuple[int, list[tuple[str, str, Any]]]:
    meta = get(NAME, "queue/" + q) or {"head": 0, "next": 0, "open": 0}
    seq = meta["next"]
    return seq, [(NAME, f"queue/{q}/{seq}", alert_id),
                 (NAME, "queue/" + q, {**meta, "next": seq + 1, "open": meta["open"] + 1})]


def open_case(state: ContractState, get: Get, ctx: TxContext, alert_id: str,
              data: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """The writes that open the case of a new alert (``data``: the alert event's data) and
    queue it: :data:`ALL` and its accounts' home banks' queues. ``get`` reads the state the
    writes are computed from (:func:`contracts.risk._kept_view` for a kept alert)."""
    accounts = list(data["accounts"])
    base = ("rule", "accounts", "height", "time_ms", "alert")
    writes: list[tuple[str, str, Any]] = []
    queues: dict[str, int] = {}
    for q in [ALL, *home_queues(state, accounts)]:
        seq, w = _enqueue(get, q, alert_id)
        queues[q] = seq
        writes += w
    writes.append((NAME, "alert/" + alert_id, {
        "rule": data["rule"], "accounts": accounts, "tx_id": ctx.tx_hex, "height": ctx.height,
        "time_ms": ctx.timestamp_ms, "detail": {k: v for k, v in data.items() if k not in base},
        "status": OPEN, "reviews": 0, "queues": queues}))
    return writes


def is_live(get: Get, q: str, seq: int, alert_id: Any) -> bool:
    """Is entry ``seq`` of queue ``q`` (value ``alert_id``) an open alert's current entry?"""
    if not isinstance(alert_id, str):
        return False
    rec = get(NAME, "alert/" + alert_id)
    return (isinstance(rec, dict) and rec.get("status") == OPEN
            and rec.get("queues", {}).get(q) == seq)


def _dequeue(state: ContractState, q: str) -> None:
    """The alert at ``q`` left the open set: one fewer open, and the head moves past entries
    that are no longer live (at most :data:`HEAD_STEPS`, each deleted)."""
    meta = state.get(NAME, "queue/" + q)
    if meta is None:
        return
    head, steps = meta["head"], 0
    while head < meta["next"] and steps < HEAD_STEPS:
        key = f"queue/{q}/{head}"
        if is_live(state.peek, q, head, state.peek(NAME, key)):
            break
        state.delete(NAME, key)
        head, steps = head + 1, steps + 1
    state.put(NAME, "queue/" + q, {**meta, "head": head, "open": max(0, meta["open"] - 1)})


def may_review(state: ContractState, reviewer: str, rec: Mapping[str, Any]) -> str | None:
    """``regulator``, ``home_bank`` (of an account the alert names: the contracts' own rule,
    :func:`contracts.governance.is_home_bank`, as of now), or None."""
    if gov.is_regulator(state, reviewer):
        return "regulator"
    for acct in rec.get("accounts") or []:
        target = gov.peek_identity(state, acct)
        if target is not None and gov.is_home_bank(state, reviewer, target, acct):
            return "home_bank"
    return None


def _p_disposition(v: Any, name: str) -> str:
    if v not in DISPOSITIONS:
        raise ContractError(f"{name} must be one of {', '.join(DISPOSITIONS)}", "bad_field")
    return str(v)


@CONTRACT.method(roles=None, params={"alert": p_text(MAX_ALERT_REF),
                                     "disposition": _p_disposition, "note_sha256": p_hex(32)},
                 optional={"report_sha256": p_hex(32)})
def review_alert(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A compliance officer of the home bank of an account the alert names, or a regulator,
    records a disposition of alert ``alert``: ``escalated``, ``reported`` (a suspicious
    transaction report was filed: ``report_sha256`` is the SHA-256 of its reference, never its
    content), ``false_positive`` or ``closed`` (both close the case), or ``reopened`` (a
    regulator, of a case no longer open). ``note_sha256``: the SHA-256 of the reviewer's note,
    kept off chain. A closed case takes no review but a regulator's.

    Raises:
        ContractError: ``unknown_alert`` (no such alert, or — to anyone but a regulator — one
            the sender may not review: whether an alert exists is not told to its subject),
            ``bad_field``, ``missing_field``, ``case_closed``, ``forbidden``,
            ``too_many_reviews``.
    """
    ref, disposition = args["alert"], args["disposition"]
    rec = state.get(NAME, "alert/" + ref)
    who = None if rec is None else may_review(state, ctx.sender_hex, rec)
    if rec is None or who is None:
        raise ContractError(f"no alert {ref} that this identity may review", "unknown_alert")
    if (disposition == "reported") != ("report_sha256" in args):
        if disposition == "reported":
            raise ContractError("a reported case needs report_sha256 (the SHA-256 of the "
                                "report's reference)", "missing_field")
        raise ContractError("report_sha256 goes with the disposition reported only",
                            "bad_field")
    status = rec["status"]
    if status == CLOSED and who != "regulator":
        raise ContractError(f"alert {ref} is closed: only a regulator reviews it again",
                            "case_closed")
    if disposition == "reopened":
        if who != "regulator":
            raise ContractError("only a regulator reopens a case", "forbidden")
        if status == OPEN:
            raise ContractError(f"alert {ref} is open already", "bad_field")
    n = rec["reviews"]
    if n >= MAX_REVIEWS:
        raise ContractError(f"alert {ref} has {MAX_REVIEWS} reviews", "too_many_reviews")
    review = {"by": ctx.sender_hex, "disposition": disposition,
              "note_sha256": args["note_sha256"], "height": ctx.height,
              "time_ms": ctx.timestamp_ms}
    if "report_sha256" in args:
        review["report_sha256"] = args["report_sha256"]
    state.put(NAME, f"review/{ref}/{n}", review)
    new_status = DISPOSITIONS[disposition]
    queues = dict(rec["queues"])
    if status == OPEN and new_status != OPEN:
        rec = {**rec, "status": new_status}  # (written before the heads move past it)
        state.put(NAME, "alert/" + ref, rec)
        for q in sorted(queues):
            _dequeue(state, q)
    elif status != OPEN and new_status == OPEN:  # reopened: queued again, at the back
        for q in sorted(queues):
            seq, writes = _enqueue(state.get, q, ref)
            queues[q] = seq
            for c, k, v in writes:
                state.put(c, k, v)
    state.put(NAME, "alert/" + ref, {**rec, "status": new_status, "reviews": n + 1,
                                     "queues": queues})
    # the event names the reviewer only: never the alert's accounts (an account's own events
    # reach it over /v1/events and GET /v1/tx: its case is not among them)
    ctx.emit("alert_reviewed", {"alert": ref, "disposition": disposition, "status": new_status,
                                "review": n, "by": ctx.sender_hex})
    return {"alert": ref, "status": new_status, "review": n}


# ---------------------------------------------------------------------------- reads (node)


def queue_page(get: Get, q: str, limit: int, after: int = -1,
               scan: int = 10_000) -> tuple[list[tuple[int, dict[str, Any]]], int | None]:
    """Up to ``limit`` live entries of queue ``q`` after ``after``, oldest first, as
    ``(seq, alert record + "alert": id)``, reading at most ``scan`` entries; and the seq to
    continue after (None: the queue's end was reached)."""
    meta = get(NAME, "queue/" + q)
    if not isinstance(meta, dict):
        return [], None
    seq = max(meta["head"], after + 1)
    end = min(meta["next"], seq + scan)
    out: list[tuple[int, dict[str, Any]]] = []
    while seq < end and len(out) < limit:
        alert_id = get(NAME, f"queue/{q}/{seq}")
        if is_live(get, q, seq, alert_id):
            out.append((seq, {**get(NAME, "alert/" + alert_id), "alert": alert_id}))
        seq += 1
    return out, (None if seq >= meta["next"] else seq - 1)


def oldest_open(get: Get, scan: int = 256) -> dict[str, Any] | None:
    """The oldest open alert of the supervisors' queue, if one is within ``scan`` entries of
    its head (the head skips closed entries as reviews come, so it nearly always is)."""
    page, _ = queue_page(get, ALL, 1, scan=scan)
    return page[0][1] if page else None


def reviews(get: Get, alert_id: str) -> list[dict[str, Any]]:
    """Every review of an alert, oldest first (at most :data:`MAX_REVIEWS`)."""
    rec = get(NAME, "alert/" + alert_id)
    n = rec.get("reviews", 0) if isinstance(rec, dict) else 0
    return [get(NAME, f"review/{alert_id}/{i}") for i in range(min(n, MAX_REVIEWS))]
