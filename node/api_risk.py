"""The risk routes: alerts as SSE ``alert`` events, alert counts in /metrics, and the rules,
freezes and alerts of an account. Everything is read from the committed state, which every node
agrees on. Registered by :func:`node.api.make_app`; :data:`RISK_OPENAPI_PATHS` is merged into
:data:`node.api.OPENAPI` there.

Part of :mod:`node.api`, which imports this module below the helpers it uses: import
:mod:`node.api` (not this module) first."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from chainfin import codec
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
                    "declaration_disputed")  # contracts.risk.ALERT_RULES (node does not import contracts)


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
    return web.json_response(codec.to_json({
        "account": ident_id, "key": rec.get("key", ident_id),
        "status": rec.get("status", "active"), "rules": prof["rules"],
        "frozen": prof["frozen"],
        "alerts": node.ledger.state_value("risk", "alerts/" + ident_id) or [],
        "height": node.ledger.tip.height}))


RISK_OPENAPI_PATHS = {
    "/v1/risk/rules": {"get": _op("getRiskRules", "Network-wide risk rules and parameters")},
    "/v1/risk/accounts/{account}": {"get": _op(
        "getRiskAccount", "An account's standing, rules, frozen currencies and latest alerts",
        params=[_param("account", "path", _HEX32, "identity id or current key, hex")],
        errors=("400", "404"))},
}


def add_risk_routes(app: web.Application) -> None:
    app.router.add_get("/v1/risk/rules", get_risk_rules)
    app.router.add_get("/v1/risk/accounts/{account}", get_risk_account)
