"""credit_sharing: credit records shared between banks only with the subject's consent.

Every node holds every ciphertext (they are in blocks and state), so a record is only ever
sealed (X25519 sealed box) to parties entitled to it: at publication to the publishing bank
itself and to the regulators, and later to a requesting bank only once the subject has
consented. A copy is sealed to the recipient's **current** key (``governance/id/<id>.key``,
else the id): a key its identity replaced may be lost or stolen. In clear, the chain holds only
a salted commitment to the record.

Flow: a bank ``publish``es (commitment + sealed copies) -> the subject ``grant_consent`` to a
bank, for named purposes (:data:`PURPOSES`), for a bounded number of days and optionally for one
publisher's records only (``revoke_consent`` withdraws it) -> that bank ``request_access``,
stating its purpose -> with a live consent covering the purpose and the record's publisher the
request is ``pending`` and the publisher's node answers automatically with ``deliver`` (the
record sealed to the requester, see :func:`answer_request`); otherwise the request is recorded
as ``refused`` (a committed transaction: the refusal is on chain; no consent, an expired one,
another purpose, another publisher and an unknown record all get this one answer). The
requester opens the delivery and checks it against the commitment (:func:`open_and_check`). A
delivery needs, when it executes, a live consent covering the request and a requester that is
still a bank in good standing (neither revoked nor frozen). The subject withdraws a consent
whatever its role or standing. A consent recorded before decision 179 (no purposes, no end)
covers any purpose and every publisher until revoked (:func:`consent_covers`).

The subject's **access report** (decision 179, GDPR art. 15): every request for a record about
it (and every delivery) is appended to ``access/<subject>/<n>``: who asked, when, for what
purpose, refused / pending / delivered. Only the subject and the regulators read it.

**Disputes** (decision 180, GDPR art. 16, FCRA s. 611): the subject ``dispute``s a record with a
reason; while the dispute is open every delivery of the record says so (the request's
``disputed``: the reason and since when); the publisher (told by the event ``disputed``) either
``correct``s it (a new record superseding it: requests for the old one are answered with the
correction, never the old one) or ``reject_dispute``s it with a reason. The result is told
(decision 248, FCRA s. 611(a)(6)): to the subject in its own inbox (``notice/<subject>``, with
its reason and the answer or the correction), and a rejection to each bank the record was
delivered to marked disputed under that dispute (a correction tells every earlier recipient,
decision 200).

State (contract ``credit_sharing``):

- ``record/<record_id>`` -> ``{"publisher", "subject", "commitment", "sealed": {pubkey: ct},
  "height"}`` (ciphertexts hex, keyed by the recipients' keys at publication); a correction
  adds ``"version"`` (2, 3, ...) and ``"supersedes"``; the record it corrects gains
  ``"superseded_by"``;
- ``consent/<subject>/<bank>`` -> ``{"height", "timestamp_ms", "purposes", "until_ms",
  "publisher", "indexed"}`` (before decision 179: ``{"height", "timestamp_ms"}``; before
  decision 192 no ``indexed``: the bank is not in the subject index);
- ``request/<request_id>`` -> ``{"record_id", "requester", "publisher", "subject", "status",
  "height", "timestamp_ms", "sealed"}``, status ``pending`` | ``delivered`` | ``expired`` |
  ``withdrawn`` (a delivery adds ``"disputed"``: null or ``{"reason", "since_ms"}``, and
  ``"asked_for"`` when it answered a request for a record since corrected; ``close_request``
  adds ``"closed_height"``, ``"closed_ms"``: ``expired`` at its record's retention end,
  decision 249, ``withdrawn`` by its subject, its consent gone, decision 250); a refused
  request (no covering consent, or no such record: the same answer) is ``{"record_id",
  "requester", "status": "refused"}`` and the ``"purpose"`` it stated, if any;
- ``purpose/<request_id>`` -> ``{"requester", "subject", "purpose"}``: a pending request's
  purpose, apart from the request, which its publisher reads (red-team round 9: a purpose such
  as ``collections`` told the publisher, perhaps a competitor, what the requester does with
  its customer); the chain checks it against the consent, the requester, the subject and the
  regulators read it;
- ``pend/<publisher>`` -> ``{"n"}``, ``pend/<publisher>/<i>`` (1 .. n) -> ``{"request_id"}``,
  ``pend/<publisher>/at/<request_id>`` -> ``{"i"}``: the requests pending for the publisher's
  records (decision 289), listed when made pending and taken off when delivered or closed (the
  last slot moves into the freed one), so its node retries or closes them a few a block
  (:func:`pending_requests`) without a scan. Read by the regulators (and the node itself);
- ``access/<subject>`` -> ``{"n"}``, ``access/<subject>/<i>`` (1 .. n) -> ``{"request_id",
  "record_id", "requester", "publisher", "purpose", "status", "height", "timestamp_ms"}``;
- ``dispute/<record_id>`` -> ``{"record_id", "publisher", "subject", "status"
  (open | rejected | corrected), "reason", "opened_height", "opened_ms", "count", "answer",
  "correction", "closed_height", "closed_ms"}``.
- ``subj/<subject>`` -> ``{"records", "banks", "r", "b"}`` and ``subj/<subject>/r/<p>``,
  ``subj/<subject>/b/<p>`` (p = 1, 2, ...) -> ``{"ids"}``: the **subject index** (decision 192,
  GDPR art. 15): every record published or corrected about the subject (its id) and every bank
  it granted a consent to, in order. ``records`` / ``banks`` count them; the latest
  ``count % INDEX_PAGE`` ids are in the head's ``r`` / ``b``, the earlier ones in full pages of
  :data:`INDEX_PAGE` (page p holds entries ``(p-1)*INDEX_PAGE + 1 .. p*INDEX_PAGE``). No value
  grows past a page; the pages are as many as the records (no cap: a cap would let a bank
  stop others publishing about a subject). Only the subject and the regulators read it.
  Records and consents recorded before decision 192 are not in it (:func:`subject_index`).
- ``rcpt/<record_id>`` -> ``{"n", "notified"}``, ``rcpt/<record_id>/<i>`` -> ``{"bank",
  "request_id", "height", "timestamp_ms", "notified"}``, ``got/<record_id>/<bank>`` -> ``{"i"}``:
  the banks the record was delivered to, once each (decision 200; read by its publisher, its
  subject, the regulators), and how many of them its correction has told;
  ``rcpt/<record_id>/d/<c>`` -> ``{"n", "notified"}`` (and, once rejected, ``"since_ms",
  "closed_height"``), ``rcpt/<record_id>/d/<c>/<i>``, ``got/<record_id>/d/<c>/<bank>``: the
  same for the deliveries marked disputed under its ``c``-th dispute, whose rejection they
  are told (decision 248);
- ``notice/<bank>`` -> ``{"n"}``, ``notice/<bank>/<k>`` -> ``{"record_id", "publisher",
  "status": "corrected", "version", "correction", "consent", "corrected_height", "height",
  "timestamp_ms"}``: a bank's notices that a record delivered to it was corrected (decision
  200, GDPR art. 19; ``correction`` null unless the subject's consent still opens the
  publisher's records to it); since decision 248 also ``{"record_id", "publisher", "status":
  "dispute_rejected", "dispute", "since_ms", "closed_height", "height", "timestamp_ms"}`` (a
  record delivered to it marked disputed stands). Only that bank and the regulators read them.
  A subject's inbox (decision 248) has the same keys, ``notice/<subject>/<k>`` -> ``{"record_id",
  "publisher", "status": "dispute_rejected" | "dispute_corrected", "dispute", "reason",
  "answer", "correction", "opened_ms", "banks", "height", "timestamp_ms"}``: the result of its
  dispute. Only the subject and the regulators read it.

**Retention** (decision 201): a record published or corrected since then has
``"retain_until_ms"`` (``retain_days`` of block time, at most :data:`MAX_RETENTION_DAYS`); after
it, it is not delivered (``deliver``: ``record_expired``) and a request for it is the one
``refused`` of no consent, whoever asks (decision 214: no bank learns that it exists); a request
left ``pending`` at the end is closed ``expired`` by ``close_request`` (decision 249: the
publisher or the subject, who know the end; no timer runs on chain). Its sealed copies are
not erased: they are in append-only blocks, sealed to identity keys, with no per-record key to
destroy.

Plaintext sealed to each recipient: ``codec.encode({"record": bytes, "salt": bytes})``.
Commitment: ``SHA-256("chainfin/credit-record/1\\0" || len(salt) (4 bytes BE) || salt || record)``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from chainfin import codec, crypto
from chainfin.errors import ChainfinError, CodecError, ContractError, InvalidSignature
from chainfin.execution import (
    Contract,
    ContractState,
    StateView,
    TxContext,
    p_dict,
    p_hex,
    p_id,
    p_int,
    p_list,
    p_pubkey,
    p_text,
)
from contracts import governance as gov

NAME = "credit_sharing"
CONTRACT = Contract(NAME, __doc__ or "")
MAX_CIPHERTEXT = 16 * 1024
_COMMIT_TAG = b"chainfin/credit-record/1\0"
#: What a consent may name and a request must state (decision 179; the FCRA's permissible
#: purposes a bank has: a credit application, the review of an account, collection).
PURPOSES = ("credit_decision", "account_review", "collections")
#: A consent naming no purpose (and every consent recorded before decision 179) covers any.
ANY_PURPOSE = "any"
#: A consent ends after at most this many days of block time (default: all of them).
MAX_CONSENT_DAYS = 365
DAY_MS = 86_400_000
#: A dispute's reason, a publisher's answer: at most this many characters (FCRA s. 611(b)
#: lets a statement of dispute be held to 100 words).
MAX_REASON = 500
#: At most this many disputes of one record (a rejected dispute may be raised again).
MAX_DISPUTES = 8
#: At most this many versions of one record (the original and its corrections).
MAX_VERSIONS = 16
#: The subject index (decision 192) keeps this many ids a value: the head's tail, then full
#: pages ``subj/<subject>/{r,b}/<p>``.
INDEX_PAGE = 64
#: A record is kept (delivered) at most this many days after publication (decision 201: the
#: FCRA s. 605 keeps most adverse items 7 years; GDPR art. 5(1)(e) storage limitation). A
#: publisher may set fewer (``retain_days``); none given: this many. Governance has no
#: parameter a proposal changes (``governance/params`` is written by genesis only), so a
#: constant: a network that needs less changes it by a coordinated upgrade.
MAX_RETENTION_DAYS = 7 * 365 + 2
#: A correction tells at most this many earlier recipients in its own transaction; the rest,
#: this many a ``notify_correction`` (decision 200: bounded work per transaction).
NOTICE_PAGE = 64

ERROR_CODES = (
    "bad_field",
    "missing_field",
    "missing_recipient",
    "not_consented",
    "unknown_identity",
    "unknown_record",
    "unknown_request",
    "request_not_pending",
    "own_record",
    "no_consent",
    "already_consented",
    "forbidden",
    "superseded",
    "dispute_open",
    "no_open_dispute",
    "too_many_disputes",
    "too_many_corrections",
    "record_expired",
    "no_pending_notices",
    "not_expired",
)


# ---------------------------------------------------------------------------- client helpers


class RecordCheckError(ChainfinError):
    """A delivered record does not open with this key or does not match its commitment."""


def make_commitment(record_bytes: bytes, salt: bytes) -> str:
    """The salted commitment published in clear (hex). Use a fresh random salt of >= 16 bytes."""
    if len(salt) < 16:
        raise ValueError("use a salt of at least 16 random bytes")
    h = hashlib.sha256(_COMMIT_TAG + len(salt).to_bytes(4, "big") + salt + record_bytes)
    return h.hexdigest()


def seal_record(record_bytes: bytes, salt: bytes, recipients: Iterable[bytes | str]
                ) -> dict[str, str]:
    """Seal ``{record, salt}`` to each recipient's Ed25519 public key (bytes or hex) ->
    ``{pubkey hex: ciphertext hex}``, the shape ``publish`` and ``deliver`` take."""
    plaintext = codec.encode({"record": record_bytes, "salt": salt})
    out: dict[str, str] = {}
    for r in sorted(bytes.fromhex(r) if isinstance(r, str) else bytes(r) for r in recipients):
        out[r.hex()] = crypto.seal(crypto.box_public_from_ed25519(r), plaintext).hex()
    return out


def open_record(identity: crypto.Identity, sealed: Mapping[str, str] | str | bytes
                ) -> tuple[bytes, bytes]:
    """Open the copy sealed to ``identity`` -> (record, salt).

    Raises:
        RecordCheckError: no copy for this identity, or it does not open / decode.
    """
    ct: str | bytes
    if isinstance(sealed, Mapping):
        mine = sealed.get(identity.public_key.hex())
        if mine is None:
            raise RecordCheckError("no copy of the record is sealed to this identity")
        ct = mine
    else:
        ct = sealed
    try:
        raw = identity.unseal(bytes.fromhex(ct) if isinstance(ct, str) else bytes(ct))
        msg = codec.decode(raw)
        record, salt = msg["record"], msg["salt"]
    except (InvalidSignature, CodecError, ValueError, KeyError, TypeError) as e:
        raise RecordCheckError("the sealed record does not open with this key") from e
    if type(record) is not bytes or type(salt) is not bytes:
        raise RecordCheckError("the sealed record is malformed")
    return record, salt


def open_and_check(identity: crypto.Identity, sealed: Mapping[str, str] | str | bytes,
                   commitment: str, salt: bytes | None = None) -> bytes:
    """Open a delivered (or published) record and check it against the on-chain commitment.
    ``salt`` (optional) must then equal the salt inside the sealed copy. Returns the record.

    Raises:
        RecordCheckError: it does not open, or the record/salt do not match the commitment.
    """
    record, inner_salt = open_record(identity, sealed)
    if salt is not None and salt != inner_salt:
        raise RecordCheckError("the salt does not match")
    if not hmac.compare_digest(make_commitment(record, inner_salt), commitment.lower()):
        raise RecordCheckError("the record does not match its commitment")
    return record


def current_key(state: StateView, ident_id: str) -> str:
    """The key ``ident_id`` signs with now: the one it rotated to, else its id. Copies are
    sealed to it, never to a key the identity replaced (lost or stolen, perhaps)."""
    ident = state.peek(gov.NAME, "id/" + ident_id)
    return str(ident.get("key", ident_id)) if ident is not None else ident_id


def consent_covers(consent: Mapping[str, Any] | None, purpose: str | None, publisher: Any,
                   now_ms: int) -> bool:
    """Does ``consent`` (a ``consent/`` value, or None) cover a request for ``purpose`` of a
    record ``publisher`` published, at block time ``now_ms``? It must not have ended
    (``until_ms``), must name the purpose or ``any`` (a request stating no purpose is covered
    by ``any`` only) and, when it names a publisher, that one. A consent recorded before
    decision 179 has no purposes nor end: it covers any purpose, every publisher."""
    if not isinstance(consent, Mapping):
        return False
    until = consent.get("until_ms")
    if until is not None and now_ms >= until:
        return False
    purposes = consent.get("purposes", [ANY_PURPOSE])
    if ANY_PURPOSE not in purposes and purpose not in purposes:
        return False
    only = consent.get("publisher")
    return only is None or only == publisher


def consent_opens(consent: Mapping[str, Any] | None, publisher: Any, now_ms: int) -> bool:
    """Does ``consent`` let its bank read the metadata of a record ``publisher`` published, at
    ``now_ms``? While it lasts and covers that publisher, whatever its purposes (red-team round
    9: an ended consent, or one for another publisher's records, told a bank who holds a
    credit record about the subject)."""
    return isinstance(consent, Mapping) and consent_covers(
        {**consent, "purposes": [ANY_PURPOSE]}, None, publisher, now_ms)


def current_record(state: StateView, record_id: str) -> tuple[str, dict[str, Any] | None]:
    """``(id, record)`` of the version in force of ``record_id``: itself, or the correction
    that superseded it (followed to the last). ``(record_id, None)`` when there is no such
    record."""
    rec = state.get(NAME, "record/" + record_id)
    for _ in range(MAX_VERSIONS):
        nxt = rec.get("superseded_by") if rec is not None else None
        if nxt is None:
            break
        record_id, rec = nxt, state.get(NAME, "record/" + nxt)
    return record_id, rec


def subject_index(state: StateView, subject: str) -> tuple[list[str], list[str]]:
    """``(record ids, banks)`` of ``subject``'s index (decision 192), oldest first: every record
    published or corrected about it and every bank it consented to (a bank once, unless it was
    revoked and granted again) since the upgrade. A record or consent recorded before decision
    192 is not in it: the subject finds those by the access report, the ids it is given, and a
    consent per bank it knows (no backfill: state keys are hashed, nothing lists them)."""
    head = state.get(NAME, "subj/" + subject)
    if not isinstance(head, Mapping):
        return [], []
    out: list[list[str]] = []
    for kind, count in (("r", "records"), ("b", "banks")):
        ids: list[str] = []
        for p in range(1, int(head[count]) // INDEX_PAGE + 1):
            page = state.get(NAME, f"subj/{subject}/{kind}/{p}")
            ids.extend(page["ids"] if isinstance(page, Mapping) else [])
        out.append(ids + list(head[kind]))
    return out[0], out[1]


def expired(rec: Mapping[str, Any] | None, now_ms: int) -> bool:
    """Has ``rec``'s retention ended at block time ``now_ms`` (decision 201)? A record published
    before decision 201 has no end."""
    until = rec.get("retain_until_ms") if isinstance(rec, Mapping) else None
    return until is not None and now_ms >= until


def notices(state: StateView, bank: str) -> list[dict[str, Any]]:
    """The correction notices sent to ``bank`` (decision 200), oldest first."""
    head = state.get(NAME, "notice/" + bank)
    n = int(head["n"]) if isinstance(head, Mapping) else 0
    return [dict(state.get(NAME, f"notice/{bank}/{i}") or {}) for i in range(1, n + 1)]


def recipients(state: StateView, record_id: str) -> list[dict[str, Any]]:
    """Every bank ``record_id`` was delivered to since decision 200 (once each, in order):
    ``{"bank", "request_id", "height", "timestamp_ms", "notified"}`` (``notified``: the height
    of the notice of its correction, None before)."""
    head = state.get(NAME, "rcpt/" + record_id)
    n = int(head["n"]) if isinstance(head, Mapping) else 0
    return [dict(state.get(NAME, f"rcpt/{record_id}/{i}") or {}) for i in range(1, n + 1)]


def request_purpose(state: StateView, request_id: str) -> str | None:
    """The purpose a pending request stated (None: none, or a request before decision 179)."""
    p = state.get(NAME, "purpose/" + request_id)
    return p.get("purpose") if isinstance(p, Mapping) else None


def delivery_key(state: StateView, request_id: str, req: Mapping[str, Any],
                 now_ms: int | None = None) -> str | None:
    """The key a pending request is delivered to: the requester's current key, while a live
    consent of the subject covers the request (:func:`consent_covers`: its purpose, the
    record's publisher, at ``now_ms``, the block time; None: its end is not checked — the
    publisher's node passes the committed block's time, decision 292) and the
    requester is a bank in good standing; else None. One answer for all of them, so a refused
    delivery tells the publisher nothing of the requester's standing (a freeze is not told to
    counterparties)."""
    consent = state.get(NAME, f"consent/{req['subject']}/{req['requester']}")
    now = -1 if now_ms is None else now_ms
    if not consent_covers(consent, request_purpose(state, request_id), req["publisher"], now):
        return None
    ident = state.peek(gov.NAME, "id/" + req["requester"])
    if ident is None or ident.get("role") != "bank" or ident.get("status") is not None:
        return None
    return str(ident.get("key", req["requester"]))


def answer_request(identity: crypto.Identity, state: StateView, request_id: str,
                   now_ms: int | None = None) -> dict[str, Any] | None:
    """For the publisher's node: the ``deliver`` args answering ``request_id``, or None when
    there is nothing to do (not its record, not pending, consent gone or ended, the requester
    no longer a bank in good standing). ``identity`` is the publisher's current key. Answers
    with the version of the record in force (a correction, when the asked one was corrected:
    ``record_id`` in the args). Opens the publisher's own sealed copy and re-seals it to the
    requester's current key only; the plaintext never leaves memory.

    Raises:
        RecordCheckError: the publisher's own copy does not open or match its commitment.
    """
    req = state.get(NAME, "request/" + request_id)
    if req is None or req["status"] != "pending":
        return None
    key = identity.public_key.hex()
    if current_key(state, req["publisher"]) != key:
        return None
    recipient = delivery_key(state, request_id, req, now_ms)
    record_id, rec = current_record(state, req["record_id"])
    if recipient is None or rec is None or (now_ms is not None and expired(rec, now_ms)):
        return None
    record, salt = open_record(identity, rec["sealed"])
    if make_commitment(record, salt) != rec["commitment"]:
        raise RecordCheckError("own copy does not match its commitment")
    return {"request_id": request_id, "record_id": record_id,
            "sealed": seal_record(record, salt, [recipient])}


# ---------------------------------------------------------------------------- arg parsing


def _sealed(v: Any, name: str) -> dict[str, str]:
    d = p_dict(v, name)
    if not d or len(d) > 32:
        raise ContractError(f"{name} must map 1..32 recipients to ciphertexts", "bad_field")
    out = {}
    for k in sorted(d):
        out[p_pubkey(k, f"{name} key")] = p_hex(None, MAX_CIPHERTEXT)(d[k], f"{name}[{k[:8]}]")
    if len(out) != len(d):
        raise ContractError(f"{name} names a recipient twice", "bad_field")
    return out


def _purpose(v: Any, name: str) -> str:
    if v not in PURPOSES and v != ANY_PURPOSE:
        raise ContractError(f"{name} must be one of {', '.join((*PURPOSES, ANY_PURPOSE))}",
                            "bad_field")
    return str(v)


def _purposes(v: Any, name: str) -> list[str]:
    out = sorted(set(p_list(_purpose, len(PURPOSES) + 1)(v, name)))
    if ANY_PURPOSE in out and len(out) > 1:
        raise ContractError(f"{name}: '{ANY_PURPOSE}' already covers every purpose",
                            "bad_field")
    return out


def _request_purpose(v: Any, name: str) -> str:
    if v not in PURPOSES:
        raise ContractError(f"{name} must be one of {', '.join(PURPOSES)}", "bad_field")
    return str(v)


def _check_recipients(state: ContractState, ctx: TxContext, sealed: Mapping[str, str]) -> None:
    """A record is sealed to exactly the publisher and the regulators, each at its current
    key: nobody else has consented."""
    allowed = {ctx.key_hex, *(current_key(state, r) for r in gov.regulators(state))}
    extra = sorted(set(sealed) - allowed)
    if extra:
        raise ContractError(f"{extra[0][:16]}… has no consent to receive this record",
                            "not_consented")
    missing = sorted(allowed - set(sealed))
    if missing:
        raise ContractError(f"the record must also be sealed to {missing[0][:16]}…",
                            "missing_recipient")


def _log_access(state: ContractState, ctx: TxContext, subject: str, entry: dict[str, Any]
                ) -> None:
    """Append ``entry`` to the subject's access report (``access/<subject>/<n>``)."""
    head = state.get(NAME, "access/" + subject) or {"n": 0}
    n = int(head["n"]) + 1
    state.put(NAME, "access/" + subject, {"n": n})
    state.put(NAME, f"access/{subject}/{n}",
              {**entry, "height": ctx.height, "timestamp_ms": ctx.timestamp_ms})


