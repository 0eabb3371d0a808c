"""credit_sharing: credit records shared between banks only with the subject's consent.

Every node holds every ciphertext (they are in blocks and state), so a record is only ever
sealed (X25519 sealed box) to parties entitled to it: at publication to the publishing bank
itself and to the regulators, and later to a requesting bank only once the subject has
consented. A copy is sealed to the recipient's **current** key (``governance/id/<id>.key``,
else the id): a key its identity replaced may be lost or stolen. In clear, the chain holds only
a salted commitment to the record.

Flow: a bank ``publish``es (commitment + sealed copies) -> the subject ``grant_consent`` to a
bank (``revoke_consent`` withdraws it) -> that bank ``request_access`` -> with consent the request
is ``pending`` and the publisher's node answers automatically with ``deliver`` (the record sealed
to the requester, see :func:`answer_request`); without consent the request is recorded as
``refused`` (a committed transaction: the refusal is on chain). The requester opens the delivery
and checks it against the commitment (:func:`open_and_check`). A delivery needs, when it
executes, the subject's consent and a requester that is still a bank in good standing (neither
revoked nor frozen). The subject withdraws a consent whatever its role or standing.

State (contract ``credit_sharing``):

- ``record/<record_id>`` -> ``{"publisher", "subject", "commitment", "sealed": {pubkey: ct},
  "height"}`` (ciphertexts hex, keyed by the recipients' keys at publication);
- ``consent/<subject>/<bank>`` -> ``{"height", "timestamp_ms"}``;
- ``request/<request_id>`` -> ``{"record_id", "requester", "publisher", "subject", "status",
  "height", "sealed"}``, status ``pending`` | ``delivered``; a refused request (no consent, or
  no such record: the same answer) is ``{"record_id", "requester", "status": "refused"}``.

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
    p_pubkey,
)
from contracts import governance as gov

NAME = "credit_sharing"
CONTRACT = Contract(NAME, __doc__ or "")
MAX_CIPHERTEXT = 16 * 1024
_COMMIT_TAG = b"chainfin/credit-record/1\0"

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


def delivery_key(state: StateView, req: Mapping[str, Any]) -> str | None:
    """The key a pending request is delivered to: the requester's current key, while the
    subject's consent holds and the requester is a bank in good standing; else None. One
    answer for all three, so a refused delivery tells the publisher nothing of the
    requester's standing (a freeze is not told to counterparties)."""
    if state.peek(NAME, f"consent/{req['subject']}/{req['requester']}") is None:
        return None
    ident = state.peek(gov.NAME, "id/" + req["requester"])
    if ident is None or ident.get("role") != "bank" or ident.get("status") is not None:
        return None
    return str(ident.get("key", req["requester"]))


def answer_request(identity: crypto.Identity, state: StateView, request_id: str
                   ) -> dict[str, Any] | None:
    """For the publisher's node: the ``deliver`` args answering ``request_id``, or None when
    there is nothing to do (not its record, not pending, consent gone, the requester no longer
    a bank in good standing). ``identity`` is the publisher's current key. Opens the
    publisher's own sealed copy and re-seals it to the requester's current key only; the
    plaintext never leaves memory.

    Raises:
        RecordCheckError: the publisher's own copy does not open or match its commitment.
    """
    req = state.get(NAME, "request/" + request_id)
    if req is None or req["status"] != "pending":
        return None
    key = identity.public_key.hex()
    if current_key(state, req["publisher"]) != key:
        return None
    recipient = delivery_key(state, req)
    rec = state.get(NAME, "record/" + req["record_id"])
    if recipient is None or rec is None:
        return None
    record, salt = open_record(identity, rec["sealed"])
    if make_commitment(record, salt) != rec["commitment"]:
        raise RecordCheckError("own copy does not match its commitment")
    return {"request_id": request_id, "sealed": seal_record(record, salt, [recipient])}


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


# ---------------------------------------------------------------------------- methods


@CONTRACT.method(roles=("bank",),
                 params={"subject": p_pubkey, "commitment": p_hex(32), "sealed": _sealed})
