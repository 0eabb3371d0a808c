"""Mutual TLS on peer links, HTTPS REST, and the testnet PKI (testnet/pki.py, node/tls.py)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import ssl
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from chainfin.client import Client, ClientError, SyncClient, signed_headers
from chainfin.crypto import Identity
from chainfin.errors import ConfigError
from node import tls
from node.config import NodeConfig, load_config
from node.transport import STAT_NAMES, Transport
from testnet import pki
from testnet.launch import Testnet, init_testnet, load_manifest, manifest_ssl
from testnet.membership import join_node
from tests.fixtures import CHAIN, FAST, idents, until


def node_cfg(ca: tuple[Path, Path], cert: tuple[Path, Path], name: str = "n") -> NodeConfig:
    return NodeConfig(node_id=name, key_file=Path("k.json"), genesis=Path("g.json"),
                      data_dir=Path("data"), tls=True, tls_ca=ca[0], tls_cert=cert[0],
                      tls_key=cert[1])


class Pki:
    """A CA in ``dir`` and certificates for identities on demand."""

    def __init__(self, d: Path, name: str = "test") -> None:
        self.dir = d
        self.ca = pki.create_ca(d, name)

    def cfg(self, ident: Identity, names: bytes | None = None, tag: str = "") -> NodeConfig:
        """A config for ``ident`` whose certificate names ``names`` (default: its own key)."""
        node_id = f"{ident.public_key.hex()[:12]}{tag}"
        cert = pki.issue_node_cert(self.ca, node_id, (names or ident.public_key).hex())
        return node_cfg(self.ca, cert, node_id)


class TNode:
    def __init__(self, ident: Identity, cfg: NodeConfig | None,
                 client_cfg: NodeConfig | None = None) -> None:
        self.ident = ident
        self.key = ident.public_key
        self.inbox: list[tuple[bytes, str, bytes]] = []
        server = tls.server_context(cfg) if cfg is not None else None
        client_cfg = client_cfg or cfg
        client = tls.client_context(client_cfg) if client_cfg is not None else None
        self.t = Transport(ident, CHAIN, "127.0.0.1", 0, {}, self._on_frame, server_ssl=server,
                           client_ssl=client, rng=random.Random(1), **FAST)  # type: ignore[arg-type]

    def _on_frame(self, sender: bytes, kind: str, payload: bytes) -> None:
        self.inbox.append((sender, kind, payload))


@contextlib.asynccontextmanager
async def running(*nodes: TNode) -> AsyncIterator[None]:
    try:
        for nd in nodes:
            await nd.t.start()
        yield
    finally:
        for nd in nodes:
            await nd.t.stop()


def link_all(*nodes: TNode) -> None:
    for nd in nodes:
        nd.t.set_peers({o.key: o.t.address for o in nodes if o is not nd})


# ---------------------------------------------------------------------- PKI


def test_pki_files_and_certificate_contents(tmp_path: Path) -> None:
    ca_cert, ca_key = pki.create_ca(tmp_path / "pki", "chainfin-testnet-x")
    assert stat.S_IMODE(os.stat(tmp_path / "pki").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(ca_key).st_mode) == 0o600
    ident = Identity.from_seed_text("pki")
    cert_path, key_path = pki.issue_node_cert((ca_cert, ca_key), "node0", ident.public_key.hex())
    assert (cert_path, key_path) == (tmp_path / "pki" / "node0.pem", tmp_path / "pki" / "node0.key")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        "chainfin:node:" + ident.public_key.hex()]
    assert cert.subject.rfc4514_string() == "O=chainfin,CN=node0"
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert 364 <= days <= 366
    assert tls.certificate_key(cert.public_bytes(Encoding.DER)) == ident.public_key
    assert tls.certificate_key(ca.public_bytes(Encoding.DER)) is None  # no chainfin URI
    assert tls.certificate_key(b"garbage") is None
    # never overwritten; bad inputs refused
    with pytest.raises(FileExistsError):
        pki.issue_node_cert((ca_cert, ca_key), "node0", ident.public_key.hex())
    with pytest.raises(FileExistsError):
        pki.create_ca(tmp_path / "pki", "again")
    with pytest.raises(ValueError):
        pki.issue_node_cert((ca_cert, ca_key), "node1", "abcd")
    with pytest.raises(ValueError):
        pki.issue_node_cert((ca_cert, ca_key), "../x", ident.public_key.hex())
    other = pki.issue_node_cert((ca_cert, ca_key), "node1", ident.public_key.hex(),
                                hosts=["10.1.2.3", "bank1.example"], directory=tmp_path / "o")
    san = x509.load_pem_x509_certificate(other[0].read_bytes()).extensions \
        .get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    assert san.get_values_for_type(x509.DNSName) == ["bank1.example"]


def test_check_certificate_fails_fast(tmp_path: Path) -> None:
    a, b = Pki(tmp_path / "a"), Pki(tmp_path / "b")
    me, you = Identity.from_seed_text("me"), Identity.from_seed_text("you")
    tls.check_certificate(a.cfg(me), me.public_key)
    with pytest.raises(ConfigError, match="names validator key"):
        tls.check_certificate(a.cfg(me, names=you.public_key, tag="x"), me.public_key)
    foreign = b.cfg(me)
    mixed = node_cfg(a.ca, (foreign.tls_cert, foreign.tls_key))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not issued by the CA"):
        tls.check_certificate(mixed, me.public_key)
    # a CA bundle (while rotating the CA): either CA will do
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b.ca[0].read_bytes() + a.ca[0].read_bytes())
    ok = a.cfg(me, tag="-b")
    ok = node_cfg((bundle, a.ca[1]), (ok.tls_cert, ok.tls_key))  # type: ignore[arg-type]
    tls.check_certificate(ok, me.public_key)
    tls.server_context(ok)
    missing = node_cfg(a.ca, (tmp_path / "nope.pem", tmp_path / "nope.key"))
    with pytest.raises(ConfigError, match="does not exist"):
        tls.server_context(missing)
    # a certificate with another certificate's key
    wrong = node_cfg(a.ca, (a.cfg(you).tls_cert, foreign.tls_key))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cannot load"):
        tls.client_context(wrong)


def test_certificate_expiry_is_exported_and_warned_of(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """``tls.certificate_expiry``: the node certificate's and the earliest CA's end of validity
    (a bundle while rotating); the node exports both and warns at start within 30 days."""
    import time

    from node.main import _note_certificate_expiry
    from node.metrics import NodeMetrics

    me = Identity.from_seed_text("exp")
    long_ca = pki.create_ca(tmp_path / "long", "long", days=3650)
    short = pki.issue_node_cert(long_ca, "n", me.public_key.hex(), days=10,
                                directory=tmp_path / "n")
    cfg = node_cfg(long_ca, short)
    got = tls.certificate_expiry(cfg)
    now = time.time()
    assert abs(got["node"] - (now + 10 * 86400)) < 3600
    assert abs(got["ca"] - (now + 3650 * 86400)) < 3600
    soon_ca = pki.create_ca(tmp_path / "soon", "soon", days=20)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(long_ca[0].read_bytes() + soon_ca[0].read_bytes())
    assert abs(tls.certificate_expiry(node_cfg((bundle, long_ca[1]), short))["ca"]
               - (now + 20 * 86400)) < 3600

    class _Node:  # what _note_certificate_expiry touches
        metrics = NodeMetrics()

    nd = _Node()
    with caplog.at_level("WARNING", logger="chainfin.main"):
        _note_certificate_expiry(nd, cfg)  # type: ignore[arg-type]
    text = nd.metrics.render().decode()
    line = [ln for ln in text.splitlines() if ln.startswith(
        'chainfin_tls_certificate_expiry_timestamp_seconds{certificate="node"}')]
    assert line and abs(float(line[0].split()[-1]) - got["node"]) < 1
    warned = [r.getMessage() for r in caplog.records if "TLS certificate expires" in r.getMessage()]
    assert len(warned) == 1 and warned[0].startswith("the node TLS certificate expires in 10")
    with pytest.raises(ConfigError, match="does not exist"):
        tls.certificate_expiry(node_cfg(long_ca, (tmp_path / "gone.pem", short[1])))


def test_contexts(tmp_path: Path) -> None:
    cfg = Pki(tmp_path).cfg(Identity.from_seed_text("ctx"))
    for ctx in (tls.server_context(cfg), tls.client_context(cfg)):
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
        assert not ctx.check_hostname
    rest = tls.rest_server_context(cfg)
    assert rest.verify_mode == ssl.CERT_NONE
    assert rest.minimum_version == ssl.TLSVersion.TLSv1_2


def test_rest_tls_switch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = Pki(tmp_path).cfg(Identity.from_seed_text("sw"))
    assert not tls.rest_tls_enabled(cfg)
    on = cfg.model_copy(update={"rest_tls": True})
    assert tls.rest_tls_enabled(on)
    assert not tls.rest_tls_enabled(on.model_copy(update={"tls": False}))


# ---------------------------------------------------------------------- peer links


async def test_three_transports_over_mutual_tls(tmp_path: Path) -> None:
    p = Pki(tmp_path)
    nodes = [TNode(i, p.cfg(i)) for i in idents(3, "tls")]
    async with running(*nodes):
        link_all(*nodes)
        await until(lambda: all(len(nd.t.connected()) == 2 for nd in nodes))
        for a in nodes:
            for b in nodes:
                if a is not b:
                    a.t.send(b.key, "hello", a.key[:4] + b.key[:4])
        await until(lambda: all(len(nd.inbox) == 2 for nd in nodes))
        for b in nodes:
            assert sorted(s for s, _, _ in b.inbox) == sorted(o.key for o in nodes if o is not b)
            for s, kind, payload in b.inbox:
                assert kind == "hello" and payload == s[:4] + b.key[:4]
        # the links really are TLS 1.3, and the peer certificate names the peer's key
        for nd in nodes:
            for key, peer in nd.t._peers.items():
                assert peer.link is not None
                ws = peer.link.ws
                so = (ws.get_extra_info("ssl_object") if isinstance(ws, aiohttp.ClientWebSocketResponse)
                      else ws._req.transport.get_extra_info("ssl_object"))
                assert so is not None and so.version() == "TLSv1.3"
                assert tls.peer_certificate_key(so) == key
            assert nd.t.stats["tls_handshakes_failed"] == 0
            assert nd.t.stats["dropped_cert_mismatch"] == 0
            assert nd.t.stats["handshakes_ok"] == 2
        assert {"tls_handshakes_failed", "dropped_cert_mismatch"} <= set(STAT_NAMES)


async def test_request_response_over_tls(tmp_path: Path) -> None:
    p = Pki(tmp_path)
    a, b = (TNode(i, p.cfg(i)) for i in idents(2, "rq"))

    async def echo(sender: bytes, payload: bytes) -> bytes:
        return b"echo:" + payload

    b.t.set_request_handler("echo", echo)
    async with running(a, b):
        link_all(a, b)
        await until(lambda: a.t.connected() == [b.key])
        assert await a.t.request(b.key, "echo", b"1", 2) == b"echo:1"


async def test_certificate_from_another_ca_is_refused_at_tls(tmp_path: Path) -> None:
    ours, theirs = Pki(tmp_path / "ours", "ours"), Pki(tmp_path / "theirs", "theirs")
    ids = idents(3, "ca")
    # the outsider (lowest key) dials; it trusts our CA but presents a certificate of another
    outsider_cfg = theirs.cfg(ids[0])
    client_cfg = node_cfg(ours.ca, (outsider_cfg.tls_cert, outsider_cfg.tls_key))  # type: ignore[arg-type]
    outsider = TNode(ids[0], outsider_cfg, client_cfg)
    member = TNode(ids[1], ours.cfg(ids[1]))
    # and a member dialing a server with a foreign certificate
    foreign_srv = TNode(ids[2], theirs.cfg(ids[2]))
    async with running(outsider, member, foreign_srv):
        outsider.t.set_peers({member.key: member.t.address})
        member.t.set_peers({outsider.key: outsider.t.address, foreign_srv.key: foreign_srv.t.address})
        await until(lambda: member.t.stats["tls_handshakes_failed"] >= 2)
        await asyncio.sleep(0.2)
        assert member.t.connected() == [] and outsider.t.connected() == []
        assert member.t.stats["handshakes_ok"] == 0 == outsider.t.stats["handshakes_ok"]
        assert member.t.stats["handshakes_failed"] >= member.t.stats["tls_handshakes_failed"]
        assert member.t.stats["dial_failures"] >= 1  # it refused the foreign server's cert
        assert foreign_srv.t.stats["handshakes_ok"] == 0


async def test_valid_certificate_naming_another_key_is_refused(tmp_path: Path) -> None:
    p = Pki(tmp_path)
    low, mid, high = idents(3, "mm")
    # `mid` holds a CA-issued certificate, but for `high`'s validator key
    impostor_cfg = p.cfg(mid, names=high.public_key, tag="-bad")
    honest_low = TNode(low, p.cfg(low))
    impostor = TNode(mid, impostor_cfg)
    honest_high = TNode(high, p.cfg(high))
    async with running(honest_low, impostor, honest_high):
        # low dials the impostor: the dialer checks the certificate before saying anything
        honest_low.t.set_peers({mid.public_key: impostor.t.address})
        impostor.t.set_peers({low.public_key: honest_low.t.address,
                              high.public_key: honest_high.t.address})
        # the impostor dials high: the acceptor checks the certificate against the HELLO key
        honest_high.t.set_peers({mid.public_key: impostor.t.address})
        await until(lambda: honest_low.t.stats["dropped_cert_mismatch"] >= 1
                    and honest_high.t.stats["dropped_cert_mismatch"] >= 1)
        assert honest_low.t.connected() == [] and honest_high.t.connected() == []
        assert impostor.t.connected() == []
        assert impostor.t.stats["handshakes_ok"] == 0
        # the TLS layer itself was fine: the certificate chains to the CA
        assert honest_low.t.stats["tls_handshakes_failed"] == 0
        assert honest_high.t.stats["tls_handshakes_failed"] == 0


async def test_plain_tcp_to_a_tls_listener_fails_cleanly_and_is_counted(tmp_path: Path) -> None:
    p = Pki(tmp_path)
    low, high = idents(2, "pl")
    plain = TNode(low, None)  # no TLS at all; it has the lower key, so it dials
    secure = TNode(high, p.cfg(high))
    async with running(plain, secure):
        plain.t.set_peers({high.public_key: secure.t.address})
        secure.t.set_peers({low.public_key: plain.t.address})
        # (the listener counts the failed TLS handshake before the dialer sees its connection
        # fail: waiting for the first alone raced the dialer's count, a flake seen 1 in ~10)
        await until(lambda: secure.t.stats["tls_handshakes_failed"] >= 1
                    and plain.t.stats["dial_failures"] >= 1)
        assert secure.t.stats["handshakes_failed"] >= 1
        assert plain.t.connected() == [] and secure.t.connected() == []
        assert plain.t.stats["dial_failures"] >= 1 and plain.t.stats["handshakes_ok"] == 0
        # a raw HTTP websocket to the p2p port, like a port scanner or a misconfigured peer
        before = secure.t.stats["tls_handshakes_failed"]
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.ClientError):
                await s.ws_connect(f"http://{secure.t.address}/p2p",
                                   timeout=aiohttp.ClientWSTimeout(ws_close=2))
        await until(lambda: secure.t.stats["tls_handshakes_failed"] > before)
        # and the other way round: a TLS dialer to a plain listener
        plain2 = TNode(idents(1, "zz")[0], None)
        dialer = TNode(low, p.cfg(low, tag="-2"))
        if not dialer.t.dials(plain2.key):
            pytest.skip("key order")  # pragma: no cover - fixed seeds
        async with running(plain2, dialer):
            dialer.t.set_peers({plain2.key: plain2.t.address})
            plain2.t.set_peers({low.public_key: dialer.t.address})
            await until(lambda: dialer.t.stats["tls_handshakes_failed"] >= 1)
            assert dialer.t.stats["dial_failures"] >= 1 and dialer.t.connected() == []
        # the listener still serves well-behaved peers afterwards
        good = TNode(low, p.cfg(low, tag="-3"))
        async with running(good):
            good.t.set_peers({high.public_key: secure.t.address})
            secure.t.set_peers({low.public_key: good.t.address})
            await until(lambda: secure.t.connected() == [low.public_key])


# ---------------------------------------------------------------------- REST over HTTPS


async def test_rest_https_with_the_node_certificate(tmp_path: Path) -> None:
    p = Pki(tmp_path)
    cfg = p.cfg(Identity.from_seed_text("rest"))
    app = web.Application()

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/v1/status", status)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.rest_server_context(cfg))
    await site.start()
    port = runner.addresses[0][1]
    try:
        for host in ("127.0.0.1", "localhost"):  # both SANs
            async with Client(f"https://{host}:{port}", ca_file=p.ca[0]) as c:
                assert await c.get("/v1/status") == {"ok": True}
        # no client certificate is needed, but the CA is: the system store does not know it
        async with Client(f"https://127.0.0.1:{port}") as c:
            with pytest.raises(ClientError) as e:
                await c.get("/v1/status")
            assert e.value.code == "unreachable" and e.value.status == 0
        other = Pki(tmp_path / "other", "other")
        async with Client(f"https://127.0.0.1:{port}", ca_file=other.ca[0]) as c:
            with pytest.raises(ClientError):
                await c.get("/v1/status")
        with pytest.raises(ClientError, match="bad_ca"):
            Client(f"https://127.0.0.1:{port}", ca_file=tmp_path / "missing.pem")
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------- testnet init


def test_init_testnet_creates_pki_and_tls_configs(tmp_path: Path) -> None:
    m = init_testnet(tmp_path / "tn", nodes=3)
    d = tmp_path / "tn"
    assert m.ca == str(d / "pki" / "ca.pem")
    assert json.loads((d / "testnet.json").read_text())["ca"] == m.ca
    assert stat.S_IMODE(os.stat(d / "pki").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(d / "pki" / "ca.key").st_mode) == 0o600
    for nd in m.nodes:
        assert nd.rest_url.startswith("https://")  # REST over HTTPS by default
        raw = json.loads(Path(nd.config).read_text())
        assert raw["tls"] is True and raw["tls_ca"] == "../pki/ca.pem"
        assert raw["tls_cert"] == f"../pki/{nd.id}.pem" and raw["tls_key"] == f"../pki/{nd.id}.key"
        cfg = load_config(nd.config)
        assert stat.S_IMODE(os.stat(cfg.tls_key).st_mode) == 0o600  # type: ignore[arg-type]
        tls.check_certificate(cfg, bytes.fromhex(nd.public_key))
        tls.server_context(cfg)
        tls.client_context(cfg)
    assert manifest_ssl(m).verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ConfigError, match="needs TLS"):
        init_testnet(tmp_path / "bad", nodes=1, tls=False, rest_tls=True)
    m2 = init_testnet(tmp_path / "https", nodes=1, rest_tls=True)
    assert m2.nodes[0].rest_url.startswith("https://127.0.0.1:")


def test_cli_init_plain_is_the_test_only_switch(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "chainfin.cli", "testnet", "init", "--dir",
                        str(tmp_path / "p"), "--nodes", "2", "--plain"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "plain TCP" in r.stdout
    m = load_manifest(tmp_path / "p")
    assert m.ca is None and not (tmp_path / "p" / "pki").exists()
    assert "ca" not in json.loads((tmp_path / "p" / "testnet.json").read_text())
    for nd in m.nodes:
        assert load_config(nd.config).tls is False
    r = subprocess.run([sys.executable, "-m", "chainfin.cli", "testnet", "init", "--dir",
                        str(tmp_path / "t"), "--nodes", "2"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "mutual TLS" in r.stdout and load_manifest(tmp_path / "t").ca


# ---------------------------------------------------------------------- real processes


@pytest.mark.slow
def test_testnet_with_https_rest_commits(tmp_path: Path) -> None:
    """Four node processes: peer links over mutual TLS, REST over HTTPS with the node
    certificates, clients trusting only the testnet CA."""
    d = tmp_path / "tn"
    m = init_testnet(d, nodes=4, rest_tls=True)
    with Testnet(d) as tn:
        tn.start()
        tn.wait_ready(30)  # polls https://.../healthz with the CA
        issuer, exporter = tn.identity("usd_issuer"), tn.identity("exporter")
        with tn.client(1) as c:
            res = c.call(issuer, "settlement", "issue",
                         {"to": exporter.public_key.hex(), "currency": "USD", "amount": 100},
                         wait=True)
            assert res["status"] == "committed", res
        with tn.client(2) as c:
            assert c.get("/healthz")["ok"] is True
        with SyncClient(tn.rest_url(2)) as c, pytest.raises(ClientError):
            c.get("/healthz")  # without the CA
        asyncio.run(_check_https_nodes(tn, m.nodes[0].rest_url))
        # the command-line tools trust the CA through OpenSSL's SSL_CERT_FILE
        cmd = [sys.executable, "-m", "chainfin.cli", "query", "--node", tn.rest_url(3),
               "/v1/status"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "SSL_CERT_FILE": m.ca or ""})
        assert r.returncode == 0 and json.loads(r.stdout)["chain_id"] == m.chain_id, r.stderr
        # a joining node gets a certificate and, as an observer, syncs over https REST
        k = asyncio.run(join_node(d, tn, out=io.StringIO(), timeout=60))
        m = load_manifest(d)
        assert m.nodes[k].rest_url.startswith("https://")
        assert load_config(m.nodes[k].config).tls
        with tn.client(k) as c:
            st = c.status()
            assert st["validator"] and len(st["validators"]) == 5
        for k in tn:
            assert "REST on https" in tn.log_file(k).read_text()
            assert "peer links: mutual TLS" in tn.log_file(k).read_text()


async def _check_https_nodes(tn: Testnet, url0: str) -> None:
    reader = tn.reader()
    assert reader is not None
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tn.ssl_context())) as s:
        for i in tn:
            for _ in range(100):  # a commit needs only 3 of 4 nodes: links may still come up
                url = f"{tn.rest_url(i)}/metrics"
                async with s.get(url, headers=signed_headers(reader, "GET", url)) as r:
                    assert r.status == 200
                    text = await r.text()
                if _metric(text, "handshakes_ok") >= 3:
                    break
                await asyncio.sleep(0.1)
            assert _metric(text, "handshakes_ok") >= 3
            assert _metric(text, "tls_handshakes_failed") == 0
            assert _metric(text, "dropped_cert_mismatch") == 0
    # plain http to an https REST port gets no answer
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):
            async with s.get(url0.replace("https://", "http://") + "/healthz",
                             timeout=aiohttp.ClientTimeout(total=5)) as r:
                await r.read()


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith("chainfin_transport_total{") and f'what="{name}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no transport metric {name} in /metrics")
