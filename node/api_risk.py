"""The risk routes: alerts as SSE ``alert`` events, alert counts in /metrics, and the rules,
freezes and alerts of an account. Everything is read from the committed state, which every node
agrees on. Registered by :func:`node.api.make_app`; :data:`RISK_OPENAPI_PATHS` is merged into
:data:`node.api.OPENAPI` there.

Part of :mod:`node.api`, which imports this module below the helpers it uses: import
:mod:`node.api` (not this module) first."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from chainfin import codec
from chainfin.errors import InvalidTransaction
from chainfin.execution import bic_key
from contracts import risk_cases
from node import access
from node.api import (
    _HEX32,
    NODE_KEY,
    _hex_param,
    _op,
    _param,
    _state_get,
    error,
    may_read,
    reader_of,
)
from node.runtime import Node

RISK_ALERT_RULES = ("limit_exceeded", "sanctioned_party", "structuring", "counterparty_change",
                    "round_trip", "lc_copy_disputed", "possible_watch_match",
                    "declaration_disputed", "jurisdiction_refused", "high_risk_jurisdiction",
                    "controlled_goods_refused", "controlled_goods", "watched_bank_customer"
                    )  # contracts.risk.ALERT_RULES (node does not import contracts)


def alert_events(block_event: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``alert`` SSE events of one committed block's ``block`` event."""
    return [{"type": "alert", "height": block_event["height"], "tx_id": e["tx_id"], **e["data"]}
            for e in block_event["events"] if e["contract"] == "risk" and e["name"] == "alert"]


def risk_metrics(node: Node) -> bytes:
    """``chainfin_risk_alerts_total{rule}``: alerts raised on the chain so far, by rule."""
    lines = ["# HELP chainfin_risk_alerts_total Risk alerts raised on the chain, by rule",
             "# TYPE chainfin_risk_alerts_total counter"]
    for rule in RISK_ALERT_RULES:
        n = node.ledger.state_value("risk", "alert_count/" + rule) or 0
        lines.append(f'chainfin_risk_alerts_total{{rule="{rule}"}} {int(n)}')
    # the review backlog, from the committed state (every node the same): one read for the
    # count, and a bounded look from the queue's head for the oldest (risk_cases.oldest_open)
    meta = node.ledger.state_value("risk", "queue/" + risk_cases.ALL) or {}
    lines += ["# HELP chainfin_risk_alerts_open Risk alerts raised and not yet reviewed",
              "# TYPE chainfin_risk_alerts_open gauge",
              f"chainfin_risk_alerts_open {int(meta.get('open', 0))}"]
    oldest = risk_cases.oldest_open(node.ledger.state_value)
    if oldest is not None:
        age = max(0, node.ledger.tip.timestamp_ms - int(oldest["time_ms"])) / 1000
        lines += ["# HELP chainfin_risk_alert_oldest_open_age_seconds Block time since the "
                  "oldest unreviewed risk alert was raised",
                  "# TYPE chainfin_risk_alert_oldest_open_age_seconds gauge",
                  f"chainfin_risk_alert_oldest_open_age_seconds {age:.3f}"]
    return ("\n".join(lines) + "\n").encode()


async def get_risk_rules(request: web.Request) -> web.Response:
    """The network-wide rules and parameters."""
    node = request.app[NODE_KEY]
    prof = node.ledger.state_value("risk", "profile/*") or {"rules": []}
    return web.json_response({
        "rules": codec.to_json(prof["rules"]),
        "seize_approvals": node.ledger.state_value("risk", "param/seize_approvals") or 1,
        "regulators": node.ledger.state_value("governance", "regulators") or [],
        "alert_rules": list(RISK_ALERT_RULES), "height": node.ledger.tip.height})


async def get_risk_account(request: web.Request) -> web.Response:
    """An account's standing, its own rules, frozen currencies and latest alerts."""
    node = request.app[NODE_KEY]
    key = _hex_param(request, "account").hex()
    ident_id = key
    rec = node.ledger.state_value("governance", "id/" + key)
    if rec is None:
        ident_id = node.ledger.state_value("governance", "key/" + key) or key
        rec = node.ledger.state_value("governance", "id/" + ident_id)
    if rec is None or not may_read(request, access.account_rule(
            _state_get(request), reader_of(request), ident_id)):
        return error(404, "not_found", f"no identity {key}")
    prof = node.ledger.state_value("risk", "profile/" + ident_id) or {"rules": [], "frozen": {}}
    doc = {"account": ident_id, "key": rec.get("key", ident_id),
           "status": rec.get("status", "active"), "rules": prof["rules"],
           "frozen": prof["frozen"], "height": node.ledger.tip.height}
    if access.monitoring_rule(_state_get(request), reader_of(request), ident_id) is not None:
        # the alerts are the home bank's and the supervisors', never the account's own (no
        # tipping off): the owner's answer has no ``alerts`` at all, whatever there is
        doc["alerts"] = node.ledger.state_value("risk", "alerts/" + ident_id) or []
    return web.json_response(codec.to_json(doc))


