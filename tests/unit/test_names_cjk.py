"""Chinese, Japanese and Korean company names in the skeletons (decision 140): traditional
characters read as simplified, CJK legal forms dropped at either end of a name written without
spaces, and what stays a different name."""

from __future__ import annotations

import pytest

from chainfin.execution import Receipt
from contracts import risk, testing
from contracts.names import (
    CJK_LEGAL_FORMS,
    LEGAL_FORMS,
    TRADITIONAL_TO_SIMPLIFIED,
    consonant_key,
    joined_skeleton,
    name_skeleton,
    sound_key,
)
from contracts.testing import Ledger, make_genesis
from tests.unit.trade_cases import INVOICE, T, h

R = "risk"

# ---------------------------------------------------------------------------- the skeletons

SAME = [
    # traditional and simplified, legal form or not
    ("深圳光明灯具有限公司", "深圳光明燈具有限公司"),
    ("深圳光明灯具有限公司", "深圳光明灯具"),
    ("深圳光明灯具有限公司", "深圳光明灯具股份有限公司"),
    ("深圳光明灯具有限公司", "深圳光明灯具有限责任公司"),
    ("深圳光明灯具有限公司", "深圳光明燈具有限責任公司"),
    ("深圳光明灯具有限公司", "深圳光明灯具股份公司"),
    ("深圳光明灯具有限公司", "深圳光明灯具公司"),
    ("深圳光明灯具有限公司", "深圳光明灯具 有限公司"),
    ("华为技术有限公司", "華為技術有限公司"),
    ("华为技术有限公司", "华为技术"),
    ("中国国际贸易有限公司", "中國國際貿易有限公司"),
    ("中国石油天然气集团有限公司", "中國石油天然氣集團公司"),  # 集团 stays, 公司 goes
    ("汇丰银行", "匯豐銀行"),
    ("東芝", "东芝"),  # a Japanese kanji name reads the same way
    # Japanese: before or after, written out, abbreviated, in one character
    ("株式会社トヨタ", "トヨタ株式会社"),
    ("株式会社トヨタ", "トヨタ"),
    ("株式会社トヨタ", "(株)トヨタ"),
    ("株式会社トヨタ", "トヨタ(株)"),
    ("株式会社トヨタ", "トヨタ㈱"),
    ("株式会社トヨタ", "トヨタ（株）"),
    ("株式会社トヨタ", "㍿トヨタ"),
    ("株式会社トヨタ", "ﾄﾖﾀ株式会社"),  # half-width katakana
    ("有限会社サトウ", "サトウ(有)"),
    ("合同会社サトウ", "サトウ合同会社"),
    # Korean: a word of its own or run into the name, abbreviated
    ("삼성전자 주식회사", "삼성전자(주)"),
    ("삼성전자 주식회사", "삼성전자㈜"),
    ("삼성전자 주식회사", "주식회사 삼성전자"),
    ("삼성전자 주식회사", "삼성전자주식회사"),
    ("삼성전자 주식회사", "삼성전자"),
    ("엘지상사 유한회사", "엘지상사(유)"),
    # full-width Latin letters and digits in a CJK name (NFKC)
    ("深圳ABC123有限公司", "深圳ＡＢＣ１２３有限公司"),
    ("ABC有限公司", "ABC Co., Ltd."),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_the_forms_of_one_cjk_name_have_one_skeleton(a: str, b: str) -> None:
    assert name_skeleton(a) == name_skeleton(b) != ""
    assert joined_skeleton(a) == joined_skeleton(b) != ""


@pytest.mark.parametrize(("name", "skeleton"), [
    ("深圳光明灯具有限公司", "深圳光明灯具"),
    ("深圳光明燈具有限公司", "深圳光明灯具"),
    ("深圳光明灯具", "深圳光明灯具"),
    ("深圳光明灯具股份有限公司", "深圳光明灯具"),
    ("株式会社トヨタ", "トヨタ"),
    ("トヨタ株式会社", "トヨタ"),
    ("삼성전자 주식회사", "삼성전자"),
    ("삼성전자(주)", "삼성전자"),
    ("深圳光明灯具（香港）有限公司", "深圳光明灯具 香港"),
    # a name that is only a legal form keeps it: never empty
    ("有限公司", "有限公司"),
    ("股份有限公司", "股份有限公司"),
    ("株式会社", "株式会社"),
    ("(株)", "株式会社"),
    ("주식회사", "주식회사"),
])
def test_skeletons(name: str, skeleton: str) -> None:
    assert name_skeleton(name) == skeleton
    assert name_skeleton(skeleton) == skeleton  # idempotent


DIFFERENT = [
    ("深圳光明灯具有限公司", "深圳光华灯具有限公司"),
    ("东方有限公司", "东海有限公司"),
    ("東方有限公司", "东海有限公司"),
    # a group and its listed company are two parties (CNPC, PetroChina): 集团 is the name's
    ("中国石油天然气集团有限公司", "中国石油天然气股份有限公司"),
    # a branch, a head office, a subsidiary, a region's company: each its own party
    ("华为技术有限公司深圳分公司", "华为技术有限公司"),
    ("深圳光明灯具分公司", "深圳光明灯具公司"),
    ("深圳光明灯具总公司", "深圳光明灯具公司"),
    ("深圳光明灯具（香港）有限公司", "深圳光明灯具有限公司"),
    # traditional characters left out of the table: 後 is not 后, 髮 is not 發 (decision 140)
    ("後海贸易", "后海贸易"),
    ("美髮用品", "美發用品"),
    ("株式会社トヨタ", "株式会社ホンダ"),
    ("삼성전자", "삼성전기"),
    ("有限公司", "股份有限公司"),
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_companies_stay_different(a: str, b: str) -> None:
    assert name_skeleton(a) != name_skeleton(b)
    assert joined_skeleton(a) != joined_skeleton(b)


@pytest.mark.parametrize(("name", "skeleton", "joined"), [
    ("ACME Exports Ltd", "acme exports", "acmeexports"),
    ("ACME Exports Ltd.", "acme exports", "acmeexports"),
    ("Globex Corp", "globex", "globex"),
    ("GLÖBEX, Corp.", "globex", "globex"),
    ("Shenzhen Bright Lamps Co., Ltd.", "bright lamps shenzhen", "shenzhenbrightlamps"),
    ("Company Limited", "co ltd", "coltd"),
    ("J. P. Morgan", "jp morgan", "jpmorgan"),
    ("ＡＣＭＥ　Ｅｘｐｏｒｔｓ　Ｌｔｄ", "acme exports", "acmeexports"),
])
def test_latin_names_are_unchanged(name: str, skeleton: str, joined: str) -> None:
    assert (name_skeleton(name), joined_skeleton(name)) == (skeleton, joined)


@pytest.mark.parametrize("name", ["深圳光明燈具有限公司", "トヨタ株式会社", "삼성전자(주)",
                                  "華為技術有限公司"])
def test_cjk_names_still_have_no_sound_key(name: str) -> None:
    assert sound_key(name) == consonant_key(name) == ""


def test_the_tables_are_sound() -> None:
    # one character for one, no character both sides (one pass reaches the fixed point)
    assert all(len(t) == len(s) == 1 and t != s for t, s in TRADITIONAL_TO_SIMPLIFIED.items())
    assert not set(TRADITIONAL_TO_SIMPLIFIED) & set(TRADITIONAL_TO_SIMPLIFIED.values())
    # the characters whose simplified form merges two traditional words are left out
    for left_out in "後髮裡穀乾幹鬆製範準遊鐘鍾復複係繫歷曆颱檯":
        assert left_out not in TRADITIONAL_TO_SIMPLIFIED
    # the legal forms are written simplified (the table has run before they are read)
    assert not {c for f in CJK_LEGAL_FORMS for c in f} & set(TRADITIONAL_TO_SIMPLIFIED)
    assert not set(CJK_LEGAL_FORMS) & set(LEGAL_FORMS)


# ---------------------------------------------------------------------------- through the contract

SELLER_CN = "深圳光明灯具有限公司"


@pytest.fixture
def cjk_ledger(monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """A ledger whose exporter's legal name is Chinese, in simplified characters."""
    monkeypatch.setitem(testing.LEGAL_NAMES, "exporter", SELLER_CN)
    return Ledger(make_genesis(params={"financing_requires_attestation": True}))


def _invoice(led: Ledger, tag: str, **fields: object) -> Receipt:
    return led.tx("exporter", T, "register", doc_type="invoice", content_hash=h(tag),
                  fields={**INVOICE, "seller": SELLER_CN, **fields})


def test_an_exporter_registers_its_invoice_under_its_traditional_name(cjk_ledger: Ledger
                                                                       ) -> None:
    r = _invoice(cjk_ledger, "trad", seller="深圳光明燈具有限公司")
    assert r.status == "committed", r.error_message
    r = _invoice(cjk_ledger, "other", seller="深圳光华灯具有限公司", number="INV-9")
    assert r.error_code == "not_document_party"


def test_the_buyer_in_traditional_characters_does_not_make_a_new_invoice(cjk_ledger: Ledger
                                                                          ) -> None:
    r = _invoice(cjk_ledger, "first", buyer="华为技术有限公司")
    assert r.status == "committed", r.error_message
    for tag, buyer, seller in (("trad", "華為技術有限公司", SELLER_CN),
                               ("short", "华为技术", "深圳光明燈具")):
        r = _invoice(cjk_ledger, tag, buyer=buyer, seller=seller)
        assert r.error_code == "duplicate_document", (buyer, r.error_message)


def _watch(led: Ledger, name: str) -> list[str]:
    assert led.genesis.fingerprint_key is not None
    key = risk.watch_key(bytes.fromhex(led.genesis.fingerprint_key))
    entries = risk.watch_entries(key, name)
    led.ok("regulator", R, "add_watch", entries=entries)
    return entries


def test_a_watched_chinese_name_is_refused_in_traditional_characters_and_without_its_form(
        cjk_ledger: Ledger) -> None:
    assert len(_watch(cjk_ledger, "华为技术有限公司")) == 2  # name and joined
    for n, buyer in enumerate(("华为技术有限公司", "華為技術有限公司", "华为技术",
                               "華為技術股份有限公司", "华 为 技 术")):
        r = _invoice(cjk_ledger, f"w{n}", buyer=buyer, number=f"INV-{n}")
        assert r.error_code == "sanctioned_party", buyer
    # another company, and a branch (its own name, as "... Shenzhen Branch" is in Latin letters)
    for n, buyer in enumerate(("华为通信有限公司", "华为技术有限公司深圳分公司"), start=10):
        r = _invoice(cjk_ledger, f"w{n}", buyer=buyer, number=f"INV-{n}")
        assert r.status == "committed", (buyer, r.error_message)
