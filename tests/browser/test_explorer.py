"""The explorer page in a real browser: Debian's headless chromium, driven by selenium through
chromedriver, against a real 4-node testnet on 127.0.0.1.

What is checked: search finds a transaction; the block page lists who signed the certificate;
Verify says VALID for a genuine proof (with the same lines as ``chainfin verify``) and INVALID
with the reason for a proof with one byte changed — the browser's verdict and reason are compared
with chainfin/proofs.py's on the same documents, genuine and tampered, full and inclusion-only
(the sender's own proof says VALID with "outcome: not proven"); the live block list grows
over /v1/events. Reads are signed in the page (RFC 9421) by a loaded identity key file — the
auditor's, or for the account page the owner's; without one the page says reads need an
identity, and what the identity may not see shows as "not found or not visible to you". REST is
HTTPS as users see it: chromium trusts the testnet's certificates by their SPKI hashes
(``--ignore-certificate-errors-spki-list``, for these keys only). Screenshots of the main pages go
under the test's tmp dir (printed with -s).

Needs ``chromium`` and ``chromium-driver`` (apt; the README's test command installs them). Off CI
the tests skip when they are missing; on CI (CI=true) that is a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainfin.crypto import load_identity
from chainfin.genesis import load_genesis
from chainfin.proofs import NOT_PROVEN, ProofError, inclusion_only, parse_document, verify_proof
from chainfin.types import Transaction
from testnet.launch import LEGAL_NAMES, Testnet, init_testnet

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, DRIVER) if not os.path.exists(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        why = (f"browser tests need {', '.join(missing)}: apt-get install -y chromium "
               "chromium-driver (the README's test command does)")
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


class Chain:
    def __init__(self, d: Path) -> None:
        self.dir = d
        self.tn = Testnet(d)
        self.url = self.tn.rest_url(0)
        self.genesis_file = d / "genesis.json"
        self.genesis = load_genesis(self.genesis_file)
        self.txs: dict[str, str] = {}


@contextlib.contextmanager
def started_chain(tmp_path_factory: pytest.TempPathFactory, name: str,
                  readers: dict[str, Any] | None = None) -> Iterator[Chain]:
    """A started 4-node testnet for a page's test module, ``c.client`` on node 0; stopped
    after, with the clients in ``readers`` (emptied) and ``c.client`` closed."""
    _need_browser()
    d = tmp_path_factory.mktemp(name) / "tn"
    init_testnet(d, nodes=4)
    c = Chain(d)
    c.tn.start()
    try:
        c.tn.wait_ready(30)
        c.client = c.tn.client(0)
        yield c
    finally:
        for r in (readers or {}).values():
            r.close()
        if readers is not None:
            readers.clear()
        if getattr(c, "client", None) is not None:
            c.client.close()
        c.tn.stop()


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    _need_browser()
    d = tmp_path_factory.mktemp("explorer") / "tn"
    init_testnet(d, nodes=4)
    c = Chain(d)
    c.tn.start()
    try:
        c.tn.wait_ready(30)
        cl = c.tn.client(0)
        issuer, exporter, importer = (load_identity(d / "clients" / f"{n}.json")
                                      for n in ("usd_issuer", "exporter", "importer"))
        r = cl.call(issuer, "settlement", "issue",
                    {"currency": "USD", "to": exporter.public_key.hex(), "amount": 100_000},
                    wait=True)
        assert r["status"] == "committed", r
        c.txs["issue"] = r["tx_id"]
        # the transfer in one block with another identity's transaction: its sender gets its
        # proof inclusion-only from such a block only (decision 147)
        r, _ = _in_one_block(c, [
            Transaction.create(exporter, c.genesis.chain_id, 1, "settlement", "transfer",
                               {"to": importer.public_key.hex(), "currency": "USD",
                                "amount": 2_500}),
            Transaction.create(issuer, c.genesis.chain_id, cl.next_nonce(
                issuer.public_key, issuer), "settlement", "issue",
                {"currency": "USD", "to": exporter.public_key.hex(), "amount": 1})])
        assert r["status"] == "committed", r
        c.txs["transfer"] = r["tx_id"]
        c.exporter = exporter.public_key.hex()
        c.importer = importer.public_key.hex()
        c.issuer = issuer
        c.client = cl
        yield c
    finally:
        if getattr(c, "client", None) is not None:
            c.client.close()
        c.tn.stop()


def _in_one_block(chain: Chain, txs: list[Transaction]) -> list[dict[str, Any]]:
    """``txs`` committed in one block: sent as one message of ``/v1/tx/stream``, which admits
    them to the node's mempool together. Their outcomes, in order."""
    import asyncio

    import aiohttp

    from chainfin.client import ca_context

    async def go() -> list[dict[str, Any]]:
        conn = aiohttp.TCPConnector(ssl=ca_context(chain.tn.manifest.ca))
        async with aiohttp.ClientSession(connector=conn) as s, \
                s.ws_connect(chain.url + "/v1/tx/stream") as ws:
            await ws.send_str(json.dumps([t.to_json() for t in txs]))
            answers: list[dict[str, Any]] = []
            while len(answers) < len(txs):
                answers += json.loads((await asyncio.wait_for(ws.receive(), 30)).data)
        return [a for _, a in sorted((a["seq"], a) for a in answers)]

    out = asyncio.run(go())
    assert len({a.get("height") for a in out}) == 1, out
    return out


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("screenshots")
    print(f"\nexplorer screenshots: {d}")
    return d


