"""A TestClient that signs its requests (RFC 9421), as the SDK does: import it in any test
that talks to a node's REST app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import BaseTestServer, TestClient
from yarl import URL

from chainfin.client import UNSIGNED, signed_headers
from chainfin.crypto import Identity, save_identity

_AS_CLIENT = object()


class SigningClient(TestClient):  # type: ignore[type-arg]
    """Signs every request as ``identity`` (None: unsigned). One request may be made as
    another identity (``as_=``, None for unsigned) or with headers that replace the signature
    (``signed=False`` sends the request as given)."""

    def __init__(self, server: BaseTestServer, identity: Identity | None = None,
                 **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self.identity = identity

    async def _request(self, method: str, path: str | URL, *, as_: Any = _AS_CLIENT,
                       signed: bool = True, **kwargs: Any) -> ClientResponse:
        who = self.identity if as_ is _AS_CLIENT else as_
        url = self.make_url(path)
        if kwargs.get("params"):
            url = url.extend_query(kwargs.pop("params"))
        if signed and who is not None and (method.upper(), url.path) not in UNSIGNED:
            if "json" in kwargs:
                kwargs["data"] = json.dumps(kwargs.pop("json")).encode()
            body = kwargs.get("data") or b""
            if isinstance(body, str):
                body = kwargs["data"] = body.encode()
            headers = dict(kwargs.pop("headers", None) or {})
            headers.update(signed_headers(who, method.upper(), url, body))
            kwargs["headers"] = headers
        resp = await self._session.request(method, url, **kwargs)
        self._responses.append(resp)
        return resp


def key_file(identity: Identity, directory: Path) -> str:
    """``identity`` saved as a key file in ``directory`` (for ``--key`` of the CLI)."""
    return str(save_identity(identity, directory / f"{identity.public_key.hex()[:16]}.json"))
