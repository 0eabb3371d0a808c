"""A bank's operator path, end to end with the CLI as docs/deploy.md walks it: ``chainfin node
init`` (keys, TLS key + CSR, config), ``chainfin ca sign`` at the consortium CA, registration
and the governance vote with ``chainfin tx send``, ``chainfin node run`` — and the new node
becomes a validator of a running 4-node testnet (mutual TLS, certificate from the CSR). REST is
HTTPS everywhere (the consortium CA); the observer signs its sync reads with the testnet's
auditor key (``--sync-key``, decision 62)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from chainfin.cli import main as chainfin_main
from chainfin.errors import ConfigError
from node.bank import init_bank_node, sign_csr
from testnet.launch import Testnet, free_ports, init_testnet, load_manifest

BIC = "CHFNFRPP"  # a bank the 4-node testnet does not have (its banks hold CHFNUS33...)


@pytest.fixture
def tn(tmp_path: Path) -> Iterator[Testnet]:
    d = tmp_path / "tn"
    init_testnet(d, nodes=4)
    t = Testnet(d)
    t.start()
    try:
        t.wait_ready(30)
        yield t
    finally:
        t.stop()


def _send(capsys: pytest.CaptureFixture[str], url: str, key: Path, contract: str, method: str,
          args: dict[str, Any], ca: Path) -> dict[str, Any]:
    capsys.readouterr()
    rc = chainfin_main(["tx", "send", "--node", url, "--key", str(key), "--contract", contract,
                        "--method", method, "--args", json.dumps(args), "--wait",
                        "--ca", str(ca)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["status"] == "committed", out
    return out


def test_bank_node_init_sign_vote_run(tn: Testnet, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    m = load_manifest(tn.dir)
    d = tmp_path / "bank"
    rest, p2p = free_ports(2)
    argv = ["node", "init", "--bank", BIC, "--dir", str(d), "--p2p", f"127.0.0.1:{p2p}",
            "--rest", f"127.0.0.1:{rest}", "--genesis", str(tn.dir / "genesis.json"),
            "--fingerprint-key", str(tn.dir / "fingerprint.key"),
            "--sync-key", str(tn.dir / "clients" / "auditor.json")]
    for n in m.nodes:
        argv += ["--peer", f"{n.id}={n.public_key}@{n.p2p_address}", "--sync-url", n.rest_url]
    assert chainfin_main(argv) == 0
    req = json.loads((d / "join-request.json").read_text())
    assert req["bic"] == BIC and (d / "tls" / "node.csr").is_file()
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["rest_tls"] is True and cfg["sync_key_file"].endswith("auditor.json")
    assert oct((d / "keys" / "node.json").stat().st_mode & 0o777) == "0o600"
    # the consortium's fingerprint key, beside the genesis where the config's default looks
    assert oct((d / "fingerprint.key").stat().st_mode & 0o777) == "0o600"
    assert (d / "fingerprint.key").read_text() == (tn.dir / "fingerprint.key").read_text()

    # the consortium CA signs the CSR (and refuses it for another key)
    pki = tn.dir / "pki"
    ca = pki / "ca.pem"
    assert chainfin_main(["ca", "sign", "--ca-dir", str(pki), "--csr", str(d / "tls/node.csr"),
                          "--out", str(d / "tls/x.pem"), "--expect-key", "ab" * 32]) == 2
    assert chainfin_main(["ca", "sign", "--ca-dir", str(pki), "--csr", str(d / "tls/node.csr"),
                          "--out", str(d / "tls/node.pem"),
                          "--expect-key", req["node_public_key"]]) == 0
    shutil.copy(pki / "ca.pem", d / "tls" / "ca.pem")
    cert = x509.load_pem_x509_certificate((d / "tls/node.pem").read_bytes())
    assert cert.subject.rfc4514_string() == f"O={BIC},CN={req['node_id']}"

    # registration by an admin bank, then the node runs as an observer and catches up
    url = m.nodes[0].rest_url
    admin = next(c for c in m.clients if c.admin)
    for pk, name in ((req["node_public_key"], req["node_id"]),
                     (req["bank_public_key"], f"{BIC} bank")):
        _send(capsys, url, Path(admin.key_file), "governance", "register_identity",
              {"pubkey": pk, "name": name, "role": "bank", "bank": BIC}, ca)
    log = (tmp_path / "bank-node.log").open("wb")
    # the node's REST client (its sync reads over https) trusts its config's tls_ca: no
    # SSL_CERT_FILE in its environment
    env = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"}
    proc = subprocess.Popen([sys.executable, "-m", "chainfin.cli", "node", "run", "--config",
                             str(d / "config.json")], stdout=log, stderr=subprocess.STDOUT,
                            env=env)
    try:
        mine = f"https://127.0.0.1:{rest}"  # the bank node's own REST: HTTPS, its certificate
        with tn.client(0) as cl:
            target = cl.status()["height"]
        _until(lambda: _status(mine, ca).get("height", -1) >= target, 30, tmp_path)

        # the governance vote: a validator proposes add_validator, others vote to quorum (3 of 4)
        keys = [Path(n.key_file) for n in m.nodes]
        out = _send(capsys, url, keys[0], "governance", "propose",
                    {"action": "add_validator", "params": {
                        "pubkey": req["node_public_key"], "name": req["node_id"],
                        "address": req["p2p_address"]}}, ca)
        pid = out["result"]["proposal_id"]
        for k in keys[1:3]:
            _send(capsys, url, k, "governance", "vote", {"proposal_id": pid}, ca)
        _until(lambda: _status(mine, ca).get("validator") is True, 30, tmp_path)
        st = _status(mine, ca)
        assert req["node_public_key"] in st["validators"] and len(st["validators"]) == 5

        # and it takes part: a later block's certificate can be checked to carry 5-set quorum
        h0 = st["height"]
        _send(capsys, url, Path(m.client("usd_issuer").key_file), "settlement", "issue",
              {"currency": "USD", "to": req["bank_public_key"], "amount": 100}, ca)
        _until(lambda: _status(mine, ca).get("height", 0) > h0, 30, tmp_path)
        # a signed read on the bank node itself: its bank identity reads its own balance
        from chainfin.client import SyncClient
        from chainfin.crypto import load_identity
        with SyncClient(mine, ca_file=ca, identity=load_identity(d / "keys" / "bank.json")) as bc:
            _until(lambda: _bal(bc, req["bank_public_key"]) == 100, 30, tmp_path)
        with tn.client(0) as cl:
            bal = cl.state("settlement", f"bal/{req['bank_public_key']}/USD")
        assert bal["value"] == 100
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _bal(c: Any, key: str) -> int | None:
    from chainfin.client import ClientError

    try:
        return int(c.state("settlement", f"bal/{key}/USD")["value"])
    except ClientError:
        return None


def _status(url: str, ca: Path) -> dict[str, Any]:
    import ssl
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/v1/status", timeout=2,
                                    context=ssl.create_default_context(cafile=str(ca))) as r:
            return dict(json.loads(r.read()))
    except OSError:
        return {}


def _until(cond: Any, timeout: float, logs: Path) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            tail = (logs / "bank-node.log").read_text()[-2000:]
            raise AssertionError(f"timed out; the bank node's log ends:\n{tail}")
        time.sleep(0.2)


def test_ca_sign_refuses_bad_csrs(tmp_path: Path) -> None:
    from testnet.pki import create_ca

    create_ca(tmp_path / "ca", "test")
    init_bank_node(tmp_path / "b", BIC)
    with pytest.raises(ConfigError, match="already holds a node"):
        init_bank_node(tmp_path / "b", BIC)
    with pytest.raises(ConfigError, match="not a BIC"):
        init_bank_node(tmp_path / "c", "chfn")
    csr = (tmp_path / "b" / "tls" / "node.csr").read_bytes()
    # one byte of the signed request changed: the signature no longer verifies
    import base64

    body = b"".join(csr.splitlines()[1:-1])
    der = bytearray(base64.b64decode(body))
    der[60] ^= 1
    bad = tmp_path / "bad.csr"
    bad.write_bytes(b"-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bytes(der))
                    + b"-----END CERTIFICATE REQUEST-----\n")
    with pytest.raises(ConfigError):
        sign_csr(tmp_path / "ca", bad, tmp_path / "bad.pem")
    out, key = sign_csr(tmp_path / "ca", tmp_path / "b" / "tls" / "node.csr", tmp_path / "ok.pem")
    assert key == json.loads((tmp_path / "b" / "join-request.json").read_text())[
        "node_public_key"]
    with pytest.raises(ConfigError, match="exists"):
        sign_csr(tmp_path / "ca", tmp_path / "b" / "tls" / "node.csr", out)


def test_node_init_takes_signed_reads_for_its_certificate_names(tmp_path: Path) -> None:
    """The --host names are what clients use; a signed read names its server, so the config
    lists them (public_urls) and the node takes them (and its bind address)."""
    from node.config import NodeConfig

    init_bank_node(tmp_path / "b", BIC, hosts=["node.bank.example", "10.0.0.5"],
                   rest="127.0.0.1:8000")
    cfg = NodeConfig.model_validate(json.loads((tmp_path / "b" / "config.json").read_text()))
    assert cfg.public_urls == ["https://node.bank.example:8000", "https://10.0.0.5:8000"]
    assert {"node.bank.example:8000", "10.0.0.5:8000", "127.0.0.1:8000"} <= \
        cfg.rest_authorities()


def test_node_init_checks_the_fingerprint_key_against_the_genesis(tmp_path: Path) -> None:
    """The consortium gives a joining bank genesis.json and fingerprint.key (decision 133):
    ``node init`` copies the key only when it is the one the genesis commits to, and writes
    nothing when it is not."""
    init_testnet(tmp_path / "tn", nodes=1, tls=False)
    genesis = str(tmp_path / "tn" / "genesis.json")
    other = tmp_path / "other.key"
    other.write_text("ab" * 32 + "\n")
    with pytest.raises(ConfigError, match=f"fingerprint key file {other} does not match"):
        init_bank_node(tmp_path / "b", BIC, genesis=genesis, fingerprint_key=other)
    assert not (tmp_path / "b" / "keys").exists()
    with pytest.raises(ConfigError, match="needs --genesis"):
        init_bank_node(tmp_path / "b", BIC, fingerprint_key=tmp_path / "tn" / "fingerprint.key")
    init_bank_node(tmp_path / "b", BIC, genesis=genesis,
                   fingerprint_key=tmp_path / "tn" / "fingerprint.key")
    assert (tmp_path / "b" / "fingerprint.key").read_text() == (
        tmp_path / "tn" / "fingerprint.key").read_text()