def _spki_hashes(pki: Path) -> list[str]:
    """base64 SHA-256 of the SubjectPublicKeyInfo of the testnet's CA and node certificates: the
    form chromium's --ignore-certificate-errors-spki-list takes."""
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    out = []
    for pem in sorted(pki.glob("*.pem")):
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        out.append(base64.b64encode(hashlib.sha256(spki).digest()).decode())
    return out


@pytest.fixture(scope="module")
def browser(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert chain.url.startswith("https://")  # REST over HTTPS, as users see it
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")  # the SPKI list needs its own profile
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1000", "--lang=en-US", f"--user-data-dir={profile}",
              "--ignore-certificate-errors-spki-list="
              + ",".join(_spki_hashes(chain.dir / "pki"))):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    drv.set_script_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def _wait(drv: Any, cond: Any, timeout: float = 15) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(drv, timeout, poll_frequency=0.05).until(cond)


def _css(drv: Any, sel: str, timeout: float = 15) -> Any:
    from selenium.webdriver.common.by import By

    return _wait(drv, lambda d: d.find_element(By.CSS_SELECTOR, sel), timeout)


def _open(drv: Any, chain: Chain, hash_: str = "", key: str | None = "auditor") -> None:
    """Open the page at ``hash_`` and load the identity key file ``clients/<key>.json`` (the
    page signs its reads with it; None: no identity)."""
    drv.get("about:blank")  # a new page (a change of the #fragment alone would not reload it)
    drv.get(chain.url + "/" + hash_)
    _wait(drv, lambda d: d.execute_script("return document.body.dataset.ready") == "1")
    if key is not None:
        _load_key(drv, chain, key)


def _load_key(drv: Any, chain: Chain, name: str) -> None:
    """Load an identity key file into the page; wait until the page has re-rendered signed."""
    from selenium.webdriver.common.by import By

    key_file = chain.dir / "clients" / f"{name}.json"
    pk = load_identity(key_file).public_key.hex()
    from selenium.common.exceptions import TimeoutException

    drv.find_element(By.ID, "identity-file").send_keys(str(key_file))
    try:
        _wait(drv, lambda d: d.execute_script("return document.body.dataset.identity") == pk)
    except TimeoutException:
        raise AssertionError(f"{name}'s key not loaded: "
                             + drv.find_element(By.ID, "identity-state").text + " | "
                             + drv.find_element(By.ID, "view").text[:500]) from None


def _pin_genesis(drv: Any, chain: Chain) -> None:
    """Load the genesis file into the page, as an auditor would (the trusted root)."""
    from selenium.webdriver.common.by import By

    drv.find_element(By.ID, "genesis-file").send_keys(str(chain.genesis_file))
    want = chain.genesis.hash().hex()
    # re-rendered when the file is adopted: look it up afresh until it shows the file's hash
    _wait(drv, lambda d: (want in (t := d.find_element(By.ID, "genesis-state").text)
                          and "file genesis.json" in t))


