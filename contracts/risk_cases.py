"""Alert review (cases): what a compliance officer or a regulator did about each risk alert,
recorded on chain (docs/risk.md "Reviewing alerts"; decisions 145 and 151). Part of the ``risk``
contract: :func:`review_alert` is its method ``risk.review_alert``.

Every alert :func:`contracts.risk._alert` raises opens a case, and the case is queued for
review in the queues of whoever reviews it:

- ``alert/<alert id>`` -> ``{"rule", "accounts", "tx_id", "height", "time_ms", "detail",
  "status", "reviews", "queues"}``: the alert (its id is ``<tx id>-<n>``, ``n`` its ordinal
  among the alerts the transaction raised: stable, deterministic, and it names the transaction),
  its public state (``open`` until reviewed, then ``reviewed`` whatever the disposition;
  ``open`` again when a regulator reopens it), how many reviews it has, and its entry in each
  queue (``{queue: seq}``).
- ``review/<alert id>/<n>`` -> ``{"by", "state", "commitment", "sealed", "height",
  "time_ms"}``: the ``n``-th review (0 first), at most :data:`MAX_REVIEWS`. Every validating
  bank reads every block, so the disposition (``escalated``, ``reported`` — a suspicious
  transaction report: FATF R.21 — ``false_positive``, ``closed``, ``reopened``), the note's and
  the report reference's hashes are never in clear: they are sealed (X25519 sealed box, the
  plaintext padded to :data:`SEALED_PLAIN_SIZE`) to every regulator's current key and the
  reviewer's, every review with the same fields and box sizes whatever its disposition, and
  ``commitment`` binds them (decision 151).
- ``queue/<q>`` -> ``{"head", "next", "open", "reviewed", "own_open", "own_reviewed"}`` and
  ``queue/<q>/<seq>`` -> alert id: the open (unreviewed) alerts of queue ``q`` in the order
  raised, and its counts (decision 165): ``open`` its alerts in state ``open``, ``reviewed``
  those in state ``reviewed`` (absent until the queue's first review: ``next - open`` then,
  exact for a queue no regulator reopened an alert of before the field existed), and for an
  ``id:<bank>`` queue ``own_open`` / ``own_reviewed``, those of its alerts also queued under
  that bank's own BIC (``bic:<its BIC>``; the alert's ``own`` lists such queues), so that a
  bank reading both its queues counts each alert once (:func:`bank_counts`). ``q`` is ``*`` (every alert: the
  supervisors'), ``id:<bank id>`` (the customers an admin bank registered) or ``bic:<BIC>``
  (the customers whose ``bank`` is that BIC): an alert is queued for the home banks of the
  accounts it names (:func:`home_queues`). An entry is live while its alert is open and the
  alert's ``queues`` names it; a review leaves it in place, and the head moves past entries that
  are no longer live at most :data:`HEAD_STEPS` at a time (no scan, no unbounded value).

Raising an alert writes its record and two keys per queue (at most 5 queues: ``*`` and two per
account named, at most two accounts): O(1) per alert. The counts are fields of the queue
records an alert and a review write anyway: no key more, and nothing at all for a payment that
raises no alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import (
    ContractState,
    TxContext,
    bic_key,
    p_dict,
    p_hex,
    p_pubkey,
    p_text,
)
from contracts import governance as gov
from contracts.risk import CONTRACT, NAME

#: the dispositions a reviewer records (inside the sealed record: never on chain in clear; the
#: contract cannot read them, the client and ``chainfin alerts case`` check them)
DISPOSITIONS = ("escalated", "reported", "false_positive", "closed", "reopened")
#: a case's public state: ``open`` (in the queues) or ``reviewed`` (whatever the disposition:
#: ``reported`` and ``escalated`` are not told apart from ``closed`` by anyone but the reviewer
#: and the supervisors)
OPEN = "open"
REVIEWED = "reviewed"
STATES = (OPEN, REVIEWED)
ALL = "*"  # the supervisors' queue: every alert
MAX_REVIEWS = 64  # per alert
HEAD_STEPS = 64  # dead queue entries a review skips (and deletes) at a queue's head
MAX_ALERT_REF = 80
#: the sealed record's plaintext is padded to exactly this many bytes, so every box of every
#: review has the same size (chainfin.cli_alerts.SEALED_PLAIN_SIZE)
SEALED_PLAIN_SIZE = 512
SEALED_SIZE = SEALED_PLAIN_SIZE + 48  # X25519 sealed box: ephemeral key 32 + MAC 16
MAX_RECIPIENTS = 64

Get = Callable[[str, str], Any]


def next_alert_id(ctx: TxContext, kept: bool = False) -> str:
    """The id of the next alert this transaction raises: ``<tx id>-<n>``, ``n`` the number of
    alerts it raised before (those of its events and kept events, in the order raised); for a
    ``kept`` alert, of its kept alerts only (decision 190). A kept alert is a refusing rule's,
    raised just before its refusal, which discards the others: counted, they made the refused
    payer's own ``limit_exceeded`` alert ``<tx>-1`` when the near screening had raised a
    ``possible_watch_match`` it may not read (red-team round 10, R10-1)."""
    n = sum(1 for e in ctx.kept_events if e.contract == NAME and e.name == "alert")
    if not kept:
        n += sum(1 for e in ctx.events if e.contract == NAME and e.name == "alert")
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


def reviewed_count(meta: Mapping[str, Any]) -> int:
    """A queue's alerts in state ``reviewed``: its ``reviewed`` field, or (a queue no review has
    touched since the field exists, decision 165) every entry ever made less the open ones."""
    return int(meta.get("reviewed", meta["next"] - meta["open"]))


def _enqueue(get: Get, q: str, alert_id: str, own: bool = False, reopen: bool = False
             ) -> tuple[int, list[tuple[str, str, Any]]]:
    """Queue ``alert_id`` at the back of ``q``: one more open (and, ``reopen``, one fewer
    reviewed); ``own``: also one of ``q``'s own-BIC alerts (:func:`own_queues`)."""
    meta = get(NAME, "queue/" + q) or {"head": 0, "next": 0, "open": 0}
    seq = meta["next"]
    new = {**meta, "next": seq + 1, "open": meta["open"] + 1}
    if reopen:
        new["reviewed"] = max(0, reviewed_count(meta) - 1)
    if own:
        new["own_open"] = meta.get("own_open", 0) + 1
        if reopen:
            new["own_reviewed"] = max(0, meta.get("own_reviewed", 0) - 1)
    return seq, [(NAME, f"queue/{q}/{seq}", alert_id), (NAME, "queue/" + q, new)]


