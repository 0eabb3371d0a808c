/* chainfin explorer: search, block / transaction / account / trade / document / state pages, the alert
 * queue and its cases, live blocks, and a Verify button that checks proofs in this browser (verify.js)
 * against a pinned genesis. */
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
      $("alerts-link").hidden = false;
      $("credit-link").hidden = false;  // for every identity alike: the page says whose it is  // for every identity alike: whether it has a queue is the node's to answer
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
      // an inclusion-only proof (its sender's: decision 147) proves the transaction final, not its outcome
      const form = r.kind !== V.TX_PROOF ? "state" : r.inclusionOnly ? "inclusion-only" : "full";
      const title = form === "inclusion-only"
        ? "✔ VALID — in a final block, proven against the pinned genesis; the outcome is not in this proof"
        : "✔ VALID — proven against the pinned genesis";
      box.innerHTML = '<div class="verdict ok" data-verdict="valid" data-form="' + form + '"><div class="title">' + title + '</div><pre class="lines">' +
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
    if (env && env.contract === "settlement" && SETTLEMENT_CALLS.includes(env.method)) {
      view.insertAdjacentHTML("afterbegin", '<div class="card">A payment, its recall or its return: <a id="payment-link" href="#/payment/' + esc(o.tx_id) + '"><b>open the payment page</b></a></div>');
    }
    // a guarantee's transaction links to its page (decision 197: its parties' and the regulators'):
    // its issue (the id is the guarantee's), a demand (gdem/<id> names the guarantee), and every
    // later step: one naming `guarantee_id` (amend, accept, withdraw, reduce, release, extend,
    // expire), or `demand_id` (pay, reject, suspend, claim: its demand record names the guarantee).
    // The link shows only when the reader reads the guarantee.
    if (env && env.contract === "trade_documents") {
      const a = env.args && typeof env.args === "object" ? env.args : {};
      let gid = null;
      let what = "A step of a guarantee";
      if (env.method === "issue_guarantee") { gid = o.tx_id; what = "A guarantee issued"; }
      else if (env.method === "demand") {
        const rec = await readExact("trade_documents", "gdem/" + o.tx_id);
        gid = rec.status === 200 ? rec.value.guarantee_id : null;
        what = "A demand under a guarantee";
      } else if (isKey(pget(a, "guarantee_id"))) gid = a.guarantee_id;
      else if (isKey(pget(a, "demand_id"))) {
        const rec = await readExact("trade_documents", "gdem/" + a.demand_id);
        gid = rec.status === 200 ? rec.value.guarantee_id : null;
        what = "A decision on a demand under a guarantee";
      }
      if (isKey(gid) && (env.method === "issue_guarantee" || env.method === "demand" ||
          (await readExact("trade_documents", "gtee/" + gid)).status === 200)) {
        view.insertAdjacentHTML("afterbegin", '<div class="card">' + what +
          ': <a id="guarantee-link" href="#/guarantee/' + esc(gid) + '"><b>open the guarantee page</b></a></div>');
      }
    }
    // a document, LC, financing or presentation created by this transaction has its id
    if (await firstDocKey(o.tx_id) !== null) {
      view.insertAdjacentHTML("afterbegin", '<div class="card">This id is also a trade document, letter of credit, financing or presentation: <a id="doc-link" href="#/doc/' +
        esc(o.tx_id) + '"><b>open its state</b></a></div>');
    }
  }

  function currencies() {
    return nodeGenesis ? (nodeGenesis.currencies || []).map((c) => c.code) : [];
  }
  async function stateCard(contract, key, title) {
    const body = await readExact(contract, key);  // integers exact, however large
    const found = body.status === 200;
    return { found, value: body.value, html: '<div class="card state" data-key="' + esc(contract + "/" + key) + '"><h2>' + esc(title || contract + " / " + key) + "</h2>" +
      (found ? "<pre>" + esc(toJsonText(body.value, "  ")) + '</pre><p class="muted">as of height ' + esc(body.height) + "</p>" : '<p class="muted">absent</p>') +
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

  // Document / trade ids: every trade_documents record kept under the id, as JSON; the trade
  // page (#/trade/ID) reads a trade as `chainfin trade show` reports it.
  const DOC_KEYS = ["trade/", "doc/", "lc/", "fin/", "pres/", "fp/", "content/", "lcfp/", ""];
  /** The first prefix of DOC_KEYS (but the bare id) under which a record exists for `id`, or null. */
  async function firstDocKey(id) {
    const keys = DOC_KEYS.filter((k) => k);
    const found = await Promise.all(keys.map((p) => api("/v1/state/trade_documents/" + p + id).then((r) => r.status === 200)));
    const i = found.indexOf(true);
    return i < 0 ? null : keys[i];
  }
  async function pageDoc(id) {
    const cards = [];
    const trades = new Set();
    for (const p of DOC_KEYS) {
      const c = await stateCard("trade_documents", p + id);
      if (!c.found) continue;
      cards.push(c);
      if (p === "trade/") trades.add(id);
      else if (c.value && typeof c.value === "object") {
        for (const k of ["trade_id", "for_trade"]) if (typeof c.value[k] === "string") trades.add(c.value[k]);
      }
    }
    if (!cards.length) return fail("nothing in trade_documents state under " + DOC_KEYS.map((p) => p + id).join(", "));
    const links = [...trades].map((t) => '<a class="trade-link" href="#/trade/' + esc(t) + '"><b>open trade <code>' + esc(t.slice(0, 16)) + "…</code></b></a>").join(" · ");
    view.innerHTML = "<h1>Document / trade <code>" + esc(id) + "</code></h1>" +
      (links ? '<div class="card" id="doc-trade">' + (trades.has(id) ? "This id is a trade: " : "Part of ") + links +
        ' <span class="muted">(its documents, pool, financings and letters of credit, as <code>chainfin trade show</code> reports them)</span></div>' : "") +
      cards.map((c) => c.html).join("");
  }
  async function pageState(contract, key) {
    const c = await stateCard(contract, key);
    view.innerHTML = "<h1>State <code>" + esc(contract + "/" + key) + "</code></h1>" + c.html;
  }

  // ------------------------------------------------------------------ trade page
  // A trade as `chainfin trade show` reports it: tradeReport is a line-by-line port of
  // contracts/trade/view.py's trade_report (same fields, statuses and sums), over integers
  // kept exact (BigInt: amounts reach 10^18 - 1, past a double's 2^53); money() formats minor
  // units as view.money does, never through a float.

  const BPS = 10000n, DAY_MS = 86400000n;
  /** contracts.trade.state.DISPUTE_REASONS */
  const DISPUTE_REASONS = {
    lc_issued_to_another_beneficiary: "its letter of credit was issued to another beneficiary",
    not_declarant: "customs attested that its registrant is not the declarant of record",
  };
  const has = (o, k) => o !== null && typeof o === "object" && !Array.isArray(o) && Object.prototype.hasOwnProperty.call(o, k);
  /** Python's dict.get */
  const pget = (o, k, d = null) => (has(o, k) ? o[k] : d);
  /** Python's truth value (bool(x)) */
  function pyBool(v) {
    if (v === null || v === undefined || v === false || v === 0 || v === 0n || v === "") return false;
    if (Array.isArray(v)) return v.length > 0;
    if (typeof v === "object") return Object.keys(v).length > 0;
    return true;
  }
  /** Python's // on ints */
  function floorDiv(a, b) {
    const q = a / b;
    return (a % b !== 0n && ((a < 0n) !== (b < 0n))) ? q - 1n : q;
  }
  const bmin = (a, b) => (b < a ? b : a);
  const bmax = (a, b) => (b > a ? b : a);
  function setKey(o, k, v) { Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true }); }
  /** A JSON value with every integer a BigInt (V.parseDocument keeps ints apart from floats). */
  function exact(v) {
    if (v instanceof Map) { const o = {}; for (const [k, x] of v) setKey(o, k, exact(x)); return o; }
    if (Array.isArray(v)) return v.map(exact);
    if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : v;
    if (v instanceof V.PyFloat) return v.v;
    return v;
  }
  const parseExact = (text) => exact(V.parseDocument(text));
  /** JSON text of a value holding BigInts (written as JSON integers, as Python's json does). */
  function toJsonText(v, indent, pad) {
    pad = pad || "";
    const nl = indent ? "\n" + pad + indent : "", end = indent ? "\n" + pad : "", sep = indent ? ": " : ":";
    if (v === null || v === undefined) return "null";
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
    if (Array.isArray(v)) {
      if (!v.length) return "[]";
      return "[" + v.map((x) => nl + toJsonText(x, indent, pad + (indent || ""))).join(",") + end + "]";
    }
    const ks = Object.keys(v);
    if (!ks.length) return "{}";
    return "{" + ks.map((k) => nl + JSON.stringify(k) + sep + toJsonText(v[k], indent, pad + (indent || ""))).join(",") + end + "}";
  }

  /** contracts.trade.view.money: integer minor units -> "USD 1,234.50" (no floats). */
  function money(amount, currency, exponent) {
    if (amount === null || amount === undefined) return "-";
    const e = BigInt(exponent === undefined ? 2n : exponent), unit = 10n ** e;
    const a = BigInt(amount), whole = floorDiv(a, unit), frac = a - whole * unit;
    const digits = (whole < 0n ? -whole : whole).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return currency + " " + (whole < 0n ? "-" : "") + digits + (e ? "." + frac.toString().padStart(Number(e), "0") : "");
  }
  /** contracts.trade.state.last_day: the UTC date that ends at a deadline (a midnight). */
  function lastDay(deadlineMs) {
    return new Date(Number(floorDiv(BigInt(deadlineMs), DAY_MS) - 1n) * 86400000).toISOString().slice(0, 10);
  }
  /** contracts.trade.view._utc: block time as "YYYY-MM-DD HH:MM UTC". */
  function utc(ms) {
    return new Date(Number(floorDiv(BigInt(ms), 1000n)) * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }
  /** contracts.trade.view.counted_by: the calendar a presentation's deadline was counted by. */
  function countedBy(p) {
    const cal = pget(p, "calendar");
    if (cal === null) return "";
    if (pyBool(pget(p, "weekends_only"))) return " [calendar " + cal + ": weekends only, no holiday list for a year of the period]";
    return " [calendar " + cal + "]";
  }
  /** contracts.trade.view.DISPOSAL_WORDS: a refusal's disposal of the documents (UCP 600 art. 16 c iii). */
  const DISPOSAL_WORDS = {
    HOLD: "documents held pending the presenter's instructions",
    NOTIFY: "documents held until the applicant waives and the bank agrees",
    RETURN: "documents returned",
    PREVINST: "documents dealt with on the presenter's previous instructions (freed)",
  };
  /** contracts.trade.state.financing_status */
  function financingStatus(fin, nowMs) {
    if (fin.repaid >= fin.amount) return "repaid";
    return nowMs >= fin.due_ms ? "overdue" : "open";
  }
  class NoTrade extends Error {}
  async function fetchEach(fetch, prefix, ids) {
    const vals = await Promise.all(ids.map((i) => fetch(prefix + i)));
    const out = {};
    ids.forEach((i, n) => setKey(out, i, vals[n]));
    return out;
  }
  /** contracts.trade.view.trade_report, ported: `fetch(key)` resolves to the value of
   * trade_documents/<key> (integers as BigInt) or null. Throws NoTrade (Python: KeyError). */
  async function tradeReport(fetch, tradeId, nowMs, exponent = 2n, params = null) {
    nowMs = BigInt(nowMs);
    const trade = await fetch("trade/" + tradeId);
    if (trade === null || trade === undefined) throw new NoTrade(tradeId);
    const docs = await fetchEach(fetch, "doc/", trade.docs);
    // a trade read without its financing has no `financings` (node/access.py TRADE_FINANCING_FIELDS)
    const finIds = pget(trade, "financings");
    const fins = finIds === null ? null : await fetchEach(fetch, "fin/", finIds);
    for (const f of Object.values(fins || {})) {
      // no due_ms: read as an LC's issuing bank reads it (proceeds assigned; its terms not shown)
      if (f !== null) f.status_now = has(f, "due_ms") ? financingStatus(f, nowMs) : null;
    }
    const lcs = {};
    const lcVals = await Promise.all(trade.lcs.map((i) => fetch("lc/" + i)));
    for (let n = 0; n < trade.lcs.length; n++) {
      const lcId = trade.lcs[n], lc = lcVals[n];
      if (lc !== null) {
        lc.presentation_records = await fetchEach(fetch, "pres/", lc.presentations);
        for (const p of Object.values(lc.presentation_records)) {
          const deadline = p === null ? null : pget(p, "examination_deadline_ms");
          if (deadline !== null) p.examination_over_now = nowMs >= deadline;  // none before decision 138
          // a refusal that held the documents (decision 146): Python's (p.get("refused") or {})
          const rf = p === null ? null : pget(p, "refused");
          const heldUntil = pyBool(rf) ? pget(rf, "held_until_ms") : null;
          if (heldUntil !== null) p.hold_lapsed_now = nowMs >= heldUntil;
        }
        const until = pget(lc, "cancel_consent_until_ms");
        lc.cancel_consent_now = pyBool(pget(lc, "cancel_consent")) && until !== null && nowMs < until;
        setKey(lcs, lcId, lc);
      }
    }
    if (!has(trade, "financed")) {  // the trade read without its financing: no pool to show
      return { trade_id: tradeId, trade, documents: docs, financings: fins, letters_of_credit: lcs,
        pool: null, lc_paid_out: null, remaining: null, exponent: BigInt(exponent) };
    }
    const rate = pget(pyBool(params) ? params : {}, "max_advance_rate_bps", BPS);
    let base = trade.amount;
    const decl = pyBool(trade.declaration) ? pget(docs, trade.declaration) : null;
    if (decl !== null) {
      const att = decl.attestation;
      base = bmin(base, pyBool(att) ? att.declared_amount : decl.fields.amount);
    }
    const pool = pget(trade, "pool") !== null ? trade.pool : floorDiv(base * rate, BPS);
    // what the trade's LCs paid the exporter counts against the pool (state.lc_paid_out)
    let paidOut = 0n;
    for (const lc of Object.values(lcs)) {
      for (const p of Object.values(lc.presentation_records)) {
        if (p === null || p.status !== "paid" || !(p.trade_id === null || p.trade_id === tradeId)) continue;
        for (const x of pget(p, "payments") || []) if (x.financing_id === null) paidOut += x.amount;
      }
    }
    return { trade_id: tradeId, trade, documents: docs, financings: fins, letters_of_credit: lcs,
      pool, lc_paid_out: paidOut, remaining: bmax(0n, pool - trade.financed - paidOut), exponent: BigInt(exponent) };
  }

  /** One state value read exactly: {status, value, height} (value null unless 200). */
  async function readExact(contract, key) {
    const path = "/v1/state/" + encodeURIComponent(contract) + "/" + key.split("/").map(encodeURIComponent).join("/");
    const r = await sfetch(path, { Accept: "application/json" });
    const text = await r.text();
    if (r.status === 401) {
      let why = "";
      try { why = JSON.parse(text).error.message; } catch (e) { /* no body */ }
      throw new NeedIdentity(path, why);
    }
    if (r.status !== 200) return { status: r.status, value: null, height: null, path };
    const body = parseExact(text);
    return { status: 200, value: body.value, height: body.height };
  }

  const NOT_VISIBLE = "not found or not visible to you";
  /** contracts.trade.view.WITHHELD: a payment to a financing the reader may not read (node/access.py) */
  const WITHHELD = "withheld";
  function proofPath(key) { return "/v1/proofs/state/trade_documents/" + key.split("/").map(encodeURIComponent).join("/"); }
  function recVerify(key, label) {
    return verifyButton(label, proofPath(key), (r) => (!r.present ? "the proof says the key is absent, the page showed a value" : null));
  }
  const short = (id) => "<code>" + esc(String(id).slice(0, 16)) + "…</code>";
  const docLink = (id) => '<a href="#/doc/' + esc(id) + '">' + short(id) + "</a>";
  const f = (name, html) => '<span data-f="' + esc(name) + '">' + html + "</span>";
  const pill = (cls, text, name) => '<span class="pill ' + cls + '"' + (name ? ' data-f="' + esc(name) + '"' : "") + ">" + esc(text) + "</span>";
  const STATUS_CLASS = { open: "info", financed: "info", repaid: "ok", overdue: "bad", registered: "info", closed: "",
    drawn: "ok", cancelled: "", presented: "warn", accepted: "info", paid: "ok", refused: "bad", held: "warn", reviewed: "ok" };
  const statusPill = (s, name) => pill(STATUS_CLASS[s] !== undefined ? STATUS_CLASS[s] : "", s, name);
  function hiddenRec(kind, key, what) {
    return '<div class="rec hidden" data-rec="' + esc(kind) + '" data-key="trade_documents/' + esc(key) + '"><div class="rechead">' +
      esc(what) + " " + short(key.split("/")[1]) + ' <span class="pill bad" data-f="hidden">' + NOT_VISIBLE + "</span></div>" +
      '<p class="muted">The node answered 404 for <code>trade_documents/' + esc(key) + "</code>: it does not exist, or this identity may not read it (the node does not say which).</p></div>";
  }
  /** The registered legal name of a genesis identity (the ledger keeps party names normalised). */
  function legalName(pk) {
    const i = nodeGenesis ? (nodeGenesis.identities || []).find((x) => x.public_key === pk) : null;
    return i && i.legal_name ? ' <span class="muted">legal name “' + esc(i.legal_name) + "”</span>" : "";
  }
  const PARTY_FIELDS = ["seller", "buyer", "exporter", "shipper", "consignee", "applicant", "beneficiary", "issuing_bank",
    "vessel", "port_of_loading", "port_of_discharge", "carrier"];

  /** The page of one trade: the report rendered for a credit officer, each record with Verify. */
  async function pageTrade(id) {
    const { body: st } = await api("/v1/status");  // public: the chain's time, as the CLI reads it
    const nowMs = BigInt(st.timestamp_ms || 0);
    const raw = [];  // [key, value] as read, for the raw records disclosure
    const fetchTd = async (key) => {
      const slot = [key, null];
      raw.push(slot);  // in the order the report asks, whatever order the answers come in
      const r = await readExact("trade_documents", key);
      if (r.status !== 200 && r.status !== 404) throw new Error("the node answered " + r.status + " for " + r.path);
      slot[1] = r.value;
      return slot[1];
    };
    let rep;
    const params = (await readExact("governance", "params")).value;
    try {
      rep = await tradeReport(fetchTd, id, nowMs, 2n, params);
    } catch (e) {
      if (!(e instanceof NoTrade)) throw e;
      view.innerHTML = '<h1>Trade <code id="trade-id">' + esc(id) + '</code></h1><div class="card notfound" id="trade-hidden"><h2>Trade: ' + NOT_VISIBLE + "</h2>" +
        '<p>The node answered 404 for <code>trade_documents/trade/' + esc(id) + "</code>.</p>" +
        '<p class="muted">It answers the same for a trade that does not exist and for one ' +
        (state.identity ? "the identity <b>" + esc(state.identity.name || state.identity.publicKey.slice(0, 12) + "…") + "</b>" : "this page") +
        " is no party to: a trade's records are for its parties (exporter, registrants, verifying, financing and LC-issuing banks, LC applicant and beneficiary), regulators and auditors (docs/api.md, who may read what).</p></div>";
      return;
    }
    const cur = (await readExact("governance", "currency/" + rep.trade.currency)).value;
    rep.exponent = BigInt(pget(pyBool(cur) ? cur : {}, "exponent", 2n));  // as cli_trade_show
    state.lastTradeReport = { json: toJsonText(rep), nowMs: nowMs.toString() };
    view.innerHTML = renderTrade(rep, params, nowMs, st.height, raw, await containerOthers(rep));
    view.dataset.nowMs = nowMs.toString();
  }

  /** The other transport documents a container clash names (decision 230): the one whose live
   * shipment held the box (``declared_distinct.container_of``) and the copies declared distinct
   * from a B/L that carries containers, read with the page's key (null: not found or not
   * visible), so the page can say which trade the box was under and which box a copy shares. */
  async function containerOthers(rep) {
    const ids = new Set();
    for (const d of Object.values(rep.documents)) {
      if (d === null) continue;
      const dd = d.declared_distinct;
      if (pyBool(dd) && pyBool(pget(dd, "container_of"))) ids.add(String(dd.container_of));
      if (pyBool(pget(d.fields, "containers"))) for (const c of d.distinct_copies) ids.add(String(c.doc_id));
    }
    const out = {};
    for (const id of ids) {
      if (Object.prototype.hasOwnProperty.call(rep.documents, id)) { out[id] = rep.documents[id]; continue; }
      const r = await readExact("trade_documents", "doc/" + id);
      out[id] = r.status === 200 ? r.value : null;
    }
    return out;
  }
  const tradeLink = (id) => '<a class="trade-link" href="#/trade/' + esc(id) + '">trade ' + short(id) + "</a>";
  /** Whole kilograms with thousands separators (an integer: a BigInt from parseExact). */
  const kg = (v) => esc(String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ",")) + " kg";
  /** Where a document of another shipment is, as far as the reader reads it. */
  function shipmentOf(id, others) {
    const o = pget(others, id);
    if (o === null || o === undefined) return docLink(id) + ' <span class="muted">(' + NOT_VISIBLE + ": another exporter's, or of a trade this identity is no party to)</span>";
    return docLink(id) + (pyBool(o.trade_id) ? " in " + tradeLink(o.trade_id) : " (in no trade yet)");
  }

  function renderTrade(rep, params, nowMs, height, raw, others = {}) {
    const t = rep.trade, ccy = t.currency, e = rep.exponent;
    const m = (x) => esc(money(x, ccy, e));
    const docs = Object.entries(rep.documents), fins = Object.entries(rep.financings || {}), lcs = Object.entries(rep.letters_of_credit);
    const decl = pyBool(t.declaration) ? pget(rep.documents, t.declaration) : null;

    // ---- what stops a new financing (the report's own signals)
    const blocks = [];
    for (const [did, d] of docs) {
      if (d !== null && pyBool(pget(d, "disputed"))) {
        const why = pget(DISPUTE_REASONS, d.disputed.reason, d.disputed.reason);
        blocks.push("a disputed document: " + esc(d.doc_type) + " " + docLink(did) + " — " + esc(why) + " (the trade is not financed)");
      }
    }
    if (decl !== null && pyBool(decl.attestation) && decl.attestation.result !== "match") {
      blocks.push("customs attested <b>" + esc(decl.attestation.result) + "</b> on the declaration (no financing after a mismatch)");
    }
    if (pyBool(pget(params || {}, "financing_requires_attestation")) && (decl === null || !pyBool(decl.attestation))) {
      blocks.push(decl === null ? "no customs declaration in the trade, and the consortium finances only an attested one"
        : "the customs declaration is not attested yet, and the consortium finances only an attested one");
    }
    if (rep.remaining === 0n) blocks.push("nothing remains in the financing pool");
    // not a stop, a condition (contracts.trade.state.distinct_notes): a reason on record in
    // either direction is given to every bank that finances, which says it read it
    let distinct = 0;
    for (const [, d] of docs) if (d !== null) distinct += (pyBool(d.declared_distinct) ? 1 : 0) + d.distinct_copies.length;
    const needs = distinct ? '<p class="warn" data-f="needs-ack">' + esc(distinct) + " reason(s) on record that a document of this trade is another sale or shipment than a similar one (declared distinct: below, with the container where one was under another shipment): a bank finances it only with <code>acknowledge_distinct: true</code>, saying it read them (refused <code>distinct_not_acknowledged</code> otherwise).</p>" : "";
    const blockHtml = '<div class="card ' + (blocks.length ? "blocked" : "clear") + '" id="trade-blocks"><h2>What stops a new financing</h2>' +
      (blocks.length ? "<ul>" + blocks.map((b) => '<li data-f="block">' + b + "</li>").join("") + "</ul>"
        : rep.remaining === null ? '<p data-f="block-none">Nothing in the documents; the pool is ' + NOT_VISIBLE + ".</p>"
          : '<p data-f="block-none">Nothing in these records: the pool has ' + m(rep.remaining) + " left.</p>") + needs +
      '<p class="muted">Read from the records below. A bank\'s financing is also screened against the watch list and held to the exposure limits when it is requested (docs/risk.md): that list is for regulators and auditors, so it is not on this page.</p></div>';

    // ---- the trade
    const tradeCard = '<div class="card rec" data-rec="trade" data-key="trade_documents/trade/' + esc(rep.trade_id) + '">' + kv([
      ["trade id", '<code id="trade-id">' + esc(rep.trade_id) + "</code>"],
      ["status", has(t, "status") ? statusPill(t.status, "trade-status") : f("trade-status", '<span class="muted">' + NOT_VISIBLE + " (it follows the trade's financing)</span>")],
      ["exporter (seller)", f("seller", esc(t.seller)) + " · owner " + who(t.owner) + legalName(t.owner)],
      ["buyer", f("buyer", esc(t.buyer))],
      ["currency", f("currency", esc(ccy)) + ' <span class="muted">(' + esc(e) + " decimals, governance <code>currency/" + esc(ccy) + "</code>)</span>"],
      ["invoice amount", f("trade-amount", m(t.amount))],
      ["invoice", pyBool(t.invoice) ? docLink(t.invoice) : "-"],
      ["customs declaration", pyBool(t.declaration) ? docLink(t.declaration) : '<span class="muted">none in the trade</span>'],
      ["opened at height", esc(pget(t, "height", "-"))],
    ]) + recVerify("trade/" + rep.trade_id, "the trade record") + "</div>";

    // ---- documents
    const presOf = {};
    for (const [, lc] of lcs) for (const [pid, p] of Object.entries(lc.presentation_records)) presOf[pid] = p;
    const docCards = docs.map(([did, d]) => {
      if (d === null) return hiddenRec("doc", "doc/" + did, "document");
      const flags = [];
      if (did === t.invoice) flags.push(pill("info", "opened the trade"));
      if (d.verified_by.length) flags.push(pill("ok", "verified by " + d.verified_by.length + " bank(s)", "verified"));
      if (d.doc_type === "customs_declaration") {
        const a = d.attestation;
        flags.push(pyBool(a) ? pill(a.result === "match" ? "ok" : "bad", "attested by customs: " + a.result, "attested")
          : pill("warn", "not attested by customs", "attested"));
      }
      if (pyBool(d.declared_distinct)) flags.push(pill("warn", "declared distinct"));
      const box = pyBool(d.declared_distinct) ? pget(d.declared_distinct, "container") : null;
      if (pyBool(box)) flags.push(pill("warn", "container " + box + " of another shipment", "clash"));
      if (pyBool(pget(d, "disputed"))) flags.push(pill("bad", "DISPUTED", "disputed"));
      if (pyBool(d.presentation_id)) {
        const p = pget(presOf, d.presentation_id);
        flags.push(pill(p && p.status === "refused" ? "" : "warn", p ? "presented: drawing " + p.status : "presented", "presented"));
      }
      const amount = pget(d.fields, "amount");
      const parties = PARTY_FIELDS.filter((k) => has(d.fields, k)).map((k) => "<tr><th>" + esc(k.replace(/_/g, " ")) + "</th><td>" + esc(d.fields[k]) + "</td></tr>").join("");
      const rows = [
        ["amount", f("amount", pyBool(amount) ? m(amount) : '<span class="muted">-</span>')],
        ["parties (as normalised on the ledger)", parties ? '<table class="inner">' + parties + "</table>" : '<span class="muted">-</span>'],
        ["record status", statusPill(d.status, "status")],
        ["owner", who(d.owner) + (d.registrant !== d.owner ? " · registered by " + who(d.registrant) : "")],
      ];
      // a transport document's shipment (decisions 228, 229): what a copy of it is met by
      const boxes = pget(d.fields, "containers");
      const shipment = [];
      if (pyBool(boxes)) shipment.push(["containers (ISO 6346)", f("containers", boxes.map((c) => "<code>" + esc(c) + "</code>").join(" "))]);
      if (pyBool(pget(d.fields, "voyage"))) shipment.push(["voyage", f("voyage", esc(d.fields.voyage))]);
      if (pyBool(pget(d.fields, "gross_weight_kg"))) shipment.push(["gross weight", f("gross-weight", kg(d.fields.gross_weight_kg))]);
      rows.splice(2, 0, ...shipment);
      if (d.verified_by.length) rows.push(["verified by", d.verified_by.map(who).join(", ")]);
      if (d.doc_type === "customs_declaration") {
        const a = d.attestation;
        rows.push(["customs", pyBool(a) ? "attested <b>" + esc(a.result) + "</b> at height " + esc(a.height) + ", declared " + f("declared", m(a.declared_amount)) + " by " + who(a.by)
          : '<b>NOT attested</b>']);
      }
      if (pyBool(d.declared_distinct)) rows.push(["declared distinct", "from " + docLink(d.declared_distinct.similar_to) + ": " + esc(JSON.stringify(d.declared_distinct.reason))]);
      if (pyBool(box)) {
        rows.push(["container of another shipment", f("container-clash", "container <code>" + esc(box) + "</code> was under the live shipment of " +
          shipmentOf(String(d.declared_distinct.container_of), others) + " (within 90 days of that document's registration, or while its trade owes financing) when this one was registered; " +
          "registered anyway, declared distinct for the reason above. A bank finances either trade only after reading it (acknowledge_distinct).")]);
      }
      for (const c of d.distinct_copies) {
        const o = pyBool(boxes) ? pget(others, String(c.doc_id)) : null;
        const shared = o && pyBool(pget(o.fields, "containers")) ? o.fields.containers.filter((x) => boxes.includes(x)) : [];
        rows.push(["copy declared distinct", docLink(c.doc_id) + ": " + esc(JSON.stringify(c.reason)) + (shared.length
          ? " " + f("copy-container", "— it names container " + shared.map((x) => "<code>" + esc(x) + "</code>").join(", ") + " of this shipment" + (pyBool(o.trade_id) ? ", in " + tradeLink(o.trade_id) : ""))
          : "")]);
      }
      if (pyBool(pget(d, "disputed"))) rows.push(["DISPUTED", esc(pget(DISPUTE_REASONS, d.disputed.reason, d.disputed.reason)) + " (the trade is not financed)"]);
      if (pyBool(d.presentation_id)) rows.push(["presentation", short(d.presentation_id) + (pget(presOf, d.presentation_id) ? " " + statusPill(presOf[d.presentation_id].status) : "")]);
      if (pyBool(pget(d, "duplicate_attempts"))) rows.push(["registration attempts by others", esc(d.duplicate_attempts.length)]);
      return '<div class="rec" data-rec="doc" data-id="' + esc(did) + '" data-key="trade_documents/doc/' + esc(did) + '"><div class="rechead"><b data-f="type">' + esc(d.doc_type.replace(/_/g, " ")) +
        "</b> " + docLink(did) + " " + flags.join(" ") + "</div>" + kv(rows) + recVerify("doc/" + did, "this document") + "</div>";
    }).join("");
    const customs = decl === null ? (pyBool(t.declaration) ? "customs: the declaration is " + NOT_VISIBLE : "customs: no declaration in the trade")
      : !pyBool(decl.attestation) ? "customs: declaration NOT attested"
        : "customs: attested " + esc(decl.attestation.result) + " at height " + esc(decl.attestation.height) + ", declared " + m(decl.attestation.declared_amount);

    // ---- the pool: the exporter's, its financing banks' and the supervisors' (node/access.py
    // TRADE_FINANCING_FIELDS); an LC's issuing bank reads what its proceeds repay first
    const pool = rep.pool === null ? '<div class="card" id="trade-pool"><h2>Financing pool</h2>' +
      (has(t, "outstanding") ? '<table class="figures"><tr><th>outstanding</th><td>' + f("outstanding", m(t.outstanding)) +
        '</td><td class="muted">what this trade\'s LC proceeds repay the financing banks first (assignment of proceeds)</td></tr></table>' : "") +
      '<p class="muted" data-f="pool-hidden">The pool, what was financed and what remains: ' + NOT_VISIBLE +
      ". A trade's financing is its exporter's, its financing banks' and the supervisors' (docs/api.md, who may read what).</p></div>"
      : '<div class="card" id="trade-pool"><h2>Financing pool</h2><table class="figures">' +
      "<tr><th>limit (the pool)</th><td>" + f("pool", m(rep.pool)) + '</td><td class="muted">' +
      (pget(t, "pool") !== null ? "fixed by the first financing" : "invoice amount, capped by the declaration (its attested amount once attested), × the maximum advance rate") + "</td></tr>" +
      "<tr><th>financed (ever)</th><td>" + f("financed", m(t.financed)) + '</td><td class="muted">repayment never frees it: a repaid receivable is gone</td></tr>' +
      "<tr><th>outstanding</th><td>" + f("outstanding", m(t.outstanding)) + '</td><td class="muted">drawn and not yet repaid</td></tr>' +
      "<tr><th>repaid</th><td>" + f("repaid", m(t.financed - t.outstanding)) + '</td><td class="muted">financed less outstanding</td></tr>' +
      "<tr><th>paid to the exporter under its LCs</th><td>" + f("lc-paid-out", m(rep.lc_paid_out)) + '</td><td class="muted">a receivable the LC paid counts as drawn from the pool</td></tr>' +
      '<tr class="total"><th>still available</th><td>' + f("remaining", m(rep.remaining)) + '</td><td class="muted">pool − financed − paid under LCs</td></tr>' +
      "</table></div>";

    // ---- financings
    const finCards = rep.financings === null ? '<p class="muted" data-f="fins-hidden">Financings: ' + NOT_VISIBLE +
      " (a financing is its bank's and its exporter's).</p>" : fins.length ? fins.map(([fid, x]) => {
      if (x === null) return hiddenRec("fin", "fin/" + fid, "financing");
      if (x.status_now === null) {  // as an LC's issuing bank reads it: whom its proceeds repay first
        return '<div class="rec" data-rec="fin" data-id="' + esc(fid) + '" data-key="trade_documents/fin/' + esc(fid) + '"><div class="rechead"><b>financing</b> ' + short(fid) + " " +
          pill("info", "proceeds assigned", "status-now") + "</div>" + kv([
          ["bank", who(x.bank)], ["amount", f("amount", m(x.amount))], ["repaid", f("repaid", m(x.repaid))],
          ["outstanding", f("outstanding", m(x.amount - x.repaid))],
          ["terms", f("maturity", '<span class="muted">not shown to the LC\'s issuing bank (maturity, status, the document financed)</span>')],
        ]) + recVerify("fin/" + fid, "this financing") + "</div>";
      }
      return '<div class="rec" data-rec="fin" data-id="' + esc(fid) + '" data-key="trade_documents/fin/' + esc(fid) + '"><div class="rechead"><b>financing</b> ' + short(fid) + " " +
        statusPill(x.status_now, "status-now") + (x.status !== x.status_now ? ' <span class="muted">(recorded ' + esc(x.status) + ")</span>" : "") + "</div>" + kv([
        ["bank", who(x.bank)], ["amount", f("amount", m(x.amount))], ["repaid", f("repaid", m(x.repaid))],
        ["outstanding", f("outstanding", m(x.amount - x.repaid))],
        ["matures (due date)", f("maturity", esc(x.maturity_date)) + (x.status_now === "overdue" ? " " + pill("bad", "overdue") : "")],
        ["against", pyBool(x.doc_id) ? docLink(x.doc_id) : "the trade"],
      ]) + recVerify("fin/" + fid, "this financing") + "</div>";
    }).join("") : '<p class="muted" data-f="none">none</p>';

    // ---- letters of credit
    const hiddenLcs = t.lcs.filter((i) => !has(rep.letters_of_credit, i));
    const lcCards = (lcs.length || hiddenLcs.length) ? lcs.map(([lcId, lc]) => {
      const amd = lc.amendment;
      const pres = Object.entries(lc.presentation_records).map(([pid, p]) => {
        if (p === null) return hiddenRec("pres", "pres/" + pid, "presentation");
        const rows = [["amount", f("amount", m(p.amount))], ["status", statusPill(p.status, "status")]];
        // the presenter's reference (SWIFT :21:) and when it presented (decision 146)
        if (pyBool(pget(p, "reference"))) rows.push(["presenter's reference", f("reference", esc(p.reference))]);
        if (pyBool(pget(p, "presented_ms"))) rows.push(["presented", f("presented-at", esc(utc(p.presented_ms)))]);
        const dl = pget(p, "examination_deadline_ms");
        if (dl !== null) {
          rows.push(["examination deadline", f("examine-by", esc(lastDay(dl))) + " (UTC, the fifth banking day following the presentation)" +
            (countedBy(p) ? " " + f("counted-by", esc(countedBy(p).trim())) : "") +
            (p.status === "presented" && pget(p, "examination_over_now") ? " " + pill("warn", "passed: the beneficiary may claim honour", "over") : "")]);
        }
        if (p.discrepancies.length) rows.push(["refused: discrepancies", f("discrepancies", esc(p.discrepancies.join(", ")))]);
        // what became of a refusal's documents (view.refusal_notes): disposal, hold, waiver, return
        const rf = pget(p, "refused");
        if (pyBool(rf)) {
          const until = pget(rf, "held_until_ms");
          let held = "";
          if (p.status === "held" && until !== null) {
            held = pget(p, "hold_lapsed_now")
              ? " " + pill("bad", "hold lapsed " + utc(until) + ": they can only be returned", "held-until")
              : " " + f("held-until", "(until " + esc(utc(until)) + " at most)");
          }
          rows.push(["refusal", f("refused-at", esc(utc(rf.timestamp_ms))) + ": " +
            f("disposal", esc(has(DISPOSAL_WORDS, rf.disposal) ? DISPOSAL_WORDS[rf.disposal] : rf.disposal)) + held]);
        }
        const wv = pget(p, "waiver");
        if (pyBool(wv)) rows.push(["waiver", f("waived", "discrepancies waived by the applicant " + esc(utc(wv.timestamp_ms)))]);
        const ret = pget(p, "returned");
        if (pyBool(ret)) {
          rows.push(["returned", f("returned", "documents returned on " + (ret.by === "beneficiary" ? "the beneficiary's" : "the bank's") +
            " instruction " + esc(utc(ret.timestamp_ms)))]);
        }
        if (pyBool(pget(p, "claimed"))) rows.push(["honour", "honoured on the beneficiary's claim (no decision in time)"]);
        if (pyBool(p.due_ms)) rows.push(["deferred payment due", esc(utc(p.due_ms))]);
        const paidRec = pget(p, "paid");
        if (pyBool(paidRec)) {
          rows.push(["paid", f("paid-at", esc(utc(paidRec.timestamp_ms)) +
            (pyBool(pget(paidRec, "tx_id")) ? " by " + txLink(paidRec.tx_id, true) : ""))]);
        }
        const payments = pget(p, "payments") || [];  // none shown to a reader of no financing of the trade
        if (payments.length) {
          rows.push(["honoured: paid", '<table class="inner">' + payments.map((x) => "<tr><td>" + m(x.amount) + "</td><td>" +
            (x.to === WITHHELD ? "to another bank's financing</td><td>" + NOT_VISIBLE : "to " + who(x.to) + "</td><td>" +
            (x.financing_id === null ? "the beneficiary" : "repays financing " + short(x.financing_id))) + "</td></tr>").join("") + "</table>"]);
        }
        rows.push(["documents", p.doc_ids.map(docLink).join(", ")]);
        return '<div class="rec sub" data-rec="pres" data-id="' + esc(pid) + '" data-key="trade_documents/pres/' + esc(pid) + '"><div class="rechead"><b>drawing</b> ' + short(pid) + " " +
          statusPill(p.status) + "</div>" + kv(rows) + recVerify("pres/" + pid, "this presentation") + "</div>";
      }).join("");
      const rows = [
        ["issuing bank", who(lc.issuer) + " <code>" + esc(lc.issuing_bank) + "</code>"],
        ["applicant", who(lc.applicant) + legalName(lc.applicant)], ["beneficiary", who(lc.beneficiary) + legalName(lc.beneficiary)],
        ["amount in force", f("amount", m(lc.amount)) + " +" + esc(lc.tolerance_bps) + " bps tolerance"],
        ["expires", f("expiry", esc(lc.expiry_date))],
        ["drawn", f("drawn", m(lc.drawn)) + (lc.reserved ? " · under presentation " + m(lc.reserved) : "")],
        ["terms", (lc.partial_drawings ? "partial drawings allowed" : "one drawing") + " · " + (lc.usance_days ? esc(lc.usance_days) + " days usance" : "at sight") +
          " · required documents: " + esc(lc.required_docs.join(", "))],
        ["amendments", f("amendments", esc(lc.amendments)) + " accepted" + (pyBool(amd) ? " · " + pill("warn", "amendment" + (has(amd, "number") ? " " + amd.number : "") + " pending", "amendment") +
          " " + esc(toJsonText(amd.changes)) : "")],
      ];
      if (lc.cancel_consent_now) rows.push(["cancellation", "consented by the beneficiary, lapses " + esc(utc(lc.cancel_consent_until_ms))]);
      return '<div class="rec" data-rec="lc" data-id="' + esc(lcId) + '" data-key="trade_documents/lc/' + esc(lcId) + '"><div class="rechead"><b>letter of credit</b> ' + short(lcId) + " " +
        statusPill(lc.status, "status") + "</div>" + kv(rows) + recVerify("lc/" + lcId, "this letter of credit") +
        "<h3>Presentations (" + Object.keys(lc.presentation_records).length + ")</h3>" + (pres || '<p class="muted">none</p>') + "</div>";
    }).join("") + hiddenLcs.map((i) => hiddenRec("lc", "lc/" + i, "letter of credit")).join("") : '<p class="muted" data-f="none">none</p>';

    const rawHtml = raw.map(([k, v]) => '<div class="rawrec" data-key="trade_documents/' + esc(k) + '"><b><code>trade_documents/' + esc(k) + "</code></b>" +
      (v === null ? ' <span class="muted">' + NOT_VISIBLE + "</span>" : "<pre>" + esc(toJsonText(v, "  ")) + "</pre>") + "</div>").join("");
    return '<h1>Trade ' + short(rep.trade_id) + " " + (has(t, "status") ? statusPill(t.status) : "") + ' <span class="muted small">' + esc(t.seller) + " → " + esc(t.buyer) + "</span></h1>" +
      '<p class="muted">As <code>chainfin trade show</code> reports it, at block time ' + esc(utc(nowMs)) + " (height " + esc(height) + "); amounts in " + esc(ccy) + "; party names as the ledger keeps them, normalised. " +
      "Each record has its own Verify (its state proof, checked in this browser).</p>" +
      blockHtml + tradeCard +
      '<div class="card" id="trade-docs"><h2>Documents (' + docs.length + ")</h2>" + docCards +
      '<p class="muted">checks: parties, currency and declaration amount cross-checked when each document joined (a mismatch is refused, never stored)</p>' +
      '<p data-f="customs">' + customs + "</p></div>" +
      pool +
      '<div class="card" id="trade-fins"><h2>Financings, oldest first (' + (rep.financings === null ? "?" : fins.length) + ")</h2>" + finCards + "</div>" +
      '<div class="card" id="trade-lcs"><h2>Letters of credit (' + t.lcs.length + ")</h2>" + lcCards + "</div>" +
      '<details class="card" id="raw"><summary>Raw records (' + raw.length + " reads, JSON as the node serves them)</summary>" + rawHtml + "</details>";
  }
  state.trade = { tradeReport, render: renderTrade, money, lastDay, utc, countedBy, parseExact, toJsonText, financingStatus, NoTrade, WITHHELD };


  // ------------------------------------------------------------------ alert queue and cases
  // The compliance officer's page: the open alerts this identity reviews (#/alerts), as
  // `chainfin alerts queue` prints them, and one case (#/alert/ID), as `chainfin alerts case`
  // shows it without opening the sealed dispositions (decision 151). The page shows what the
  // /v1/risk/alerts routes answer this identity and nothing else: an account holder's key gets
  // their 404, worded the same whether or not an alert names it (no tipping off: decision 144).

  const ALERTS_LIMIT = 100;  // chainfin alerts queue's default --limit (the page size: state.alerts.pageSize)
  const MONEY_FIELDS = ["amount", "max", "average"];  // alert detail fields in minor units of its `currency`
  const KEY_FIELDS = ["counterparty", "subject"];  // alert detail fields holding an identity
  /** A signed read, integers kept exact: {status, body (200 only), message (the node's error), path}. */
  async function apiExact(path) {
    const r = await sfetch(path, { Accept: "application/json" });
    const text = await r.text();
    let message = "";
    if (r.status !== 200) { try { message = JSON.parse(text).error.message; } catch (e) { /* no body */ } }
    if (r.status === 401) throw new NeedIdentity(path, message);
    return { status: r.status, body: r.status === 200 ? parseExact(text) : null, message, path };
  }
  /** chainfin.cli_alerts._age: block-time milliseconds as "0h07m", "2h05m", "3d04h". */
  function alertAge(ms) {
    let s = Math.floor(Math.max(0, Number(ms)) / 1000);
    const d = Math.floor(s / 86400); s %= 86400;
    const h = Math.floor(s / 3600); s %= 3600;
    const m = Math.floor(s / 60);
    const two = (n) => String(n).padStart(2, "0");
    return d ? d + "d" + two(h) + "h" : h + "h" + two(m) + "m";
  }
  /** A value's JSON with every object's keys sorted (to compare records whatever their key order). */
  function canon(v) {
    if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
    if (v !== null && typeof v === "object") return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
    return toJsonText(v);
  }
  const isKey = (v) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);

  // names and exponents, looked up once per page load
  const exponents = new Map();  // currency -> exponent (BigInt), null when unknown
  async function learnExponents(codes) {
    await Promise.all([...new Set(codes)].filter((c) => typeof c === "string" && !exponents.has(c)).map(async (c) => {
      const g = nodeGenesis ? (nodeGenesis.currencies || []).find((x) => x.code === c) : null;
      let e = g && Number.isInteger(g.exponent) ? BigInt(g.exponent) : null;
      if (e === null) {  // a currency added by governance after the genesis
        const r = await readExact("governance", "currency/" + c);
        if (r.status === 200 && r.value && typeof r.value.exponent === "bigint") e = r.value.exponent;
      }
      exponents.set(c, e);
    }));
  }
  const chainNames = new Map();  // identity id -> the name it was registered with on the chain (not in the genesis)
  async function learnNames(keys) {
    await Promise.all([...new Set(keys)].filter((k) => isKey(k) && !nameOf(k) && !chainNames.has(k)).map(async (k) => {
      const r = await readExact("governance", "id/" + k);
      chainNames.set(k, r.status === 200 && r.value && typeof r.value.name === "string" ? r.value.name : null);
    }));
  }
  /** An account by its genesis name, else the name it was registered with, else its key. */
  function account(pk) {
    if (!isKey(pk)) return "<code>" + esc(pk) + "</code>";
    const n = chainNames.get(pk);
    if (nameOf(pk) || !n) return who(pk);
    return '<a href="#/account/' + esc(pk) + '"><b>' + esc(n) + "</b> <code>" + esc(pk.slice(0, 12)) + "…</code></a>";
  }
  function alertMoney(v, ccy) {
    const e = exponents.get(ccy);
    if (typeof v !== "bigint" || typeof ccy !== "string") return esc(toJsonText(v));
    return e === null || e === undefined ? esc(v.toString()) + ' <span class="muted">(minor units of ' + esc(ccy) + ")</span>" : esc(money(v, ccy, e));
  }
  /** The alert's amount, as the page shows it: its detail's `amount` in its `currency`. */
  const alertAmount = (a) => (a.detail && has(a.detail, "amount") ? alertMoney(a.detail.amount, a.detail.currency) : '<span class="muted">-</span>');
  /** The rest of the alert's detail, sorted as `chainfin alerts queue` prints it (`key=value`). */
  function alertDetail(a, skip) {
    const d = a.detail || {};
    return Object.keys(d).sort().filter((k) => !(skip || []).includes(k)).map((k) =>
      '<span class="kv" data-k="' + esc(k) + '"><span class="muted">' + esc(k) + "</span> " + detailValue(d, k) + "</span>").join(" ");
  }
  /** One field of an alert's detail: money in its currency, an identity by name, a document linked. */
  function detailValue(d, k) {
    const v = d[k];
    if (MONEY_FIELDS.includes(k) && typeof d.currency === "string") return alertMoney(v, d.currency);
    if (KEY_FIELDS.includes(k) && isKey(v)) return account(v);
    if (k === "doc_id" && isKey(v)) return docLink(v);
    return esc(typeof v === "string" ? v : toJsonText(v));
  }
  function alertAccounts(a) {
    return a.accounts && a.accounts.length ? a.accounts.map(account).join(", ")
      : '<span class="muted">names no account (supervisors only)</span>';
  }
  /** A structuring alert's pattern (decision 217): its detail's `near_limit_txs` (the earlier
   * near payments, oldest first) then its own transaction, or null when it names none. */
  function nearLimitTxs(c) {
    const list = c.detail ? c.detail.near_limit_txs : undefined;
    if (!Array.isArray(list) || !list.length || !list.every(isKey) || !isKey(c.tx_id)) return null;
    return list.filter((t) => t !== c.tx_id).concat([c.tx_id]);
  }
  /** One payment of a structuring pattern as the case lists it: its amount in the currency's
   * decimals and its payee ("" when the reader does not read its body). */
  function nearPaid(env, fx) {
    const a = env && env.contract === "settlement" && env.args && typeof env.args === "object" ? env.args : null;
    if (!a || typeof a.currency !== "string" || (typeof a.amount !== "bigint" && typeof a.amount !== "number")) return "";
    const e = exponents.get(a.currency);
    return ' <span data-f="near-amount">' + esc(money(a.amount, a.currency, e === null || e === undefined ? 2n : e)) + "</span>" +
      (isKey(a.to) ? ' <span class="muted">to</span> ' + account(a.to) : "") + nearLocal(a, fx);
  }
  /** ``goaml.to_local``: ``amount`` minor units at a reference rate ``{per, base_units}`` in
   * minor units of its base, the nearest, a half up (integers only) — what an STR in that
   * local currency writes as the payment's amount_local (decisions 252-253). */
  function toLocal(amount, rate) {
    const a = BigInt(amount), per = BigInt(rate.per), bu = BigInt(rate.base_units);
    return (2n * a * bu + per) / (2n * per);
  }
  /** A pattern payment in another currency than the limit's base (decision 206 counts them in
   * one pattern), as the base: the amount at the ledger's reference rate and the rate's date, or
   * that none is readable (an STR in the base currency is then refused, naming the currency). */
  function nearLocal(a, fx) {
    if (!fx || a.currency === fx.base) return "";
    const r = fx.rates ? pget(fx.rates, a.currency) : null;
    if (!r || typeof r !== "object" || !pget(r, "per") || !pget(r, "base_units")) {
      return ' <span class="muted" data-f="near-local">(no reference rate of ' + esc(a.currency) + " against " + esc(fx.base) + " readable here: an STR in " + esc(fx.base) + " is refused until a regulator publishes one)</span>";
    }
    const be = exponents.get(fx.base);
    return ' <span data-f="near-local">≈ ' + esc(money(toLocal(a.amount, r), fx.base, be === null || be === undefined ? 2n : be)) + "</span>" +
      ' <span class="muted">(' + esc(a.currency) + " " + esc(r.per) + " = " + esc(fx.base) + " " + esc(r.base_units) + " in minor units, the ledger's reference rate as of " +
      esc(utc(r.time_ms)) + ", rounded half up as an STR converts it)</span>";
  }
  const alertLink = (id) => '<a class="alert-link" href="#/alert/' + esc(id) + '"><code>' + esc(id.length > 24 ? id.slice(0, 10) + "…" + id.slice(id.lastIndexOf("-")) : id) + "</code></a>";
  async function learnAlerts(list) {
    const keys = [], codes = [];
    for (const a of list) {
      // the queue carries its accounts' registered names (network data): no read per account
      if (a.names && typeof a.names === "object") for (const [k, n] of Object.entries(a.names)) if (isKey(k) && typeof n === "string") chainNames.set(k, n);
      keys.push(...(a.accounts || []));
      for (const k of KEY_FIELDS) if (a.detail && isKey(a.detail[k])) keys.push(a.detail[k]);
      if (a.detail && typeof a.detail.currency === "string") codes.push(a.detail.currency);
    }
    await Promise.all([learnNames(keys), learnExponents(codes)]);
  }

  // what is on screen, for the live refresh: {kind, hash, height, after | id, busy, again, ids, sig, times}
  let alertsShown = null;
  let alertRules = null;  // /v1/risk/rules' alert_rules, read once
  /** A `block` event of the page's one event stream that changes what the alert page shows: an
   * alert raised (a queue), a review recorded (a queue; the case reviewed). Every other block
   * leaves it as it is: each re-read of another's data is a read-log entry (docs/api.md), so the
   * page does not re-read per block; the ages move on with the public status instead (tickAlerts). */
  function alertsChangedBy(d) {
    const s = alertsShown;
    if (!s || !Array.isArray(d.events)) return false;
    return d.events.some((e) => e.contract === "risk" && (s.kind === "queue" ? e.name === "alert" || e.name === "alert_reviewed"
      : e.name === "alert_reviewed" && e.data && e.data.alert === s.id));
  }
  /** The ages on the alert page at the tip's block time (the public /v1/status: no read logged). */
  function tickAlerts(st) {
    const s = alertsShown;
    if (!s || s.hash !== location.hash || !st || !Number.isInteger(st.timestamp_ms) || !(Number(st.height) >= s.height)) return;
    for (const el of view.querySelectorAll("[data-age-of]")) {
      const t = s.times.get(el.dataset.ageOf);
      if (!t) continue;
      el.querySelector("[data-f=age]").textContent = alertAge(BigInt(st.timestamp_ms) - t.time_ms);
      const b = el.querySelector("[data-f=age-blocks]");
      if (b) b.textContent = String(BigInt(st.height) - t.height);
    }
    const tip = view.querySelector("[data-f=tip-time]");
    if (tip) tip.textContent = utc(st.timestamp_ms);
  }
  /** Re-read the page shown (once the chain has passed the height it was read at). */
  async function refreshAlerts(height) {
    const s = alertsShown;
    if (!s || s.hash !== location.hash || !(Number(height) > s.height)) return;
    if (s.busy) { s.again = Math.max(s.again || 0, Number(height)); return; }
    s.busy = true;
    try {
      if (s.kind === "queue") await pageAlerts(s.after, s);
      else await pageAlert(s.id, s);
    } catch (e) { /* the next block tries again */ }
    s.busy = false;
    // a change that came meanwhile: re-read again (alertsShown is the page just rendered)
    if (s.again) { const h = s.again; s.again = 0; await refreshAlerts(h); }
  }

  /** #/alerts: the open alerts this identity reviews, oldest first (`chainfin alerts queue`). */
  async function pageAlerts(after, prev) {
    const ps = state.alerts && Number.isInteger(state.alerts.pageSize) && state.alerts.pageSize >= 1 && state.alerts.pageSize <= 1000 ? state.alerts.pageSize : ALERTS_LIMIT;
    const path = "/v1/risk/alerts/queue?limit=" + ps + (after !== undefined ? "&after=" + after : "");
    const hash = location.hash;
    const r = await apiExact(path);
    if (prev && (alertsShown !== prev || location.hash !== hash)) return;  // the reader went elsewhere meanwhile
    if (r.status !== 200) {
      alertsShown = null;
      if (r.status !== 404) throw new Error("the node answered " + r.status + " for " + path + (r.message ? ": " + r.message : ""));
      // the same card for every identity without a queue, whatever alerts exist (decision 144)
      view.innerHTML = '<div class="card notfound" id="alerts-none"><h1>No alert queue for this identity</h1>' +
        "<p>The node answered <code>404</code> for <code>/v1/risk/alerts/queue</code>: <span class=\"reason\">" + esc(r.message) + "</span></p>" +
        '<p class="muted">A bank\'s compliance officer reviews the alerts on its customers, a regulator or an auditor every alert (docs/risk.md, reviewing alerts); ' +
        "any other identity has no queue.</p></div>";
      return;
    }
    const doc = r.body, alerts = doc.alerts, supervisor = has(doc, "queue") ? doc.queue === "all" : has(doc, "open");
    // the queue's counts (decision 165): a bank's of its customers' alerts, each once; a node
    // before it sent a bank none, and a supervisor only `open`
    const cnt = doc.counts && typeof doc.counts === "object" ? doc.counts : null;
    await learnAlerts(alerts);
    let raised = null;  // a supervisor's: alerts raised on the chain, every rule (risk/alert_count/<rule>)
    if (supervisor && !(cnt && has(cnt, "reviewed"))) {
      if (!alertRules) {
        const rules = await api("/v1/risk/rules");  // network data: the same for every reader
        if (rules.status === 200 && Array.isArray(rules.body.alert_rules)) alertRules = rules.body.alert_rules;
      }
      const counts = await Promise.all((alertRules || []).map((n) => readExact("risk", "alert_count/" + n)));
      if (alertRules && counts.every((c) => c.status === 200 || c.status === 404)) {
        raised = counts.reduce((s, c) => s + (c.status === 200 && typeof c.value === "bigint" ? c.value : 0n), 0n);
      }
    }
    if (prev && (alertsShown !== prev || location.hash !== hash)) return;
    state.lastAlerts = { path, json: toJsonText(doc) };
    const seen = prev ? prev.ids : null;
    const rows = alerts.map((a) => '<tr class="alert-row' + (seen && !seen.has(a.alert) ? " new" : "") + '" data-alert="' + esc(a.alert) + '">' +
      '<td data-age-of="' + esc(a.alert) + '">' + f("age", esc(alertAge(a.age_ms))) + ' <span class="muted">' + f("age-blocks", esc(a.age_blocks)) + " blocks</span></td>" +
      "<td>" + blockLink(a.height) + "</td>" +
      "<td>" + f("rule", esc(a.rule)) + "</td>" +
      '<td data-f="accounts">' + alertAccounts(a) + "</td>" +
      '<td class="mono" data-f="amount">' + alertAmount(a) + "</td>" +
      '<td data-f="detail">' + alertDetail(a, ["amount", "currency"]) + "</td>" +
      "<td>" + alertLink(a.alert) + "</td>" +
      '<td data-f="tx"><a href="#/tx/' + esc(a.tx_id) + '"><code>' + esc(String(a.tx_id).slice(0, 10)) + "…</code></a></td></tr>").join("");
    const n = alerts.length;
    let counts;
    if (supervisor) {
      const reviewed = cnt && has(cnt, "reviewed") ? cnt.reviewed : raised === null ? null : (raised > doc.open ? raised - doc.open : 0n);
      counts = "<p>" + f("open", esc(doc.open)) + " open alerts on the chain · " +
        (reviewed === null ? '<span class="muted">reviewed: the alert counts could not be read</span>'
          : f("reviewed", esc(reviewed)) + " reviewed") + " · at height " + f("height", esc(doc.height)) + "</p>" +
        '<p class="muted">Open and reviewed: the supervisors\' queue record (<code>risk/queue/*</code>)' +
        (cnt ? "" : "; reviewed: the alerts raised on the chain (<code>risk/alert_count/&lt;rule&gt;</code>, every rule) less the open ones, an alert raised before cases existed (a chain upgraded to decision 145) among them") + ".</p>" +
        verifyButton("the open count", "/v1/proofs/state/risk/queue/" + encodeURIComponent("*"), (pr) => {
          const shown = alertsShown && alertsShown.kind === "queue" ? alertsShown : null;
          const v = pr.present ? exact(pr.value) : null;
          if (!v) return "the proof says risk/queue/* is absent, the page showed " + (shown ? shown.open : "a count");
          return shown && BigInt(pr.height) === BigInt(shown.height) && v.open !== shown.open
            ? "the proof says " + v.open + " open at height " + pr.height + ", the page showed " + shown.open : null;
        });
    } else if (cnt) {
      counts = "<p>" + f("open", esc(cnt.open)) + " open alerts of this bank's customers · " + f("reviewed", esc(cnt.reviewed)) + " reviewed" +
        " · at height " + f("height", esc(doc.height)) + "</p>" +
        '<p class="muted">' + (after !== undefined || (doc.next !== undefined && doc.next !== null) ? "This page: " + f("shown", esc(n)) + " of them, oldest first; the next page follows the queue's cursor. " : "") +
        "Counted by the contract as queued for this bank when raised (its id's and its BIC's queues, each alert once): two reads, no scan. " +
        "The rows are the alerts whose accounts are this bank's customers now; each case's page shows its reviews.</p>";
    } else {  // a node before decision 165
      counts = "<p>" + f("open", esc(n)) + " open alerts of this bank's customers" +
        (n >= ps ? " shown, the oldest: there may be more (this node serves a bank's queue without a cursor nor total)" : "") +
        " · at height " + f("height", esc(doc.height)) + "</p>" +
        '<p class="muted" data-f="reviewed-none">Reviewed: this node serves a bank no count of its customers\' reviewed cases (the queue lists the open ones); each case\'s page shows its reviews.</p>';
    }
    const more = (after !== undefined ? '<a id="alerts-first" href="#/alerts">← the oldest</a> ' : "") +
      (doc.next !== undefined && doc.next !== null ? '<a id="alerts-next" href="#/alerts/after/' + esc(doc.next) + '">next ' + ps + " (raised later) →</a>" : "");
    const html = '<h1>Alert queue <span class="pill live" id="live">' + (liveOn ? "live" : "not live") + "</span></h1>" +
      '<p class="muted">The open (unreviewed) alerts this identity reviews, oldest first, as <code>chainfin alerts queue</code> prints them — ' +
      (supervisor ? "a regulator's or an auditor's queue: every alert" : "a bank's queue: the alerts on its customers") +
      ". Ages in block time (the tip's, " + f("tip-time", esc(utc(doc.time_ms))) + "); amounts in major units of the currency; accounts by genesis name (else the name registered on the chain).</p>" +
      '<div class="card" id="alerts-counts">' + counts + "</div>" +
      '<div class="card"><table class="list" id="alerts-queue"><thead><tr><th>age</th><th>raised at</th><th>rule</th><th>accounts</th><th>amount</th><th>detail</th><th>case</th><th>transaction</th></tr></thead><tbody>' +
      (rows || '<tr id="alerts-empty"><td colspan="8">No open alerts' + (supervisor ? " on the chain" : " of this bank's customers") + ".</td></tr>") +
      "</tbody></table>" + (more ? "<p>" + more + "</p>" : "") + "</div>" +
      '<p class="muted">A case\'s page shows the alert, its transaction and its reviews; review with <code>chainfin alerts review --alert ID</code>, read a sealed disposition with <code>chainfin alerts case --alert ID</code>.</p>';
    const verdict = prev ? view.querySelector("#alerts-counts [data-verdict]") : null;
    if (prev) view.querySelectorAll("button.verify").forEach((b) => checks.delete(b.dataset.check));
    view.innerHTML = html;
    if (verdict && supervisor) {  // a verdict shown survives the refresh (it names its height)
      const box = view.querySelector("#alerts-counts [data-check]");
      if (box) $(box.dataset.check).replaceChildren(verdict);
    }
    alertsShown = { kind: "queue", hash, after, height: Number(doc.height), open: supervisor ? doc.open : null, counts: cnt, ids: new Set(alerts.map((a) => a.alert)),
      times: new Map(alerts.map((a) => [a.alert, { time_ms: a.time_ms, height: a.height }])) };
    view.dataset.alertsHeight = String(doc.height);
  }

  /** #/alert/ID: one case, as `chainfin alerts case` shows it, its dispositions left sealed. */
  async function pageAlert(id, prev) {
    const path = "/v1/risk/alerts/" + encodeURIComponent(id);
    const hash = location.hash;
    const r = await apiExact(path);
    if (prev && (alertsShown !== prev || location.hash !== hash)) return;
    if (r.status !== 200) {
      alertsShown = null;
      if (r.status !== 404) throw new Error("the node answered " + r.status + " for " + path + (r.message ? ": " + r.message : ""));
      return fail("The node answered 404 for " + path + (r.message ? ": " + r.message : "") + ".");  // the same for any 404
    }
    const c = r.body;
    const reviews = c.reviews || [];
    const sig = canon([c.status, reviews]);
    if (prev && prev.sig === sig) {  // nothing new but the age
      const a = view.querySelector("[data-f=age]"), hn = view.querySelector("[data-f=height-now]");
      if (a) a.textContent = alertAge(c.age_ms);
      if (hn) hn.textContent = String(c.height_now);
      prev.height = Number(c.height_now);
      return;
    }
    await learnAlerts([c]);
    await learnNames([...reviews.map((v) => v.by), ...reviews.flatMap((v) => Object.keys(v.sealed || {})), ...(c.seal_to || [])]);
    const t = await api("/v1/tx/" + encodeURIComponent(c.tx_id) + "?tx=1");
    // a structuring pattern's earlier payments, read as its own is (the payer's home bank and the
    // supervisors read them): each one's amount, so the pattern reads as amounts, not as ids
    const nearIds = (nearLimitTxs(c) || []).filter((x) => x !== c.tx_id);
    const nearRead = await Promise.all(nearIds.map((x) => api("/v1/tx/" + encodeURIComponent(x) + "?tx=1")));
    const nearEnv = new Map(nearIds.map((x, i) => [x, nearRead[i].status === 200 && nearRead[i].body ? nearRead[i].body.tx || null : null]));
    if (t.status === 200 && t.body && t.body.tx) nearEnv.set(c.tx_id, t.body.tx);
    const payArgs = [...nearEnv.values()].filter((e) => e && e.contract === "settlement" && e.args && typeof e.args === "object");
    // the pattern in several currencies (decision 206): each payment also as the limit's base
    const base = c.detail && typeof c.detail.base === "string" ? c.detail.base : c.detail && typeof c.detail.currency === "string" ? c.detail.currency : null;
    const ccys = [...new Set(payArgs.map((e) => e.args.currency).filter((x) => typeof x === "string"))];
    let fx = null;
    if (base && ccys.some((x) => x !== base)) {
      let rates = null;
      try { rates = (await readExact("risk", "rates/" + base)).value; } catch (e) { rates = null; }
      fx = { base, rates, several: true };
    }
    await Promise.all([learnExponents(ccys.concat(base ? [base] : [])),
      learnNames(payArgs.map((e) => e.args.to).filter(isKey))]);
    if (prev && (alertsShown !== prev || location.hash !== hash)) return;
    state.lastAlertCase = { path, json: toJsonText(c) };
    const tx = t.status === 200 ? t.body : null;
    let txHtml = txLink(c.tx_id);
    if (tx) {
      const env = tx.tx || null;
      txHtml += "<br>" + (env ? "<code>" + esc(env.contract + "." + env.method) + "</code> by " + account(env.sender) + " · " : "") +
        '<span class="pill ' + (tx.status === "committed" ? "ok" : "bad") + '" data-f="tx-status">' + esc(tx.status) + "</span>" +
        (tx.error ? " " + esc(tx.error.code) : "") + (tx.height ? " in block " + blockLink(tx.height) + " index " + esc(tx.index) : "");
    } else {
      txHtml += ' <span class="muted">(its body: not found or not visible to you)</span>';
    }
    const last = reviews.length ? reviews[reviews.length - 1] : null;
    // the public state: open, or reviewed (a case reviewed before decision 151 kept its disposition as its status)
    const pub = c.status === "open" ? "open" : "reviewed";
    let statusLine;
    if (pub === "reviewed" && last) {
      statusLine = statusPill("reviewed", "status-word") + " by " + account(last.by) + " " + f("reviewed-at", esc(utc(last.time_ms))) + " (height " + blockLink(last.height) + "): " +
        (has(last, "sealed") ? '<span data-f="sealed">the disposition is sealed to the regulators and the reviewer; open with <code>chainfin alerts case</code></span>'
          : '<span data-f="clear">recorded before decision 151, in clear (below)</span>');
    } else if (pub === "open" && reviews.length) {
      statusLine = statusPill("open", "status-word") + " again: put back in the queues by " + account(last.by) + " " + esc(utc(last.time_ms)) + " (a regulator's review; what it records is sealed)";
    } else if (pub === "open") {
      statusLine = statusPill("open", "status-word") + " in the review queues (the supervisors' and its accounts' home banks'), not reviewed yet";
    } else {
      statusLine = statusPill("reviewed", "status-word");
    }
    const near = nearLimitTxs(c);
    const detailRows = Object.keys(c.detail || {}).sort().filter((k) => !["amount", "currency"].includes(k) && !(k === "near_limit_txs" && near))
      .map((k) => [k.replace(/_/g, " "), '<span data-k="' + esc(k) + '">' + detailValue(c.detail, k) + "</span>"]);
    if (near) {  // decision 217: the earlier near payments it counted, oldest first, then its own
      detailRows.push(["the pattern's payments", '<ol class="near-limit" id="near-limit-txs" data-k="near_limit_txs">' + near.map((t, i) =>
        '<li data-tx="' + esc(t) + '">' + paymentLink(t, "<code>" + esc(t.slice(0, 16)) + "…</code>") + nearPaid(nearEnv.get(t), fx) +
        (i === near.length - 1 ? ' <span class="muted" data-f="own">this alert\'s payment</span>' : "") + "</li>").join("") +
        '</ol><span class="muted">oldest first: the earlier payments near the limit the alert counted (<code>near_limit_txs</code>), then the payment that raised it; each opens its payment page</span>' +
        (fx ? '<p class="muted" data-f="str-several">In several currencies: one STR holds them all in the bank\'s local currency, each converted at the ledger\'s reference rate — <code>chainfin alerts str ' +
          esc(id) + " --currency-local LOCAL --config FILE --out str.xml</code>, LOCAL the bank's own currency (the amounts above are also in " + esc(base) + ", the limit's); a currency with no rate under 6 days old refuses the report (docs/risk.md, “In several currencies”).</p>" : "")]);
    }
    const alertKey = "alert/" + id;
    const expectAlert = (pr) => {
      if (!pr.present) return "the proof says risk/" + alertKey + " is absent, the page showed a case";
      const v = exact(pr.value);
      for (const k of ["rule", "accounts", "tx_id", "height", "time_ms", "detail", "status"]) {
        if (canon(pget(v, k)) !== canon(c[k])) return "the proven alert record's " + k + " is " + canon(pget(v, k)) + ", the page showed " + canon(c[k]);
      }
      return canon(pget(v, "reviews")) === String(reviews.length) ? null
        : "the proven alert record counts " + canon(pget(v, "reviews")) + " reviews, the page showed " + reviews.length;
    };
    const stateProof = (key) => "/v1/proofs/state/risk/" + key.split("/").map(encodeURIComponent).join("/");
    const reviewCards = reviews.map((rv, i) => {
      const sealed = has(rv, "sealed");
      const to = sealed ? Object.keys(rv.sealed).sort() : [];
      const rows = [["by", account(rv.by)], ["recorded", esc(utc(rv.time_ms)) + " at height " + blockLink(rv.height)],
        ["the case after it", statusPill(String(rv.state || (sealed ? "?" : "reviewed")), "state")]];
      if (sealed) {
        rows.push(["disposition", '<span data-f="sealed">sealed to the regulators and the reviewer; open with <code>chainfin alerts case</code></span>'],
          ["sealed to", f("sealed-to", to.map(account).join(", ")) + ' <span class="muted">(' + to.length + " boxes of the same size, whatever the disposition)</span>"],
          ["commitment", "<code>" + esc(rv.commitment) + "</code>"]);
      } else {  // a review recorded before decision 151 kept its disposition in clear (a ledger cannot erase it)
        rows.push(["disposition", f("clear", esc(rv.disposition)) + ' <span class="muted">(recorded in clear before decision 151)</span>']);
        if (rv.note_sha256) rows.push(["note SHA-256", "<code>" + esc(rv.note_sha256) + "</code>"]);
      }
      return '<div class="rec" data-rec="review" data-n="' + i + '" data-key="risk/review/' + esc(id) + "/" + i + '"><div class="rechead"><b>review ' + i + "</b> " +
        statusPill(String(rv.state || "reviewed")) + "</div>" + kv(rows) +
        verifyButton("this review", stateProof("review/" + id + "/" + i), (pr) => {
          if (!pr.present) return "the proof says risk/review/" + id + "/" + i + " is absent, the page showed a review";
          const v = exact(pr.value);
          return canon(v) === canon(rv) ? null : "the proven review record is not the review the page showed";
        }) + "</div>";
    }).join("");
    const mine = state.identity && (c.seal_to || []).length
      ? '<p class="muted">A review — a regulator\'s, or while the case is open the home bank\'s of an account it names — is recorded with <code>chainfin alerts review --alert ' +
        esc(id) + " --disposition D --note FILE</code>; by this identity, sealed to " + (c.seal_to || []).map(account).join(", ") + ".</p>" : "";
    view.innerHTML = '<h1>Alert <code id="alert-id">' + esc(id) + "</code> " + statusPill(pub, "status") + "</h1>" +
      '<p class="muted">One case as <code>chainfin alerts case</code> shows it, at height ' + f("height-now", esc(c.height_now)) +
      ": the alert, the transaction that raised it, the case's public state and its reviews. What a reviewer decided is sealed (decision 151): this page does not open it.</p>" +
      '<div class="card" id="alert-status"><h2>Case</h2><p>' + statusLine + "</p></div>" +
      '<div class="card rec" data-rec="alert" data-key="risk/' + esc(alertKey) + '"><h2>The alert</h2>' + kv([
        ["rule", f("rule", esc(c.rule))],
        ["accounts", '<span data-f="accounts">' + alertAccounts(c) + "</span>"],
        ["raised", f("raised-at", esc(utc(c.time_ms))) + " at height " + f("block", blockLink(c.height)) + ' · <span data-age-of="' + esc(id) + '">age ' + f("age", esc(alertAge(c.age_ms))) + "</span>" + ' <span class="muted">(block time)</span>'],
        ["amount", f("amount", alertAmount(c))],
      ].concat(detailRows).concat([
        ["transaction", f("tx", txHtml)],
      ])) + verifyButton("the alert record", stateProof(alertKey), expectAlert) + "</div>" +
      '<div class="card" id="alert-reviews"><h2>Reviews (' + reviews.length + ")</h2>" + (reviewCards || '<p class="muted" data-f="no-reviews">none yet</p>') + mine + "</div>";
    alertsShown = { kind: "case", hash, id, height: Number(c.height_now), sig, times: new Map([[id, { time_ms: c.time_ms, height: c.height }]]) };
  }
  state.alerts = { age: alertAge, money, pageSize: ALERTS_LIMIT };


  // ------------------------------------------------------------------ a guarantee, as a trade desk reads it
  // #/guarantee/<id>: a demand guarantee or standby (contracts/trade/guarantees.py) as
  // `chainfin guarantee show` reports it (chainfin/cli_guarantee.py: show, readable), from the
  // same routes: /v1/state/trade_documents/gtee/<id>, gdem/<each demand>, the currency's exponent
  // and the parties' names. Those routes answer its guarantor, applicant, beneficiary, advising
  // bank and the regulators (decision 197); anyone else gets their 404, which the page words as
  // it words a guarantee that does not exist.

  const GTEE_FORMS = { DGAR: "demand guarantee (URDG 758)", STBY: "standby letter of credit (ISP98)" };
  const GTEE_STATUS = { issued: "ok", expired: "", released: "", paid_out: "info", presented: "warn", suspended: "warn",
    paid: "ok", rejected: "bad", extended: "info", withdrawn: "" };
  const gteePill = (s, name) => pill(GTEE_STATUS[s] !== undefined ? GTEE_STATUS[s] : "", s, name);
  /** cli_guarantee.utc: block time in ms -> ISO 8601 UTC to the second ("2026-12-07T19:34:54Z"), null for no time. */
  function isoUtc(ms) {
    if (typeof ms !== "bigint" || ms < 0n) return null;
    return new Date(Number(floorDiv(ms, 1000n)) * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  }
  /** chainfin.money.decimal: integer minor units as the decimal people read ("50000.00", exactly). */
  function decimalOf(minor, exponent) {
    const e = BigInt(exponent), a = BigInt(minor), neg = a < 0n, m = neg ? -a : a;
    if (e === 0n) return (neg ? "-" : "") + m.toString();
    const unit = 10n ** e;
    return (neg ? "-" : "") + (m / unit).toString() + "." + (m % unit).toString().padStart(Number(e), "0");
  }
  /** Midnight UTC starting an ISO date (YYYY-MM-DD), in ms. */
  const dayStartMs = (date) => BigInt(Date.parse(String(date) + "T00:00:00Z"));
  /** cli_guarantee.amount_in_force: the amount, lowered by each reduction from the start (UTC) of its date. */
  function gteeInForce(g, nowMs) {
    let amount = BigInt(g.amount);
    for (const r of pget(g, "reductions") || []) if (dayStartMs(r.date) <= nowMs) amount = bmin(amount, BigInt(r.amount));
    return amount;
  }
  /** cli_guarantee.readable, ported (the parties' names aside: the page shows them by account):
   * `g` with its `demands` read ({demand_id, ...record}), amounts also as decimals of the
   * currency (`*_decimal`), times also in ISO 8601 UTC (`*_at`), the amount in force and what
   * a demand may still claim at `nowMs`. */
  function gteeReadable(g, exponent, nowMs) {
    const out = Object.assign({}, g);
    const inForce = gteeInForce(g, nowMs);
    out.amount_in_force = inForce;
    out.available = bmax(0n, inForce - BigInt(g.paid) - BigInt(g.reserved));
    for (const k of ["amount", "amount_in_force", "available", "paid", "reserved"]) setKey(out, k + "_decimal", decimalOf(out[k], exponent));
    out.issued_at = isoUtc(pget(g, "issued_ms"));
    out.reductions = (pget(g, "reductions") || []).map((r) => Object.assign({}, r, { amount_decimal: decimalOf(r.amount, exponent) }));
    out.demands = (pget(g, "demands") || []).map((d0) => {
      const d = Object.assign({}, d0);
      if (typeof d.amount === "bigint") d.amount_decimal = decimalOf(d.amount, exponent);
      for (const k of ["presented_ms", "examination_deadline_ms", "suspended_until_ms"]) {
        if (typeof pget(d, k) === "bigint") setKey(d, k.slice(0, -3) + "_at", isoUtc(d[k]));
      }
      const deadline = bmax(BigInt(pget(d, "examination_deadline_ms") || 0n), BigInt(pget(d, "suspended_until_ms") || 0n));
      if (deadline) d.decide_through = deadline % DAY_MS === 0n ? (isoUtc(deadline - 1n) || "").slice(0, 10) : isoUtc(deadline);
      const dec = pget(d, "decided");
      if (dec !== null && typeof dec === "object" && !Array.isArray(dec)) d.decided = Object.assign({}, dec, { at: isoUtc(pget(dec, "timestamp_ms")) });
      return d;
    });
    for (const k of ["amendment", "expired"]) {
      const v = pget(g, k);
      if (v !== null && typeof v === "object" && !Array.isArray(v)) setKey(out, k, Object.assign({}, v, { at: isoUtc(pget(v, "timestamp_ms")) }));
    }
    return out;
  }
  /** A time as the page shows it: ISO 8601 UTC (the CLI's `*_at`), or a dash. */
  const atHtml = (ms, name) => f(name, esc(isoUtc(ms) || "-"));

  /** #/guarantee/ID: the guarantee, its amounts, demands (with the guarantor's deadline to decide
   * each), its pending amendment and its reductions, as `chainfin guarantee show` reports them. */
  async function pageGuarantee(id) {
    id = String(id || "").toLowerCase();
    if (!isKey(id)) return fail("no guarantee " + id + " (a guarantee id is 64 hex digits: its issue transaction's id)");
    const { body: st } = await api("/v1/status");  // public: the chain's time
    const nowMs = BigInt(st.timestamp_ms || 0);
    const r = await readExact("trade_documents", "gtee/" + id);
    if (r.status !== 200) {  // missing, or not this identity's to read: the node says neither, nor does the page
      return fail("guarantee " + id + ": the node answered 404 for trade_documents/gtee/" + id +
        " (a guarantee is read by its guarantor, applicant, beneficiary and advising bank, and the regulators).");
    }
    const g0 = r.value;
    const demandIds = Array.isArray(g0.demands) ? g0.demands : [];
    const dems = await Promise.all(demandIds.map((d) => readExact("trade_documents", "gdem/" + d)));
    await Promise.all([learnExponents([g0.currency]), learnNames(GUARANTEE_PARTIES.map((k) => pget(g0, k)))]);
    const e = exponents.get(g0.currency);
    const exponent = e === null || e === undefined ? 2n : e;
    const g = Object.assign({}, g0, { demands: demandIds.map((d, i) => Object.assign({ demand_id: d }, dems[i].value || {})) });
    const rd = gteeReadable(g, exponent, nowMs);
    state.lastGuarantee = { json: toJsonText(Object.assign({ guarantee_id: id }, rd)), nowMs: nowMs.toString(), exponent: exponent.toString() };
    const ccy = g0.currency;
    const m = (v) => esc(money(v, ccy, exponent));
    const expired = g0.status === "expired" || (g0.expiry_date !== null && g0.expiry_date !== undefined && nowMs >= dayStartMs(g0.expiry_date) + DAY_MS);
    const takesDemands = !expired && g0.status === "issued";  // contracts/trade/guarantees.py check_live
    const expiry = [];
    if (g0.expiry_date) expiry.push(f("expiry-date", esc(g0.expiry_date)) + ' <span class="muted">(good through that day, UTC)</span>');
    if (g0.expiry_event) expiry.push("on the event: " + f("expiry-event", esc(g0.expiry_event)));
    const expiredRec = rd.expired && typeof rd.expired === "object" ? rd.expired : null;
    const expiryHtml = expiry.join(" · or, whichever comes first, ") +
      (expiredRec ? ' · <span class="pill" data-f="expired">expired</span> ' + f("expired-at", esc(expiredRec.at || "-")) +
        (expiredRec.event_evidence ? " (event: " + esc(expiredRec.event_evidence) + ")" : "")
        : expired ? ' · <span class="pill" data-f="expired">expired</span> <span class="muted">(its date has passed)</span>' : "");
    const parties = GUARANTEE_PARTIES.map((k) => [k.replace(/_/g, " "), pget(g0, k) ? f(k, account(g0[k])) : '<span class="muted" data-f="' + k + '">none</span>']);
    const terms = '<div class="card" id="gtee-terms"><h2>Terms</h2>' + kv([
      ["form", f("form", esc(g0.form)) + ' <span class="muted">' + esc(GTEE_FORMS[g0.form] || "") + "</span>"],
      ["type", f("type", esc(g0.guarantee_type))],
      ["guarantee number", f("number", esc(g0.guarantee_number))],
      ["underlying", f("underlying", esc(g0.underlying_ref))],
      ["issuing bank", f("issuing-bank", esc(g0.issuing_bank))],
      ["issued", atHtml(pget(g0, "issued_ms"), "issued-at") + " at height " + blockLink(g0.height)],
      ["expiry", expiryHtml || '<span class="muted">-</span>'],
      ["a demand needs", f("statement", g0.supporting_statement_required ? "a statement in what respect the applicant is in breach (URDG 758 art. 15 a)" : "no supporting statement")],
    ].concat(parties)) + "</div>";
    const amounts = '<div class="card" id="gtee-amounts"><h2>Amounts</h2>' + kv([
      ["amount", f("amount", m(g0.amount))],
      ["amount in force", f("in-force", m(rd.amount_in_force)) + ' <span class="muted">(now, block time ' + f("now", esc(isoUtc(nowMs) || "-")) + ")</span>"],
      ["paid", f("paid", m(g0.paid))],
      ["under open demands", f("reserved", m(g0.reserved))],
      ["available", f("available", m(rd.available)) + (takesDemands ? ' <span class="muted">(what a demand may still claim)</span>'
        : ' <span class="pill bad" data-f="no-demand">no demand may be made</span> <span class="muted">(the guarantee ' +
          (expired ? "expired: a demand after expiry is not honoured, URDG 758 art. 25" : "is " + esc(g0.status) + ": it takes no demand") + ")</span>")],
    ]) + '<p class="muted">Amounts in major units of ' + esc(ccy) + " (exponent " + f("exponent", esc(exponent)) + "); the ledger keeps integer minor units.</p>" + "</div>";
    const redRows = rd.reductions.map((x) => '<tr data-date="' + esc(x.date) + '"><td>' + esc(x.date) + '</td><td class="mono">' + m(x.amount) + "</td><td>" +
      (dayStartMs(x.date) <= nowMs ? pill("info", "in force", "red-state") : pill("", "scheduled", "red-state")) + "</td></tr>").join("");
    const reductions = '<div class="card" id="gtee-reductions"><h2>Reductions (' + rd.reductions.length + ")</h2>" +
      (redRows ? '<table class="list"><thead><tr><th>from (UTC)</th><th>amount in force</th><th></th></tr></thead><tbody>' + redRows + "</tbody></table>" : '<p class="muted">none scheduled</p>') + "</div>";
    const am = rd.amendment && typeof rd.amendment === "object" ? rd.amendment : null;
    let amHtml = '<p class="muted" data-f="no-amendment">No amendment pending.</p>';
    if (am) {
      const ch = am.changes || {};
      const chRows = Object.keys(ch).map((k) => ["proposed " + k.replace(/_/g, " "), f("change-" + k, k === "amount" && typeof ch[k] === "bigint" ? m(ch[k]) : esc(toJsonText(ch[k]).replace(/^"|"$/g, "")))]);
      amHtml = '<div class="rec" id="gtee-amendment" data-rec="amendment">' + kv([
        ["amendment number", f("am-number", esc(am.number))],
        ["proposal", f("am-proposal", esc(am.proposal)) + ' <span class="muted">(the number the beneficiary accepts or rejects it by)</span>'],
        ["proposed", f("am-at", esc(am.at || "-")) + " at height " + blockLink(am.height)],
      ].concat(chRows)) + '<p class="muted">Pending: the beneficiary accepts it (<code>chainfin guarantee accept --proposal N</code>) or rejects it (<code>reject-amendment</code>); one that enlarges its rights binds the guarantor until then (URDG 758 art. 11 b).</p></div>';
    }
    const amCard = '<div class="card" id="gtee-amendments"><h2>Amendment</h2>' + amHtml +
      '<p class="muted">Amendments accepted: ' + f("amendments", esc(pget(g0, "amendments", 0n))) + "</p></div>";
    const demCards = rd.demands.map((d, i) => {
      if (!dems[i] || dems[i].status !== 200) return hiddenRec("demand", "gdem/" + d.demand_id, "demand");
      const open = d.status === "presented" || d.status === "suspended";
      const deadline = bmax(BigInt(pget(d, "examination_deadline_ms") || 0n), BigInt(pget(d, "suspended_until_ms") || 0n));
      const rows = [
        ["amount", f("d-amount", m(d.amount))],
        ["presented", f("d-presented", esc(d.presented_at || "-")) + " at height " + blockLink(d.height)],
        ["examination deadline", f("d-deadline", esc(d.examination_deadline_at || "-")) + ' <span class="muted" data-f="d-deadline-words">(' +
          (pget(d, "examination_deadline_ms") && BigInt(d.examination_deadline_ms) % DAY_MS === 0n
            ? "midnight UTC: the end of " + esc((isoUtc(BigInt(d.examination_deadline_ms) - 1n) || "").slice(0, 10)) + ", "
            : "") + "the close of the fifth business day of the guarantor\'s place, URDG 758 art. 20)</span>"],
      ];
      if (d.suspended_until_at) rows.push(["payment suspended until", f("d-suspended", esc(d.suspended_until_at)) + ' <span class="muted">(extend or pay, art. 23)</span>']);
      if (d.decide_through && open) {  // a decided demand has no deadline left: its decision says when
        rows.push(["the guarantor decides by", f("d-decide", esc(d.decide_through)) +
          (open && nowMs >= deadline ? " " + pill("bad", "passed: the beneficiary may have it paid (art. 24 f)", "d-passed") : "")]);
      }
      if (pget(d, "extend_or_pay")) rows.push(["extend or pay", "extend the expiry to " + f("d-extend", esc(d.extend_or_pay))]);
      rows.push(["supporting statement", pget(d, "supporting_statement") ? f("d-statement", esc(d.supporting_statement)) : '<span class="muted">none</span>']);
      if (Array.isArray(pget(d, "discrepancies"))) {
        rows.push(["discrepancies", f("d-discrepancies", d.discrepancies.map((x) => esc(x.code) + (x.detail ? ": " + esc(x.detail) : "")).join("; "))]);
      }
      if (d.decided && typeof d.decided === "object") {
        rows.push(["decided", f("d-decided", esc(d.decided.at || "-")) + " at height " + blockLink(d.decided.height) + (d.decided.tx_id ? " by " + txLink(String(d.decided.tx_id), true) : "") +
          ' <span class="muted" data-f="d-decided-words">(' + esc(DEMAND_DECIDED[d.status] || d.status) + ")</span>"]);
      }
      return '<div class="rec" data-rec="demand" data-id="' + esc(d.demand_id) + '"><div class="rechead"><b>demand</b> ' + txLink(d.demand_id, true) + " " +
        gteePill(String(d.status), "d-status") + "</div>" + kv(rows) + "</div>";
    }).join("");
    const demands = '<div class="card" id="gtee-demands"><h2>Demands (' + rd.demands.length + ")</h2>" + (demCards || '<p class="muted" data-f="no-demands">none</p>') + "</div>";
    view.innerHTML = '<h1>Guarantee <code id="guarantee-id">' + esc(id) + "</code> " + gteePill(String(g0.status), "status") + "</h1>" +
      '<p class="muted">As <code>chainfin guarantee show --guarantee ' + esc(id.slice(0, 8)) + "…</code> reports it, at block time " + esc(isoUtc(nowMs) || "-") +
      ": what this identity may read of it (its guarantor, applicant, beneficiary and advising bank, and the regulators: decision 197). Issued by " + txLink(id, true) + ".</p>" +
      terms + amounts + demands + amCard + reductions +
      '<details class="card" id="gtee-raw"><summary>Raw records (JSON as the node serves them)</summary>' +
      "<pre>" + esc(toJsonText(g0, "  ")) + "</pre>" + dems.map((x, i) => "<pre>" + esc("gdem/" + demandIds[i] + " " + toJsonText(x.value, "  ")) + "</pre>").join("") + "</details>";
  }
  const GUARANTEE_PARTIES = ["guarantor", "applicant", "beneficiary", "advising_bank"];
  /** A decided demand's outcome in words (contracts/trade/guarantees.py demand statuses). */
  const DEMAND_DECIDED = { paid: "paid to the beneficiary", rejected: "rejected: the discrepancies above, in one notice, URDG 758 art. 24 d",
    withdrawn: "deemed withdrawn: the guarantee was extended as the demand asked (URDG 758 art. 23 c)" };
  state.guarantee = { readable: gteeReadable, decimal: decimalOf, isoUtc };


  // ------------------------------------------------------------------ a payment, as a payments officer sees it
  // #/payment/<tx id> (or #/payment/<payer>/<uetr>): a settlement transfer with its recall and
  // returns (camt.056 / camt.029 / pacs.004), composed only of the routes' answers for the
  // loaded identity: GET /v1/tx (?tx=1), /v1/blocks, /v1/state/settlement/{uetr,recall}/…
  // (decision 186). What the identity may not read is said so in its place.

  /** contracts/settlement_recall.py RECALL_REASONS, REJECT_REASONS, RETURN_REASONS (a unit test holds them equal) */
  const RECALL_REASONS = { DUPL: "duplicate payment", TECH: "technical problem", FRAD: "fraudulent origin",
    CUST: "requested by the customer", AC03: "wrong creditor account", AM09: "wrong amount" };
  const REJECT_REASONS = { ARDT: "already returned", AC04: "account closed", AM04: "insufficient funds",
    CUST: "the customer refused", LEGL: "legal decision", NOAS: "no answer from the customer" };
  const RETURN_REASONS = { FOCR: "following a cancellation request (a recall)", AC03: "invalid creditor account",
    AC04: "account closed", AC06: "account blocked", AM05: "duplication", BE04: "missing creditor address",
    FR01: "fraud", MD07: "end customer deceased", MS02: "reason not specified, by the customer",
    MS03: "reason not specified, by the bank" };
  const reasonText = (table, code) => "<code>" + esc(code) + "</code>" + (table[code] ? " " + esc(table[code]) : "");
  const SETTLEMENT_CALLS = ["transfer", "recall", "return_payment", "reject_recall"];
  const paymentLink = (id, label) => '<a class="payment-link" href="#/payment/' + esc(id) + '">' + (label || short(id)) + "</a>";
  /** An amount in minor units as the payments officer reads it: major units with the currency's exponent, never a float. */
  function payMoney(v, ccy, units) {
    const e = exponents.get(ccy);
    if (typeof v !== "bigint" || typeof ccy !== "string") return esc(toJsonText(v));
    return e === null || e === undefined ? esc(v.toString()) + ' <span class="muted">(minor units of ' + esc(ccy) + ")</span>"
      : esc(money(v, ccy, e)) + (units ? ' <span class="muted" data-f="minor">(' + esc(v.toString()) + " minor units, exponent " + esc(e.toString()) + ")</span>" : "");
  }
  function stateProofPath(contract, key) {
    return "/v1/proofs/state/" + encodeURIComponent(contract) + "/" + key.split("/").map(encodeURIComponent).join("/");
  }
  function presentVerify(contract, key, label, value) {
    return verifyButton(label, stateProofPath(contract, key), (r) => {
      if (!r.present) return "the proof says " + contract + "/" + key + " is absent, the page showed a value";
      return canon(exact(r.value)) === canon(value) ? null : "the proven " + contract + "/" + key + " is not the value the page showed";
    });
  }
  const notVisible = (what) => '<span class="muted" data-f="hidden">' + esc(what) + ": " + NOT_VISIBLE + "</span>";

  async function pagePaymentByUetr(payer, uetr) {
    const r = await apiExact("/v1/state/settlement/uetr/" + encodeURIComponent(payer) + "/" + encodeURIComponent(uetr));
    if (r.status !== 200) return fail("The node answered " + r.status + " for " + r.path + (r.message ? ": " + r.message : "") + ".");
    return pagePayment(String(r.body.value.tx_id), { payer, uetr, idx: r.body.value });
  }

  /** `known`: the payment index read by #/payment/PAYER/UETR ({payer, uetr, idx}): the payee's
   * bank reads it, not the transaction. */
  async function pagePayment(id, known) {
    id = String(id || "").toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(id)) return fail("a payment is named by its transaction id (64 hex digits)");
    const t = await apiExact("/v1/tx/" + id + "?tx=1");
    const tx = t.status === 200 ? t.body : null;
    const env = tx && tx.tx ? tx.tx : null;  // the envelope: sender, its home bank, supervisors
    const ev = tx && Array.isArray(tx.events) ? tx.events.find((e) => e.contract === "settlement" && e.name === "transferred") : null;  // a party's own event
    if (env && (env.contract !== "settlement" || !SETTLEMENT_CALLS.includes(env.method))) {
      return fail("transaction " + id + " is no settlement transfer, recall or return (its page: #/tx/" + id + ")");
    }
    // a recall, a rejection or a return: its payment's page names it; here, the link to the payment
    // a recall or a rejection: the envelope's, else the reader's own event (payment_recalled, recall_rejected)
    const about = tx && !env && !ev && Array.isArray(tx.events) ? tx.events.find((e) => e.contract === "settlement" && e.data && isKey(e.data.original_tx)) : null;
    const call = env ? env.method : about ? (about.name === "payment_recalled" ? "recall" : "reject_recall") : null;
    const origin = call === "recall" || call === "reject_recall" ? (env ? env.args.original_tx : about.data.original_tx) : null;
    if (origin) {
      view.innerHTML = '<div class="card" id="payment-pointer"><h1>' + (call === "recall" ? "A recall (camt.056)" : "A recall's rejection (camt.029)") +
        "</h1><p>Transaction " + txLink(id) + " " + (call === "recall" ? "recalls" : "answers the recall of") + " payment " +
        paymentLink(String(origin), "<code>" + esc(origin) + "</code>") + ": its page shows the recall and its answer.</p></div>";
      return;
    }
    if (tx && !env && !ev) return fail("transaction " + id + " is no payment this identity reads as one (its page: #/tx/" + id + ")");
    const rec = await apiExact("/v1/state/settlement/recall/" + id);
    const rr = rec.status === 200 ? rec.body.value : null;
    const k = known && known.idx ? known : null;
    if (!tx && !rr && !k) return fail("The node answered 404 for " + t.path + (t.message ? ": " + t.message : "") + ".");
    // the payment's fields: the envelope's arguments, else the reader's own `transferred` event,
    // else the recall record, else the payment index
    const a = env ? env.args : ev ? ev.data : {};
    const p = {
      payer: ev ? ev.data.from : env ? (rr ? rr.payer : env.sender) : rr ? rr.payer : k.payer,
      payee: env ? a.to : ev ? ev.data.to : rr ? rr.payee : k.idx.to,
      currency: a.currency !== undefined ? a.currency : rr ? rr.currency : k ? k.idx.currency : null,
      amount: a.amount !== undefined ? a.amount : rr ? rr.amount : k ? k.idx.amount : null,
      uetr: a.uetr !== undefined ? a.uetr : rr ? rr.uetr : k ? k.uetr : null,
      e2e: a.end_to_end_id, remittance: a.remittance_info,
    };
    const isReturn = env ? env.method === "return_payment" : ev ? ev.data.purpose === "return" : false;
    const original = isReturn ? (a.original_tx || null) : null;
    if (env && env.method === "return_payment") { p.payer = env.sender; p.payee = a.payer; }
    let idx = k ? k.idx : null;
    if (!idx && !isReturn && isKey(p.payer) && typeof p.uetr === "string") {
      const u = await apiExact("/v1/state/settlement/uetr/" + p.payer + "/" + encodeURIComponent(p.uetr));
      idx = u.status === 200 ? u.body.value : null;
    }
    const height = tx && tx.height ? Number(tx.height) : idx ? Number(idx.height) : rr ? Number(rr.height) : null;
    const blk = height ? await api("/v1/blocks/" + height) : { status: 404 };
    const b = blk.status === 200 ? blk.body : null;
    const timeMs = tx && tx.timestamp_ms !== undefined ? tx.timestamp_ms : idx ? idx.time_ms : rr ? rr.time_ms : b ? b.header.timestamp_ms : null;
    const people = [p.payer, p.payee];
    if (rr) people.push(rr.payer, rr.payee, rr.recall && rr.recall.by, rr.recall && rr.recall.answer && rr.recall.answer.by);
    await learnNames(people.filter(isKey));
    await learnExponents([p.currency].filter((c) => typeof c === "string"));
    const status = tx ? tx.status : "committed";
    const ok = status === "committed";
    const rows = [
      ["status", f("status", pill(ok ? "ok" : "bad", status)) + (tx && tx.error ? " " + esc(tx.error.code + ": " + tx.error.message) : "") +
        (tx ? "" : ' <span class="muted">(from its ' + (rr ? "recall record" : "payment index") + ": the transaction itself is " + NOT_VISIBLE + ")</span>")],
      ["amount", f("amount", p.amount === null || p.amount === undefined ? notVisible("the amount") : payMoney(p.amount, p.currency, true))],
      ["payer (debtor)", f("payer", isKey(p.payer) ? account(p.payer) : notVisible("the payer"))],
      ["payee (creditor)", f("payee", isKey(p.payee) ? account(p.payee) : notVisible("the payee"))],
      ["UETR", f("uetr", p.uetr ? "<code>" + esc(p.uetr) + "</code>" : '<span class="muted">none (a transfer without a UETR is recalled off the ledger)</span>')],
      ["end-to-end id", f("e2e", p.e2e ? "<code>" + esc(p.e2e) + "</code>" : env || ev ? '<span class="muted">none</span>' : notVisible("the end-to-end id"))],
    ];
    if (p.remittance) rows.push(["remittance info", f("remittance", esc(p.remittance))]);
    if (isReturn) rows.push(["a return (pacs.004)", f("return-of", "of payment " + (original ? paymentLink(original) : notVisible("the original")) +
      (a.reason || a.return_reason ? ", reason " + reasonText(RETURN_REASONS, a.reason || a.return_reason) : "") + (a.return_id ? ", return id <code>" + esc(a.return_id) + "</code>" : ""))]);
    rows.push(["booked", timeMs !== null && timeMs !== undefined ? f("time", esc(utc(timeMs))) + ' <span class="muted">(block time)</span>' : '<span class="muted">-</span>']);
    rows.push(["transaction", txLink(id) + (tx && tx.height ? " in block " + blockLink(tx.height) + " index " + esc(tx.index) : "")]);
    const proof = tx && tx.height ? verifyButton("inclusion and finality", "/v1/proofs/tx/" + id) : "";
    const certCard = b
      ? '<div class="card" id="payment-block"><h2>Block ' + blockLink(b.height) + " and its finality certificate</h2>" + kv([
        ["hash", "<code>" + esc(b.hash) + "</code>"], ["time", esc(time(b.header.timestamp_ms))],
        ["certificate", f("signers", "signed by " + b.certificate.votes.length + " validators: " + b.certificate.votes.map((v) => who(v[0])).join(", "))],
      ]) + "</div>"
      : '<div class="card" id="payment-block"><h2>Block' + (height ? " " + blockLink(height) : "") + " and its finality certificate</h2><p data-f=\"no-block\">" +
        "The block itself is " + NOT_VISIBLE + " (blocks are the validators', regulators' and auditors'). " +
        (tx && tx.height ? "Its header and commit certificate are in the transaction's proof: <b>Verify</b> checks them here, where the node serves this identity a proof." : "") + "</p></div>";
    // the recall and its answers: settlement/recall/<tx id>, as the route answers this identity
    let recallHtml;
    if (isReturn) {
      recallHtml = '<p class="muted">A return is a payment of its own; its recall record is its original payment\'s.</p>';
    } else if (!rr) {
      recallHtml = '<p data-f="no-recall">No recall record: ' + (rec.status === 404 ? NOT_VISIBLE : "none") +
        ' <span class="muted">(the node answers the same 404 for a payment never recalled nor returned and for a record this identity may not read: ' +
        "the payer, the home banks of the payer and of the payee and the supervisors read it; the payee itself only when no bank answers for it)</span></p>";
    } else {
      const r = rr.recall;
      const outstanding = rr.amount - rr.returned;
      const head = kv([
        ["returned", f("returned", payMoney(rr.returned, rr.currency)) + " of " + payMoney(rr.amount, rr.currency) + " in " + f("returns", esc(rr.returns)) + " return(s) (pacs.004); outstanding " + payMoney(outstanding, rr.currency)],
        ["recalls", f("recalls", esc(rr.recalls)) + (rr.recalls > 1n ? ' <span class="muted">(the ledger keeps the latest standing: decision 155)</span>' : "")],
      ]);
      let rc = "";
      if (r) {
        const ans = r.answer;
        const rrows = [
          ["recall id", txLink(String(r.recall_id))],
          ["by", f("recall-by", account(r.by))],
          ["reason", f("recall-reason", reasonText(RECALL_REASONS, r.reason))],
          ["when", esc(utc(r.time_ms)) + " at height " + blockLink(r.height)],
          ["status", f("recall-status", statusPill(String(r.status)))],
        ];
        if (r.info) rrows.push(["information", f("recall-info", esc(r.info))]);
        if (r.case_id) rrows.push(["case id", "<code>" + esc(r.case_id) + "</code>"]);
        rrows.push(["payee told", f("payee-informed", r.payee_informed ? "yes" : "no: a fraud recall of a payment to a customer with a home bank is that bank's to handle (no tipping off, decision 155)")]);
        if (ans) {
          const returned = has(ans, "amount");
          rrows.push([returned ? "answered by a return (pacs.004)" : "answered no (camt.029)",
            f("answer", (returned ? "return " + paymentLink(String(ans.tx_id)) + " of " + payMoney(ans.amount, rr.currency) + ", reason " + reasonText(RETURN_REASONS, ans.reason)
              : "rejected, reason " + reasonText(REJECT_REASONS, ans.reason) + (ans.info ? ": " + esc(ans.info) : "") + " (" + txLink(String(ans.tx_id), true) + ")") +
              " by " + account(ans.by) + " " + esc(utc(ans.time_ms)) + " at height " + blockLink(ans.height))]);
        }
        rc = '<div class="rec" data-rec="recall"><div class="rechead"><b>recall (camt.056)</b> ' + statusPill(String(r.status)) + "</div>" + kv(rrows) + "</div>";
      } else {
        rc = '<p class="muted" data-f="no-recall">Never recalled; returned without a recall.</p>';
      }
      recallHtml = head + rc + presentVerify("settlement", "recall/" + id, "the recall record", rr);
    }
    // FATF R.16 (decision 222): the originator's and the beneficiary's data, as GET /v1/tx gives
    // them to the transfer's two banks and the supervisors (`travel`); the walkthrough of decision 226
    const travelCard = '<div class="card" id="payment-travel"><h2>Originator and beneficiary (travel rule, FATF R.16)</h2>' +
      (tx && Array.isArray(tx.travel) && tx.travel.length ? tx.travel.map((t) => travelHtml(t)).join("")
        : '<p class="muted" data-f="no-travel">' + "The transfer's R.16 data is " + NOT_VISIBLE + ": " +
          "the originator's bank, the beneficiary's bank, validators, regulators and auditors read it (<code>travel</code> of <code>GET /v1/tx</code>, docs/risk.md \"The travel rule\").</p>") + "</div>";
    view.innerHTML = '<h1>Payment <code id="payment-id">' + esc(id) + "</code></h1>" +
      '<p class="muted">A settlement transfer as its payer\'s and payee\'s banks see it: what <code>GET /v1/tx</code>, <code>/v1/blocks</code> and ' +
      "<code>/v1/state/settlement/{uetr,recall}/…</code> answer this identity, nothing more.</p>" +
      '<div class="card" id="payment"><h2>' + (isReturn ? "Return" : "Payment") + "</h2>" + kv(rows) + proof + "</div>" +
      certCard +
      (idx ? '<div class="card" id="payment-index"><h2>Payment index <code>settlement/uetr/…</code></h2>' + kv([
        ["booked", esc(utc(idx.time_ms)) + " at height " + blockLink(idx.height)], ["amount", payMoney(idx.amount, idx.currency)], ["payee", account(idx.to)]]) +
        presentVerify("settlement", "uetr/" + p.payer + "/" + p.uetr, "the payment index", idx) + "</div>" : "") +
      '<div class="card" id="payment-recall"><h2>Recall and returns</h2>' + recallHtml + "</div>" + travelCard;
  }

  /** One payment's R.16 data (node/access.py travel_view): the originator's name, account and
   * address, ids or birth data (or an institution's BIC), the beneficiary's name and account. */
  function travelHtml(t) {
    const o = t.originator || {}, b = t.beneficiary || {};
    const ad = o.address, bi = o.birth;
    const rows = [
      ["originator (debtor)", f("travel-originator", esc(o.name) + " <span class=\"muted\">account</span> <code>" + esc(o.account) + "</code>")],
    ];
    if (ad) rows.push(["originator's address", f("travel-address", (ad.lines || []).map(esc).join(", ") + (ad.town ? ", " + esc(ad.town) : "") + ", " + esc(ad.country))]);
    if (o.national_id) rows.push(["national id", f("travel-national-id", "<code>" + esc(o.national_id) + "</code>")]);
    if (o.customer_id) rows.push(["customer id", f("travel-customer-id", "<code>" + esc(o.customer_id) + "</code>")]);
    if (bi) rows.push(["date and place of birth", f("travel-birth", esc(bi.date) + ", " + esc(bi.city) + ", " + esc(bi.country))]);
    if (o.bic) rows.push(["originator's BIC/LEI", f("travel-bic", "<code>" + esc(o.bic) + "</code>")]);
    if (!ad && !o.national_id && !o.customer_id && !bi && !o.bic) {
      rows.push(["address or identifier", f("travel-none", '<span class="muted">none on record (a domestic or small transfer needs none)</span>')]);
    }
    rows.push(["beneficiary (creditor)", f("travel-beneficiary", esc(b.name) + " <span class=\"muted\">account</span> <code>" + esc(b.account) + "</code>")]);
    return '<div class="rec" data-rec="travel">' + kv(rows) + "</div>";
  }

  // ------------------------------------------------------------------ the data subject's credit page
  // #/credit (the loaded identity's), #/credit/<subject>[/<record or bank id>…]: its credit
  // records (metadata only), consents, access report and disputes (decisions 179-180, 186).
  // For the subject and the regulators; anyone else gets one fixed card and nothing is read.

  const CREDIT_LATEST = 200;  // chainfin credit report's default (REPORT_LATEST)
  const CREDIT_PAGE = 64;  // credit_sharing.INDEX_PAGE: ids a page of the subject index holds
  const CREDIT_RECORDS = 256;  // the page reads at most this many records (the index's newest first)
  async function identityIdOf(pk) {
    const r = await readExact("governance", "key/" + pk);
    return r.status === 200 && typeof r.value === "string" ? r.value : pk;
  }
  async function pageCredit(subjectArg, extra) {
    const regs = await readExact("governance", "regulators");  // without an identity: the node's 401
    const me = await identityIdOf(state.identity.publicKey);
    const subject = subjectArg && isKey(subjectArg) ? subjectArg : me;
    const regulator = regs.status === 200 && Array.isArray(regs.value) && regs.value.includes(me);
    if (subject !== me && !regulator) {
      view.innerHTML = '<div class="card notfound" id="credit-none"><h1>A data subject\'s credit page</h1><p>This page is the subject\'s own (its credit records, consents, ' +
        "access report and disputes) and the regulators'. Load the subject's key, or a regulator's.</p></div>";
      return;
    }
    const ask = (k) => readExact("credit_sharing", k);
    // the access report, as chainfin credit report reads it: access/<subject>, then its latest entries
    const head = await ask("access/" + subject);
    const n = head.status === 200 && head.value && typeof head.value.n === "bigint" ? Number(head.value.n) : 0;
    const first = Math.max(1, n - CREDIT_LATEST + 1);
    const entries = [];
    for (let i = first; i <= n; i++) { const e = await ask("access/" + subject + "/" + i); if (e.status === 200) entries.push(e.value); }
    const rows = new Map();
    for (const e of entries) {
      const rid = String(e.request_id);
      if (!rows.has(rid)) rows.set(rid, { request_id: rid, requester: e.requester, publisher: e.publisher, purpose: e.purpose, record_id: e.record_id, asked_ms: e.timestamp_ms, status: e.status, delivered_ms: null });
      if (e.status === "delivered") Object.assign(rows.get(rid), { status: "delivered", delivered_ms: e.timestamp_ms, record_id: e.record_id });
      if (e.status === "notified") rows.get(rid).notified_ms = e.timestamp_ms;  // told of a correction (decision 200, GDPR art. 19)
    }
    // the subject index (decision 192): every record and consented bank since the upgrade,
    // the head's tail and full pages of CREDIT_PAGE ids (the newest CREDIT_RECORDS records)
    const idx = await ask("subj/" + subject);
    const indexed = { records: 0, banks: 0 }, idxRecs = [], idxBanks = [];
    if (idx.status === 200 && idx.value) {
      for (const [kind, count, into] of [["r", "records", idxRecs], ["b", "banks", idxBanks]]) {
        const cnt = typeof idx.value[count] === "bigint" ? Number(idx.value[count]) : 0;
        indexed[count] = cnt;
        const pages = Math.floor(cnt / CREDIT_PAGE);
        const from = kind === "b" ? 1 : Math.max(1, pages - Math.floor(CREDIT_RECORDS / CREDIT_PAGE));
        for (let p = from; p <= pages; p++) {
          const pg = await ask("subj/" + subject + "/" + kind + "/" + p);
          if (pg.status === 200 && pg.value && Array.isArray(pg.value.ids)) into.push(...pg.value.ids);
        }
        if (Array.isArray(idx.value[kind])) into.push(...idx.value[kind]);
      }
    }
    // the records: the index's, those the report names and those given in the address; each version followed
    const recIds = [], banks = new Set(idxBanks);
    const addRec = (r) => { if (isKey(r) && !recIds.includes(r)) recIds.push(r); };
    for (const r of idxRecs.slice(-CREDIT_RECORDS)) addRec(r);
    for (const r of rows.values()) { addRec(r.record_id); banks.add(r.requester); banks.add(r.publisher); }
    for (const x of extra) addRec(x);
    const records = new Map(), disputes = new Map();
    for (let i = 0; i < recIds.length && i < CREDIT_RECORDS; i++) {
      const r = await ask("record/" + recIds[i]);
      if (r.status !== 200 || r.value.subject !== subject) continue;  // not about this subject (or a bank id)
      records.set(recIds[i], r.value);
      banks.add(r.value.publisher);
      addRec(r.value.supersedes); addRec(r.value.superseded_by);
      const d = await ask("dispute/" + recIds[i]);
      if (d.status === 200) disputes.set(recIds[i], d.value);
    }
    // the consents: one key per bank (the genesis' banks, the report's, the records' publishers, ids given)
    for (const i of (nodeGenesis ? nodeGenesis.identities || [] : [])) if (i.role === "bank") banks.add(i.public_key);
    for (const x of extra) if (!records.has(x)) banks.add(x);
    const consents = [];
    for (const bk of [...banks].filter(isKey).sort()) {
      const c = await ask("consent/" + subject + "/" + bk);
      if (c.status === 200) consents.push([bk, c.value]);
    }
    const now = state.status ? BigInt(state.status.timestamp_ms || 0) : 0n;
    await learnNames([subject, ...banks, ...[...records.values()].flatMap((r) => Object.keys(r.sealed || {}))].filter(isKey));
    const recRows = [...records].map(([rid, r]) => {
      const d = disputes.get(rid);
      const to = Object.keys(r.sealed || {}).sort();
      return '<tr class="credit-record" data-record="' + esc(rid) + '"><td><code>' + esc(rid.slice(0, 16)) + "…</code></td><td>" + account(r.publisher) +
        '</td><td><a href="#/block/' + esc(r.height) + '">#' + esc(r.height) + "</a></td><td>" + esc(r.version === undefined ? 1 : r.version) +
        (r.supersedes ? ' <span class="muted">corrects <code>' + esc(String(r.supersedes).slice(0, 12)) + "…</code></span>" : "") +
        (r.superseded_by ? ' <span class="pill">superseded by <code>' + esc(String(r.superseded_by).slice(0, 12)) + "…</code></span>" : "") +
        '</td><td data-f="dispute">' + (d ? statusPill(String(d.status)) : '<span class="muted">none</span>') +
        '</td><td><span class="muted">' + to.length + " sealed copies (" + to.map(account).join(", ") + ")</span>" +
        "</td><td><code>" + esc(String(r.commitment).slice(0, 16)) + "…</code></td><td data-f=\"kept\">" +
        // decision 201: delivered until its retention end (none: published before the upgrade)
        (r.retain_until_ms === undefined || r.retain_until_ms === null ? '<span class="muted">no end (before decision 201)</span>' :
          esc(utc(r.retain_until_ms)) + (now >= BigInt(r.retain_until_ms) ? ' <span class="pill">past retention: not delivered</span>' : "")) + "</td></tr>";
    }).join("");
    const consentRows = consents.map(([bk, c]) => {
      const ended = c.until_ms !== undefined && c.until_ms !== null && now >= BigInt(c.until_ms);
      return '<tr class="credit-consent" data-bank="' + esc(bk) + '"><td>' + account(bk) + '</td><td data-f="purposes">' +
        esc(Array.isArray(c.purposes) ? c.purposes.join(", ") : "any (recorded before decision 179)") + "</td><td>" + esc(utc(c.timestamp_ms)) + "</td><td data-f=\"until\">" +
        (c.until_ms === undefined || c.until_ms === null ? "until revoked" : esc(utc(c.until_ms)) + (ended ? ' <span class="pill">ended</span>' : "")) +
        '</td><td data-f="publisher">' + (c.publisher ? account(c.publisher) + " only" : "every publisher") + "</td></tr>";
    }).join("");
    const reportRows = [...rows.values()].map((r) => '<tr class="credit-access" data-request="' + esc(r.request_id) + '"><td>' + account(r.requester) + "</td><td>" +
      esc(utc(r.asked_ms)) + '</td><td data-f="purpose">' + esc(r.purpose === null || r.purpose === undefined ? "not stated" : r.purpose) + "</td><td>" +
      (isKey(r.record_id) ? "<code>" + esc(r.record_id.slice(0, 16)) + "…</code>" : "") + "</td><td>" + (isKey(r.publisher) ? account(r.publisher) : "") +
      '</td><td data-f="outcome">' + statusPill(String(r.status)) + (r.delivered_ms !== null ? " " + esc(utc(r.delivered_ms)) : "") +
      (r.notified_ms !== undefined ? ' <span class="pill" data-f="notified">told of the correction ' + esc(utc(r.notified_ms)) + "</span>" : "") + "</td></tr>").join("");
    const disputeCards = [...disputes].map(([rid, d]) => '<div class="rec credit-dispute" data-record="' + esc(rid) + '"><div class="rechead"><b>dispute of <code>' +
      esc(rid.slice(0, 16)) + "…</code></b> " + statusPill(String(d.status)) + "</div>" + kv([
      ["reason (in clear: shown to later requesters)", f("dispute-reason", esc(d.reason))],
      ["opened", esc(utc(d.opened_ms)) + " at height " + blockLink(d.opened_height) + " (dispute " + esc(d.count) + ")"],
    ].concat(d.answer ? [["publisher's answer", f("dispute-answer", esc(typeof d.answer === "string" ? d.answer : toJsonText(d.answer)))]] : [])
      .concat(d.correction ? [["corrected by", "<code>" + esc(d.correction) + "</code>"]] : [])
      .concat(d.closed_ms !== null && d.closed_ms !== undefined ? [["closed", esc(utc(d.closed_ms)) + " at height " + blockLink(d.closed_height)]] : [])) + "</div>").join("");
    const table = (id, cols, body, none) => body ? '<table class="list" id="' + id + '"><thead><tr>' + cols.map((c) => "<th>" + esc(c) + "</th>").join("") + "</tr></thead>" + body + "</table>"
      : '<p class="muted" id="' + id + '-none">' + esc(none) + "</p>";
    view.innerHTML = '<h1>Credit data of ' + account(subject) + "</h1>" +
      '<p class="muted">What the <code>credit_sharing</code> state keys answer this identity (' + (subject === me ? "the subject" : "a regulator") +
      "): record metadata only (the records are sealed; open a delivery with its key), consents, the access report (GDPR art. 15) and disputes. " +
      '<span id="credit-indexed">The subject index (decision 192) holds ' + indexed.records + " records and " + indexed.banks + " consented banks; " +
      "a record or consent from before it is in no index: the page also reads the records the access report names and those in the address " +
      "(<code>#/credit/&lt;subject&gt;/&lt;record id&gt;</code>), and a consent per bank it knows (the genesis' banks, the report's, the records' publishers).</span></p>" +
      '<div class="card" id="credit-records"><h2>Credit records (' + records.size + ")</h2>" + table("credit-records-list", ["record", "publisher", "published", "version", "dispute", "sealed to", "commitment", "delivered until"], recRows, "none found") + "</div>" +
      '<div class="card" id="credit-consents"><h2>Consents (' + consents.length + ")</h2>" + table("credit-consents-list", ["bank", "purposes", "granted", "ends", "publisher limit"], consentRows, "none found") + "</div>" +
      '<div class="card" id="credit-report"><h2>Access report (' + rows.size + " requests, " + n + " entries" + (first > 1 ? ", the latest " + CREDIT_LATEST : "") + ")</h2>" +
      table("credit-report-list", ["requested by", "when", "purpose", "record", "publisher", "delivered / refused"], reportRows, "no request for this subject's records") + "</div>" +
      '<div class="card" id="credit-disputes"><h2>Disputes (' + disputes.size + ")</h2>" + (disputeCards || '<p class="muted" id="credit-disputes-none">none</p>') + "</div>";
    state.lastCredit = { subject, indexed, records: [...records.keys()], consents: consents.map((c) => c[0]), requests: [...rows.values()].map((r) => [r.request_id, r.status]), disputes: [...disputes.keys()] };
  }

  async function search(q) {
    q = q.trim();
    if (!q) return;
    if (/^[0-9]{1,19}$/.test(q)) { location.hash = "#/block/" + q; return; }
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(q.toLowerCase()) && state.identity) {  // a UETR: this identity's payment
      location.hash = "#/payment/" + (await identityIdOf(state.identity.publicKey)) + "/" + q.toLowerCase(); return;
    }
    if (/^[0-9a-fA-F]{64}-[0-9]{1,6}$/.test(q)) { location.hash = "#/alert/" + q.toLowerCase(); return; }  // <tx id>-<n>
    if (/^[0-9a-fA-F]{64}$/.test(q)) {
      const id = q.toLowerCase();
      const [{ status }, gtee] = await Promise.all([api("/v1/tx/" + id), api("/v1/state/trade_documents/gtee/" + id)]);
      // a guarantee's id is its issue transaction's: its page, for whoever reads the guarantee
      if (gtee.status === 200) { location.hash = "#/guarantee/" + id; return; }
      if (status === 200) { location.hash = "#/tx/" + id; return; }
      // trade, document and LC ids are 32-byte hex too: any trade_documents key for it?
      const p = await firstDocKey(id);
      if (p !== null) { location.hash = (p === "trade/" ? "#/trade/" : "#/doc/") + id; return; }
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
    alertsShown = null;
    try {
      if (page === "block") await pageBlock(rest[0]);
      else if (page === "tx") await pageTx(rest[0]);
      else if (page === "account") await pageAccount(rest[0]);
      else if (page === "trade") await pageTrade(decodeURIComponent(rest[0] || ""));
      else if (page === "doc") await pageDoc(decodeURIComponent(rest.join("/")));
      else if (page === "state") await pageState(rest[0], decodeURIComponent(rest.slice(1).join("/")));
      else if (page === "alerts") await pageAlerts(rest[0] === "after" && /^-?[0-9]{1,18}(\.-?[0-9]{1,18})?$/.test(rest[1] || "") ? rest[1] : undefined);
      else if (page === "alert") await pageAlert(decodeURIComponent(rest.join("/")));
      else if (page === "payment") await (rest.length > 1 ? pagePaymentByUetr(rest[0], decodeURIComponent(rest[1])) : pagePayment(rest[0]));
      else if (page === "guarantee") await pageGuarantee(decodeURIComponent(rest[0] || ""));
      else if (page === "credit") await pageCredit(rest[0], rest.slice(1).filter(isKey));
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
      try { tickAlerts(st); } catch (e) { /* the ages wait for the next poll */ }  // at the tip's block time
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
    if (alertsChangedBy(d)) refreshAlerts(d.height);  // the alert pages, from the same stream (not awaited: the stream reads on)
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