def publish(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """Publish a credit record about ``subject``: its commitment in clear, the record sealed to
    exactly the publisher and the regulators (nobody else has consented), each at its current
    key."""
    subject, sealed = args["subject"], args["sealed"]
    ident = gov.require_identity(state, subject)
    if ident["role"] not in ("exporter", "importer"):
        raise ContractError("the subject of a credit record is an exporter or importer",
                            "bad_field")
    allowed = {ctx.key_hex, *(current_key(state, r) for r in gov.regulators(state))}
    extra = sorted(set(sealed) - allowed)
    if extra:
        raise ContractError(f"{extra[0][:16]}… has no consent to receive this record",
                            "not_consented")
    missing = sorted(allowed - set(sealed))
    if missing:
        raise ContractError(f"the record must also be sealed to {missing[0][:16]}…",
                            "missing_recipient")
    record_id = ctx.derive_id()
    state.put(NAME, "record/" + record_id, {
        "publisher": ctx.sender_hex, "subject": subject, "commitment": args["commitment"],
        "sealed": sealed, "height": ctx.height})
    ctx.emit("published", {"record_id": record_id, "publisher": ctx.sender_hex,
                           "subject": subject, "commitment": args["commitment"]})
    return {"record_id": record_id}


@CONTRACT.method(roles=("exporter", "importer"), params={"bank": p_pubkey})
def grant_consent(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The subject lets ``bank`` obtain credit records about it."""
    gov.require_identity(state, args["bank"], "bank")
    key = f"consent/{ctx.sender_hex}/{args['bank']}"
    if state.get(NAME, key) is not None:
        raise ContractError("consent is already granted", "already_consented")
    state.put(NAME, key, {"height": ctx.height, "timestamp_ms": ctx.timestamp_ms})
    ctx.emit("consent_granted", {"subject": ctx.sender_hex, "bank": args["bank"]})
    return {"subject": ctx.sender_hex, "bank": args["bank"], "consent": True}


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


@CONTRACT.method(roles=("bank",), params={"record_id": p_id})
def request_access(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A bank asks for a record. With the subject's consent the request is ``pending`` (the
    publisher's node delivers); without, it is recorded as ``refused``. Both commit.

    A refused request tells the requester nothing about the record: it stores only the record
    id, the requester and the status (not the publisher nor the subject, whom a bank without
    consent may not learn), and an unknown record id is refused in exactly the same way, so
    the answer does not tell whether a record exists."""
    record_id = args["record_id"]
    rec = state.get(NAME, "record/" + record_id)
    if rec is not None and rec["publisher"] == ctx.sender_hex:
        raise ContractError("the publisher already holds its record", "own_record")
    consented = rec is not None and state.get(
        NAME, f"consent/{rec['subject']}/{ctx.sender_hex}") is not None
    request_id = ctx.derive_id()
    if not consented:
        state.put(NAME, "request/" + request_id, {
            "record_id": record_id, "requester": ctx.sender_hex, "status": "refused"})
        ctx.emit("access_refused", {"request_id": request_id, "record_id": record_id,
                                    "requester": ctx.sender_hex})
        return {"request_id": request_id, "status": "refused"}
    assert rec is not None
    state.put(NAME, "request/" + request_id, {
        "record_id": record_id, "requester": ctx.sender_hex, "publisher": rec["publisher"],
        "subject": rec["subject"], "status": "pending", "height": ctx.height, "sealed": None})
    ctx.emit("access_requested", {"request_id": request_id, "record_id": record_id,
                                  "requester": ctx.sender_hex, "publisher": rec["publisher"],
                                  "subject": rec["subject"]})
    return {"request_id": request_id, "status": "pending"}


@CONTRACT.method(roles=("bank",), params={"request_id": p_id, "sealed": _sealed})
def deliver(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """The publisher answers a pending request with the record sealed to the requester's
    current key only, while the subject's consent still holds and the requester is still a
    bank in good standing (:func:`delivery_key`)."""
    request_id, sealed = args["request_id"], args["sealed"]
    req = state.get(NAME, "request/" + request_id)
    if req is None:
        raise ContractError(f"no request {request_id}", "unknown_request")
    if req["status"] != "pending":  # (a refused request does not name the publisher)
        raise ContractError(f"the request is {req['status']}", "request_not_pending")
    if req["publisher"] != ctx.sender_hex:
        raise ContractError("only the record's publisher may deliver it", "forbidden")
    recipient = delivery_key(state, req)
    if recipient is None:
        raise ContractError("this request may no longer be delivered", "not_consented")
    if set(sealed) != {recipient}:
        raise ContractError("a delivery is sealed to the requester's current key and nobody "
                            "else", "not_consented")
    req["status"] = "delivered"
    req["sealed"] = sealed
    state.put(NAME, "request/" + request_id, req)
    ctx.emit("delivered", {"request_id": request_id, "record_id": req["record_id"],
                           "requester": req["requester"], "publisher": ctx.sender_hex})
    return {"request_id": request_id, "status": "delivered"}