def own_queues(state: ContractState, queues: Iterable[str]) -> list[str]:
    """The ``id:<bank>`` queues among ``queues`` (one alert's) whose bank's own BIC queue
    (``bic:<the bank identity's BIC>``, fixed when the bank identity is registered) is among
    them too: the bank reads both, and counts the alert once (:func:`bank_counts`)."""
    qs = set(queues)
    out = []
    for q in sorted(qs):
        if not q.startswith("id:"):
            continue
        bank = gov.peek_identity(state, q[3:])
        if bank is not None and bank.get("bank") and f"bic:{bic_key(bank['bank'])}" in qs:
            out.append(q)
    return out


def open_case(state: ContractState, get: Get, ctx: TxContext, alert_id: str,
              data: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """The writes that open the case of a new alert (``data``: the alert event's data) and
    queue it: :data:`ALL` and its accounts' home banks' queues. ``get`` reads the state the
    writes are computed from (:func:`contracts.risk._kept_view` for a kept alert)."""
    accounts = list(data["accounts"])
    base = ("rule", "accounts", "height", "time_ms", "alert")
    writes: list[tuple[str, str, Any]] = []
    queues: dict[str, int] = {}
    homes = home_queues(state, accounts)
    own = own_queues(state, homes)
    for q in [ALL, *homes]:
        seq, w = _enqueue(get, q, alert_id, own=q in own)
        queues[q] = seq
        writes += w
    rec = {"rule": data["rule"], "accounts": accounts, "tx_id": ctx.tx_hex, "height": ctx.height,
           "time_ms": ctx.timestamp_ms,
           "detail": {k: v for k, v in data.items() if k not in base},
           "status": OPEN, "reviews": 0, "queues": queues}
    if own:  # (absent when none, as in the records before decision 165)
        rec["own"] = own
    writes.append((NAME, "alert/" + alert_id, rec))
    return writes


def is_live(get: Get, q: str, seq: int, alert_id: Any) -> bool:
    """Is entry ``seq`` of queue ``q`` (value ``alert_id``) an open alert's current entry?"""
    if not isinstance(alert_id, str):
        return False
    rec = get(NAME, "alert/" + alert_id)
    return (isinstance(rec, dict) and rec.get("status") == OPEN
            and rec.get("queues", {}).get(q) == seq)


def _dequeue(state: ContractState, q: str, own: bool = False) -> None:
    """The alert at ``q`` was reviewed: one fewer open, one more reviewed (``own``: of the
    own-BIC counts too), and the head moves past entries that are no longer live (at most
    :data:`HEAD_STEPS`, each deleted)."""
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
    new = {**meta, "head": head, "open": max(0, meta["open"] - 1),
           "reviewed": reviewed_count(meta) + 1}
    if own:
        new["own_open"] = max(0, meta.get("own_open", 0) - 1)
        new["own_reviewed"] = meta.get("own_reviewed", 0) + 1
    state.put(NAME, "queue/" + q, new)


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


def _p_state(v: Any, name: str) -> str:
    if v not in STATES:
        raise ContractError(f"{name} must be one of {', '.join(STATES)}", "bad_field")
    return str(v)


def _p_sealed(v: Any, name: str) -> dict[str, str]:
    """``{recipient key hex: sealed box hex}``: 1..:data:`MAX_RECIPIENTS` boxes, each exactly
    :data:`SEALED_SIZE` bytes (a padded plaintext: every box of every review is alike)."""
    d = p_dict(v, name)
    if not d or len(d) > MAX_RECIPIENTS:
        raise ContractError(f"{name} must map 1..{MAX_RECIPIENTS} keys to sealed boxes",
                            "bad_field")
    out = {}
    for k in sorted(d):
        ct = p_hex(SEALED_SIZE)(d[k], f"{name}[{str(k)[:8]}]")
        out[p_pubkey(k, f"{name} key")] = ct
    if len(out) != len(d):
        raise ContractError(f"{name} names a recipient twice", "bad_field")
    return out


def seal_to(state: ContractState, reviewer_key: str) -> list[str]:
    """The keys a review's record is sealed to, exactly: every regulator's current key and the
    reviewer's own (sorted, no repeats). No auditor, by decision (docs/risk.md "Who reads a
    disposition"): a bank's own auditor gets the record from the bank and checks it against
    the commitment; a consortium auditor is a third party to a bank's report."""
    from contracts.credit_sharing import current_key
    return sorted({reviewer_key, *(current_key(state, r) for r in gov.regulators(state))})


@CONTRACT.method(roles=None, params={"alert": p_text(MAX_ALERT_REF), "state": _p_state,
                                     "commitment": p_hex(32), "sealed": _p_sealed})
def review_alert(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A compliance officer of the home bank of an account the alert names, or a regulator,
    reviews alert ``alert`` (decision 151). On chain in clear: the case's public ``state``
    after it (``reviewed``; ``open`` to reopen: a regulator, of a reviewed case), the reviewer,
    the height and time, and ``commitment`` =
    ``SHA-256("chainfin/alert-review/1\\0" || canonical {alert, disposition, note_sha256,
    report_sha256 or null, nonce})``. The disposition (``escalated``, ``reported``,
    ``false_positive``, ``closed``, ``reopened``), the note's and the report's hashes and the
    nonce are in ``sealed``: one box of exactly :data:`SEALED_SIZE` bytes to each key of
    :func:`seal_to` (the regulators' current keys and the reviewer's), the same for every
    disposition. The contract checks the shapes and the recipients, not what is sealed (it
    cannot); ``chainfin alerts case`` checks each box against the commitment. A reviewed case
    takes no review but a regulator's.

    Raises:
        ContractError: ``unknown_alert`` (no such alert, or — to anyone but a regulator — one
            the sender may not review: whether an alert exists is not told to its subject),
            ``bad_field``, ``missing_recipient``, ``case_closed`` (reviewed already),
            ``forbidden``, ``too_many_reviews``.
    """
    ref, new_status = args["alert"], args["state"]
    rec = state.get(NAME, "alert/" + ref)
    who = None if rec is None else may_review(state, ctx.sender_hex, rec)
    if rec is None or who is None:
        raise ContractError(f"no alert {ref} that this identity may review", "unknown_alert")
    status = rec["status"]
    if status != OPEN and who != "regulator":
        raise ContractError(f"alert {ref} is reviewed: only a regulator reviews it again",
                            "case_closed")
    if new_status == OPEN:
        if who != "regulator":
            raise ContractError("only a regulator reopens a case", "forbidden")
        if status == OPEN:
            raise ContractError(f"alert {ref} is open already", "bad_field")
    sealed, allowed = args["sealed"], seal_to(state, ctx.key_hex)
    extra = sorted(set(sealed) - set(allowed))
    if extra:
        raise ContractError(f"a review is sealed to the regulators and its reviewer only, "
                            f"not {extra[0][:16]}…", "bad_field")
    missing = sorted(set(allowed) - set(sealed))
    if missing:
        raise ContractError(f"the review must also be sealed to {missing[0][:16]}…",
                            "missing_recipient")
    n = rec["reviews"]
    if n >= MAX_REVIEWS:
        raise ContractError(f"alert {ref} has {MAX_REVIEWS} reviews", "too_many_reviews")
    state.put(NAME, f"review/{ref}/{n}", {
        "by": ctx.sender_hex, "state": new_status, "commitment": args["commitment"],
        "sealed": sealed, "height": ctx.height, "time_ms": ctx.timestamp_ms})
    queues, own = dict(rec["queues"]), set(rec.get("own") or ())
    if status == OPEN and new_status != OPEN:
        rec = {**rec, "status": new_status}  # (written before the heads move past it)
        state.put(NAME, "alert/" + ref, rec)
        for q in sorted(queues):
            _dequeue(state, q, own=q in own)
    elif status != OPEN and new_status == OPEN:  # reopened: queued again, at the back
        for q in sorted(queues):
            seq, writes = _enqueue(state.get, q, ref, own=q in own, reopen=True)
            queues[q] = seq
            for c, k, v in writes:
                state.put(c, k, v)
    state.put(NAME, "alert/" + ref, {**rec, "status": new_status, "reviews": n + 1,
                                     "queues": queues})
    # the event names the reviewer only: never the alert's accounts (an account's own events
    # reach it over /v1/events and GET /v1/tx: its case is not among them), and no disposition;
    # the home banks get it by a read rule that looks the alert up (node.access.event_rule)
    ctx.emit("alert_reviewed", {"alert": ref, "status": new_status, "review": n,
                                "by": ctx.sender_hex})
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


def counts(get: Get, q: str) -> dict[str, int]:
    """``{"open", "reviewed"}`` of queue ``q``: one read (its record's counts)."""
    meta = get(NAME, "queue/" + q)
    if not isinstance(meta, dict):
        return {"open": 0, "reviewed": 0}
    return {"open": int(meta["open"]), "reviewed": reviewed_count(meta)}


def bank_counts(get: Get, id_queue: str, bic_queue: str | None) -> dict[str, int]:
    """A bank's counts, ``{"open", "reviewed"}``, of the alerts queued for it when raised (its
    ``id:`` queue and its BIC's ``bic:`` queue), each alert once: an alert in both (a customer
    the bank registered under its own BIC) is counted in the ``id:`` queue's ``own_*`` too,
    and taken off. Two reads, whatever the number of alerts. An alert raised before decision
    163 in both queues has no ``own`` mark and counts twice."""
    a = counts(get, id_queue)
    if bic_queue is None:
        return a
    b = counts(get, bic_queue)
    meta = get(NAME, "queue/" + id_queue)
    own = meta if isinstance(meta, dict) else {}
    return {"open": max(0, a["open"] + b["open"] - int(own.get("own_open", 0))),
            "reviewed": max(0, a["reviewed"] + b["reviewed"] - int(own.get("own_reviewed", 0)))}


def merged_page(get: Get, queues: list[str], afters: list[int], limit: int, scan: int,
                keep: Callable[[dict[str, Any]], bool] = lambda rec: True
                ) -> tuple[list[dict[str, Any]], list[int] | None]:
    """Up to ``limit`` open alerts of ``queues`` (a bank's ``id:`` and ``bic:`` queues) after
    the cursor ``afters`` (per queue, the last entry already read: -1 none), merged oldest first
    by (height, alert id), each alert once (an alert also in an earlier queue of the list is
    taken from there) and only those ``keep`` accepts (the home-bank rule as of now). Reads at
    most ``scan`` entries per queue (two reads each). Returns the page and the cursor to
    continue after (None: every queue's end was reached)."""
    n = len(queues)
    metas = [get(NAME, "queue/" + q) for q in queues]
    pos = [max(m["head"], a + 1) if isinstance(m, dict) else 0
           for m, a in zip(metas, afters, strict=True)]
    ends = [m["next"] if isinstance(m, dict) else 0 for m in metas]
    budget = [scan] * n
    heads: list[tuple[int, dict[str, Any]] | None] = [None] * n

    def advance(i: int) -> None:
        q = queues[i]
        while heads[i] is None and pos[i] < ends[i] and budget[i] > 0:
            seq = pos[i]
            pos[i] += 1
            budget[i] -= 1
            alert_id = get(NAME, f"queue/{q}/{seq}")
            if not is_live(get, q, seq, alert_id):
                continue
            rec = {**get(NAME, "alert/" + alert_id), "alert": alert_id}
            if any(p in rec.get("queues", {}) for p in queues[:i]) or not keep(rec):
                continue
            heads[i] = (seq, rec)

    out: list[dict[str, Any]] = []
    while len(out) < limit:
        for i in range(n):
            advance(i)
        live = [i for i in range(n) if heads[i] is not None]
        if not live:
            break
        i = min(live, key=lambda j: (int(heads[j][1]["height"]),  # type: ignore[index]
                                     str(heads[j][1]["alert"])))  # type: ignore[index]
        out.append(heads[i][1])  # type: ignore[index]
        heads[i] = None
    for i in range(n):  # is anything left after the last one (or dead entries only)?
        advance(i)
    if all(heads[i] is None and pos[i] >= ends[i] for i in range(n)):
        return out, None
    h = heads  # a peeked entry is not read yet: the cursor stops before it
    return out, [h[i][0] - 1 if h[i] is not None else pos[i] - 1  # type: ignore[index]
                 for i in range(n)]


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
