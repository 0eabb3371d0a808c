/* chainfin explorer: search, block / transaction / account / document / state pages, live blocks,
 * and a Verify button that checks proofs in this browser (verify.js) against a pinned genesis. */
(function () {
  "use strict";
  const V = window.ChainfinVerify;
  const $ = (id) => document.getElementById(id);
  const view = $("view");
  const PIN_KEY = "chainfin.genesis.pin";

  const state = {
    status: null,        // last /v1/status
    genesis: null,       // {chainId, hash, validators, names, dump, source}
    identity: null,      // {name, publicKey, key (CryptoKey)}: kept in this page only
    lastHeight: 0,
  };
  window.chainfinExplorer = state;

  // ------------------------------------------------------------------ helpers

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  // ------------------------------------------------------------------ signed reads (RFC 9421)
  // Every read but the public routes carries an HTTP message signature by the loaded identity
  // (docs/api.md "Authentication"): plain Ed25519 over the signature base, a fresh nonce.

  const PUBLIC = new Set(["/", "/healthz", "/openapi.json", "/v1/status", "/v1/genesis"]);
  const isPublic = (path) => PUBLIC.has(path) || path.startsWith("/static/");
  const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
  let emptyDigest = null;
  async function contentDigest(body) {
    if (!body.length && emptyDigest) return emptyDigest;
    const d = "sha-256=:" + b64(new Uint8Array(await crypto.subtle.digest("SHA-256", body))) + ":";
    if (!body.length) emptyDigest = d;
    return d;
  }
  /** The three headers signing `method url` (url: absolute, exactly as it will be sent). */
  async function signRequest(method, url, body) {
    const id = state.identity;
    const digest = await contentDigest(body || new Uint8Array());
    const nonce = V.hex(crypto.getRandomValues(new Uint8Array(12)));
    const params = '("@method" "@target-uri" "content-digest");created=' + Math.floor(Date.now() / 1000) +
      ';keyid="' + id.publicKey + '";alg="ed25519";nonce="' + nonce + '"';
    const base = '"@method": ' + method.toUpperCase() + '\n"@target-uri": ' + url + '\n"content-digest": ' + digest +
      '\n"@signature-params": ' + params;
    const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, id.key, new TextEncoder().encode(base)));
    return { "Content-Digest": digest, "Signature-Input": "sig1=" + params, "Signature": "sig1=:" + b64(sig) + ":" };
  }
  state.signRequest = signRequest;
  /** fetch(path) signed by the loaded identity unless the route is public (then, or without an
   * identity, unsigned: the node answers 401 and the page says a read needs an identity). */
  async function sfetch(path, headers) {
    const url = new URL(path, location.href);
    const h = Object.assign({}, headers || {});
    if (!isPublic(url.pathname) && state.identity) Object.assign(h, await signRequest("GET", url.href));
    return fetch(url.href, { headers: h, cache: "no-store" });
  }
  async function api(path) {
    const r = await sfetch(path, { Accept: "application/json" });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401) throw new NeedIdentity(path, body && body.error ? body.error.message : "");
    return { status: r.status, body };
  }
  /** A read the node refused as unauthenticated (401): without an identity, or a refused one. */
  class NeedIdentity extends Error {
    constructor(path, reason) { super(reason); this.path = path; this.reason = reason; }
  }
  function needIdentityHtml(e) {
    const title = state.identity ? "Read refused: the node did not accept this identity's signature"
      : "Reads need an identity";
    const what = state.identity
      ? "<p>The node answered <code>401 unauthenticated</code> for <code>" + esc(e.path) + "</code>: <span class=\"reason\">" + esc(e.reason) +
        "</span></p><p class=\"muted\">Is the key the identity's current one, registered on this chain? Is this computer's clock within 30 s of the node's?</p>"
      : "<p>Every read but the node's status and genesis is signed by a registered identity (RFC 9421 HTTP message signatures). " +
        "Load an identity key file above (<b>Load identity key</b>: yours, or an auditor's or regulator's to see every block); it stays in this page and signs each request.</p>" +
        '<p class="muted">The node answered <code>401 unauthenticated</code> for <code>' + esc(e.path) + "</code>: " + esc(e.reason) + "</p>";
    return '<div class="card needkey" id="need-identity"><h1>' + esc(title) + "</h1>" + what + "</div>";
  }
  function nameOf(pk) {
    return state.genesis && state.genesis.names.get(pk) ? state.genesis.names.get(pk)
      : (genesisNames().get(pk) || null);
  }
  let nodeGenesis = null;  // the node's genesis (names only; never trusted for proofs)
  function genesisNames() {
    const m = new Map();
    if (nodeGenesis) {
      for (const v of nodeGenesis.validators || []) m.set(v.public_key, v.name);
      for (const v of nodeGenesis.identities || []) if (!m.has(v.public_key)) m.set(v.public_key, v.name);
    }
    return m;
  }
  function who(pk) {
    const n = nameOf(pk);
    const short = pk.slice(0, 12) + "…";
    return '<a href="#/account/' + esc(pk) + '">' + (n ? "<b>" + esc(n) + "</b> " : "") + '<code>' + esc(n ? short : pk) + "</code></a>";
  }
  const txLink = (id, short) => '<a href="#/tx/' + esc(id) + '"><code>' + esc(short ? id.slice(0, 16) + "…" : id) + "</code></a>";
  const blockLink = (h) => '<a href="#/block/' + esc(h) + '">#' + esc(h) + "</a>";
  const time = (ms) => new Date(Number(ms)).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  function json(v) { return "<pre>" + esc(JSON.stringify(v, null, 2)) + "</pre>"; }
  function kv(rows) {
    return "<table>" + rows.map(([k, v]) => "<tr><th>" + esc(k) + "</th><td>" + v + "</td></tr>").join("") + "</table>";
  }
  /** A 404: the item does not exist, or the identity may not see it (the node answers both alike). */
  function fail(msg) {
    view.innerHTML = '<div class="card notfound"><h1>Not found or not visible to you</h1><p>' + esc(msg) + "</p>" +
      '<p class="muted">The node answers the same 404 for what does not exist and for what ' +
      (state.identity ? "the identity <b>" + esc(state.identity.name || state.identity.publicKey.slice(0, 12) + "…") + "</b>" : "this page") +
      " may not read (docs/api.md, who may read what).</p></div>";
  }

  // ------------------------------------------------------------------ genesis trust

  function showGenesis(extra) {
    const el = $("genesis-state");
    if (!state.genesis) {
      el.innerHTML = (extra ? '<span class="pill bad">' + esc(extra) + "</span> " : "") +
        "not loaded: load the genesis file, or fetch it from the node and pin its hash";
      return;
    }
    el.innerHTML = '<span class="pill ok">pinned</span> chain <code>' + esc(state.genesis.chainId) +
      "</code> hash <code id=\"genesis-hash\">" + esc(state.genesis.hash) + "</code> <span class=\"muted\">(" +
      esc(state.genesis.source) + ")</span>";
  }
  async function adoptGenesis(text, source) {
    const g = await V.loadGenesis(text);
    const want = $("genesis-pin").value.trim().toLowerCase();
    if (want && want !== g.hash) {
      state.genesis = null;
      showGenesis("hash mismatch");
      throw new Error("genesis hash " + g.hash + " is not the expected " + want);
    }
    const pinned = localStorage.getItem(PIN_KEY);
    if (source === "fetched from this node" && pinned && pinned !== g.hash && !want) {
      state.genesis = null;
      showGenesis("hash changed");
      throw new Error("this node's genesis hash " + g.hash + " differs from the pinned " + pinned +
        " (type the expected hash to re-pin)");
    }
    g.source = source;
    state.genesis = g;
    localStorage.setItem(PIN_KEY, g.hash);
    showGenesis();
    return g;
  }
  async function fetchGenesisText() {
    const r = await fetch("/v1/genesis");  // public: the chain's root of trust
    if (!r.ok) throw new Error("the node serves no genesis (" + r.status + ")");
    return await r.text();
  }
  $("genesis-fetch").addEventListener("click", async () => {
    try { await adoptGenesis(await fetchGenesisText(), "fetched from this node"); }
    catch (e) { $("genesis-state").insertAdjacentHTML("beforeend", ' <span class="pill bad">' + esc(e.message) + "</span>"); }
  });
  $("genesis-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    try { await adoptGenesis(new Uint8Array(await f.arrayBuffer()), "file " + f.name); }
    catch (e) { $("genesis-state").insertAdjacentHTML("beforeend", ' <span class="pill bad">' + esc(e.message) + "</span>"); }
  });
  async function autoPin() {
    // A hash pinned earlier in this browser: re-adopt the node's genesis only if it matches.
    const pinned = localStorage.getItem(PIN_KEY);
    if (!pinned) { showGenesis(); return; }
    try {
      const g = await V.loadGenesis(await fetchGenesisText());
      if (g.hash === pinned) { g.source = "node's copy, matches the hash pinned in this browser"; state.genesis = g; showGenesis(); }
      else showGenesis("node's genesis differs from the pinned hash " + pinned.slice(0, 16) + "…");
    } catch (e) { showGenesis(e.message); }
  }

  // ------------------------------------------------------------------ identity key file

  $("identity-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    try {
      const d = JSON.parse(await f.text());
      const seed = V.pyFromHex(String(d.seed || ""));
      if (!seed || seed.length !== 32) throw new Error("not a chainfin identity file (no 32-byte seed)");
      // PKCS#8 wrapping of an Ed25519 seed (RFC 8410)
      const pkcs8 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, ...seed]);
      const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
      state.identity = { name: d.name || "", publicKey: String(d.public_key || ""), key };
      $("identity-state").innerHTML = '<span class="pill ok">signing reads</span> identity <b>' + esc(state.identity.name) + "</b> " + who(state.identity.publicKey) +
        ' <span class="muted">(kept in this page only, not extractable)</span>';
      live();
      await route();
      document.body.dataset.identity = state.identity.publicKey;  // the page re-rendered signed
    } catch (e) {
      $("identity-state").innerHTML = '<span class="pill bad">' + esc(e.message) + "</span>";
    }
  });
  function showIdentity() {
    if (state.identity) return;
    $("identity-state").innerHTML = '<span class="pill bad">no identity</span> reads of blocks, transactions, balances and documents are signed: load a key file';
  }
  /** Sign `chainfin/1/<domain>\0<message>` with the loaded identity (chainfin's tagged
   * signatures; a signed read is plain Ed25519 instead: signRequest). */
  state.sign = async (domain, message) => {
    if (!state.identity) throw new Error("no identity loaded");
    const tagged = new Uint8Array([...new TextEncoder().encode("chainfin/1/" + domain + "\0"), ...message]);
    return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, state.identity.key, tagged));
  };

  // ------------------------------------------------------------------ verify

  /** Verify a proof document (text or bytes) and render the verdict into `box`. */
  async function verifyInto(box, text, expect) {
    box.innerHTML = '<div class="verdict"><span class="muted">verifying in this browser…</span></div>';
    if (!state.genesis) {
      box.innerHTML = '<div class="verdict bad" data-verdict="no-genesis"><div class="title">Cannot verify: no trusted genesis</div>' +
        "<p>Load the genesis file or fetch it from the node and pin its hash (above); a proof is only as good as the root it is checked against.</p></div>";
      return null;
    }
    const t0 = performance.now();
    try {
      const doc = V.parseDocument(text);
      const r = await V.verifyProof(state.genesis, doc);
      const lines = V.lines(r, state.genesis.names);
      const extraNote = expect ? expect(r) : null;
      if (extraNote) throw new V.ProofError(extraNote);
      lines.push("trusted root:   genesis " + state.genesis.hash + " (" + state.genesis.source + ")");
      box.innerHTML = '<div class="verdict ok" data-verdict="valid"><div class="title">✔ VALID — proven against the pinned genesis</div><pre class="lines">' +
        esc(lines.join("\n")) + '</pre><div class="muted">checked in ' + Math.round(performance.now() - t0) + " ms (WebCrypto SHA-256 + Ed25519)</div></div>";
      return r;
    } catch (e) {
      const reason = e instanceof V.ProofError ? e.message : "internal error: " + (e && e.message);
      box.innerHTML = '<div class="verdict bad" data-verdict="invalid"><div class="title">✘ INVALID — not proven</div>' +
        '<p>Reason: <span class="reason">' + esc(reason) + "</span></p></div>";
      return null;
    }
  }
  const checks = new Map();  // verify button id -> {proofPath, expect}
  function verifyButton(label, proofPath, expect) {
    const id = "v" + Math.random().toString(36).slice(2);
    checks.set(id, { proofPath, expect });
    return '<div class="row"><button class="primary verify" data-check="' + id + '" type="button">Verify ' + esc(label) +
      '</button><a id="' + id + 'd" hidden download="proof.json">download the proof</a>' +
      '<span class="muted">fetches <code>' + esc(proofPath) + "</code> and checks it here</span></div><div id=\"" + id + '"></div>';
  }
  view.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button.verify");
    if (!btn) return;
    const id = btn.dataset.check, c = checks.get(id), box = $(id);
    if (!c || !box) return;
    box.innerHTML = '<div class="verdict"><span class="muted">fetching the proof…</span></div>';
    const r = await sfetch(c.proofPath);
    const text = new Uint8Array(await r.arrayBuffer());
    if (!r.ok) {
      const why = r.status === 401 ? " (unauthenticated: load an identity key)" : r.status === 404 ? " (not found or not visible to you)" : "";
      box.innerHTML = '<div class="verdict bad" data-verdict="invalid"><div class="title">✘ No proof</div><p>Reason: <span class="reason">the node answered ' +
        r.status + why + " for " + esc(c.proofPath) + "</span></p></div>";
      return;
    }
    await verifyInto(box, text, c.expect);
    const dl = $(id + "d");
    if (dl) { dl.hidden = false; dl.href = URL.createObjectURL(new Blob([text], { type: "application/json" })); }
  });

  // ------------------------------------------------------------------ pages

  async function pageHome() {
    const st = state.status;
    let rows = "";
    const top = st ? st.height : 0;
    try {
      for (let h = top; h > 0 && h > top - 15; h--) rows += await blockRow(h);
    } catch (e) {
      if (!(e instanceof NeedIdentity)) throw e;
      rows = '<tr class="needkey"><td colspan="6">' + needIdentityHtml(e) + "</td></tr>";
    }
    if (st && top > 0 && !rows) {
      rows = '<tr class="notfound"><td colspan="6">No block visible to this identity: blocks are for validators, regulators and auditors ' +
        "(load such a key to list them; your own transactions, balances and documents are still yours to read).</td></tr>";
    }
    view.innerHTML = '<h1>Latest blocks <span class="pill live" id="live">' + (liveOn ? "live" : "not live") + "</span></h1>" +
      '<div class="card"><table class="list" id="blocks"><thead><tr><th>height</th><th>hash</th><th>time</th><th>txs</th><th>signed by</th><th>proposer</th></tr></thead><tbody>' +
      rows + "</tbody></table></div>" +
      '<h2>Verify a proof document</h2><div class="card"><p class="muted">Paste a proof (from <code>chainfin proof</code> or a Verify button\'s download) to check it against the pinned genesis.</p>' +
      '<textarea id="proof-text" spellcheck="false" placeholder="{&quot;type&quot;: &quot;chainfin/tx-proof&quot;, …}"></textarea>' +
      '<div class="row"><button class="primary" id="proof-verify" type="button">Verify pasted proof</button></div><div id="proof-verdict"></div></div>';
    $("proof-verify").addEventListener("click", () => verifyInto($("proof-verdict"), new TextEncoder().encode($("proof-text").value)));
  }
  async function blockRow(h, fresh) {
    const { status, body: b } = await api("/v1/blocks/" + h);
    if (status !== 200) return "";
    const n = state.status ? state.status.validators.length : b.certificate.votes.length;
    return '<tr class="' + (fresh ? "new" : "") + '"><td>' + blockLink(h) + "</td><td><code>" + esc(b.hash.slice(0, 16)) + "…</code></td><td>" +
      esc(time(b.header.timestamp_ms)) + "</td><td>" + b.tx_ids.length + "</td><td>" + b.certificate.votes.length + " of " + n +
      "</td><td>" + who(b.header.proposer) + "</td></tr>";
  }

  async function pageBlock(h) {
    const { status, body: b } = await api("/v1/blocks/" + encodeURIComponent(h));
    if (status !== 200) return fail("no block at height " + h);
    const signed = new Set(b.certificate.votes.map((v) => v[0]));
    const members = (state.status && state.status.height === b.height ? state.status.validators : null) ||
      (nodeGenesis ? nodeGenesis.validators.map((v) => v.public_key) : [...signed]);
    const all = [...new Set([...members, ...signed])].sort();
    const hd = b.header;
    const signers = all.map((pk) => '<tr class="signer ' + (signed.has(pk) ? "yes" : "no") + '"><td>' +
      (signed.has(pk) ? "✔ signed" : "— no signature") + "</td><td>" + who(pk) + "</td></tr>").join("");
    const txs = b.txs.map((t, i) => {
      const rc = b.receipts[i] || {};
      const ok = rc.status === "committed";
      return "<tr><td>" + i + "</td><td>" + txLink(b.tx_ids[i], true) + "</td><td><code>" + esc(t.contract + "." + t.method) +
        "</code></td><td>" + who(t.sender) + '</td><td><span class="pill ' + (ok ? "ok" : "bad") + '">' + esc(rc.status || "?") + "</span></td></tr>";
    }).join("");
    const anchor = b.tx_ids.length
      ? verifyButton("this block's finality", "/v1/proofs/tx/" + b.tx_ids[0], (r) =>
        V.hex(r.blockHash) === b.hash ? null : "the proof is for block " + V.hex(r.blockHash) + ", not the block shown (" + b.hash + ")")
      : '<p class="muted">This block holds no transaction; finality is proven through a transaction or state proof (the node has no block-only proof route).</p>';
    view.innerHTML = "<h1>Block " + b.height + "</h1>" +
      '<div class="card">' + anchor + "</div>" +
      '<div class="card"><h2>Header</h2>' + kv([
        ["hash", "<code>" + esc(b.hash) + "</code>"], ["chain", "<code>" + esc(hd.chain_id) + "</code>"],
        ["time", esc(time(hd.timestamp_ms))], ["view", esc(hd.view)], ["proposer", who(hd.proposer)],
        ["previous", hd.height > 1 ? blockLink(hd.height - 1) + " <code>" + esc(hd.prev_hash) + "</code>" : "<code>" + esc(hd.prev_hash) + "</code>"],
        ["tx root", "<code>" + esc(hd.tx_root) + "</code> (" + hd.tx_count + " txs)"], ["state root", "<code>" + esc(hd.state_root) + "</code>"],
      ].concat(hd.receipts_root ? [["receipts root", "<code>" + esc(hd.receipts_root) + "</code>"]] : []).concat([
        ["validators hash", "<code>" + esc(hd.validators_hash) + "</code>"],
        ["next validators", "<code>" + esc(hd.next_validators_hash) + "</code>" + (hd.next_validators_hash !== hd.validators_hash ? ' <span class="pill bad">validator set changes after this block</span>' : "")],
      ])) + "</div>" +
      '<div class="card"><h2>Commit certificate: signed by ' + signed.size + " of " + all.length + " validators</h2>" +
      '<table class="list" id="signers">' + signers + "</table>" +
      '<p class="muted">view ' + esc(b.certificate.view) + ", block hash <code>" + esc(b.certificate.block_hash) + "</code></p></div>" +
      '<div class="card"><h2>Transactions (' + b.txs.length + ')</h2><table class="list" id="txs"><thead><tr><th>#</th><th>tx id</th><th>call</th><th>sender</th><th>result</th></tr></thead>' +
      txs + "</table></div>" +
      '<div class="row">' + (b.height > 1 ? blockLink(b.height - 1) + " ← previous" : "") + " · next → " + blockLink(b.height + 1) + "</div>";
  }

  async function pageTx(id) {
    const { status, body: o } = await api("/v1/tx/" + encodeURIComponent(id) + "?tx=1");
    if (status !== 200) return fail("no transaction " + id + " (" + (o && o.error ? o.error.message : status) + ")");
    let env = o.tx || null, rc = null, hash = null;  // the envelope, for its sender (?tx=1)
    if (o.height) {
      const { status: bs, body: b } = await api("/v1/blocks/" + o.height);
      if (bs === 200) { env = b.txs[o.index]; rc = b.receipts[o.index]; hash = b.hash; }
    }
    const ok = o.status === "committed";
    view.innerHTML = '<h1>Transaction <code id="tx-id">' + esc(o.tx_id) + "</code></h1>" +
      '<div class="card">' + kv([
        ["status", '<span class="pill ' + (ok ? "ok" : "bad") + '">' + esc(o.status) + "</span>" + (o.error ? " " + esc(o.error.code + ": " + o.error.message) : "")],
        ["block", o.height ? blockLink(o.height) + " index " + o.index + (hash ? " <code>" + esc(hash.slice(0, 16)) + "…</code>" : "") : "not in a block"],
        ["call", env ? "<code>" + esc(env.contract + "." + env.method) + "</code>" : ""],
        ["sender", env ? who(env.sender) + " nonce " + esc(env.nonce) : ""],
        ["finality", o.finality_ms !== undefined ? esc(o.finality_ms) + " ms (seen by this node)" : '<span class="muted">n/a</span>'],
      ]) + (o.height ? verifyButton("inclusion and finality", "/v1/proofs/tx/" + o.tx_id) : "") + "</div>" +
      '<div class="card"><h2>Result</h2>' + json(o.result !== undefined ? o.result : (o.error || null)) + "</div>" +
      '<div class="card"><h2>Events</h2>' + (rc && rc.events && rc.events.length ? json(rc.events) : '<p class="muted">none</p>') + "</div>" +
      '<div class="card"><h2>Envelope</h2>' + (env ? json(env) : '<p class="muted">unavailable</p>') + "</div>";
    // a document, LC or trade created by this transaction has the tx id as its id
    for (const p of DOC_KEYS.filter((k) => k)) {
      if ((await api("/v1/state/trade_documents/" + p + o.tx_id)).status === 200) {
        view.insertAdjacentHTML("afterbegin", '<div class="card">This id is also a trade document / LC / trade: <a id="doc-link" href="#/doc/' +
          esc(o.tx_id) + '"><b>open its state</b></a></div>');
        break;
      }
    }
  }

  function currencies() {
    return nodeGenesis ? (nodeGenesis.currencies || []).map((c) => c.code) : [];
  }
  async function stateCard(contract, key, title) {
    const { status, body } = await api("/v1/state/" + encodeURIComponent(contract) + "/" + key.split("/").map(encodeURIComponent).join("/"));
    const found = status === 200;
    return { found, html: '<div class="card state" data-key="' + esc(contract + "/" + key) + '"><h2>' + esc(title || contract + " / " + key) + "</h2>" +
      (found ? json(body.value) + '<p class="muted">as of height ' + esc(body.height) + "</p>" : '<p class="muted">absent</p>') +
      verifyButton(found ? "this value" : "its absence", "/v1/proofs/state/" + encodeURIComponent(contract) + "/" + key.split("/").map(encodeURIComponent).join("/"),
        (r) => (r.present !== found ? "the proof says the key is " + (r.present ? "present" : "absent") + ", the page showed otherwise" : null)) + "</div>" };
  }

  async function pageAccount(pk) {
    const ident = nodeGenesis ? [...(nodeGenesis.identities || []), ...(nodeGenesis.validators || [])].find((i) => i.public_key === pk) : null;
    const nr = await api("/v1/nonce/" + pk);
    const nonce = nr.status === 200 ? nr.body : null;
    let rows = "";
    const cards = [];
    for (const c of currencies()) {
      const { status, body } = await api("/v1/state/settlement/bal/" + pk + "/" + c);
      rows += "<tr><td>" + esc(c) + "</td><td class=\"mono\">" + (status === 200 ? esc(body.value) : "0") + "</td></tr>";
      cards.push(await stateCard("settlement", "bal/" + pk + "/" + c, c + " balance (minor units)"));
    }
    view.innerHTML = "<h1>Account " + (ident ? esc(ident.name) : "") + "</h1>" +
      '<div class="card">' + kv([["public key", "<code>" + esc(pk) + "</code>"],
        ["role", ident ? esc((ident.role || "validator") + (ident.bank ? " · bank " + ident.bank : "") + (ident.admin ? " · admin" : "")) : '<span class="muted">not a genesis identity</span>'],
        ["next nonce", nonce ? esc(nonce.next) : '<span class="muted">not found or not visible to you</span>']]) + "</div>" +
      '<div class="card"><h2>Balances</h2><table class="list" id="balances"><thead><tr><th>currency</th><th>amount (minor units)</th></tr></thead>' + rows + "</table></div>" +
      cards.map((c) => c.html).join("");
  }

  // Document / trade ids: the trade_documents contract's state is shown as generic JSON, under
  // every key layout it has used (its layout is being reworked; nothing here depends on fields).
  const DOC_KEYS = ["doc/", "trade/", "lc/", "fp/", "content/", "lcfp/", ""];
  async function pageDoc(id) {
    const cards = [];
    for (const p of DOC_KEYS) {
      const c = await stateCard("trade_documents", p + id);
      if (c.found) cards.push(c);
    }
    if (!cards.length) return fail("nothing in trade_documents state under " + DOC_KEYS.map((p) => p + id).join(", "));
    view.innerHTML = "<h1>Document / trade <code>" + esc(id) + "</code></h1>" + cards.map((c) => c.html).join("");
  }
  async function pageState(contract, key) {
    const c = await stateCard(contract, key);
    view.innerHTML = "<h1>State <code>" + esc(contract + "/" + key) + "</code></h1>" + c.html;
  }

  async function search(q) {
    q = q.trim();
    if (!q) return;
    if (/^[0-9]{1,19}$/.test(q)) { location.hash = "#/block/" + q; return; }
    if (/^[0-9a-fA-F]{64}$/.test(q)) {
      const id = q.toLowerCase();
      const { status } = await api("/v1/tx/" + id);
      if (status === 200) { location.hash = "#/tx/" + id; return; }
      // document, LC and trade ids are 32-byte hex too: any trade_documents key for it?
      for (const p of DOC_KEYS.filter((k) => k)) {
        if ((await api("/v1/state/trade_documents/" + p + id)).status === 200) { location.hash = "#/doc/" + id; return; }
      }
      location.hash = "#/account/" + id;
      return;
    }
    const slash = q.indexOf("/");
    if (slash > 0) {
      const contract = q.slice(0, slash);
      if (/^[a-z_]{1,64}$/.test(contract)) { location.hash = "#/state/" + contract + "/" + q.slice(slash + 1); return; }
    }
    location.hash = "#/doc/" + encodeURIComponent(q);
  }
  $("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    search($("q").value).catch((e) => {
      view.innerHTML = e instanceof NeedIdentity ? needIdentityHtml(e) : '<div class="card"><h1>Error</h1><p>' + esc(e.message) + "</p></div>";
    });
  });

  async function route() {
    const parts = location.hash.replace(/^#\/?/, "").split("/");
    const [page, ...rest] = parts;
    try {
      if (page === "block") await pageBlock(rest[0]);
      else if (page === "tx") await pageTx(rest[0]);
      else if (page === "account") await pageAccount(rest[0]);
      else if (page === "doc") await pageDoc(decodeURIComponent(rest.join("/")));
      else if (page === "state") await pageState(rest[0], decodeURIComponent(rest.slice(1).join("/")));
      else await pageHome();
      view.dataset.page = page || "home";
    } catch (e) {
      view.dataset.page = page || "home";
      if (e instanceof NeedIdentity) view.innerHTML = needIdentityHtml(e);
      else view.innerHTML = '<div class="card"><h1>Error</h1><p>' + esc(e.message) + "</p></div>";
    }
  }
  window.addEventListener("hashchange", route);

  // ------------------------------------------------------------------ status and live blocks

  async function refreshStatus() {
    try {
      const { body: st } = await api("/v1/status");
      state.status = st;
      $("status").innerHTML = "node <b>" + esc(st.node_id) + "</b> · chain <code>" + esc(st.chain_id) + "</code> · height <b id=\"height\">" +
        st.height + "</b> · view " + st.view + " · " + st.validators.length + " validators · " + st.peers.length + " peers";
    } catch (e) { $("status").textContent = "node unreachable"; }
  }
  // /v1/events is a signed read: EventSource cannot send headers, so the stream is read with a
  // signed fetch (each reconnection signed afresh); without an identity there is no live list.
  let liveOn = false, liveAbort = null, liveGen = 0;
  function setLive(text) { const l = $("live"); if (l) l.textContent = text; }
  async function onBlockEvent(d) {
    if (state.status) state.status.height = Math.max(state.status.height, d.height);
    const h = $("height"); if (h) h.textContent = d.height;
    const tb = document.querySelector("#blocks tbody");
    if (tb && (view.dataset.page === "home")) {
      tb.querySelectorAll("tr.notfound, tr.needkey").forEach((r) => r.remove());
      tb.insertAdjacentHTML("afterbegin", await blockRow(d.height, true));
      while (tb.rows.length > 15) tb.deleteRow(tb.rows.length - 1);
    }
  }
  // a browser holds at most 6 connections per host: close the stream when the page goes away
  window.addEventListener("pagehide", () => { liveGen++; if (liveAbort) liveAbort.abort(); });
  function live() {
    if (!state.identity) { liveOn = false; setLive("not live: load an identity"); return; }
    if (liveAbort) liveAbort.abort();
    const gen = ++liveGen, ctl = new AbortController();
    liveAbort = ctl;
    (async () => {
      while (gen === liveGen) {
        try {
          const url = new URL("/v1/events", location.href).href;
          const r = await fetch(url, { headers: Object.assign({ Accept: "text/event-stream" }, await signRequest("GET", url)), signal: ctl.signal, cache: "no-store" });
          if (!r.ok || !r.body) throw new Error("HTTP " + r.status);
          liveOn = true; setLive("live");
          const rd = r.body.pipeThrough(new TextDecoderStream()).getReader();
          let buf = "";
          for (;;) {
            const { value, done } = await rd.read();
            if (done) break;
            buf += value;
            let i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
              let type = "message", data = "";
              for (const line of chunk.split("\n")) {
                if (line.startsWith("event:")) type = line.slice(6).trim();
                else if (line.startsWith("data:")) data += line.slice(5).trim();
              }
              if (type === "block" && data) { try { await onBlockEvent(JSON.parse(data)); } catch (e) { /* next event */ } }
            }
          }
        } catch (e) {
          if (ctl.signal.aborted) return;
        }
        liveOn = false; setLive("reconnecting");
        await new Promise((res) => setTimeout(res, 2000));
      }
    })();
  }

  (async function start() {
    try { const r = await api("/v1/genesis"); if (r.status === 200) nodeGenesis = r.body; } catch (e) { /* names only */ }
    showIdentity();
    await refreshStatus();
    await autoPin();
    await route();
    live();
    setInterval(refreshStatus, 5000);
    document.body.dataset.ready = "1";
  })();
})();