#: most entries one queue read returns / reads
QUEUE_MAX_LIMIT = 1000
QUEUE_SCAN = 10_000


def _queues_of(reader: access.Reader) -> list[str]:
    """The review queues ``reader`` reads (:mod:`contracts.risk_cases`): every alert for a
    regulator or an auditor, else a bank's customers' (by its id and its BIC)."""
    if reader.supervisor is not None:
        return [risk_cases.ALL]
    if reader.role != "bank" or reader.ident_id is None:
        return []
    out = ["id:" + reader.ident_id]
    if reader.bank:
        out.append("bic:" + bic_key(reader.bank))
    return out


def _case_json(rec: dict[str, Any], now_ms: int, tip: int) -> dict[str, Any]:
    out: dict[str, Any] = codec.to_json(rec)
    out.pop("queues", None)
    out.pop("own", None)
    out["age_ms"] = max(0, now_ms - int(rec["time_ms"]))
    out["age_blocks"] = max(0, tip - int(rec["height"]))
    return out


_CURSOR = re.compile(r"(-?[0-9]{1,19})(?:\.(-?[0-9]{1,19}))?")


def _cursor(request: web.Request, n: int) -> list[int]:
    """``after``: a supervisor's ``<seq>``, a bank's ``<seq>.<seq>`` (one per queue it reads;
    the previous page's ``next``); -1 each when absent."""
    v = request.query.get("after")
    if v is None:
        return [-1] * n
    m = _CURSOR.fullmatch(v)
    parts = [int(x) for x in m.groups() if x is not None] if m else []
    if len(parts) != n or not all(-1 <= x <= 2**62 for x in parts):
        raise InvalidTransaction("after must be the previous page's next: "
                                 + ("<seq>" if n == 1 else "<seq>.<seq>"), "bad_request")
    return parts


def _names(get: access.StateGet, accounts: list[Any]) -> dict[str, str]:
    """The registered names of an alert's accounts (network data: ``governance/id/<id>``'s
    ``name``, which any identity reads), so that the page needs no read per account."""
    out = {}
    for a in accounts:
        rec = get("governance", "id/" + a) if isinstance(a, str) else None
        if isinstance(rec, dict) and isinstance(rec.get("name"), str):
            out[a] = rec["name"]
    return out


async def get_alert_queue(request: web.Request) -> web.Response:
    """The open (unreviewed) alerts the reader reviews, oldest first, with their age (block
    time of the tip minus the alert's) and their accounts' registered names; ``counts``,
    ``{"open", "reviewed"}`` of the reader's queue (a bank: of its customers' alerts, each
    once: :func:`contracts.risk_cases.bank_counts`, two reads; a supervisor's ``open`` is also
    at the top, as before) and ``next``, the cursor of the next page (None: the end).
    ``limit`` (default 100, at most 1000); ``after`` (the previous page's ``next``: a
    supervisor's ``<seq>``, a bank's ``<seq>.<seq>``). ``queue`` says whose: ``all`` (a
    supervisor's) or ``bank``."""
    node = request.app[NODE_KEY]
    get, reader = _state_get(request), reader_of(request)
    limit = _int_query(request, "limit", 100, 1, QUEUE_MAX_LIMIT)
    queues = _queues_of(reader)
    if not queues or not may_read(request, reader.supervisor or "home_bank"):
        return error(404, "not_found", "no alert queue for this identity")
    afters = _cursor(request, 1 if risk_cases.ALL in queues else 2)
    tip = node.ledger.tip
    doc: dict[str, Any] = {"height": tip.height, "time_ms": tip.timestamp_ms}
    if risk_cases.ALL in queues:
        page, cont = risk_cases.queue_page(get, risk_cases.ALL, limit, afters[0], QUEUE_SCAN)
        cases = [rec for _, rec in page]
        counts = risk_cases.counts(get, risk_cases.ALL)
        # (``open`` at the top too, as before decision 165: a client told a supervisor's
        # answer from a bank's by it, so a bank's counts are under ``counts`` only)
        doc |= {"queue": "all", "counts": counts, "open": counts["open"], "next": cont}
    else:
        # queued by the home-bank rule when raised; read by it as of now
        def keep(rec: dict[str, Any]) -> bool:
            return any(isinstance(a, str) and access.monitoring_rule(get, reader, a)
                       == "home_bank" for a in rec["accounts"])
        cases, cur = risk_cases.merged_page(get, queues, afters[:len(queues)], limit,
                                            QUEUE_SCAN, keep)
        while len(queues) < 2 and cur is not None:
            cur.append(-1)  # (a bank without a BIC: the cursor has the same shape)
        counts = risk_cases.bank_counts(get, queues[0], queues[1] if len(queues) > 1 else None)
        doc |= {"queue": "bank", "counts": counts,
                "next": None if cur is None else ".".join(str(x) for x in cur[:2])}
    doc["alerts"] = [_case_json(rec, tip.timestamp_ms, tip.height)
                     | {"names": _names(get, rec["accounts"])} for rec in cases]
    return web.json_response(doc)