def _index(state: ContractState, subject: str, kind: str, item: str) -> None:
    """Append ``item`` (``kind`` ``r``: a record id; ``b``: a bank) to ``subject``'s index
    (decision 192): one read and one write of ``subj/<subject>``; when its tail fills a page,
    the page is written to ``subj/<subject>/<kind>/<p>`` and the tail starts again. A bank
    already in the tail is not added again."""
    key = "subj/" + subject
    head = dict(state.get(NAME, key) or {"records": 0, "banks": 0, "r": [], "b": []})
    count = "records" if kind == "r" else "banks"
    tail = list(head[kind])
    if kind == "b" and item in tail:
        return
    tail.append(item)
    n = int(head[count]) + 1
    if len(tail) >= INDEX_PAGE:
        state.put(NAME, f"{key}/{kind}/{n // INDEX_PAGE}", {"ids": tail})
        tail = []
    head[count], head[kind] = n, tail
    state.put(NAME, key, head)


def _retain_until(ctx: TxContext, args: Mapping[str, Any], old: int | None = None) -> int:
    """The retention end of a record published or corrected now: ``retain_days`` (default
    :data:`MAX_RETENTION_DAYS`) of block time, never later than ``old`` (the end of the record a
    correction replaces: a correction does not extend how long the facts are kept)."""
    until = ctx.timestamp_ms + int(args.get("retain_days", MAX_RETENTION_DAYS)) * DAY_MS
    return until if old is None else min(until, int(old))