def _python_verdict(chain: Chain, text: str) -> tuple[bool, str]:
    try:
        lines = verify_proof(chain.genesis, parse_document(text)).lines(_names(chain))
        return True, "\n".join(lines)
    except ProofError as e:
        return False, str(e)


def _names(chain: Chain) -> dict[bytes, str]:
    g = chain.genesis
    names = {bytes.fromhex(v.public_key): v.name for v in g.validators}
    for i in g.identities:
        names.setdefault(bytes.fromhex(i.public_key), i.name)
    return names


_JS_VERIFY = """
const [genesisText, docs, done] = arguments;
(async () => {
  const V = window.ChainfinVerify;
  const g = await V.loadGenesis(genesisText);
  const out = [];
  for (const t of docs) {
    try {
      const r = await V.verifyProof(g, V.parseDocument(new TextEncoder().encode(t)));
      out.push([true, V.lines(r, g.names).join("\\n")]);
    } catch (e) {
      out.push([false, e instanceof V.ProofError ? e.message : "JS ERROR " + e + " " + e.stack]);
    }
  }
  return {hash: g.hash, out};
})().then(done, (e) => done({error: String(e) + " " + e.stack}));
"""


def _norm(reason: str) -> str:
    """Reasons compared in full, except two tails that come from a library's own wording:
    Python's json/msgpack error details after "not valid JSON:" and "malformed frame:"."""
    for cut in ("the proof is not valid JSON:", "malformed frame:"):
        if cut in reason:
            return reason[:reason.index(cut) + len(cut)]
    return reason


# --------------------------------------------------------------------------- tests


def test_search_finds_a_transaction(chain: Chain, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, chain)
    _css(browser, "#blocks tbody tr")
    browser.save_screenshot(str(shots / "home.png"))
    tx_id = chain.txs["transfer"]
    q = browser.find_element(By.ID, "q")
    q.clear()
    q.send_keys(tx_id)
    browser.find_element(By.ID, "go").click()
    el = _css(browser, "#tx-id")
    assert el.text == tx_id
    body = browser.find_element(By.ID, "view").text
    assert "committed" in body and "settlement.transfer" in body
    browser.save_screenshot(str(shots / "tx.png"))