async def get_alert_case(request: web.Request) -> web.Response:
    """One alert's case: the alert, its public state (``open`` / ``reviewed``), every review
    (its disposition sealed: decision 151) and ``seal_to``, the keys a review by the reader
    must be sealed to."""
    node = request.app[NODE_KEY]
    ref = request.match_info["alert"]
    get, reader = _state_get(request), reader_of(request)
    rec = node.ledger.state_value("risk", "alert/" + ref) if len(ref) <= 80 else None
    rule = None
    if isinstance(rec, dict):
        rule = reader.supervisor or next(
            (r for a in rec.get("accounts") or [] if isinstance(a, str)
             and (r := access.monitoring_rule(get, reader, a)) is not None), None)
    if rec is None or not may_read(request, rule):
        return error(404, "not_found", f"no alert {ref}")
    tip = node.ledger.tip
    return web.json_response(_case_json(rec, tip.timestamp_ms, tip.height) | {
        "alert": ref, "reviews": codec.to_json(risk_cases.reviews(get, ref)),
        "height_now": tip.height, "seal_to": _seal_to(get, reader)})


def _seal_to(get: access.StateGet, reader: access.Reader) -> list[str]:
    """The keys a review by ``reader`` is sealed to (``risk_cases.seal_to``, which the contract
    enforces): the regulators' current keys and the reader's own."""
    keys = {reader.key}
    for r in get("governance", "regulators") or []:
        ident = get("governance", "id/" + r)
        keys.add(str(ident.get("key", r)) if isinstance(ident, dict) else r)
    return sorted(keys)


def _int_query(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    v = request.query.get(name)
    if v is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,19}", v) or not lo <= int(v) <= hi:
        raise InvalidTransaction(f"{name} must be an integer from {lo} to {hi}", "bad_request")
    return int(v)


RISK_OPENAPI_PATHS: dict[str, Any] = {
    "/v1/risk/rules": {"get": _op("getRiskRules", "Network-wide risk rules and parameters")},
    "/v1/risk/accounts/{account}": {"get": _op(
        "getRiskAccount", "An account's standing, rules, frozen currencies and latest alerts",
        params=[_param("account", "path", _HEX32, "identity id or current key, hex")],
        errors=("400", "404"))},
    "/v1/risk/alerts/queue": {"get": _op(
        "getAlertQueue", "The open (unreviewed) alerts the reader reviews, oldest first, a "
        "page at a time (next), with the counts open and reviewed of the reader's queue",
        params=[_param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000},
                       "at most this many alerts (default 100)"),
                _param("after", "query", {"type": "string",
                                          "pattern": "^-?[0-9]+(\\.-?[0-9]+)?$"},
                       "the previous page's next: a supervisor's <seq>, a bank's <seq>.<seq>")],
        errors=("400", "404"))},
    "/v1/risk/alerts/{alert}": {"get": _op(
        "getAlertCase", "One alert's case: the alert, its public state (open or reviewed), its "
        "reviews (sealed dispositions) and the keys a review is sealed to (seal_to)",
        params=[_param("alert", "path", {"type": "string", "maxLength": 80},
                       "the alert's id: <tx id>-<n>")],
        errors=("400", "404"))},
}


def add_risk_routes(app: web.Application) -> None:
    app.router.add_get("/v1/risk/rules", get_risk_rules)
    app.router.add_get("/v1/risk/accounts/{account}", get_risk_account)
    app.router.add_get("/v1/risk/alerts/queue", get_alert_queue)
    app.router.add_get("/v1/risk/alerts/{alert}", get_alert_case)