def _note_recipient(state: ContractState, ctx: TxContext, record_id: str, bank: str,
                    request_id: str, sub: str = "") -> None:
    """Remember that ``record_id`` was delivered to ``bank`` (once a bank: ``got/<record>/<bank>``
    -> ``{"i"}``; ``rcpt/<record>`` -> ``{"n", "notified"}``, ``rcpt/<record>/<i>`` -> the
    recipient), so a correction tells it (decision 200). ``sub`` ``/d/<c>``: the list of the
    banks it was delivered to marked disputed under its ``c``-th dispute (``rcpt/<record>/d/<c>``,
    ``got/<record>/d/<c>/<bank>``), so the dispute's rejection tells them (decision 248); under
    ``rcpt/``, ``got/`` of the record, they have their readers (its publisher and subject)."""
    if state.get(NAME, f"got/{record_id}{sub}/{bank}") is not None:
        return
    head = dict(state.get(NAME, f"rcpt/{record_id}{sub}") or {"n": 0, "notified": 0})
    head["n"] = n = int(head["n"]) + 1
    state.put(NAME, f"rcpt/{record_id}{sub}", head)
    state.put(NAME, f"rcpt/{record_id}{sub}/{n}", {
        "bank": bank, "request_id": request_id, "height": ctx.height,
        "timestamp_ms": ctx.timestamp_ms, "notified": None})
    state.put(NAME, f"got/{record_id}{sub}/{bank}", {"i": n})


