"""chainfin.httpsig: RFC 9421 signatures of REST requests, pure (time and nonce are inputs)."""

from __future__ import annotations

import base64
import hashlib

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainfin import httpsig
from chainfin.crypto import Identity
from chainfin.httpsig import ReplayCache, Unauthenticated, sign_request, verify_request

ME = Identity.from_seed_text("reader")
URI = "https://127.0.0.1:8443/v1/state/settlement/bal/ab/USD?x=1"
NOW = 1_765_000_000


def signed(body: bytes = b"", created: int = NOW, nonce: str | None = "n1",
           uri: str = URI, method: str = "GET") -> dict[str, str]:
    return sign_request(ME, method, uri, body, created, nonce)


def reason(headers: dict[str, str], body: bytes = b"", now: float = NOW, uri: str = URI,
           method: str = "GET") -> str:
    with pytest.raises(Unauthenticated) as e:
        verify_request(method, uri, headers, body, now)
    return e.value.reason


def test_a_signed_request_verifies_and_names_its_key() -> None:
    p = verify_request("GET", URI, signed(), b"", NOW)
    assert p.keyid == ME.public_key and p.created == NOW


def test_the_signature_base_is_rfc_9421_and_plain_ed25519_verifies_it() -> None:
    """What a JavaScript port (WebCrypto Ed25519) must build, byte for byte."""
    hd = signed()
    params = hd["Signature-Input"].removeprefix("sig1=")
    assert params == ('("@method" "@target-uri" "content-digest");created=1765000000;'
                      f'keyid="{ME.public_key.hex()}";alg="ed25519";nonce="n1"')
    empty = base64.b64encode(hashlib.sha256(b"").digest()).decode()
    assert hd["Content-Digest"] == f"sha-256=:{empty}:"
    base = (f'"@method": GET\n"@target-uri": {URI}\n"content-digest": sha-256=:{empty}:\n'
            f'"@signature-params": {params}').encode()
    sig = base64.b64decode(hd["Signature"].removeprefix("sig1=:").removesuffix(":"))
    nacl.signing.VerifyKey(ME.public_key).verify(base, sig)  # no domain tag: standard Ed25519


def test_missing_and_malformed() -> None:
    assert reason({}) == "missing"
    hd = signed()
    assert reason({k: v for k, v in hd.items() if k != "Signature"}) == "malformed"
    assert reason({k: v for k, v in hd.items() if k != "Content-Digest"}) == "malformed"
    assert reason(hd | {"Signature-Input": hd["Signature-Input"].replace(
        ' "content-digest"', "")}) == "malformed"  # must cover the body
    assert reason(hd | {"Signature-Input": hd["Signature-Input"] + ';alg="rsa-pss-sha512"'}
                  ) == "malformed"  # a second alg parameter
    assert reason(hd | {"Signature-Input": hd["Signature-Input"].replace(
        'alg="ed25519"', 'alg="hmac-sha256"')}) == "malformed"
    assert reason(hd | {"Signature-Input": "x" * 5000}) == "malformed"


def test_stale_and_future_signatures_are_refused() -> None:
    assert reason(signed(created=NOW - 31)) == "expired"
    assert reason(signed(created=NOW + 31)) == "future"
    verify_request("GET", URI, signed(created=NOW - 30), b"", NOW)
    verify_request("GET", URI, signed(created=NOW + 30), b"", NOW)


def test_a_tampered_body_method_or_uri_is_refused() -> None:
    assert reason(signed(b'{"a":1}', method="POST"), b'{"a":2}', method="POST") == \
        "digest_mismatch"
    # a recomputed digest does not help: the signature covers it
    hd = signed(b'{"a":1}', method="POST") | {"Content-Digest": httpsig.content_digest(b"x")}
    assert reason(hd, b"x", method="POST") == "bad_signature"
    assert reason(signed(), method="DELETE") == "bad_signature"
    assert reason(signed(), uri=URI.replace("x=1", "x=2")) == "bad_signature"
    assert reason(signed(), uri=URI.replace("https", "http")) == "bad_signature"


def test_another_keys_signature_is_refused() -> None:
    hd = signed()
    other = Identity.from_seed_text("other").public_key.hex()
    hd["Signature-Input"] = hd["Signature-Input"].replace(ME.public_key.hex(), other)
    assert reason(hd) == "bad_signature"


def test_the_replay_cache_refuses_a_signature_seen_in_the_window_and_is_bounded() -> None:
    cache = ReplayCache(capacity=2, window_s=30)
    cache.remember(b"a", NOW, NOW)
    with pytest.raises(Unauthenticated, match="replayed"):
        cache.remember(b"a", NOW, NOW + 10)
    cache.remember(b"b", NOW, NOW)
    with pytest.raises(Unauthenticated, match="busy"):  # full of live signatures
        cache.remember(b"c", NOW, NOW + 1)
    cache.remember(b"c", NOW + 40, NOW + 40)  # a and b have left the window
    assert len(cache) == 1


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["Signature-Input", "Signature", "Content-Digest"]),
                       st.text(max_size=300)), st.binary(max_size=64))
def test_random_headers_never_verify_and_only_raise_unauthenticated(
        headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(Unauthenticated):
        verify_request("GET", URI, headers, body, NOW)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Signature-Input", "Signature", "Content-Digest"]),
       st.integers(0, 400), st.characters(codec="ascii"))
def test_any_one_character_changed_in_a_valid_signature_fails(
        name: str, pos: int, ch: str) -> None:
    hd = signed()
    v = hd[name]
    i = pos % len(v)
    if v[i] == ch:
        return
    hd[name] = v[:i] + ch + v[i + 1:]
    with pytest.raises(Unauthenticated):
        verify_request("GET", URI, hd, b"", NOW)


# ------------------------------------------------------------------------ the signed server


def test_authority_writes_the_default_port_and_lower_case() -> None:
    assert httpsig.authority("https", "Node0.Bank.example") == "node0.bank.example:443"
    assert httpsig.authority("http", "127.0.0.1") == "127.0.0.1:80"
    assert httpsig.authority("http", "127.0.0.1:8000") == "127.0.0.1:8000"
    assert httpsig.authority("https", "[::1]") == "[::1]:443"
    assert httpsig.authority("https", "[::1]:8443") == "[::1]:8443"


def test_a_request_signed_for_another_server_is_refused() -> None:
    mine = frozenset({"127.0.0.1:8000", "node0.bank.example:443"})
    httpsig.check_authority("http", "127.0.0.1:8000", mine)
    httpsig.check_authority("https", "NODE0.bank.example", mine)
    for scheme, host in (("http", "127.0.0.1:8001"), ("https", "node1.bank.example"),
                         ("http", "node0.bank.example")):
        with pytest.raises(Unauthenticated) as e:
            httpsig.check_authority(scheme, host, mine)
        assert e.value.reason == "wrong_authority"


def test_a_node_config_names_its_rest_authorities() -> None:
    from node.config import NodeConfig

    def cfg(**kw: object) -> NodeConfig:
        return NodeConfig(node_id="n", key_file="/k", genesis="/g", data_dir="/d", **kw)

    assert cfg(rest_host="10.0.0.5", rest_port=8000).rest_authorities() == {"10.0.0.5:8000"}
    assert cfg(rest_port=8443, rest_tls=True,
               public_urls=["https://Node0.Bank.example", "http://lb.example:8080/"]
               ).rest_authorities() == {"127.0.0.1:8443", "localhost:8443", "[::1]:8443",
                                        "node0.bank.example:443", "lb.example:8080"}
    with pytest.raises(ValueError):
        cfg(public_urls=["node0.bank.example:443"])
