"""``chainfin alerts``: the risk alerts of a node, for people (an edge module: aiohttp allowed).

Without ``--follow`` it prints the alerts of the last ``--blocks`` committed blocks (from
``/v1/blocks/<h>``'s receipts); with ``--follow`` it then prints every ``alert`` event of
``/v1/events`` (Server-Sent Events) as it arrives, until interrupted or ``--max`` alerts.
One line per alert, or one JSON object per line with ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from chainfin.client import ca_context, reader_identity, signed_headers
from chainfin.crypto import Identity
from chainfin.errors import ChainfinError

#: fields every alert has; the rest is the rule's detail, printed as key=value
_BASE = ("type", "rule", "accounts", "height", "time_ms", "tx_id")


def format_alert(a: dict[str, Any]) -> str:
    """``height 12  structuring  accounts 1a2b3c4d…  tx 9f8e7d6c…  amount=950 currency=USD``."""
    accounts = ",".join(x[:8] + "…" for x in a.get("accounts", []))
    detail = " ".join(f"{k}={a[k]}" for k in sorted(a) if k not in _BASE)
    return (f"height {a.get('height')}  {a.get('rule')}  accounts {accounts}  "
            f"tx {str(a.get('tx_id', ''))[:8]}…  {detail}").rstrip()


def _signed(identity: Identity | None, url: str) -> dict[str, str]:
    return signed_headers(identity, "GET", url) if identity is not None else {}


def _session(ca_file: str | None) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(ssl=ca_context(ca_file)) if ca_file else None
    return aiohttp.ClientSession(connector=connector)


async def recent_alerts(session: aiohttp.ClientSession, base: str, blocks: int,
                        identity: Identity | None = None) -> list[dict[str, Any]]:
    """The alerts of the last ``blocks`` committed blocks, oldest first. Blocks are for
    validators, regulators and auditors: for a bank's key, its customers' open alerts
    (:func:`_queue_alerts`)."""
    async with session.get(base + "/v1/status") as r:
        tip = int((await r.json())["height"])
    out: list[dict[str, Any]] = []
    first = max(1, tip - blocks + 1)
    for h in range(first, tip + 1):
        url = f"{base}/v1/blocks/{h}"
        async with session.get(url, headers=_signed(identity, url)) as r:
            if r.status in (401, 403, 404) and h == first:
                return await _queue_alerts(session, base, identity)
            if r.status != 200:
                continue
            block = await r.json()
        for rc in block.get("receipts", []):
            for e in rc.get("events", []):
                if e.get("contract") == "risk" and e.get("name") == "alert":
                    out.append({"type": "alert", "height": h, "tx_id": e["tx_id"],
                                **e["data"]})
    return out


async def _queue_alerts(session: aiohttp.ClientSession, base: str,
                        identity: Identity | None) -> list[dict[str, Any]]:
    """The key may not read blocks (only validators, regulators and auditors do): a bank's key
    gets the open alerts of its customers instead (``/v1/risk/alerts/queue``, oldest first);
    any other key none — an account holder never reads the alerts on its own account (no
    tipping off, docs/risk.md "Who sees an alert"). Said on stderr, so an empty answer is not
    read as "no alerts".

    Raises:
        ChainfinError: no key.
    """
    if identity is None:
        raise ChainfinError("reading alerts needs --key (every read is signed)")
    url = f"{base}/v1/risk/alerts/queue"
    async with session.get(url, headers=_signed(identity, url)) as r:
        if r.status != 200:
            print("chainfin: this key may not read blocks (validators, regulators and "
                  "auditors do) nor an alert queue (banks do): no past alerts", file=sys.stderr)
            return []
        queue = await r.json()
    print("chainfin: this key may not read blocks (validators, regulators and auditors do): "
          "its customers' open alerts instead", file=sys.stderr)
    return [{"type": "alert", **{k: v for k, v in a.items() if k != "detail"},
             **a.get("detail", {})} for a in queue.get("alerts", [])]


async def follow(session: aiohttp.ClientSession, base: str, identity: Identity | None = None
                 ) -> AsyncIterator[dict[str, Any]]:
    """Every ``alert`` event of the node's ``/v1/events`` stream that the reader may see, as it
    arrives."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    url = base + "/v1/events"
    async with session.get(url, timeout=timeout, headers=_signed(identity, url)) as r:
        if r.status != 200:
            raise ChainfinError(f"{base}/v1/events answered {r.status}")
        event = ""
        async for raw in r.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: ") and event == "alert":
                yield json.loads(line[len("data: "):])
            elif not line:
                event = ""


async def run(base: str, *, follow_on: bool, blocks: int, max_alerts: int | None,
              ca_file: str | None, emit: Callable[[dict[str, Any]], None],
              identity: Identity | None = None) -> int:
    """Print the recent alerts, then (``follow_on``) the new ones; returns how many."""
    base = base.rstrip("/")
    n = 0
    async with _session(ca_file) as session:
        try:
            if blocks > 0:
                for a in await recent_alerts(session, base, blocks, identity):
                    emit(a)
                    n += 1
                    if max_alerts is not None and n >= max_alerts:
                        return n
            if follow_on:
                async for a in follow(session, base, identity):
                    emit(a)
                    n += 1
                    if max_alerts is not None and n >= max_alerts:
                        break
        except aiohttp.ClientError as e:
            raise ChainfinError(f"cannot read alerts from {base}: {e}") from e
    return n


def cli_alerts(args: argparse.Namespace) -> int:
    """``chainfin alerts --node URL [--follow] [--blocks N] [--max N] [--json]``."""
    if not args.node:
        raise ChainfinError("the following argument is required: --node")

    def emit(a: dict[str, Any]) -> None:
        print(json.dumps(a, sort_keys=True) if args.json else format_alert(a), flush=True)

    asyncio.run(run(args.node, follow_on=args.follow, blocks=args.blocks,
                    max_alerts=args.max, ca_file=args.ca, emit=emit,
                    identity=reader_identity(args)))
    return 0