def _send_notices(state: ContractState, ctx: TxContext, record_id: str,
                  rec: Mapping[str, Any]) -> dict[str, int]:
    """Tell the next :data:`NOTICE_PAGE` banks ``record_id`` was delivered to that it was
    corrected (``rec``: the old record, ``superseded_by`` set): a notice in the bank's inbox
    ``notice/<bank>/<n>`` (the bank and the regulators read it), an event ``correction_notice``
    naming that bank only, and a ``notified`` row in the subject's access report (GDPR art. 19:
    the subject is told whom). The correction's id is in the notice only while a consent of the
    subject to that bank still opens the publisher's records (:func:`consent_opens`); else
    the bank is told the record changed, not where the new version is. -> ``{"sent",
    "pending"}``."""
    head = dict(state.get(NAME, "rcpt/" + record_id) or {"n": 0, "notified": 0})
    n, done = int(head["n"]), int(head["notified"])
    last = min(n, done + NOTICE_PAGE)
    subject, publisher, new_id = rec["subject"], rec["publisher"], rec["superseded_by"]
    new = state.get(NAME, "record/" + new_id) or {}
    for i in range(done + 1, last + 1):
        entry = dict(state.get(NAME, f"rcpt/{record_id}/{i}") or {})
        bank = str(entry.get("bank"))
        live = consent_opens(state.get(NAME, f"consent/{subject}/{bank}"), publisher,
                             ctx.timestamp_ms)
        box = dict(state.get(NAME, "notice/" + bank) or {"n": 0})
        box["n"] = k = int(box["n"]) + 1
        state.put(NAME, "notice/" + bank, box)
        state.put(NAME, f"notice/{bank}/{k}", {
            "record_id": record_id, "publisher": publisher, "status": "corrected",
            "version": new.get("version"), "correction": new_id if live else None,
            "consent": live, "corrected_height": new.get("height"),
            "height": ctx.height, "timestamp_ms": ctx.timestamp_ms})
        entry["notified"] = ctx.height
        state.put(NAME, f"rcpt/{record_id}/{i}", entry)
        _log_access(state, ctx, subject, {
            "request_id": entry.get("request_id"), "record_id": record_id, "requester": bank,
            "publisher": publisher, "purpose": None, "status": "notified"})
        ctx.emit("correction_notice", {"record_id": record_id, "bank": bank, "notice": k})
    head["notified"] = last
    if n:
        state.put(NAME, "rcpt/" + record_id, head)
    return {"sent": last - done, "pending": n - last}


def _inbox(state: ContractState, who: str, notice: dict[str, Any]) -> int:
    """Append ``notice`` to ``who``'s inbox ``notice/<who>/<k>`` (``notice/<who>`` = ``{"n"}``:
    a bank's, or a subject's since decision 248; read by it and the regulators) -> ``k``."""
    box = dict(state.get(NAME, "notice/" + who) or {"n": 0})
    box["n"] = k = int(box["n"]) + 1
    state.put(NAME, "notice/" + who, box)
    state.put(NAME, f"notice/{who}/{k}", notice)
    return k