def test_block_page_lists_the_signers(chain: Chain, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    height = chain.client.tx(chain.txs["transfer"])["height"]
    block = chain.client.block(height)
    signed = {v[0] for v in block["certificate"]["votes"]}
    _open(browser, chain, f"#/block/{height}")
    _css(browser, "#signers tr")
    rows = browser.find_elements(By.CSS_SELECTOR, "#signers tr.signer.yes")
    names = {v.public_key: v.name for v in chain.genesis.validators}
    assert len(rows) == len(signed) >= 3
    text = browser.find_element(By.ID, "signers").text
    for pk in signed:
        assert names[pk] in text
    assert chain.txs["transfer"][:16] in browser.find_element(By.ID, "txs").text
    browser.save_screenshot(str(shots / "block.png"))


def test_verify_genuine_and_one_byte_changed(chain: Chain, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    tx_id = chain.txs["transfer"]
    _open(browser, chain, f"#/tx/{tx_id}")
    _pin_genesis(browser, chain)
    _css(browser, "#tx-id")
    browser.find_element(By.CSS_SELECTOR, "button.verify").click()
    verdict = _css(browser, "[data-verdict=valid], [data-verdict=invalid]", 30)
    assert verdict.get_attribute("data-verdict") == "valid", verdict.text
    proof_text = json.dumps(chain.client.proof_tx(tx_id))
    ok, py_lines = _python_verdict(chain, proof_text)
    assert ok
    assert py_lines in verdict.find_element(By.CSS_SELECTOR, "pre").text
    browser.save_screenshot(str(shots / "verify-valid.png"))

    # one byte changed: a hex digit of the transfer's amount field's neighbour, the signature
    doc = json.loads(proof_text)
    sig = doc["tx"]["signature"]
    doc["tx"]["signature"] = sig[:10] + ("0" if sig[10] != "0" else "1") + sig[11:]
    tampered = json.dumps(doc)
    ok, py_reason = _python_verdict(chain, tampered)
    assert not ok
    _open(browser, chain, "#/", key=None)  # a pasted proof needs no read
    area = _css(browser, "#proof-text")
    browser.execute_script("arguments[0].value = arguments[1]", area, tampered)
    browser.find_element(By.ID, "proof-verify").click()
    verdict = _css(browser, "#proof-verdict [data-verdict]", 30)
    assert verdict.get_attribute("data-verdict") == "invalid"
    reason = verdict.find_element(By.CSS_SELECTOR, ".reason").text
    assert reason == py_reason
    browser.save_screenshot(str(shots / "verify-invalid.png"))


def test_browser_verdicts_equal_python_on_byte_flips(chain: Chain, browser: Any) -> None:
    """The JS port against chainfin/proofs.py: genuine tx proofs (full, and inclusion-only as
    the node serves the sender its own: decision 147) and state proofs (present and absent),
    one-byte changes of each at random positions (seeded), and a tx proof carrying only part of
    its receipt: same verdict, same reason."""
    cl = chain.client
    own = chain.tn.client(0, identity=load_identity(chain.dir / "clients" / "exporter.json"))
    try:  # the sender's proof of its transfer, as the node serves it: inclusion-only
        sender_doc = own.proof_tx(chain.txs["transfer"])
    finally:
        own.close()
    assert sender_doc == inclusion_only(cl.proof_tx(chain.txs["transfer"]))
    docs = [json.dumps(cl.proof_tx(chain.txs["issue"]), indent=1),
            json.dumps(cl.proof_state("settlement", f"bal/{chain.importer}/USD")),
            json.dumps(cl.proof_state("settlement", "bal/" + "ab" * 32 + "/USD")),
            json.dumps(sender_doc)]
    # and one that carries only part of the receipt
    partial = cl.proof_tx(chain.txs["issue"])
    del partial["receipt_path"]
    rng = random.Random(19)
    cases = list(docs)
    for d in docs:
        b = d.encode()
        for _ in range(40):
            i = rng.randrange(len(b))
            c = rng.choice(b"0123456789abcdef\"{}[],: -.xeE")
            if c != b[i]:
                cases.append((b[:i] + bytes([c]) + b[i + 1:]).decode())
    cases.append(json.dumps(partial))
    _open(browser, chain, key=None)
    t0 = time.monotonic()
    res = browser.execute_async_script(_JS_VERIFY, chain.genesis_file.read_text(), cases)
    assert "error" not in res, res
    assert res["hash"] == chain.genesis.hash().hex()
    invalid = 0
    for text, got in zip(cases, res["out"], strict=True):
        want = _python_verdict(chain, text)
        assert [got[0], _norm(got[1])] == [want[0], _norm(want[1])], (text[:300], got, want)
        invalid += not want[0]
    assert all(ok for ok, _ in res["out"][:4])
    assert f"outcome:        {NOT_PROVEN}" in res["out"][3][1].splitlines()
    assert "outcome:        committed" in res["out"][0][1]
    assert not res["out"][-1][0] and "is missing receipt_path" in res["out"][-1][1]
    assert invalid > 110
    print(f"{len(cases)} documents, {invalid} invalid, browser {time.monotonic() - t0:.2f} s")


def test_account_balance_verifies_and_live_blocks(chain: Chain, browser: Any,
                                                  shots: Path) -> None:
    from selenium.webdriver.common.by import By

    # an auditor reads and proves it (state proofs are for supervisors: docs/proofs.md §7)
    _open(browser, chain, f"#/account/{chain.importer}", key="auditor")
    _pin_genesis(browser, chain)
    bal = _css(browser, "#balances")
    assert "2500" in bal.text
    browser.find_element(By.CSS_SELECTOR, ".state[data-key$='/USD'] button.verify").click()
    verdict = _css(browser, ".state[data-key$='/USD'] [data-verdict]", 30)
    assert verdict.get_attribute("data-verdict") == "valid", verdict.text
    assert "value:          2500" in verdict.text
    browser.save_screenshot(str(shots / "account.png"))

    _open(browser, chain, "#/")
    first = _css(browser, "#blocks tbody tr").text
    top = int(first.split()[0].lstrip("#"))
    r = chain.client.call(chain.issuer, "settlement", "issue",
                          {"currency": "USD", "to": chain.importer, "amount": 1}, wait=True)
    assert r["status"] == "committed"
    _wait(browser, lambda d: int(d.find_element(By.CSS_SELECTOR, "#blocks tbody tr").text
                                 .split()[0].lstrip("#")) > top, 15)


def test_document_search_and_generic_state(chain: Chain, browser: Any, shots: Path) -> None:
    """A registered document found by its id: its trade_documents state shown as JSON (whatever
    fields the contract stores) and proven."""
    import hashlib

    from selenium.webdriver.common.by import By

    exporter = load_identity(chain.dir / "clients" / "exporter.json")
    r = chain.client.call(exporter, "trade_documents", "register", {
        "doc_type": "invoice", "content_hash": hashlib.sha256(b"explorer test").hexdigest(),
        "fields": {"seller": LEGAL_NAMES["exporter"], "buyer": LEGAL_NAMES["importer"],
                   "number": "INV-19", "issue_date": "2026-12-01", "amount": 12_500_000,
                   "currency": "USD"}}, wait=True)
    assert r.get("status") == "committed", r
    doc_id = r["result"]["doc_id"]
    _open(browser, chain)
    _pin_genesis(browser, chain)
    q = browser.find_element(By.ID, "q")
    q.clear()
    q.send_keys(doc_id)
    browser.find_element(By.ID, "go").click()
    if doc_id == r["tx_id"]:  # a document's id is the id of the tx that registered it
        _css(browser, "#doc-link").click()
    card = _css(browser, f".state[data-key='trade_documents/doc/{doc_id}']")
    assert "registered" in card.text and "content_hash" in card.text
    card.find_element(By.CSS_SELECTOR, "button.verify").click()
    verdict = _wait(browser, lambda d: card.find_element(By.CSS_SELECTOR, "[data-verdict]"))
    assert verdict.get_attribute("data-verdict") == "valid", verdict.text
    assert f"state key:      trade_documents / doc/{doc_id}" in verdict.text
    browser.save_screenshot(str(shots / "document.png"))


def test_identity_key_signs_in_the_page(chain: Chain, browser: Any) -> None:
    """A loaded identity file stays in the page (a non-extractable WebCrypto key) and signs
    with chainfin's domain separation (Python's crypto.verify accepts it) and, for reads, plain
    Ed25519 over an RFC 9421 signature base (chainfin.httpsig accepts its headers)."""
    from chainfin import crypto, httpsig

    key_file = chain.dir / "clients" / "auditor.json"
    ident = load_identity(key_file)
    _open(browser, chain, key="auditor")
    sig = browser.execute_async_script("""
        const done = arguments[1];
        window.chainfinExplorer.sign("tx", new TextEncoder().encode(arguments[0]))
          .then((s) => done(Array.from(s)), (e) => done(String(e)));
    """, "signed read 19")
    assert isinstance(sig, list), sig
    crypto.verify(ident.public_key, "tx", b"signed read 19", bytes(sig))
    url = chain.url + "/v1/state/settlement/bal/" + chain.importer + "/USD?x=%20y"
    headers = browser.execute_async_script("""
        const done = arguments[1];
        window.chainfinExplorer.signRequest("GET", arguments[0])
          .then(done, (e) => done(String(e)));
    """, url)
    assert isinstance(headers, dict), headers
    parsed = httpsig.verify_request("GET", url, headers, b"", time.time())
    assert parsed.keyid == ident.public_key
    assert 'alg="ed25519";nonce="' in headers["Signature-Input"]
    extractable = browser.execute_script(
        "return window.chainfinExplorer.identity.key.extractable")
    assert extractable is False


def test_reads_need_an_identity(chain: Chain, browser: Any, shots: Path) -> None:
    """Without a key a block read is refused and the page says a read needs an identity (the
    public status still shows); with the auditor's key the block shows; with a key that may not
    read blocks (the importer's) the block is "not found or not visible to you". The sender
    proves its transfer inclusion-only, the auditor with its outcome, the payee not at all."""
    from selenium.webdriver.common.by import By

    height = chain.client.tx(chain.txs["transfer"])["height"]
    _open(browser, chain, f"#/block/{height}", key=None)
    card = _css(browser, "#need-identity")
    assert "Reads need an identity" in card.text and "Load an identity key file" in card.text
    assert "401 unauthenticated" in card.text and "missing" in card.text
    assert chain.genesis.chain_id in browser.find_element(By.ID, "status").text  # public
    assert "no identity" in browser.find_element(By.ID, "identity-state").text
    browser.save_screenshot(str(shots / "needs-identity.png"))

    _load_key(browser, chain, "auditor")
    _css(browser, "#signers tr")
    assert not browser.find_elements(By.ID, "need-identity")

    _open(browser, chain, f"#/block/{height}", key="importer")
    nf = _css(browser, ".notfound")
    assert "Not found or not visible to you" in nf.text and "importer" in nf.text
    browser.save_screenshot(str(shots / "not-visible.png"))

    # the sender reads its own transaction and what it signed (GET /v1/tx?tx=1), and proves
    # it in a final block with an inclusion-only proof: the whole receipt holds the alerts
    # the transaction raised, the sender's home bank's and the supervisors' (decisions 144,
    # 147); an auditor reads and proves it, outcome included; the payee is a party to it,
    # not a reader of the whole receipt: no proof
    for who, whole, proven in (("exporter", True, "inclusion"), ("importer", False, None),
                               ("auditor", True, "full")):
        _open(browser, chain, f"#/tx/{chain.txs['transfer']}", key=who)
        if whole:
            _pin_genesis(browser, chain)
        _css(browser, "#tx-id")
        if whole:
            body = browser.find_element(By.ID, "view").text
            assert "committed" in body and "settlement.transfer" in body and "nonce 1" in body
        browser.find_element(By.CSS_SELECTOR, "button.verify").click()
        verdict = _css(browser, "[data-verdict]", 30)
        if proven:
            assert verdict.get_attribute("data-verdict") == "valid", (who, verdict.text)
            lines = verdict.find_element(By.CSS_SELECTOR, "pre").text.splitlines()
            assert f"transaction:    {chain.txs['transfer']}" in lines, lines
            outcome = [x for x in lines if x.startswith("outcome:")]
            assert outcome == [f"outcome:        {NOT_PROVEN}" if proven == "inclusion" else
                               "outcome:        committed (receipt under the header's "
                               "receipts_root)"], (who, lines)
            if proven == "inclusion":
                browser.save_screenshot(str(shots / "verify-inclusion-only.png"))
        else:
            assert verdict.get_attribute("data-verdict") == "invalid" and "404" in verdict.text


def test_verdicts_across_a_validator_set_change(chain: Chain, browser: Any) -> None:
    """A 5th bank node is voted in; a later transaction's proof walks the certified set change
    from the genesis. The browser and chainfin/proofs.py agree on it and on one-byte changes of
    its set-change chain (the validators, the change's header and certificate)."""
    import asyncio
    import io

    from testnet.membership import join_node

    asyncio.run(join_node(chain.dir, chain.tn, out=io.StringIO()))
    r = chain.client.call(chain.issuer, "settlement", "issue",
                          {"currency": "USD", "to": chain.importer, "amount": 7}, wait=True)
    assert r["status"] == "committed"
    doc = chain.client.proof_tx(r["tx_id"])
    assert len(doc["validator_set_changes"]) == 1
    text = json.dumps(doc)
    state_text = json.dumps(chain.client.proof_state("settlement", f"bal/{chain.importer}/USD"))
    start = text.index('"validator_set_changes"')
    rng = random.Random(5)
    b = text.encode()
    cases = [text, state_text]
    for _ in range(60):
        i = rng.randrange(start, len(b))
        c = rng.choice(b"0123456789abcdef")
        if c != b[i]:
            cases.append((b[:i] + bytes([c]) + b[i + 1:]).decode())
    # the chain cut off: the proof no longer reaches the set in force
    cut = json.loads(text)
    cut["validator_set_changes"] = []
    cases.append(json.dumps(cut))
    _open(browser, chain, key=None)
    res = browser.execute_async_script(_JS_VERIFY, chain.genesis_file.read_text(), cases)
    assert "error" not in res, res
    for t, got in zip(cases, res["out"], strict=True):
        want = _python_verdict(chain, t)
        assert [got[0], _norm(got[1])] == [want[0], _norm(want[1])], (got, want)
    assert res["out"][0][0] and "set changes walked from genesis at heights: " in res["out"][0][1]
    assert "none)" not in res["out"][0][1]
    assert not res["out"][-1][0] and "validators_hash" in res["out"][-1][1]
