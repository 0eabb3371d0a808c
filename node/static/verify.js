/* chainfin proof verifier for the browser: a faithful port of chainfin/proofs.py.
 *
 * Same document format, same checks in the same order, same messages: a document that
 * `chainfin verify` accepts is accepted here and one it rejects is rejected here with the
 * same reason (the text after "malformed frame:" for undecodable msgpack is this decoder's own).
 * Hashing is WebCrypto SHA-256 and signatures are WebCrypto Ed25519; nothing is trusted from
 * the node but the bytes of the proof and the genesis the user pinned.
 *
 * Value model (mirrors Python's types, which the verifier's `_same` compares exactly):
 *   null, boolean, int (Number when safe, else BigInt), PyFloat (JSON numbers with '.', 'e'),
 *   string, Uint8Array (msgpack bin), Array, Map (objects; insertion order kept).
 */
(function (root) {
  "use strict";

  const TX_PROOF = "chainfin/tx-proof";
  const STATE_PROOF = "chainfin/state-proof";
  const VERSION = 1;
  const U64 = (1n << 64n) - 1n;
  const MAX_PATH = 64;
  const MAX_CHANGES = 1000000;
  const MAX_NAME = 64;
  const MAX_KEY = 8192;
  const SMT_MAX_DEPTH = 256;
  const MAX_TX_BYTES = 64 * 1024;
  const HEADER_FIELDS = ["chain_id", "height", "view", "prev_hash", "tx_root", "state_root",
    "validators_hash", "next_validators_hash", "timestamp_ms", "proposer", "tx_count"];
  const HEADER_HASHES = ["prev_hash", "tx_root", "state_root", "validators_hash",
    "next_validators_hash", "proposer"];
  const TX_FIELDS = ["chain_id", "sender", "nonce", "contract", "method", "args"];
  const RECEIPT_FIELDS = ["receipt", "receipt_encoding", "receipt_path"];
  // the outcome line of an inclusion-only proof (proofs.NOT_PROVEN)
  const NOT_PROVEN = "not proven (this proof carries no receipt: ask the sender's bank or a " +
    "supervisor for the full proof)";
  const RECEIPT_JSON = ["tx_id", "sender", "nonce", "index", "status", "error", "result", "events"];

  class ProofError extends Error {}
  class CodecError extends Error {}
  class PyFloat { constructor(v) { this.v = v; } }

  const enc = new TextEncoder();
  const utf8 = (s) => enc.encode(s);

  // ------------------------------------------------------------------ small helpers

  function isInt(v) {
    return (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint";
  }
  function normInt(b) {  // BigInt -> Number when safe
    return (b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER))
      ? Number(b) : b;
  }
  const big = (v) => BigInt(v);
  function pyLen(s) { let n = 0; for (const _ of s) n++; return n; }  // code points
  function hex(b) {
    let s = "";
    for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
    return s;
  }
  function concat(...parts) {
    let n = 0; for (const p of parts) n += p.length;
    const out = new Uint8Array(n); let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
  function bytesEq(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  function bytesCmp(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  }
  function cpCmp(a, b) {  // Python's str order (code points) == UTF-8 byte order
    return bytesCmp(utf8(a), utf8(b));
  }
  function bytesToBig(b) { let x = 0n; for (const v of b) x = (x << 8n) | BigInt(v); return x; }
  function popcount(x) { let n = 0; while (x) { n += Number(x & 1n); x >>= 1n; } return n; }

  /** Python's repr() of a JSON-ish value, for messages that quote one. */
  function pyRepr(v) {
    if (v === null || v === undefined) return "None";
    if (v === true) return "True";
    if (v === false) return "False";
    if (typeof v === "number" || typeof v === "bigint") return String(v);
    if (v instanceof PyFloat) return pyFloatStr(v.v);
    if (typeof v === "string") {
      const q = v.includes("'") && !v.includes('"') ? '"' : "'";
      let s = q;
      for (const ch of v) {
        const c = ch.codePointAt(0);
        if (ch === "\\") s += "\\\\";
        else if (ch === q) s += "\\" + q;
        else if (ch === "\n") s += "\\n";
        else if (ch === "\r") s += "\\r";
        else if (ch === "\t") s += "\\t";
        else if (c < 0x20 || c === 0x7f) s += "\\x" + c.toString(16).padStart(2, "0");
        else s += ch;
      }
      return s + q;
    }
    if (Array.isArray(v)) return "[" + v.map(pyRepr).join(", ") + "]";
    if (v instanceof Map) {
      return "{" + [...v].map(([k, x]) => pyRepr(k) + ": " + pyRepr(x)).join(", ") + "}";
    }
    return String(v);
  }
  function pyFloatStr(x) {
    if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
    return String(x);
  }

  // ------------------------------------------------------------------ strict JSON (parse_document)

  /** json.loads with duplicate fields and NaN/Infinity refused; ints kept apart from floats. */
  function parseDocument(text) {
    if (text instanceof Uint8Array || text instanceof ArrayBuffer) {
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(text);
      } catch (e) {
        throw new ProofError("the proof is not valid JSON: not UTF-8");
      }
    }
    let i = 0;
    const s = text;
    const bad = (msg) => new ProofError("the proof is not valid JSON: " + msg + " (char " + i + ")");
    const ws = () => { while (i < s.length && " \t\n\r".includes(s[i])) i++; };
    function value(depth) {
      if (depth > 900) throw bad("nested too deep");
      ws();
      const c = s[i];
      if (c === "{") {
        i++; const m = new Map(); ws();
        if (s[i] === "}") { i++; return m; }
        for (;;) {
          ws();
          if (s[i] !== '"') throw bad("expecting property name enclosed in double quotes");
          const k = str();
          ws();
          if (s[i] !== ":") throw bad("expecting ':' delimiter");
          i++;
          const v = value(depth + 1);
          if (m.has(k)) throw new ProofError("the document repeats the field " + pyRepr(k));
          m.set(k, v);
          ws();
          if (s[i] === ",") { i++; continue; }
          if (s[i] === "}") { i++; return m; }
          throw bad("expecting ',' delimiter");
        }
      }
      if (c === "[") {
        i++; const a = []; ws();
        if (s[i] === "]") { i++; return a; }
        for (;;) {
          a.push(value(depth + 1));
          ws();
          if (s[i] === ",") { i++; continue; }
          if (s[i] === "]") { i++; return a; }
          throw bad("expecting ',' delimiter");
        }
      }
      if (c === '"') return str();
      if (s.startsWith("true", i)) { i += 4; return true; }
      if (s.startsWith("false", i)) { i += 5; return false; }
      if (s.startsWith("null", i)) { i += 4; return null; }
      for (const name of ["NaN", "Infinity", "-Infinity"]) {
        if (s.startsWith(name, i)) {
          throw new ProofError("the document holds the non-JSON number " + name);
        }
      }
      const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(s.slice(i, i + 4096));
      if (!m) throw bad("expecting value");
      i += m[0].length;
      if (m[2] || m[3]) return new PyFloat(Number(m[0]));
      return normInt(BigInt(m[0]));
    }
    function str() {
      const start = i;
      i++;
      for (;;) {
        if (i >= s.length) throw bad("unterminated string");
        const c = s.charCodeAt(i);
        if (c === 0x22) break;
        if (c < 0x20) throw bad("invalid control character");
        if (c === 0x5c) i += 2; else i++;
      }
      i++;
      try {
        return JSON.parse(s.slice(start, i));
      } catch (e) {
        throw bad("invalid string escape");
      }
    }
    const v = value(0);
    ws();
    if (i !== s.length) throw bad("extra data");
    return v;
  }

  // ------------------------------------------------------------------ canonical msgpack

  const MAX_FRAME = 4 * 1024 * 1024, MAX_DEPTH = 32, MAX_STR = 1024 * 1024, MAX_BIN = 2 * 1024 * 1024;
  const MAX_ARRAY = 100000, MAX_MAP = 10000;

  /** codec.encode: canonical msgpack (sorted map keys, smallest int forms). */
  function encode(value) {
    const out = [];
    const push = (...b) => { for (const x of b) out.push(x); };
    const pushBytes = (b) => { for (const x of b) out.push(x); };
    const be = (x, n) => { const r = []; for (let k = n - 1; k >= 0; k--) r.push(Number((x >> BigInt(8 * k)) & 0xffn)); return r; };
    function w(v, depth) {
      if (depth > MAX_DEPTH) throw new CodecError("value nested deeper than " + MAX_DEPTH);
      if (v === null || v === undefined) return push(0xc0);
      if (v === false) return push(0xc2);
      if (v === true) return push(0xc3);
      if (isInt(v)) {
        const x = big(v);
        if (x < -(1n << 63n) || x > U64) throw new CodecError("integer out of the 64-bit range: " + x);
        if (x >= 0n) {
          if (x < 128n) return push(Number(x));
          if (x < 256n) return push(0xcc, Number(x));
          if (x < 65536n) return push(0xcd, ...be(x, 2));
          if (x < 4294967296n) return push(0xce, ...be(x, 4));
          return push(0xcf, ...be(x, 8));
        }
        if (x >= -32n) return push(Number(x) & 0xff);
        if (x >= -128n) return push(0xd0, Number(x) & 0xff);
        if (x >= -32768n) return push(0xd1, ...be(x & 0xffffn, 2));
        if (x >= -2147483648n) return push(0xd2, ...be(x & 0xffffffffn, 4));
        return push(0xd3, ...be(x & 0xffffffffffffffffn, 8));
      }
      if (v instanceof PyFloat) throw new CodecError("floats are not allowed in canonical encoding (use integer minor units)");
      if (typeof v === "string") {
        const b = utf8(v), n = b.length;
        if (n < 32) push(0xa0 | n);
        else if (n < 256) push(0xd9, n);
        else if (n < 65536) push(0xda, ...be(big(n), 2));
        else push(0xdb, ...be(big(n), 4));
        return pushBytes(b);
      }
      if (v instanceof Uint8Array) {
        const n = v.length;
        if (n < 256) push(0xc4, n);
        else if (n < 65536) push(0xc5, ...be(big(n), 2));
        else push(0xc6, ...be(big(n), 4));
        return pushBytes(v);
      }
      if (Array.isArray(v)) {
        const n = v.length;
        if (n && depth >= MAX_DEPTH) throw new CodecError("value nested deeper than " + MAX_DEPTH);
        if (n < 16) push(0x90 | n);
        else if (n < 65536) push(0xdc, ...be(big(n), 2));
        else push(0xdd, ...be(big(n), 4));
        for (const x of v) w(x, depth + 1);
        return;
      }
      if (v instanceof Map) {
        const keys = [...v.keys()];
        if (keys.length && depth >= MAX_DEPTH) throw new CodecError("value nested deeper than " + MAX_DEPTH);
        for (const k of keys) if (typeof k !== "string") throw new CodecError("map keys must all be strings");
        keys.sort(cpCmp);
        const n = keys.length;
        if (n < 16) push(0x80 | n);
        else if (n < 65536) push(0xde, ...be(big(n), 2));
        else push(0xdf, ...be(big(n), 4));
        for (const k of keys) { w(k, depth + 1); w(v.get(k), depth + 1); }
        return;
      }
      throw new CodecError("cannot encode a value of type " + typeof v);
    }
    w(value, 0);
    return new Uint8Array(out);
  }

  /** codec.decode(data, canonical=...) */
  function decode(data, canonical) {
    if (data.length > MAX_FRAME) throw new CodecError("frame of " + data.length + " bytes exceeds the limit of " + MAX_FRAME);
    let p = 0;
    const fail = (m) => new CodecError("malformed frame: " + m);
    const need = (n) => { if (p + n > data.length) throw fail("truncated frame"); };
    const uint = (n) => { need(n); let x = 0n; for (let k = 0; k < n; k++) x = (x << 8n) | BigInt(data[p++]); return x; };
    const sint = (n) => { const x = uint(n); const bits = BigInt(8 * n); return x >= (1n << (bits - 1n)) ? x - (1n << bits) : x; };
    const td = new TextDecoder("utf-8", { fatal: true });
    function strOf(n) {
      if (n > MAX_STR) throw fail("str length exceeds max_str_len");
      need(n);
      const b = data.subarray(p, p + n); p += n;
      try { return td.decode(b); } catch (e) { throw fail("invalid UTF-8 in a string"); }
    }
    function binOf(n) {
      if (n > MAX_BIN) throw fail("bin length exceeds max_bin_len");
      need(n);
      const b = data.slice(p, p + n); p += n; return b;
    }
    function arrOf(n, d) {
      if (n > MAX_ARRAY) throw fail("array length exceeds max_array_len");
      const a = []; for (let k = 0; k < n; k++) a.push(r(d + 1)); return a;
    }
    function mapOf(n, d) {
      if (n > MAX_MAP) throw fail("map length exceeds max_map_len");
      const m = new Map();
      for (let k = 0; k < n; k++) {
        const key = r(d + 1);
        if (typeof key !== "string" && !(key instanceof Uint8Array)) throw fail("map key must be str or bytes");
        const v = r(d + 1);
        m.delete(key); m.set(key, v);  // a repeated key keeps its last value
      }
      return m;
    }
    function r(d) {
      if (d > 1000) throw fail("nested too deep");
      need(1);
      const t = data[p++];
      if (t <= 0x7f) return t;
      if (t >= 0xe0) return t - 256;
      if ((t & 0xe0) === 0xa0) return strOf(t & 0x1f);
      if ((t & 0xf0) === 0x90) return arrOf(t & 0x0f, d);
      if ((t & 0xf0) === 0x80) return mapOf(t & 0x0f, d);
      switch (t) {
        case 0xc0: return null;
        case 0xc2: return false;
        case 0xc3: return true;
        case 0xc4: return binOf(Number(uint(1)));
        case 0xc5: return binOf(Number(uint(2)));
        case 0xc6: return binOf(Number(uint(4)));
        case 0xca: { need(4); const v = new DataView(data.buffer, data.byteOffset + p, 4).getFloat32(0); p += 4; return new PyFloat(v); }
        case 0xcb: { need(8); const v = new DataView(data.buffer, data.byteOffset + p, 8).getFloat64(0); p += 8; return new PyFloat(v); }
        case 0xcc: return normInt(uint(1));
        case 0xcd: return normInt(uint(2));
        case 0xce: return normInt(uint(4));
        case 0xcf: return normInt(uint(8));
        case 0xd0: return normInt(sint(1));
        case 0xd1: return normInt(sint(2));
        case 0xd2: return normInt(sint(4));
        case 0xd3: return normInt(sint(8));
        case 0xd9: return strOf(Number(uint(1)));
        case 0xda: return strOf(Number(uint(2)));
        case 0xdb: return strOf(Number(uint(4)));
        case 0xdc: return arrOf(Number(uint(2)), d);
        case 0xdd: return arrOf(Number(uint(4)), d);
        case 0xde: return mapOf(Number(uint(2)), d);
        case 0xdf: return mapOf(Number(uint(4)), d);
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: case 0xc7: case 0xc8: case 0xc9:
          throw new CodecError("msgpack extension type is not allowed");
        default: throw fail("unknown type byte 0x" + t.toString(16));
      }
    }
    const value = r(0);
    if (p !== data.length) throw fail("ExtraData");
    (function check(v, depth) {
      if (depth > MAX_DEPTH) throw new CodecError("frame nested deeper than " + MAX_DEPTH);
      if (v instanceof Map) {
        for (const [k, x] of v) {
          if (typeof k !== "string") throw new CodecError("map key must be a string");
          check(x, depth + 1);
        }
      } else if (Array.isArray(v)) {
        for (const x of v) check(x, depth + 1);
      } else if (v instanceof PyFloat) {
        throw new CodecError("floats are not allowed");
      }
    })(value, 0);
    if (canonical && !bytesEq(encode(value), data)) throw new CodecError("frame is not in canonical form");
    return value;
  }

  /** codec.to_json: bytes as lowercase hex. */
  function toJson(v) {
    if (v instanceof Uint8Array) return hex(v);
    if (v instanceof Map) { const m = new Map(); for (const [k, x] of v) m.set(k, toJson(x)); return m; }
    if (Array.isArray(v)) return v.map(toJson);
    return v;
  }

  /** proofs._same: equality that tells True from 1 and 1 from 1.0. */
  function same(a, b) {
    const ty = (x) => x === null ? "none" : typeof x === "boolean" ? "bool" : isInt(x) ? "int"
      : x instanceof PyFloat ? "float" : typeof x === "string" ? "str" : Array.isArray(x) ? "list"
      : x instanceof Map ? "dict" : x instanceof Uint8Array ? "bytes" : "other";
    const ta = ty(a);
    if (ta !== ty(b)) return false;
    if (ta === "dict") {
      if (a.size !== b.size) return false;
      for (const [k, x] of a) { if (!b.has(k) || !same(x, b.get(k))) return false; }
      return true;
    }
    if (ta === "list") return a.length === b.length && a.every((x, k) => same(x, b[k]));
    if (ta === "int") return big(a) === big(b);
    if (ta === "float") return a.v === b.v;
    if (ta === "bytes") return bytesEq(a, b);
    return a === b;
  }

  /** json.dumps(v, sort_keys=True) as Python prints it (ensure_ascii, ", " and ": "). */
  function pyJsonDumps(v) {
    if (v === null) return "null";
    if (v === true) return "true";
    if (v === false) return "false";
    if (isInt(v)) return String(v);
    if (v instanceof PyFloat) return pyFloatStr(v.v);
    if (typeof v === "string") {
      let s = '"';
      for (let k = 0; k < v.length; k++) {
        const c = v.charCodeAt(k), ch = v[k];
        if (ch === '"') s += '\\"';
        else if (ch === "\\") s += "\\\\";
        else if (ch === "\n") s += "\\n";
        else if (ch === "\r") s += "\\r";
        else if (ch === "\t") s += "\\t";
        else if (ch === "\b") s += "\\b";
        else if (ch === "\f") s += "\\f";
        else if (c < 0x20 || c > 0x7e) s += "\\u" + c.toString(16).padStart(4, "0");
        else s += ch;
      }
      return s + '"';
    }
    if (Array.isArray(v)) return "[" + v.map(pyJsonDumps).join(", ") + "]";
    if (v instanceof Map) {
      const keys = [...v.keys()].sort(cpCmp);
      return "{" + keys.map((k) => pyJsonDumps(k) + ": " + pyJsonDumps(v.get(k))).join(", ") + "}";
    }
    return String(v);
  }

  // ------------------------------------------------------------------ crypto

  const subtle = () => {
    if (!root.crypto || !root.crypto.subtle) {
      throw new ProofError("this browser gives no WebCrypto here (crypto.subtle needs https or localhost)");
    }
    return root.crypto.subtle;
  };
  async function sha256(b) { return new Uint8Array(await subtle().digest("SHA-256", b)); }
  const hashValue = async (v) => sha256(encode(v));
  const PREFIX = utf8("chainfin/1/");
  /** crypto.verify without raising: true when the Ed25519 signature verifies for domain. */
  async function edVerify(pk, domain, msg, sig) {
    if (pk.length !== 32 || sig.length !== 64) return false;
    const tagged = concat(PREFIX, utf8(domain), new Uint8Array([0]), msg);
    try {
      const key = await subtle().importKey("raw", pk, { name: "Ed25519" }, false, ["verify"]);
      return await subtle().verify({ name: "Ed25519" }, key, sig, tagged);
    } catch (e) {
      if (e instanceof ProofError) throw e;
      if (e && e.name === "NotSupportedError") {
        throw new ProofError("this browser's WebCrypto has no Ed25519: cannot check signatures");
      }
      return false;  // a malformed key is a signature that does not verify
    }
  }

  // ------------------------------------------------------------------ merkle / smt

  async function rootFromInclusion(leafHash, index, treeSize, proof) {
    index = big(index); treeSize = big(treeSize);
    if (!(index >= 0n && index < treeSize)) return null;
    let fn = index, sn = treeSize - 1n, r = leafHash;
    for (const p of proof) {
      if (p.length !== 32 || sn === 0n) return null;
      if ((fn & 1n) || fn === sn) {
        r = await sha256(concat([1], p, r));
        if (!(fn & 1n)) { while (fn && !(fn & 1n)) { fn >>= 1n; sn >>= 1n; } }
      } else {
        r = await sha256(concat([1], r, p));
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) return null;
    return r;
  }
  async function merkleVerifyInclusion(leafData, index, size, path, rootHash) {
    const lh = await sha256(concat([0], leafData));
    const got = await rootFromInclusion(lh, index, size, path);
    return got !== null && rootHash.length === 32 && bytesEq(got, rootHash);
  }

  const EMPTY = new Uint8Array(32);
  async function smtVerify(rootHash, key, value, proof) {
    const { depth, bitmap, siblings: sibs, leaf } = proof;
    if (!(depth >= 0 && depth <= SMT_MAX_DEPTH)) return false;
    if (bitmap.length !== Math.floor((depth + 7) / 8)) return false;
    let bits = bitmap.length ? bytesToBig(bitmap) : 0n;
    const pad = BigInt(bitmap.length * 8 - depth);
    if (bits & ((1n << pad) - 1n)) return false;
    if (popcount(bits) !== sibs.length) return false;
    for (const s of sibs) if (s.length !== 32 || bytesEq(s, EMPTY)) return false;
    const kh = await sha256(key);
    const k = bytesToBig(kh);
    let node;
    if (value !== null) {
      if (leaf !== null) return false;
      node = await sha256(concat([2], kh, await sha256(value)));
    } else if (leaf === null) {
      node = EMPTY;
    } else {
      const [okh, ovh] = leaf;
      if (bytesEq(okh, kh)) return false;
      if (depth && ((bytesToBig(okh) ^ k) >> BigInt(256 - depth))) return false;
      node = await sha256(concat([2], okh, ovh));
    }
    bits >>= pad;
    let i = sibs.length;
    const D = BigInt(depth);
    for (let d = depth - 1; d >= 0; d--) {
      let s;
      if ((bits >> (D - 1n - BigInt(d))) & 1n) { i -= 1; s = sibs[i]; } else s = EMPTY;
      if ((k >> BigInt(255 - d)) & 1n) node = await sha256(concat([3], s, node));
      else node = await sha256(concat([3], node, s));
    }
    return bytesEq(node, rootHash);
  }

  // ------------------------------------------------------------------ strict parsing

  const fail = (msg) => new ProofError(msg);
  const isDict = (v) => v instanceof Map;

  function obj(v, where, fields, optional = []) {
    if (!isDict(v)) throw fail(where + " must be an object");
    const missing = fields.filter((f) => !v.has(f));
    if (missing.length) throw fail(where + " is missing " + missing.join(", "));
    const extra = [...v.keys()].filter((k) => !fields.includes(k) && !optional.includes(k)).sort(cpCmp);
    if (extra.length) throw fail(where + " has unknown field(s) " + extra.map(pyRepr).join(", "));
    return v;
  }
  function int_(v, where, hi = U64) {
    if (!isInt(v) || !(big(v) >= 0n && big(v) <= big(hi))) {
      throw fail(where + " must be an integer in [0, " + hi + "]");
    }
    return v;
  }
  function str_(v, where, maxlen = MAX_NAME) {
    if (typeof v !== "string" || !(pyLen(v) > 0 && pyLen(v) <= maxlen)) {
      throw fail(where + " must be a non-empty string of at most " + maxlen + " characters");
    }
    return v;
  }
  /** bytes.fromhex (whitespace allowed between bytes), or null when it would raise. */
  function pyFromHex(s) {
    const out = [];
    let i = 0;
    const isHex = (c) => /^[0-9a-fA-F]$/.test(c);
    while (i < s.length) {
      if (" \t\n\r\f\v".includes(s[i])) { i++; continue; }
      if (i + 1 >= s.length || !isHex(s[i]) || !isHex(s[i + 1])) return null;
      out.push(parseInt(s.slice(i, i + 2), 16));
      i += 2;
    }
    return new Uint8Array(out);
  }
  function hex_(v, where, size = null) {
    if (typeof v !== "string") throw fail(where + " must be a hex string");
    const b = pyFromHex(v);
    if (b === null) throw fail(where + " is not hex");
    if (hex(b) !== v) throw fail(where + " is not lowercase hex without separators");
    if (size !== null && b.length !== size) throw fail(where + " must be " + size + " bytes, not " + b.length);
    return b;
  }
  function list_(v, where, maxlen) {
    if (!Array.isArray(v) || v.length > maxlen) throw fail(where + " must be a list of at most " + maxlen + " items");
    return v;
  }

  function parseHeader(v, where) {
    const d = obj(v, where, HEADER_FIELDS, ["receipts_root"]);
    const h = {};
    for (const k of HEADER_HASHES) h[k] = hex_(d.get(k), where + "." + k, 32);
    h.receipts_root = d.has("receipts_root") ? hex_(d.get("receipts_root"), where + ".receipts_root", 32) : null;
    h.chain_id = str_(d.get("chain_id"), where + ".chain_id");
    h.height = big(int_(d.get("height"), where + ".height"));
    h.view = big(int_(d.get("view"), where + ".view"));
    h.timestamp_ms = big(int_(d.get("timestamp_ms"), where + ".timestamp_ms"));
    h.tx_count = big(int_(d.get("tx_count"), where + ".tx_count"));
    return h;
  }
  /** BlockHeader.hash(): SHA-256 of the canonical encoding of to_wire(). */
  function headerHash(h) {
    const m = new Map();
    for (const k of HEADER_FIELDS) m.set(k, typeof h[k] === "bigint" ? normInt(h[k]) : h[k]);
    if (h.receipts_root !== null) m.set("receipts_root", h.receipts_root);  // ledger format 2
    return hashValue(m);
  }
  function parseCert(v, where) {
    const d = obj(v, where, ["chain_id", "height", "view", "block_hash", "votes"]);
    const votes = [];
    list_(d.get("votes"), where + ".votes", 10000).forEach((pair, i) => {
      const w = where + ".votes[" + i + "]";
      if (!Array.isArray(pair) || pair.length !== 2) throw fail(w + " must be a [validator, signature] pair");
      const vote = { validator: hex_(pair[0], w + "[0]", 32), signature: hex_(pair[1], w + "[1]", 64) };
      if (votes.length && bytesCmp(vote.validator, votes[votes.length - 1].validator) <= 0) {
        throw fail(where + ".votes must be sorted by validator key, each key once (vote " + i + " repeats or is out of order)");
      }
      votes.push(vote);
    });
    return {
      chain_id: str_(d.get("chain_id"), where + ".chain_id"),
      height: big(int_(d.get("height"), where + ".height")),
      view: big(int_(d.get("view"), where + ".view")),
      block_hash: hex_(d.get("block_hash"), where + ".block_hash", 32),
      votes,
    };
  }
  async function makeSet(keys) {  // ValidatorSet: sorted, distinct; hash of the member list
    const uniq = [];
    for (const k of [...keys].sort(bytesCmp)) if (!uniq.length || !bytesEq(uniq[uniq.length - 1], k)) uniq.push(k);
    return { members: uniq, n: uniq.length, hash: await hashValue(uniq),
      has: (k) => uniq.some((m) => bytesEq(m, k)) };
  }
  function parseMembers(v, where) {
    const keys = list_(v, where, 10000).map((k, i) => hex_(k, where + "[" + i + "]", 32));
    if (!keys.length) throw fail(where + " is empty");
    for (let i = 0; i + 1 < keys.length; i++) {
      if (bytesCmp(keys[i], keys[i + 1]) >= 0) throw fail(where + " must be sorted, each key once");
    }
    return keys;
  }
  function parseSmtProof(v, where) {
    const d = obj(v, where, ["depth", "bitmap", "siblings", "leaf"]);
    const depth = Number(int_(d.get("depth"), where + ".depth", SMT_MAX_DEPTH));
    const bitmap = hex_(d.get("bitmap"), where + ".bitmap", Math.floor((depth + 7) / 8));
    const siblings = list_(d.get("siblings"), where + ".siblings", SMT_MAX_DEPTH)
      .map((s, i) => hex_(s, where + ".siblings[" + i + "]", 32));
    let leaf = null;
    if (d.get("leaf") !== null) {
      const lf = obj(d.get("leaf"), where + ".leaf", ["key_hash", "value_hash"]);
      leaf = [hex_(lf.get("key_hash"), where + ".leaf.key_hash", 32),
        hex_(lf.get("value_hash"), where + ".leaf.value_hash", 32)];
    }
    return { depth, bitmap, siblings, leaf };
  }

  function quorum(n) { const f = Math.floor((n - 1) / 3); return Math.floor((n + f + 2) / 2); }

  function badStateKey(contract, key) {
    if (typeof contract !== "string" || !(pyLen(contract) > 0 && pyLen(contract) <= MAX_NAME) || contract.includes("/")) {
      return "contract must be a name of 1 to " + MAX_NAME + " characters without '/' (a '/' would make the storage key ambiguous)";
    }
    if (typeof key !== "string" || !(pyLen(key) > 0 && pyLen(key) <= MAX_KEY)) {
      return "key must be a string of 1 to " + MAX_KEY + " characters";
    }
    return null;
  }

  async function checkBlockCert(header, cert, vs, chainId, where) {
    if (header.chain_id !== chainId) throw fail(where + ".header is for chain " + pyRepr(header.chain_id) + ", the genesis for " + pyRepr(chainId));
    if (cert.chain_id !== chainId) throw fail(where + ".certificate is for chain " + pyRepr(cert.chain_id) + ", not " + pyRepr(chainId));
    if (cert.height !== header.height) throw fail(where + ".certificate is for height " + cert.height + ", the header is at " + header.height);
    if (!bytesEq(cert.block_hash, await headerHash(header))) {
      throw fail(where + ".certificate block_hash is not the hash of the header at height " + header.height + " (the header or the certificate was altered)");
    }
    if (!bytesEq(header.validators_hash, vs.hash)) {
      throw fail(where + ".header validators_hash at height " + header.height + " is not the hash of the validator set in force there (derived from genesis and the set changes)");
    }
    const signers = cert.votes.map((v) => v.validator);
    for (const k of signers) {
      if (!vs.has(k)) throw fail(where + ".certificate is signed by " + hex(k) + ", which is not in the validator set in force at height " + header.height);
    }
    const need = quorum(vs.n);
    if (signers.length < need) {
      throw fail(where + ".certificate has " + signers.length + " distinct signers, a quorum of the " + vs.n + " validators in force at height " + header.height + " is " + need);
    }
    return signers;
  }
  async function checkSignatures(cert, where) {
    const msg = encode([cert.chain_id, "commit", normInt(cert.view), normInt(cert.height), cert.block_hash]);
    for (let i = 0; i < cert.votes.length; i++) {
      const v = cert.votes[i];
      if (!(await edVerify(v.validator, "consensus", msg, v.signature))) {
        throw fail(where + ".certificate.votes[" + i + "]: the signature of " + hex(v.validator) + " does not verify");
      }
    }
  }

  /** Transaction.from_wire on a decoded body + signature; message as InvalidTransaction's. */
  function txFromWire(d) {
    const req = (c, m) => { if (!c) throw new Error(m); };
    const chainId = d.get("chain_id"), nonce = d.get("nonce"), contract = d.get("contract");
    const method = d.get("method"), args = d.get("args");
    req(typeof chainId === "string" && pyLen(chainId) > 0 && pyLen(chainId) <= 64, "bad chain_id");
    req(isInt(nonce) && big(nonce) >= 0n && big(nonce) < (1n << 63n), "nonce must be a non-negative integer");
    req(typeof contract === "string" && pyLen(contract) > 0 && pyLen(contract) <= 64, "bad contract name");
    req(typeof method === "string" && pyLen(method) > 0 && pyLen(method) <= 64, "bad method name");
    req(isDict(args), "args must be an object");
    const hb = (v, what, size) => {
      let b;
      if (v instanceof Uint8Array) b = v;
      else if (typeof v === "string") { b = pyFromHex(v); req(b !== null, what + " must be hex"); }
      else req(false, what + " must be hex");
      req(b.length === size, what + " must be " + size + " bytes");
      return b;
    };
    const sender = hb(d.get("sender"), "sender", 32);
    const signature = hb(d.get("signature"), "signature", 64);
    const bodyMap = new Map([["chain_id", chainId], ["sender", sender], ["nonce", nonce],
      ["contract", contract], ["method", method], ["args", args]]);
    let body;
    try { body = encode(bodyMap); } catch (e) { throw new Error("args cannot be encoded: " + e.message); }
    req(body.length <= MAX_TX_BYTES, "transaction exceeds " + MAX_TX_BYTES + " bytes");
    return { chain_id: chainId, sender, nonce, contract, method, args, signature, body };
  }
  function txToJson(tx) {
    return new Map([["chain_id", tx.chain_id], ["sender", hex(tx.sender)], ["nonce", tx.nonce],
      ["contract", tx.contract], ["method", tx.method], ["args", toJson(tx.args)],
      ["signature", hex(tx.signature)]]);
  }

  /** proofs._canonical: the decoding of a canonical encoding, anything else refused. */
  function canonical(raw, name) {
    try {
      return decode(raw, true);
    } catch (e) {
      if (e instanceof CodecError) throw fail(name + " is not a canonical encoding: " + e.message);
      throw e;
    }
  }
  /** proofs._shown_as_encoded: the bytes of d[encoding], checked to decode to d[shown]. */
  function shownAsEncoded(d, shown, encoding) {
    const raw = hex_(d.get(encoding), encoding);
    if (!same(d.get(shown), toJson(canonical(raw, encoding)))) throw fail(shown + " does not match " + encoding);
    return raw;
  }

  /** types.tx_leaf: a transaction's leaf in ledger format 3 (decision 129), the SHA-256 of its
   * envelope as Transaction.encode lays it out: fixmap 7, the body's six fields, then the key
   * "signature" and a bin 8 of 64 bytes. */
  const WIRE_HEAD = new Uint8Array([0x87]);
  const WIRE_TAIL = concat(new Uint8Array([0xa9]), utf8("signature"), new Uint8Array([0xc4, 0x40]));
  function txLeaf(tx) {
    return sha256(concat(WIRE_HEAD, tx.body.subarray(1), WIRE_TAIL, tx.signature));
  }

  /** proofs._check_receipt: the receipt of a tx proof whose header has a receipts_root; null
   * for a header without one and for an inclusion-only proof (none of the three fields). */
  async function checkReceipt(d, header, tx, index, size, salt) {
    const given = RECEIPT_FIELDS.filter((f) => d.has(f));
    if (header.receipts_root === null) {
      if (given.length) throw fail("proof has " + given.join(", ") + " but the header has no receipts_root");
      return null;
    }
    if (!given.length) return null;  // inclusion-only: the outcome is not proven, and not printed
    const missing = RECEIPT_FIELDS.filter((f) => !d.has(f));
    if (missing.length) {
      throw fail("proof is missing " + missing.join(", ") + " (the header has a receipts_root: a " +
        "proof carries all of receipt, receipt_encoding and receipt_path, or none of them)");
    }
    const raw = shownAsEncoded(d, "receipt", "receipt_encoding");
    const receipt = d.get("receipt");
    const r = obj(receipt, "receipt", RECEIPT_JSON);
    if (!(same(r.get("tx_id"), hex(tx.tx_id)) && same(r.get("sender"), hex(tx.sender)) &&
          same(r.get("nonce"), tx.nonce) && same(r.get("index"), index))) {
      throw fail("receipt is not the receipt of this transaction at this index (tx_id, sender, nonce or index differ)");
    }
    const err = r.get("error");
    let shaped;
    if (r.get("status") === "committed") shaped = err === null;
    else {
      shaped = r.get("status") === "rejected" && isDict(err) && err.size === 2 &&
        typeof err.get("code") === "string" && typeof err.get("message") === "string";
    }
    if (!shaped) throw fail("receipt status must be committed (error null) or rejected (error with a code and a message)");
    const path = list_(d.get("receipt_path"), "receipt_path", MAX_PATH).map((p, i) => hex_(p, "receipt_path[" + i + "]", 32));
    const leaf = salt ? concat(salt, raw) : raw;  // format 3: salted by the tx's leaf
    if (!(await merkleVerifyInclusion(leaf, index, size, path, header.receipts_root))) {
      throw fail("the Merkle path does not lead from the receipt at index " + index + " of " + size + " to the header's receipts_root");
    }
    return receipt;
  }

  async function parseTx(d, chainId) {
    const txId = hex_(d.get("tx_id"), "tx_id", 32);
    const body = hex_(d.get("tx_body"), "tx_body");
    const txJson = obj(d.get("tx"), "tx", ["chain_id", "sender", "nonce", "contract", "method", "args", "signature"]);
    const sig = hex_(txJson.get("signature"), "tx.signature", 64);
    const inc = obj(d.get("inclusion"), "inclusion", ["index", "tree_size", "path"]);
    const index = int_(inc.get("index"), "inclusion.index");
    const size = int_(inc.get("tree_size"), "inclusion.tree_size");
    const path = list_(inc.get("path"), "inclusion.path", MAX_PATH).map((p, i) => hex_(p, "inclusion.path[" + i + "]", 32));
    const fields = canonical(body, "tx_body");
    if (!isDict(fields) || fields.size !== 6 || !TX_FIELDS.every((f) => fields.has(f))) {
      throw fail("tx_body is not a transaction body");
    }
    let tx;
    try {
      tx = txFromWire(new Map([...fields, ["signature", sig]]));
    } catch (e) {
      throw fail("tx_body is not a valid transaction: " + e.message);
    }
    if (!bytesEq(tx.body, body)) throw fail("tx_body is not the canonical body of the transaction");
    tx.tx_id = await sha256(tx.body);
    if (!bytesEq(tx.tx_id, txId)) throw fail("tx_id is not the SHA-256 of tx_body");
    if (!same(txJson, txToJson(tx))) throw fail("tx (the readable form) does not match tx_body and its signature");
    if (tx.chain_id !== chainId) throw fail("the transaction is for chain " + pyRepr(tx.chain_id) + ", not " + pyRepr(chainId));
    return { tx, index, size, path };
  }

  // ------------------------------------------------------------------ genesis

  /** Genesis.model_dump(mode="json") of a genesis file: optional fields filled with defaults. */
  function genesisDump(g) {
    // The document as the file holds it (decision 85: the hash covers the fields the file sets,
    // no defaults filled in), with hex fields lowercased as the node's model does.
    if (!isDict(g)) throw new ProofError("the genesis file is not a JSON object");
    const m = new Map(g);
    const need = (k) => { if (!m.has(k)) throw new ProofError("the genesis file has no " + k); };
    ["chain_id", "genesis_time_ms", "validators"].forEach(need);
    // the fingerprint key itself (older files) or its SHA-256 (the key in its own file): one
    const keyField = ["fingerprint_key", "fingerprint_key_sha256"].filter((k) => m.has(k));
    if (keyField.length !== 1) {
      throw new ProofError("the genesis file has " + (keyField.length ? "both" : "neither") +
                           " fingerprint_key and fingerprint_key_sha256 (exactly one)");
    }
    const lower = (v) => (typeof v === "string" ? v.toLowerCase() : v);
    const lowered = (x, hexes) => {
      const o = new Map(x);
      for (const k of hexes) if (o.has(k)) o.set(k, lower(o.get(k)));
      return o;
    };
    const each = (k, hexes) => { if (m.has(k)) m.set(k, m.get(k).map((v) => lowered(v, hexes))); };
    each("validators", ["public_key"]);
    each("identities", ["public_key"]);
    each("currencies", ["issuer"]);
    if (m.has("regulators")) m.set("regulators", m.get("regulators").map(lower));
    m.set(keyField[0], lower(m.get(keyField[0])));
    return m;
  }
  /** A genesis from its JSON text: {chainId, hash (hex), validators, names}. */
  async function loadGenesis(text) {
    let g;
    try { g = parseDocument(text); } catch (e) { throw new ProofError("the genesis file is not valid JSON: " + e.message); }
    const dump = genesisDump(g);
    const hash = hex(await hashValue(dump));
    const validators = dump.get("validators").map((v) => pyFromHex(v.get("public_key")));
    const names = new Map();
    for (const v of dump.get("validators")) names.set(v.get("public_key"), v.get("name"));
    for (const v of (dump.get("identities") || [])) if (!names.has(v.get("public_key"))) names.set(v.get("public_key"), v.get("name"));
    const params = dump.get("params");
    const fmt = isDict(params) && params.has("ledger_format") ? Number(params.get("ledger_format")) : 1;
    return { chainId: dump.get("chain_id"), hash, validators, names, dump, ledgerFormat: fmt };
  }

  // ------------------------------------------------------------------ verify_proof

  async function verify(genesis, doc) {
    if (!isDict(doc)) throw fail("a proof document is a JSON object");
    const kind = doc.get("type");
    let fields, optional = [];
    if (kind === TX_PROOF) {
      fields = ["type", "version", "tx_id", "tx", "tx_body", "inclusion", "block", "validator_set_changes"];
      optional = RECEIPT_FIELDS;
    } else if (kind === STATE_PROOF) {
      fields = ["type", "version", "contract", "key", "key_hash", "value", "value_encoding", "smt_proof", "block", "validator_set_changes"];
    } else {
      throw fail("unknown proof type " + pyRepr(kind === undefined ? null : kind) + " (expected " + pyRepr(TX_PROOF) + " or " + pyRepr(STATE_PROOF) + ")");
    }
    const d = obj(doc, "proof", fields, optional);
    const ver = d.get("version");
    if (!isInt(ver) || big(ver) !== BigInt(VERSION)) {
      throw fail("unsupported proof version " + pyRepr(ver) + " (this verifier reads " + VERSION + ")");
    }
    const chainId = genesis.chainId;

    const blk = obj(d.get("block"), "block", ["header", "certificate"]);
    const header = parseHeader(blk.get("header"), "block.header");
    const cert = parseCert(blk.get("certificate"), "block.certificate");
    const changes = [];
    list_(d.get("validator_set_changes"), "validator_set_changes", MAX_CHANGES).forEach((c, i) => {
      const w = "validator_set_changes[" + i + "]";
      const cd = obj(c, w, ["header", "certificate", "validators"]);
      const ch = parseHeader(cd.get("header"), w + ".header");
      const prev = changes.length ? changes[changes.length - 1][0].height : 0n;
      if (ch.height <= prev) throw fail(w + " is at height " + ch.height + ": set changes must be in strictly increasing height order, from height 1");
      if (ch.height >= header.height) throw fail(w + " is at height " + ch.height + ", not below the proof's height " + header.height);
      changes.push([ch, parseCert(cd.get("certificate"), w + ".certificate"), parseMembers(cd.get("validators"), w + ".validators")]);
    });
    if (header.height < 1n) throw fail("block.header.height must be at least 1 (genesis has no certificate)");

    let tx = null, receipt = null, index = null, size = null, contract = null, key = null, valueRaw = null, valueJson = null;
    if (kind === TX_PROOF) {
      const p = await parseTx(d, chainId);
      tx = p.tx; index = p.index; size = p.size;
      if (big(size) !== header.tx_count) throw fail("inclusion.tree_size " + size + " is not the header's tx_count " + header.tx_count);
      // ledger format 3 (decision 129): the leaf is the signed envelope's hash, not the id
      const salt = genesis.ledgerFormat >= 3 ? await txLeaf(tx) : null;
      if (!(await merkleVerifyInclusion(salt || tx.tx_id, index, size, p.path, header.tx_root))) {
        throw fail("the Merkle path does not lead from tx " + hex(tx.tx_id) + " at index " + index + " of " + size + " to the header's tx_root");
      }
      receipt = await checkReceipt(d, header, tx, index, size, salt);
    } else {
      contract = str_(d.get("contract"), "contract");
      key = str_(d.get("key"), "key", MAX_KEY);
      const bad = badStateKey(contract, key);
      if (bad) throw fail(bad);
      const sk = utf8(contract + "/" + key);
      if (!bytesEq(hex_(d.get("key_hash"), "key_hash", 32), await sha256(sk))) {
        throw fail("key_hash is not the SHA-256 of the storage key contract/key");
      }
      const proof = parseSmtProof(d.get("smt_proof"), "smt_proof");
      valueJson = d.get("value");
      if (d.get("value_encoding") === null) {
        if (valueJson !== null) throw fail("value is given but value_encoding is null");
      } else {
        valueRaw = shownAsEncoded(d, "value", "value_encoding");
      }
      if (!(await smtVerify(header.state_root, sk, valueRaw, proof))) {
        const claim = valueRaw === null ? "absent" : "holds this value";
        throw fail("the SMT proof does not show that " + contract + "/" + key + " " + claim + " under the header's state_root");
      }
    }

    let vs = await makeSet(genesis.validators);
    const checked = [];
    for (let i = 0; i < changes.length; i++) {
      const [ch, cc, members] = changes[i];
      const w = "validator_set_changes[" + i + "]";
      await checkBlockCert(ch, cc, vs, chainId, w);
      const next = await makeSet(members);
      if (!bytesEq(ch.next_validators_hash, next.hash)) throw fail(w + ".validators is not the set its header's next_validators_hash names");
      if (bytesEq(ch.next_validators_hash, ch.validators_hash)) throw fail(w + ": the block at height " + ch.height + " does not change the validator set");
      checked.push([cc, w]);
      vs = next;
    }
    const signers = await checkBlockCert(header, cert, vs, chainId, "block");
    checked.push([cert, "block"]);
    for (const [c, w] of checked) await checkSignatures(c, w);
    if (tx !== null && !(await edVerify(tx.sender, "tx", tx.body, tx.signature))) {
      throw fail("the signature of transaction " + hex(tx.tx_id) + " does not verify for its sender");
    }
    return {
      kind, chainId, height: header.height, blockHash: await headerHash(header),
      header, timestampMs: header.timestamp_ms, validators: vs, signers,
      setChangeHeights: changes.map((c) => c[0].height), tx, receipt, txIndex: index, txCount: size,
      inclusionOnly: kind === TX_PROOF && header.receipts_root !== null && receipt === null,
      contract, key, present: kind === TX_PROOF ? null : valueRaw !== null, value: valueJson,
    };
  }

  /** verify_proof: anything unexpected is "malformed proof document: ..." as in Python. */
  async function verifyProof(genesis, doc) {
    try {
      return await verify(genesis, doc);
    } catch (e) {
      if (e instanceof ProofError) throw e;
      throw new ProofError("malformed proof document: " + (e && e.message ? e.message : e));
    }
  }

  /** Verified.lines(): the same summary `chainfin verify` prints. */
  function lines(r, names) {
    names = names || new Map();
    const who = (k) => names.has(hex(k)) ? names.get(hex(k)) + " (" + hex(k).slice(0, 16) + ")"
      : hex(k) + " (not in genesis: joined by a certified set change)";
    let when;
    const ms = Number(r.timestampMs);
    const dt = new Date(ms);
    if (Number.isFinite(dt.getTime()) && dt.getUTCFullYear() <= 9999) when = dt.toISOString().replace("Z", "+00:00");
    else when = r.timestampMs + " ms since the epoch";
    const out = ["VALID " + (r.kind === TX_PROOF ? "transaction inclusion" : "state") + " proof",
      "chain:          " + r.chainId];
    if (r.tx) {
      const t = r.tx;
      out.push("transaction:    " + hex(t.tx_id),
        "call:           " + t.contract + "." + t.method + " " + pyJsonDumps(toJson(t.args)),
        "sender:         " + hex(t.sender) + " (nonce " + t.nonce + ", signature valid)",
        "position:       index " + r.txIndex + " of " + r.txCount + " in the block");
      if (r.receipt) {
        const err = r.receipt.get("error");
        out.push("outcome:        " + (r.receipt.get("status") === "committed"
          ? "committed (receipt under the header's receipts_root)"
          : "rejected: " + err.get("code") + " (" + err.get("message") + ")"));
      } else if (r.inclusionOnly) {
        out.push("outcome:        " + NOT_PROVEN);
      }
    } else {
      out.push("state key:      " + r.contract + " / " + r.key);
      out.push(r.present ? "value:          " + pyJsonDumps(r.value) : "value:          ABSENT (non-inclusion proof)");
    }
    const changes = r.setChangeHeights.map(String).join(", ") || "none";
    out.push("block height:   " + r.height, "block hash:     " + hex(r.blockHash),
      "block time:     " + when,
      "validator set:  " + r.validators.n + " members, quorum " + quorum(r.validators.n) + " (set changes walked from genesis at heights: " + changes + ")",
      "signed by:      " + r.signers.length + " of " + r.validators.n);
    for (const k of r.signers) out.push("                " + who(k));
    return out;
  }

  root.ChainfinVerify = {
    TX_PROOF, STATE_PROOF, NOT_PROVEN, ProofError, CodecError, PyFloat,
    parseDocument, verifyProof, loadGenesis, lines, encode, decode, toJson, hex, pyFromHex,
    sha256, headerHash, quorum, edVerify,
  };
})(typeof window !== "undefined" ? window : globalThis);