def _tell_subject(state: ContractState, ctx: TxContext, record_id: str, rec: Mapping[str, Any],
                  d: Mapping[str, Any], banks: int) -> None:
    """Tell the subject the result of its dispute (decision 248, FCRA s. 611(a)(6): the
    results of a reinvestigation are told to the consumer): a notice in its own inbox with its
    reason, the publisher's answer (rejected) or the correction's id (corrected), and how many
    banks are told (``banks``: those it was delivered to marked disputed, for a rejection;
    every earlier recipient, for a correction), and an event ``dispute_notice`` naming it
    alone (the count of its inbox is its own)."""
    subject = str(rec["subject"])
    k = _inbox(state, subject, {
        "record_id": record_id, "publisher": rec["publisher"],
        "status": "dispute_" + str(d["status"]), "dispute": d["count"],
        "reason": d["reason"], "answer": d["answer"], "correction": d["correction"],
        "opened_ms": d["opened_ms"], "banks": banks, "height": ctx.height,
        "timestamp_ms": ctx.timestamp_ms})
    ctx.emit("dispute_notice", {"record_id": record_id, "subject": subject, "notice": k})


def _send_dispute_notices(state: ContractState, ctx: TxContext, record_id: str,
                          rec: Mapping[str, Any], c: int) -> dict[str, int]:
    """Tell the next :data:`NOTICE_PAGE` banks ``record_id`` was delivered to marked disputed
    under its ``c``-th dispute (``rcpt/<record>/d/<c>``, whose head ``reject_dispute`` gave
    the dispute's ``since_ms`` and ``closed_height``) that the dispute was rejected: the
    record stands as delivered (decision 248). A notice ``notice/<bank>/<k>`` = ``{"record_id",
    "publisher", "status": "dispute_rejected", "dispute", "since_ms" (the ``disputed.since_ms``
    its delivery carried), "closed_height", "height", "timestamp_ms"}`` and an event
    ``dispute_notice`` naming that bank alone. Not the publisher's answer: the bank learns the
    dispute's result, not new facts about the subject. -> ``{"sent", "pending"}``."""
    sub = f"/d/{c}"
    head = dict(state.get(NAME, f"rcpt/{record_id}{sub}") or {"n": 0, "notified": 0})
    n, done = int(head["n"]), int(head["notified"])
    since_ms, closed_height = head.get("since_ms"), head.get("closed_height")
    last = min(n, done + NOTICE_PAGE)
    for i in range(done + 1, last + 1):
        entry = dict(state.get(NAME, f"rcpt/{record_id}{sub}/{i}") or {})
        bank = str(entry.get("bank"))
        k = _inbox(state, bank, {
            "record_id": record_id, "publisher": rec["publisher"],
            "status": "dispute_rejected", "dispute": c, "since_ms": since_ms,
            "closed_height": closed_height, "height": ctx.height,
            "timestamp_ms": ctx.timestamp_ms})
        entry["notified"] = ctx.height
        state.put(NAME, f"rcpt/{record_id}{sub}/{i}", entry)
        ctx.emit("dispute_notice", {"record_id": record_id, "bank": bank, "notice": k})
    head["notified"] = last
    if n:
        state.put(NAME, f"rcpt/{record_id}{sub}", head)
    return {"sent": last - done, "pending": n - last}


def marked_recipients(state: StateView, record_id: str, dispute: int) -> list[dict[str, Any]]:
    """The banks ``record_id`` was delivered to marked disputed under its ``dispute``-th dispute
    (decision 248; once each, in order): ``{"bank", "request_id", "height", "timestamp_ms",
    "notified"}`` (``notified``: the height of the notice of the dispute's rejection)."""
    head = state.get(NAME, f"rcpt/{record_id}/d/{dispute}")
    n = int(head["n"]) if isinstance(head, Mapping) else 0
    return [dict(state.get(NAME, f"rcpt/{record_id}/d/{dispute}/{i}") or {})
            for i in range(1, n + 1)]


def closable(state: StateView, request_id: str, now_ms: int) -> bool:
    """Is ``request_id`` a pending request whose record (the version in force) is past its
    retention end at ``now_ms``, which ``close_request`` closes ``expired`` (decision 249)? For
    the publisher's node, which :func:`answer_request` tells nothing to do for it."""
    req = state.get(NAME, "request/" + request_id)
    if not isinstance(req, Mapping) or req.get("status") != "pending":
        return False
    return expired(current_record(state, str(req["record_id"]))[1], now_ms)


def pending_requests(state: StateView, publisher: str, start: int = 1, count: int = 64
                     ) -> tuple[int, list[str]]:
    """``(n, ids)``: how many requests for ``publisher``'s records are listed pending
    (decision 289, ``pend/<publisher>``), and the ids of at most ``count`` of them from slot
    ``start`` (1 .. n, wrapping round to 1). For the publisher's node, which sweeps a few a
    block without scanning the state. A request made pending before decision 289 is not
    listed (no backfill: state keys are hashed, nothing lists them)."""
    head = state.get(NAME, "pend/" + publisher)
    n = int(head["n"]) if isinstance(head, Mapping) else 0
    ids: list[str] = []
    for k in range(min(n, max(count, 0))):
        slot = state.get(NAME, f"pend/{publisher}/{(start - 1 + k) % n + 1}")
        if isinstance(slot, Mapping):
            ids.append(str(slot["request_id"]))
    return n, ids


def _pend(state: ContractState, publisher: str, request_id: str) -> None:
    """List a request made ``pending`` under its publisher (decision 289): slot ``n + 1`` of
    ``pend/<publisher>``, and the slot under ``pend/<publisher>/at/<request_id>``. Two reads,
    three writes; the list is as long as the publisher's pending requests."""
    head = state.get(NAME, "pend/" + publisher)
    n = (int(head["n"]) if head is not None else 0) + 1
    state.put(NAME, "pend/" + publisher, {"n": n})
    state.put(NAME, f"pend/{publisher}/{n}", {"request_id": request_id})
    state.put(NAME, f"pend/{publisher}/at/{request_id}", {"i": n})


def _unpend(state: ContractState, publisher: str, request_id: str) -> None:
    """Take a request no longer pending (delivered, closed) off its publisher's list: the last
    slot moves into its place (a bounded swap: at most four reads, five writes). A request
    pending since before decision 289 is in no list: nothing to do."""
    at = state.get(NAME, f"pend/{publisher}/at/{request_id}")
    if at is None:
        return
    i, n = int(at["i"]), int((state.get(NAME, "pend/" + publisher) or {"n": 0})["n"])
    if i != n:
        last = dict(state.get(NAME, f"pend/{publisher}/{n}") or {})
        state.put(NAME, f"pend/{publisher}/{i}", last)
        state.put(NAME, f"pend/{publisher}/at/{last['request_id']}", {"i": i})
    state.delete(NAME, f"pend/{publisher}/{n}")
    state.delete(NAME, f"pend/{publisher}/at/{request_id}")
    if n > 1:
        state.put(NAME, "pend/" + publisher, {"n": n - 1})
    else:
        state.delete(NAME, "pend/" + publisher)


def _own_record(state: ContractState, record_id: str, who: str, field: str) -> dict[str, Any]:
    """The record ``record_id`` if ``who`` is its ``field`` (publisher / subject); anyone else
    gets ``unknown_record`` whether it exists or not (no existence oracle)."""
    rec = state.get(NAME, "record/" + record_id)
    if rec is None or rec.get(field) != who:
        raise ContractError(f"no record {record_id} of yours", "unknown_record")
    return dict(rec)


# ---------------------------------------------------------------------------- methods


@CONTRACT.method(roles=("bank",),
                 params={"subject": p_pubkey, "commitment": p_hex(32), "sealed": _sealed},
                 optional={"retain_days": p_int(1, MAX_RETENTION_DAYS)})
def publish(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Publish a credit record about ``subject``: its commitment in clear, the record sealed to
    exactly the publisher and the regulators (nobody else has consented), each at its current
    key. It is kept ``retain_days`` (1 .. :data:`MAX_RETENTION_DAYS`, the default) of block
    time: ``retain_until_ms``, after which it is no longer delivered (decision 201)."""
    subject, sealed = args["subject"], args["sealed"]
    ident = gov.require_identity(state, subject)
    if ident["role"] not in ("exporter", "importer"):
        raise ContractError("the subject of a credit record is an exporter or importer",
                            "bad_field")
    _check_recipients(state, ctx, sealed)
    record_id = ctx.derive_id()
    state.put(NAME, "record/" + record_id, {
        "publisher": ctx.sender_hex, "subject": subject, "commitment": args["commitment"],
        "sealed": sealed, "height": ctx.height, "retain_until_ms": _retain_until(ctx, args)})
    _index(state, subject, "r", record_id)
    ctx.emit("published", {"record_id": record_id, "publisher": ctx.sender_hex,
                           "subject": subject, "commitment": args["commitment"]})
    return {"record_id": record_id}


@CONTRACT.method(roles=("exporter", "importer"), params={"bank": p_pubkey},
                 optional={"purposes": _purposes, "days": p_int(1, MAX_CONSENT_DAYS),
                           "publisher": p_pubkey})
def grant_consent(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The subject lets ``bank`` obtain credit records about it for ``purposes`` (default:
    any), for ``days`` days of block time (1..365, default 365), of ``publisher``'s records
    only when given (a bank). A live consent to the bank is ``already_consented`` (revoke it
    first to change it); an ended one is replaced. The bank goes into the subject's index
    (decision 192) unless the consent it replaces was indexed already."""
    gov.require_identity(state, args["bank"], "bank")
    if "publisher" in args:
        gov.require_identity(state, args["publisher"], "bank")
    key = f"consent/{ctx.sender_hex}/{args['bank']}"
    old = state.get(NAME, key)
    if old is not None and (old.get("until_ms") is None or ctx.timestamp_ms < old["until_ms"]):
        raise ContractError("consent is already granted", "already_consented")
    purposes = args.get("purposes", [ANY_PURPOSE])
    until = ctx.timestamp_ms + args.get("days", MAX_CONSENT_DAYS) * DAY_MS
    state.put(NAME, key, {"height": ctx.height, "timestamp_ms": ctx.timestamp_ms,
                          "purposes": purposes, "until_ms": until,
                          "publisher": args.get("publisher"), "indexed": True})
    if old is None or not old.get("indexed"):  # an ended consent replaced: indexed already
        _index(state, ctx.sender_hex, "b", args["bank"])
    ctx.emit("consent_granted", {"subject": ctx.sender_hex, "bank": args["bank"],
                                 "purposes": purposes, "until_ms": until})
    return {"subject": ctx.sender_hex, "bank": args["bank"], "consent": True,
            "purposes": purposes, "until_ms": until, "publisher": args.get("publisher")}


@CONTRACT.method(roles=None, params={"bank": p_pubkey}, while_frozen=True)
def revoke_consent(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The subject withdraws its consent: pending requests of that bank can no longer be
    delivered, new ones are refused. A consent only narrows by this, so its subject withdraws
    it whatever has become of either side since: a frozen subject, one whose role changed, a
    bank that is no longer one (its consent would come back with the role)."""
    key = f"consent/{ctx.sender_hex}/{args['bank']}"
    if state.get(NAME, key) is None:
        raise ContractError("no consent to revoke", "no_consent")
    state.delete(NAME, key)
    ctx.emit("consent_revoked", {"subject": ctx.sender_hex, "bank": args["bank"]})
    return {"subject": ctx.sender_hex, "bank": args["bank"], "consent": False}


@CONTRACT.method(roles=("bank",), params={"record_id": p_id},
                 optional={"purpose": _request_purpose})
def request_access(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A bank asks for a record, stating its ``purpose`` (one of :data:`PURPOSES`; a request
    stating none is covered only by a consent for any purpose). With a live consent of the
    subject covering the purpose and the record's publisher the request is ``pending`` (the
    publisher's node delivers); without, it is recorded as ``refused``. Both commit, and both
    go into the subject's access report. The purpose of a pending request is kept apart from
    it (``purpose/<request_id>``): the publisher, which reads the request, is not told it.

    A refused request tells the requester nothing about the record: it stores only the record
    id, the requester, its purpose and the status (not the publisher nor the subject, whom a
    bank without consent may not learn), and an unknown record id is refused in exactly the
    same way, so the answer does not tell whether a record exists. A request for a record
    since corrected is a request for the correction (``record_id`` the correction's,
    ``asked_for`` the one asked). A record past its retention end (decision 201) is refused in
    the same way, to a bank whose consent covers it too (decision 214): after its end a record
    is no longer reported, not even as existing."""
    asked = args["record_id"]
    purpose = args.get("purpose")
    rec = state.get(NAME, "record/" + asked)
    if rec is not None and rec["publisher"] == ctx.sender_hex:
        raise ContractError("the publisher already holds its record", "own_record")
    record_id, cur = current_record(state, asked)
    # a record past its retention end is refused as no record, to every bank (decision 214,
    # red-team round 10: `record_expired` told a consented bank that an old record, a default
    # kept seven years perhaps, exists for the subject, after the end was to stop reporting it)
    consented = cur is not None and not expired(cur, ctx.timestamp_ms) and consent_covers(
        state.get(NAME, f"consent/{cur['subject']}/{ctx.sender_hex}"), purpose,
        cur["publisher"], ctx.timestamp_ms)
    request_id = ctx.derive_id()
    if not consented:
        refused = {"record_id": asked, "requester": ctx.sender_hex, "status": "refused"}
        if purpose is not None:
            refused["purpose"] = purpose
        state.put(NAME, "request/" + request_id, refused)
        if cur is not None:
            _log_access(state, ctx, cur["subject"], {
                "request_id": request_id, "record_id": record_id,
                "requester": ctx.sender_hex, "publisher": cur["publisher"],
                "purpose": purpose, "status": "refused"})
        ctx.emit("access_refused", {"request_id": request_id, "record_id": asked,
                                    "requester": ctx.sender_hex})
        return {"request_id": request_id, "status": "refused"}
    assert cur is not None
    req = {"record_id": record_id, "requester": ctx.sender_hex, "publisher": cur["publisher"],
           "subject": cur["subject"], "status": "pending",
           "height": ctx.height, "timestamp_ms": ctx.timestamp_ms, "sealed": None}
    if record_id != asked:
        req["asked_for"] = asked
    state.put(NAME, "request/" + request_id, req)
    _pend(state, cur["publisher"], request_id)
    if purpose is not None:
        state.put(NAME, "purpose/" + request_id, {
            "requester": ctx.sender_hex, "subject": cur["subject"], "purpose": purpose})
    _log_access(state, ctx, cur["subject"], {
        "request_id": request_id, "record_id": record_id, "requester": ctx.sender_hex,
        "publisher": cur["publisher"], "purpose": purpose, "status": "pending"})
    ctx.emit("access_requested", {"request_id": request_id, "record_id": record_id,
                                  "requester": ctx.sender_hex, "publisher": cur["publisher"],
                                  "subject": cur["subject"]})
    return {"request_id": request_id, "status": "pending"}


@CONTRACT.method(roles=("bank",), params={"request_id": p_id, "sealed": _sealed},
                 optional={"record_id": p_id})
def deliver(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The publisher answers a pending request with the record sealed to the requester's
    current key only, while a live consent of the subject still covers the request and the
    requester is still a bank in good standing (:func:`delivery_key`). It delivers the version
    in force: ``record_id`` (default: the one requested) must be it, else ``superseded`` (the
    old version of a corrected record is never delivered). A record under an open dispute is
    delivered marked so (``disputed``: the subject's reason, since when)."""
    request_id, sealed = args["request_id"], args["sealed"]
    req = state.get(NAME, "request/" + request_id)
    if req is None or req.get("publisher") != ctx.sender_hex:
        # one answer for no request, a refused one (it names no publisher) and another
        # publisher's: a bank holding a request id learns nothing of it (red-team round 9)
        raise ContractError(f"no request {request_id} for your records", "unknown_request")
    if req["status"] != "pending":
        raise ContractError(f"the request is {req['status']}", "request_not_pending")
    recipient = delivery_key(state, request_id, req, ctx.timestamp_ms)
    if recipient is None:
        raise ContractError("this request may no longer be delivered", "not_consented")
    if set(sealed) != {recipient}:
        raise ContractError("a delivery is sealed to the requester's current key and nobody "
                            "else", "not_consented")
    record_id, cur = current_record(state, req["record_id"])
    if args.get("record_id", req["record_id"]) != record_id:
        raise ContractError(f"the record was corrected: deliver {record_id}", "superseded")
    if expired(cur, ctx.timestamp_ms):
        raise ContractError(f"record {record_id} is past its retention end", "record_expired")
    if record_id != req["record_id"]:
        req.setdefault("asked_for", req["record_id"])
        req["record_id"] = record_id
    dispute = state.get(NAME, "dispute/" + record_id)
    marked = ({"reason": dispute["reason"], "since_ms": dispute["opened_ms"]}
              if dispute is not None and dispute["status"] == "open" else None)
    open_ = marked is not None
    req["status"] = "delivered"
    req["sealed"] = sealed
    req["disputed"] = marked
    state.put(NAME, "request/" + request_id, req)
    _unpend(state, ctx.sender_hex, request_id)
    _log_access(state, ctx, req["subject"], {
        "request_id": request_id, "record_id": record_id, "requester": req["requester"],
        "publisher": ctx.sender_hex, "purpose": request_purpose(state, request_id),
        "status": "delivered"})
    _note_recipient(state, ctx, record_id, req["requester"], request_id)
    if dispute is not None and open_:
        # the banks that got it marked disputed learn the dispute's result (decision 248)
        _note_recipient(state, ctx, record_id, req["requester"], request_id,
                        f"/d/{int(dispute['count'])}")
    ctx.emit("delivered", {"request_id": request_id, "record_id": record_id,
                           "requester": req["requester"], "publisher": ctx.sender_hex,
                           "disputed": open_})
    return {"request_id": request_id, "status": "delivered", "disputed": open_}


@CONTRACT.method(roles=None, params={"record_id": p_id, "reason": p_text(MAX_REASON)},
                 while_frozen=True)
def dispute(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The subject disputes a record about it (GDPR art. 16, FCRA s. 611), with a reason: until
    the publisher corrects it or rejects the dispute, every delivery of it says so and carries
    the reason. Its subject only (anyone else: ``unknown_record``, as for no record), whatever
    its standing; one open dispute at a time (``dispute_open``), at most
    :data:`MAX_DISPUTES` a record; a record since corrected is ``superseded`` (dispute the
    correction). The publisher is told (event ``disputed``)."""
    record_id = args["record_id"]
    rec = _own_record(state, record_id, ctx.sender_hex, "subject")
    if rec.get("superseded_by") is not None:
        raise ContractError(f"the record was corrected by {rec['superseded_by']}", "superseded")
    old = state.get(NAME, "dispute/" + record_id)
    if old is not None and old["status"] == "open":
        raise ContractError("the record is already disputed", "dispute_open")
    count = (old["count"] if old is not None else 0) + 1
    if count > MAX_DISPUTES:
        raise ContractError(f"a record is disputed at most {MAX_DISPUTES} times",
                            "too_many_disputes")
    state.put(NAME, "dispute/" + record_id, {
        "record_id": record_id, "publisher": rec["publisher"], "subject": ctx.sender_hex,
        "status": "open", "reason": args["reason"], "opened_height": ctx.height,
        "opened_ms": ctx.timestamp_ms, "count": count, "answer": None, "correction": None,
        "closed_height": None, "closed_ms": None})
    ctx.emit("disputed", {"record_id": record_id, "subject": ctx.sender_hex,
                          "publisher": rec["publisher"]})
    return {"record_id": record_id, "dispute": "open"}


@CONTRACT.method(roles=("bank",), params={"record_id": p_id, "reason": p_text(MAX_REASON)})
def reject_dispute(state: ContractState, ctx: TxContext, args: dict[str, Any]
                   ) -> dict[str, Any]:
    """The publisher, having checked the record, stands by it: the open dispute is closed
    ``rejected`` with its reason; later deliveries are no longer marked disputed. Its
    publisher only (anyone else: ``unknown_record``). The subject is told the result with the
    reason in its own inbox (decision 248, FCRA s. 611(a)(6)), and each bank the record was
    delivered to marked disputed under this dispute is told that it was rejected: the first
    :data:`NOTICE_PAGE` here, the rest by ``notify_dispute``."""
    record_id = args["record_id"]
    rec = _own_record(state, record_id, ctx.sender_hex, "publisher")
    d = state.get(NAME, "dispute/" + record_id)
    if d is None or d["status"] != "open":
        raise ContractError("the record is not disputed", "no_open_dispute")
    d.update(status="rejected", answer=args["reason"], closed_height=ctx.height,
             closed_ms=ctx.timestamp_ms)
    state.put(NAME, "dispute/" + record_id, d)
    ctx.emit("dispute_rejected", {"record_id": record_id, "subject": rec["subject"],
                                  "publisher": ctx.sender_hex})
    c = int(d["count"])
    marked = state.get(NAME, f"rcpt/{record_id}/d/{c}")
    if marked is not None:  # what the later pages tell, once this dispute is no longer kept
        state.put(NAME, f"rcpt/{record_id}/d/{c}",
                  {**marked, "since_ms": d["opened_ms"], "closed_height": ctx.height})
    _tell_subject(state, ctx, record_id, rec, d, int(marked["n"]) if marked else 0)
    sent = _send_dispute_notices(state, ctx, record_id, rec, c)
    return {"record_id": record_id, "dispute": "rejected", "notices": sent}


@CONTRACT.method(roles=("bank",),
                 params={"record_id": p_id, "commitment": p_hex(32), "sealed": _sealed},
                 optional={"retain_days": p_int(1, MAX_RETENTION_DAYS)})
def correct(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The publisher publishes a correction of its record (sealed as ``publish``): a new record
    of the same subject that supersedes it. The old one is never delivered again (a request
    for it is answered with the correction), and an open dispute of it is closed
    ``corrected``. Its publisher only (anyone else: ``unknown_record``); a record already
    corrected is ``superseded`` (correct the correction), at most :data:`MAX_VERSIONS`
    versions. Its ``retain_days`` end is never later than the old record's (decision 201).
    The banks the old version was delivered to are told (decision 200, :func:`_send_notices`):
    the first :data:`NOTICE_PAGE` here, the rest by ``notify_correction``; the subject of a
    dispute it closes is told in its inbox (decision 248)."""
    old_id, sealed = args["record_id"], args["sealed"]
    rec = _own_record(state, old_id, ctx.sender_hex, "publisher")
    if rec.get("superseded_by") is not None:
        raise ContractError(f"the record was corrected by {rec['superseded_by']}", "superseded")
    version = int(rec.get("version", 1)) + 1
    if version > MAX_VERSIONS:
        raise ContractError(f"a record has at most {MAX_VERSIONS} versions",
                            "too_many_corrections")
    _check_recipients(state, ctx, sealed)
    record_id = ctx.derive_id()
    state.put(NAME, "record/" + record_id, {
        "publisher": ctx.sender_hex, "subject": rec["subject"],
        "commitment": args["commitment"], "sealed": sealed, "height": ctx.height,
        "version": version, "supersedes": old_id,
        "retain_until_ms": _retain_until(ctx, args, rec.get("retain_until_ms"))})
    rec["superseded_by"] = record_id
    state.put(NAME, "record/" + old_id, rec)
    _index(state, rec["subject"], "r", record_id)
    d = state.get(NAME, "dispute/" + old_id)
    if d is not None and d["status"] != "open":
        d = None  # only an open dispute is closed (and told) by a correction
    if d is not None:
        d.update(status="corrected", correction=record_id, closed_height=ctx.height,
                 closed_ms=ctx.timestamp_ms)
        state.put(NAME, "dispute/" + old_id, d)
    ctx.emit("corrected", {"record_id": record_id, "supersedes": old_id,
                           "publisher": ctx.sender_hex, "subject": rec["subject"],
                           "commitment": args["commitment"]})
    if d is not None:  # the result of the subject's dispute, told to it (decision 248)
        told = state.get(NAME, "rcpt/" + old_id)
        _tell_subject(state, ctx, old_id, rec, d, int(told["n"]) if told else 0)
    sent = _send_notices(state, ctx, old_id, rec)
    return {"record_id": record_id, "supersedes": old_id, "version": version, "notices": sent}


@CONTRACT.method(roles=None, params={"record_id": p_id}, while_frozen=True)
def notify_correction(state: ContractState, ctx: TxContext, args: dict[str, Any]
                      ) -> dict[str, Any]:
    """Tell the next :data:`NOTICE_PAGE` earlier recipients of a corrected record that a
    correction cut short (``correct`` tells the first page): its publisher or its subject
    (GDPR art. 19, FCRA s. 611(d): at the consumer's request), whatever its standing; anyone
    else ``unknown_record``; a record not corrected, or every recipient told,
    ``no_pending_notices``."""
    record_id = args["record_id"]
    rec = state.get(NAME, "record/" + record_id)
    if rec is None or ctx.sender_hex not in (rec.get("publisher"), rec.get("subject")):
        raise ContractError(f"no record {record_id} of yours", "unknown_record")
    head = state.get(NAME, "rcpt/" + record_id) or {"n": 0, "notified": 0}
    if rec.get("superseded_by") is None or int(head["notified"]) >= int(head["n"]):
        raise ContractError("no recipient of the record is left to tell", "no_pending_notices")
    return {"record_id": record_id, "notices": _send_notices(state, ctx, record_id, rec)}


@CONTRACT.method(roles=None, params={"record_id": p_id},
                 optional={"dispute": p_int(1, MAX_DISPUTES)}, while_frozen=True)
def notify_dispute(state: ContractState, ctx: TxContext, args: dict[str, Any]
                   ) -> dict[str, Any]:
    """Tell the next :data:`NOTICE_PAGE` banks a record was delivered to marked disputed that
    the dispute was rejected, when ``reject_dispute`` could not tell them all (decision 248):
    ``dispute`` (default: the record's latest) numbers it. Its publisher or its subject,
    whatever its standing; anyone else ``unknown_record``; a dispute not rejected (open,
    corrected, none), or every bank told, ``no_pending_notices``."""
    record_id = args["record_id"]
    rec = state.get(NAME, "record/" + record_id)
    if rec is None or ctx.sender_hex not in (rec.get("publisher"), rec.get("subject")):
        raise ContractError(f"no record {record_id} of yours", "unknown_record")
    d = state.get(NAME, "dispute/" + record_id) or {"count": 0, "status": None}
    latest = int(d["count"])
    c = int(args.get("dispute", latest))
    # a dispute earlier than the latest was rejected (one open at a time; a corrected record
    # is disputed no more); the latest one must say so
    rejected = 0 < c < latest or (c == latest > 0 and d["status"] == "rejected")
    head = state.get(NAME, f"rcpt/{record_id}/d/{c}") or {"n": 0, "notified": 0}
    if not rejected or int(head["notified"]) >= int(head["n"]):
        raise ContractError("no bank is left to tell of a rejected dispute",
                            "no_pending_notices")
    return {"record_id": record_id, "dispute": c,
            "notices": _send_dispute_notices(state, ctx, record_id, rec, c)}


@CONTRACT.method(roles=None, params={"request_id": p_id}, while_frozen=True)
def close_request(state: ContractState, ctx: TxContext, args: dict[str, Any]
                  ) -> dict[str, Any]:
    """Close a request left ``pending`` at its record's retention end (decision 249): it can
    never be delivered (``deliver`` is ``record_expired``), so it becomes ``expired``, the
    requester is told (the request's status, an event ``request_expired`` naming it) and the
    subject's access report lists it. No timer runs on chain: the module closes it when asked,
    as it checks the end when a method runs (decision 201). Its publisher or its subject,
    whatever its standing — both know the end — and no one else (``unknown_request``, the
    answer for no request and a refused one): the requester, which may not know the end
    (decision 213), would learn it by trying, with nothing in the subject's access report.
    Before the end (block time): ``not_expired``; not pending: ``request_not_pending``.

    The subject also closes a pending request its consent no longer covers (revoked, ended:
    never delivered, ``not_consented``), before or after the end: ``withdrawn`` (event
    ``request_withdrawn``), decision 250 — and so, whatever the end, a requester whose consent
    is gone learns nothing of it from its subject's close. The requester's standing is not
    looked at (a freeze is not told to the subject)."""
    request_id = args["request_id"]
    req = state.get(NAME, "request/" + request_id)
    if req is None or ctx.sender_hex not in (req.get("publisher"), req.get("subject")):
        raise ContractError(f"no request {request_id} for your records", "unknown_request")
    if req["status"] != "pending":
        raise ContractError(f"the request is {req['status']}", "request_not_pending")
    purpose = request_purpose(state, request_id)
    status = "expired" if expired(current_record(state, req["record_id"])[1],
                                  ctx.timestamp_ms) else None
    if ctx.sender_hex == req["subject"] and not consent_covers(
            state.get(NAME, f"consent/{req['subject']}/{req['requester']}"), purpose,
            req["publisher"], ctx.timestamp_ms):
        status = "withdrawn"
    if status is None:
        raise ContractError("the record is not past its retention end", "not_expired")
    req.update(status=status, closed_height=ctx.height, closed_ms=ctx.timestamp_ms)
    state.put(NAME, "request/" + request_id, req)
    _unpend(state, str(req["publisher"]), request_id)
    _log_access(state, ctx, req["subject"], {
        "request_id": request_id, "record_id": req["record_id"], "requester": req["requester"],
        "publisher": req["publisher"], "purpose": purpose, "status": status})
    ctx.emit("request_" + status, {"request_id": request_id, "record_id": req["record_id"],
                                   "requester": req["requester"]})
    return {"request_id": request_id, "status": status}
