"""risk: limits, velocity, a watch list, account freezes and pattern alerts, decided inside the
transaction that moves the money (docs/risk.md is the rulebook; this is its code).

Every check is deterministic: windows are measured in **block time** (``ctx.timestamp_ms``, the
header's), never the wall clock; iteration is over sorted or fixed-order lists; state per account
is bounded (fixed buckets, expired lazily). Who may set what:

- network-wide limits (subject ``*``): governance vote (``set_network_limit``);
- limits of one identity: a regulator (anyone) or the identity's home bank (its customers);
- a bank's financing exposure limits: the bank itself, or a regulator for it;
- the watch list, the jurisdiction list and the controlled-goods list: regulators; account
  freezes: a regulator or the home bank.

State (contract ``risk``):

- ``profile/<account>`` -> ``{"rules": [rule, ...], "frozen": {CCY: freeze}}``: the limits that
  apply to the account's outflows and its frozen currencies. ``profile/*`` holds the network-wide
  rules. A rule is ``{"rule_id", "kind", "currency", "max", "window_s", "set_by"}``; kinds
  ``max_per_tx`` (amount), ``window_outflow`` (amount over ``window_s``), ``velocity`` (count of
  outgoing payments over ``window_s``; currency ``*`` counts every currency).
- ``use/<account>`` -> ``{rule_id: {"size": bucket ms, "b": [[bucket, amount, count], ...]}}``:
  one record per account for all its windowed rules (one read and one write per payment), at
  most :data:`BUCKETS` buckets of block time per rule; an entry whose buckets have all left the
  window counts nothing and is dropped when the record is next written.
- ``stats/<account>/<CCY>`` -> the pattern memory of one account (O(1)): payments made ``n``,
  their moving average ``avg``, the last :data:`RECENT` counterparties paid ``cps``
  (``[id prefix, ms]``; ms 0 once a round trip was alerted), near-limit payments per hour
  ``near`` and the last :data:`STRUCTURING_TX_KEEP` of them ``near_tx`` (``[tx id, hour]``,
  written only by a near payment: decision 217).
- ``watch/<digest>`` -> ``{"by", "height"}``: a watch-list entry, stored only as its keyed hash
  (:func:`watch_digest`); the key is derived from the genesis fingerprint key, never in state.
- ``exposure_limit/<bank>/<side>/<party>/<CCY>`` -> ``{"max", "set_by", "by_regulator"}`` (an
  int before decision 111: read as the max) and ``exposure/<bank>/<side>/<party>/<CCY>``
  -> int: a bank's financing limit and outstanding amount per exporter / buyer (``side``).
- ``seizure/<order_ref>`` -> a seizure order waiting for its second regulator.
- ``param/seize_approvals`` -> 1 or 2 (governance ``set_seize_approvals``; absent: 1).
- ``alerts/<account>`` -> the last :data:`KEEP_ALERTS` alerts naming the account;
  ``alert_count/<rule>`` -> alerts raised so far (``/metrics``).
- ``alert/<id>``, ``review/<id>/<n>``, ``queue/<q>``, ``queue/<q>/<seq>``: each alert's case
  (public state ``open`` / ``reviewed``), its reviews (the disposition sealed to the
  regulators and the reviewer, a commitment in clear) and the review queues
  (:mod:`contracts.risk_cases`, method ``review_alert``).
- ``jurisdictions`` -> the regulator's list of places (``refuse`` | ``monitor``) and
  ``stats/<account>/jurisdictions`` -> the account's monitoring alerts per place in the last
  24 h (:mod:`contracts.risk_jurisdictions`, methods ``set_jurisdiction``,
  ``remove_jurisdiction``).
- ``goods_controls`` -> the regulator's list of controlled goods (HS code prefixes at ``refuse``
  | ``monitor``, optionally for some destinations) and ``stats/<account>/goods`` -> the
  exporter's monitoring alerts per prefix and destination in the last 24 h
  (:mod:`contracts.risk_goods`, methods ``set_goods_control``, ``remove_goods_control``).

Who reads an alert is the node's rule (``node/access.py``): the home bank of an account it names
and the supervisors, never the account holder (:data:`HOLDER_ALERT_RULES` excepted).
"""

from __future__ import annotations

import functools
import hmac
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from chainfin.errors import ContractError
from chainfin.execution import (
    MAX_AMOUNT,
    Contract,
    ContractState,
    Overlay,
    TxContext,
    bic_key,
    p_currency,
    p_hex,
    p_int,
    p_list,
    p_pubkey,
    p_text,
)
from contracts import governance as gov
from contracts.amounts import said

NAME = "risk"
CONTRACT = Contract(NAME, __doc__ or "")

NETWORK = "*"  # the subject of network-wide rules
ANY_CURRENCY = "*"  # a velocity rule's currency when it counts every currency
RULE_KINDS = ("max_per_tx", "window_outflow", "velocity")
EXPOSURE_SIDES = ("exporter", "buyer")
EXPOSURE_BASE = "*"  # the currency part of a financing exposure limit in a base currency
BUCKETS = 24  # buckets per window: an outflow leaves its window between 23/24 W and W later
MAX_RULES = 16  # per subject
RECENT = 8  # counterparties remembered per account and currency
KEEP_ALERTS = 16  # alerts listed per account
MEMORY_ID_HEX = 16  # pattern memory names accounts by their first 8 bytes (alerting only)
MAX_WINDOW_S = 366 * 24 * 3600

# pattern alerts (alert without refusing)
STRUCTURING_BPS = 9_000  # "just under": at least 90% of a per-transaction limit
STRUCTURING_COUNT = 3  # that many near-limit payments ...
STRUCTURING_WINDOW_MS = 24 * 3600 * 1000  # ... within 24 h of block time
STRUCTURING_BUCKET_MS = 3600 * 1000
#: the near payments whose transaction ids the pattern memory keeps (``near_tx``), the last
#: this many in the window: the count that alerts and a margin; every near payment from the
#: 3rd on alerts, so its alert names the earlier ones it counted (decision 217)
STRUCTURING_TX_KEEP = STRUCTURING_COUNT + 2
ROUND_TRIP_WINDOW_MS = 24 * 3600 * 1000  # A pays B, B pays A back within 24 h
CHANGE_MIN_HISTORY = 5  # payments before an account has a history to deviate from
CHANGE_FACTOR = 4  # a new counterparty paid at least 4x the account's average

#: alert ``rule`` values, in the order /metrics lists them
ALERT_RULES = ("limit_exceeded", "sanctioned_party", "structuring", "counterparty_change",
               "round_trip", "lc_copy_disputed", "possible_watch_match",
               "declaration_disputed", "jurisdiction_refused", "high_risk_jurisdiction",
               "controlled_goods_refused", "controlled_goods", "watched_bank_customer")
#: the alert of a payment involving a customer of a watched bank (decision 277)
WATCHED_BANK_CUSTOMER_RULE = "watched_bank_customer"

#: alerts raised by a rule that refuses the transaction (the alert is kept on the rejected
#: receipt); every other rule only monitors
REFUSING_ALERT_RULES = ("limit_exceeded", "sanctioned_party", "jurisdiction_refused",
                        "controlled_goods_refused")

#: the alerts an account it names may read: its own refusal for a limit, whose receipt's error
#: says as much (rule, maximum, amount). Every other alert — each monitoring rule, present and
#: future, and a watch-list hit, whose detail names the party's role — goes to the account's
#: home bank and the supervisors only, by every route: telling the account holder would tip it
#: off (FATF Recommendation 21; docs/risk.md "Who sees an alert", decision 144). A whitelist,
#: so a new rule is never shown to its subject by default.
HOLDER_ALERT_RULES = ("limit_exceeded",)

ERROR_CODES = (
    "limit_exceeded",
    "sanctioned_party",
    "account_frozen",
    "forbidden",
    "bad_field",
    "unknown_identity",
    "unknown_rule",
    "too_many_rules",
    "not_frozen",
    "unknown_alert",  # risk.review_alert (contracts/risk_cases.py)
    "case_closed",
    "too_many_reviews",
    "missing_recipient",  # a review not sealed to every regulator and its reviewer
    "missing_field",
    "jurisdiction_refused",  # the jurisdiction list (contracts/risk_jurisdictions.py)
    "bad_jurisdiction",
    "unknown_jurisdiction",
    "too_many_jurisdictions",
    "controlled_goods",  # the controlled-goods list (contracts/risk_goods.py)
    "hs_codes_required",  # ... an entry's codes_required (red-team round 8)
    "unknown_goods_control",
    "too_many_goods_controls",
    "rate_unavailable",  # a base-currency limit without a fresh rate (contracts/risk_rates.py)
)


# ============================================================================ helpers


def normalise_name(name: str) -> str:
    """A party name as screened and compared: its :func:`contracts.names.name_skeleton`, the
    same form trade documents' party names take, so a watched name cannot be dodged by
    punctuation, accents, invisible characters, look-alike letters, legal-form words or word
    order ("Glöbex Corporation" is "globex"). Idempotent."""
    from contracts.names import name_skeleton  # the one definition; names imports nothing here

    return name_skeleton(name)


_WATCH_KEYS: dict[bytes, bytes] = {}  # fingerprint key -> watch key (one per chain)


def watch_key(fingerprint_key: bytes) -> bytes:
    """The watch list's HMAC key, derived from the consortium key in genesis (never in state)."""
    key = _WATCH_KEYS.get(fingerprint_key)
    if key is None:
        key = hmac.digest(fingerprint_key, b"chainfin/risk/watch-list", "sha256")
        if len(_WATCH_KEYS) < 16:
            _WATCH_KEYS[fingerprint_key] = key
    return key


def watch_digest(key: bytes, kind: str, value: str) -> str:
    """The keyed hash under which a watch-list entry is stored: ``kind`` ``id`` (an identity
    id, hex), ``name`` (a party name as its skeleton), ``joined`` (its letters run together:
    :func:`contracts.names.joined_skeleton`), ``sound`` (:func:`contracts.names.sound_key`), or
    ``consonants`` / ``abjad`` (:func:`contracts.names.consonant_key`: :func:`watch_entries`
    says which); a kind ``bare:<kind>`` is ``<kind>``'s digest of the name's
    :func:`bare_name` (decision 177). Computed by the regulator's client, so the entry is in
    neither the state nor the block in clear."""
    if kind.startswith(BARE):  # the name's bare form (decision 177), under the base kind
        return watch_digest(key, kind[len(BARE):], bare_name(value))
    if kind.startswith((NEAR, NEAR_TOKEN)):  # the kind carries its value (decision 184)
        return hmac.digest(key, kind.replace(":", "\0", 1).encode(), "sha256").hex()
    assert kind in ("id", "name", "joined", "sound", "consonants", "abjad")
    from contracts.names import consonant_key, joined_skeleton, sound_key

    v = (value.lower() if kind == "id" else normalise_name(value) if kind == "name"
         else joined_skeleton(value) if kind == "joined" else sound_key(value) if kind == "sound"
         else consonant_key(value))
    return hmac.digest(key, f"{kind}\0{v}".encode(), "sha256").hex()


@functools.lru_cache(maxsize=4096)  # pure: party names recur in every document of a trade
def _sound_kinds(name: str, *, watched: bool) -> tuple[str, ...]:
    """The sound entries a watched ``name`` has (``watched``), or those screening looks up for
    a screened one (decision 132). A name in Latin, Cyrillic or Greek letters is its ``sound``
    key (vowels read) and a name in Arabic script (:func:`contracts.names.is_abjad`, no short
    vowel written) has none; the consonant key compares the scripts with each other: every
    watched name has its ``consonants`` entry, which a name in Arabic script looks up, and a
    watched name in Arabic script also an ``abjad`` entry (the same key), which a name in
    another script looks up. Two Latin names are never compared by their consonants alone
    ("Globex" and "Galapagos" are one consonant key). At most two reads per screened name."""
    from contracts.names import consonant_key, is_abjad, sound_key

    kinds: tuple[str, ...]
    if is_abjad(name):
        kinds = ("consonants", "abjad") if watched else ("consonants",)
    else:
        kinds = ("sound", "consonants") if watched else ("sound", "abjad")
    return tuple(k for k in kinds if (sound_key(name) if k == "sound" else consonant_key(name)))


def watch_entries(key: bytes, name: str) -> list[str]:
    """The entries a regulator's client adds to watch a party name: its ``name`` digest (word
    order and legal form ignored) and its ``joined`` digest (a space or an invisible separator
    put inside a word ignored), which screening refuses on, with those of its bare form where
    it differs (:func:`bare_name`, decision 177); and, unless the name is too short a
    sound, its sound digests (:func:`_sound_kinds`: ``sound`` and ``consonants`` for a name in
    Latin, Cyrillic or Greek letters, ``consonants`` and ``abjad`` for one in Arabic script:
    spelling variants, transliterations), on which screening raises a ``possible_watch_match``
    alert for the supervisors and lets the transaction through (decisions 124, 132)."""
    return [watch_digest(key, kind, name) for kind in watch_forms(name)[0]]


@functools.lru_cache(maxsize=4096)
def watch_forms(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The kinds of :func:`watch_digest` a watched ``name`` is stored under
    (:func:`watch_entries`), and those screening looks ``name`` up by: its exact forms
    (``name``, ``joined``: a refusal) and its sound forms (:func:`_sound_kinds`: an alert),
    each followed by the same kinds of its bare form (``bare:name``, ...: :func:`bare_name`,
    decision 177) where that form differs. The regulator's client (``chainfin risk watch``)
    asks this, so it checks and removes exactly what screening and :func:`watch_entries` use."""
    exact = ("name", "joined")
    stored = exact + _sound_kinds(name, watched=True)
    looked = exact + _sound_kinds(name, watched=False)
    bare = bare_name(name)
    near_stored, near_looked = near_kinds(name), _near_check_kinds(name)
    if bare == name:
        return stored + near_stored, looked + near_looked

    def more(kinds: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(BARE + k for k in kinds if _form(k, bare) != _form(k, name))

    return (exact + more(exact) + stored[2:] + more(_sound_kinds(bare, watched=True))
            + near_stored,
            exact + more(exact) + looked[2:] + more(_sound_kinds(bare, watched=False))
            + near_looked)


def exact_kind(kind: str) -> bool:
    """A kind screening refuses on (``name``, ``joined``, and their bare forms); the others
    (sound forms, near forms) raise a ``possible_watch_match`` alert."""
    return kind.removeprefix(BARE) in ("name", "joined")


def near_kind(kind: str) -> bool:
    """A kind of near screening (decision 184): a token of the index (``near-token:``) or a
    near form (``near:``)."""
    return kind.startswith((NEAR, NEAR_TOKEN))


def _form(kind: str, name: str) -> str:
    from contracts.names import consonant_key, joined_skeleton, sound_key

    return (normalise_name(name) if kind == "name" else joined_skeleton(name)
            if kind == "joined" else sound_key(name) if kind == "sound" else consonant_key(name))


# ---------------------------------------------------------------------------- bare names
# Red-team round 9 (decision 177): a screening form of a name without the legal forms
# contracts.names does not know (spelled out in several words, or of the countries it has no
# table for), without a legal form glued to the name's last word ("GLOBEXTRADINGLLC"), and with
# a digit written between two letters read as the letter it stands for ("Gl0bex"). Screening
# only: documents, fingerprints and duplicates keep contracts.names' skeletons, so no stored
# fingerprint changes. A fixed table here, the same on every validator.

#: the prefix of a watch kind computed on the name's bare form (:func:`watch_digest`)
BARE = "bare:"

#: legal forms as words, in any script (matched word by word after contracts.names.fold, so
#: accents, case and look-alike letters do not matter; single letters as written: "s. r. o.")
BARE_FORMS: tuple[str, ...] = (
    "limited liability company", "limited liability partnership", "limited partnership",
    "public limited company", "joint stock company", "public joint stock company",
    "closed joint stock company", "open joint stock company", "private joint stock company",
    "joint stock", "gesellschaft mit beschränkter haftung", "mbh", "aktiengesellschaft",
    "kommanditgesellschaft", "offene handelsgesellschaft", "sociedad anónima",
    "sociedad limitada", "sociedad de responsabilidad limitada", "sociedade anónima",
    "sociedade anônima", "sociedade limitada", "société anonyme",
    "société à responsabilité limitée", "société par actions simplifiée",
    "società per azioni", "società a responsabilità limitata", "naamloze vennootschap",
    "besloten vennootschap", "sp z o o", "spółka z ograniczoną odpowiedzialnością",
    "spółka akcyjna", "spol s r o", "s r o", "d o o", "kft", "zrt",
    "nyrt", "ltd şti", "şti", "limited şirketi", "anonim şirketi", "ooo", "оао", "зао",
    "пао", "ао", "тов", "пат", "прат", "ип", "одо", "ооо",
    "общество с ограниченной ответственностью", "акционерное общество",
    "публичное акционерное общество", "закрытое акционерное общество",
    "открытое акционерное общество", "товариство з обмеженою відповідальністю",
)
#: legal forms a name may carry glued to its last word, read off its end (ASCII, longest
#: first; short or common endings such as "sa", "co", "ag" are left: "Mimosa", "Monaco")
GLUED_FORMS: tuple[str, ...] = (
    "incorporated", "corporation", "company", "limited", "berhad", "gmbh", "pjsc", "ojsc",
    "cjsc", "ltda", "sarl", "corp", "dmcc", "fzco", "llc", "llp", "plc", "ltd", "inc", "jsc",
    "ooo", "fze", "bhd",
)
GLUED_MIN = 4  # letters left before a glued form
_GLUED = re.compile(f"(?:{'|'.join(GLUED_FORMS)})$")
#: a digit between two letters, read as the letter it is written for (TR39 and common use)
DIGIT_LETTERS = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t",
                               "8": "b"})
_DIGIT_IN_WORD = re.compile(r"(?<=[^\W\d_])[0134578](?=[^\W\d_])")


def _fold_words(s: str) -> list[str]:
    from contracts.names import fold

    return [w for w in (fold(t.casefold()) for t in s.split()) if w]


def _bare_phrases() -> tuple[tuple[str, ...], ...]:
    return tuple(sorted({tuple(_fold_words(re.sub(r"[^\w]+", " ", f))) for f in BARE_FORMS},
                        key=len, reverse=True))


_BARE_PHRASES = _bare_phrases()
#: the phrases by their first word, longest first (a name's words are looked up, not scanned)
_BARE_BY_FIRST: dict[str, tuple[tuple[str, ...], ...]] = {}
for _ph in _BARE_PHRASES:
    _BARE_BY_FIRST[_ph[0]] = (*_BARE_BY_FIRST.get(_ph[0], ()), _ph)
_ASCII_NON_WORD = re.compile(r"[^0-9A-Za-z]+")


@functools.lru_cache(maxsize=4096)
def bare_name(name: str) -> str:
    """``name``'s screening form of decision 177: its words (letters, digits and marks; every
    other character a space), a digit between two letters read as a letter
    (:data:`DIGIT_LETTERS`), the legal forms of :data:`BARE_FORMS` dropped wherever they stand
    and one of :data:`GLUED_FORMS` cut off the end of the last word, each while a word of at
    least :data:`GLUED_MIN` letters remains. ``name`` itself when none applies."""
    from contracts.names import fold

    if name.isascii():
        text = _ASCII_NON_WORD.sub(" ", name)
    else:
        text = "".join(c if unicodedata.category(c)[0] in "LMN" else
                       "" if unicodedata.category(c) == "Cf" else " " for c in name)
    text = _DIGIT_IN_WORD.sub(lambda m: m.group().translate(DIGIT_LETTERS), text)
    words = text.split()
    # (lower case first: "ТОВ" is "тов"; an ASCII word's fold is its lower case)
    folded = [w.lower() if w.isascii() else fold(w.casefold()) for w in words]
    keep = [True] * len(words)
    i = 0
    while i < len(words):
        for ph in _BARE_BY_FIRST.get(folded[i], ()):
            n = len(ph)
            if tuple(folded[i:i + n]) == ph:
                for j in range(i, i + n):
                    keep[j] = False
                i += n - 1
                break
        i += 1
    out = [w for w, k in zip(words, keep, strict=True) if k]
    if not any(len(w) >= GLUED_MIN for w in out):
        out = words  # only legal forms: the name as written
    if out and out[-1].isascii():
        m = _GLUED.search(out[-1].lower())  # (the leftmost match: the longest form)
        if m is not None and m.start() >= GLUED_MIN:
            out = [*out[:-1], out[-1][:m.start()]]
    bare = " ".join(out)
    return name if bare == " ".join(name.split()) else bare


# ---------------------------------------------------------------------------- near matches
# Decision 184: a name that is not a watched one in any exact or sound form but contains it —
# every token of the watched name, each read by contracts.names.near_key (other romanisations,
# a plural, vowels left out), the watched name's other words as their initials allowed — is a
# possible match: an alert for review, never a refusal. The list still holds digests only: a
# watched name adds one ``near-token:`` entry per token (the index screening reads first) and
# one ``near:`` entry per form it may be met in (its tokens, some written as initials).

#: the kind prefix of a near form, ``near:<keys> |<initials>`` (:func:`near_kinds`)
NEAR = "near:"
#: the kind prefix of a token of the index, ``near-token:<key>``
NEAR_TOKEN = "near-token:"
NEAR_MAX_TOKENS = 4  # a watched name's tokens its near forms hold (its longest keys)
NEAR_MIN = 5  # codes a near form's full tokens total (a shorter name is too common a string)
NEAR_FULL_MIN = 3  # ... and those of a form with initials ("M. Al-Rashid": RXT)
NEAR_MAX_WORDS = 12  # a screened name's tokens looked up in the index
NEAR_MAX_HITS = 5  # ... and the index hits its near forms are built from
NEAR_MAX_INITIALS = 2  # ... and its initials


def _near_form(full: Iterable[str], initials: Iterable[str]) -> str:
    return NEAR + " ".join(sorted(full)) + "|" + "".join(sorted(initials))


@functools.lru_cache(maxsize=4096)  # pure: a party's name is near-screened at every document
def _near_tokens(name: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """:func:`contracts.names.near_words` of the name's :func:`bare_name` (legal forms in
    words dropped as well), a symbol standing for a letter inside a word dropped first
    (:func:`contracts.names.unmasked`, decision 207)."""
    from contracts.names import near_words, unmasked

    return near_words(bare_name(unmasked(name)))


@functools.lru_cache(maxsize=4096)
def near_kinds(name: str) -> tuple[str, ...]:
    """The near entries of a watched ``name`` (decision 184): a ``near-token:`` kind per token
    of its :data:`NEAR_MAX_TOKENS` longest near keys, and a ``near:`` kind per form it may be
    met in: its tokens, and each choice of them written as their initials (the full ones
    totalling at least :data:`NEAR_FULL_MIN` codes): "Ivan Petrov" is ``near:AFN PTRF|``,
    ``near:PTRF|i``, ``near:AFN|p``. None for a name whose tokens total fewer than
    :data:`NEAR_MIN` codes."""
    toks, _ = _near_tokens(name)
    toks = tuple(sorted(sorted(toks, key=lambda t: (-len(t[0]), t[0]))[:NEAR_MAX_TOKENS]))
    if sum(len(k) for k, _ in toks) < NEAR_MIN:
        return ()
    kinds = [NEAR_TOKEN + k for k, _ in toks]
    for mask in range(1 << len(toks)):  # a bit set: that token written as its initial
        full = [k for i, (k, _) in enumerate(toks) if not mask >> i & 1]
        initials = [c for i, (_, c) in enumerate(toks) if mask >> i & 1]
        if full and (not mask or sum(map(len, full)) >= NEAR_FULL_MIN):
            kinds.append(_near_form(full, initials))
    return tuple(kinds)


@functools.lru_cache(maxsize=4096)
def near_lookups(hits: tuple[str, ...], initials: tuple[str, ...]) -> tuple[str, ...]:
    """The ``near:`` kinds a screened name looks up once its tokens ``hits`` were found in the
    index: every choice of them (at most :data:`NEAR_MAX_TOKENS`, at least one), with every
    choice of its ``initials``, the largest first, as :func:`near_kinds` forms them."""
    from itertools import combinations

    out: list[str] = []
    for n in range(min(len(hits), NEAR_MAX_TOKENS), 0, -1):
        for full in combinations(hits, n):
            codes = sum(map(len, full))
            for j in range(min(len(initials), NEAR_MAX_TOKENS - n), -1, -1):
                if codes < (NEAR_FULL_MIN if j else NEAR_MIN):
                    continue
                out += [_near_form(full, ini) for ini in combinations(initials, j)]
    return tuple(out)


def _near_check_kinds(name: str) -> tuple[str, ...]:
    """The ``near:`` kinds ``chainfin risk watch check`` reads for ``name`` (no index: every
    choice of its first tokens, as if each were found)."""
    toks, initials = _near_tokens(name)
    return near_lookups(tuple(k for k, _ in toks[:6]), initials[:NEAR_MAX_INITIALS])


def _near_match(state: ContractState, key: bytes, name: str) -> str | None:
    """The digest of the watched near form ``name`` contains (decision 184), or None: its
    tokens looked up in the index (one read each, at most :data:`NEAR_MAX_WORDS`), then, only
    if some are there, the near forms they make (:func:`near_lookups`)."""
    looked = _NEAR_TOKEN_KEYS.get((key, name))
    if looked is None:
        looked = _near_token_keys(key, name)
    hits = tuple(k for k, skey in looked[0] if state.peek(NAME, skey) is not None)
    if not hits:  # (no near form to look up: the common case)
        return None
    for kind in near_lookups(hits[:NEAR_MAX_HITS], looked[1]):
        digest = _memo_digest(key, kind, "")
        if state.peek(NAME, "watch/" + digest) is not None:
            return digest
    return None


#: (watch key, name) -> its first :data:`NEAR_MAX_WORDS` tokens each with the state key of its
#: index entry, and its first :data:`NEAR_MAX_INITIALS` initials (:func:`_near_match`)
_NEAR_TOKEN_KEYS: dict[tuple[bytes, str],
                       tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {}


def _near_token_keys(key: bytes, name: str
                     ) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """What :func:`_near_match` reads for ``name``, memoised (a pure function of its
    arguments; emptied when full, as :func:`_memo_digest`)."""
    toks, initials = _near_tokens(name)
    looked = (tuple((k, "watch/" + _memo_digest(key, NEAR_TOKEN + k, ""))
                    for k, _ in toks[:NEAR_MAX_WORDS]), initials[:NEAR_MAX_INITIALS])
    if len(_NEAR_TOKEN_KEYS) >= _ID_DIGESTS_MAX:
        _NEAR_TOKEN_KEYS.clear()
    _NEAR_TOKEN_KEYS[key, name] = looked
    return looked


def _screen_near(state: ContractState, ctx: TxContext, key: bytes, party: str, name: str,
                 accounts: list[str] | None = None) -> bool:
    """A ``possible_watch_match`` alert naming the watched near form (``entry``: its digest,
    which ``chainfin risk watch check`` relates to a name) and the name matched, if ``name``
    contains a watched one. ``accounts``: the identity the name is of (its home bank's and the
    supervisors' alert, never its own); none: the supervisors only."""
    entry = _near_match(state, key, name)
    if entry is None:
        return False
    _alert(state, ctx, "possible_watch_match", accounts or [],
           {"party": party, "near": entry, "name": name}, kept=False)
    return True


#: ``risk`` state: the watch list's version, bumped by each ``add_watch`` that adds an entry,
#: and ``near_seen/<account>`` -> ``[version, near digest or None]``: the version an identity's
#: names were last near-screened at and the near form they matched
NEAR_VERSION = "watch_version"


def _screen_identity_near(state: ContractState, ctx: TxContext, key: bytes, acct: str,
                          ident: Mapping[str, Any], version: int) -> None:
    """An identity's names near-screened once per version of the watch list (decision 185):
    its first payment after the list changed reads its tokens, alerts its home bank and the
    supervisors on a near match (not again for the match it alerted at an earlier version),
    and records the version; every later payment reads one key."""
    seen = state.peek(NAME, "near_seen/" + acct)
    if seen is not None and seen[0] == version:
        return
    entry, detail = None, None
    for field in IDENTITY_NAME_FIELDS:
        name = ident.get(field)
        entry = _near_match(state, key, name) if name else None
        if entry is not None:
            if seen is None or seen[1] != entry:  # the same match is alerted once
                detail = {"party": "identity", "near": entry, "name": name}
                _alert(state, ctx, "possible_watch_match", [acct], detail, kept=False)
            break
    record = [version, entry]
    state.put(NAME, "near_seen/" + acct, record)
    # a refused payment (a limit, the funds, a freeze, ...) discards the alert and the record:
    # a structurer probed with payments it expected refused, unseen, and the next payment
    # screened again; so both stand then too (decision 205), the alert kept after the
    # refusing rule's, whose number stays that of a refusal alone (decision 190)
    ctx.keep_if_refused(functools.partial(_keep_near_seen, state, ctx, acct, record, detail))


def _keep_near_seen(state: ContractState, ctx: TxContext, acct: str, record: list[Any],
                    detail: Mapping[str, Any] | None) -> None:
    """What :func:`_screen_identity_near` recorded, kept by a refused transaction: the
    identity's ``near_seen`` record and its alert, if it raised one (decision 205)."""
    if detail is not None:
        _alert(state, ctx, "possible_watch_match", [acct], detail, kept=True)
    ctx.keep(None, [(NAME, "near_seen/" + acct, record)])


_ID_DIGESTS: dict[tuple[bytes, str, str], str] = {}  # (watch key, kind, value) -> its digest
_ID_DIGESTS_MAX = 1 << 15


def _id_digest(key: bytes, account: str) -> str:
    """:func:`watch_digest` of an identity id, memoised (a pure function of its arguments, so
    the cache changes no result; it is emptied when full, to stay bounded)."""
    return _memo_digest(key, "id", account)


def _name_watched(state: ContractState, key: bytes, name: str) -> bool:
    """Is ``name`` on the watch list in an exact form (:func:`watch_entries`: ``name``,
    ``joined``, and those of its bare form where it differs, decision 177)? Two reads, four
    for a name whose bare form differs."""
    keys = _EXACT_KEYS.get((key, name))
    for k in keys if keys is not None else _exact_keys(key, name):  # (every payment: a loop)
        if state.peek(NAME, k) is not None:
            return True
    return False


_EXACT_KEYS: dict[tuple[bytes, str], tuple[str, ...]] = {}  # (watch key, name) -> state keys


def _exact_keys(key: bytes, name: str) -> tuple[str, ...]:
    """The state keys of ``name``'s exact forms (:func:`_name_watched`), memoised as
    :func:`_memo_digest` (a pure function; emptied when full)."""
    keys = _EXACT_KEYS.get((key, name))
    if keys is None:
        keys = tuple("watch/" + watch_digest(key, kind, name)
                     for kind in watch_forms(name)[1] if exact_kind(kind))
        if len(_EXACT_KEYS) >= _ID_DIGESTS_MAX:
            _EXACT_KEYS.clear()
        _EXACT_KEYS[key, name] = keys
    return keys


def _name_sounds_watched(state: ContractState, key: bytes, name: str) -> bool:
    """Does ``name`` sound like a watched one (its sound entries, :func:`_sound_kinds`, and
    its bare form's)? Asked only of a name not watched in its exact forms; at most two reads
    (four for a name whose bare form differs)."""
    keys = _SOUND_KEYS.get((key, name))
    if keys is None:
        keys = tuple("watch/" + _memo_digest(key, kind, name) for kind in watch_forms(name)[1]
                     if not exact_kind(kind) and not near_kind(kind))
        if len(_SOUND_KEYS) >= _ID_DIGESTS_MAX:
            _SOUND_KEYS.clear()
        _SOUND_KEYS[key, name] = keys
    for k in keys:
        if state.peek(NAME, k) is not None:
            return True
    return False


_SOUND_KEYS: dict[tuple[bytes, str], tuple[str, ...]] = {}  # (watch key, name) -> state keys


def _possible_match(state: ContractState, ctx: TxContext, party: str) -> None:
    """A name sounds like a watched one: an alert for the supervisors to review (it names no
    account, so neither the signer nor the party is tipped off); the transaction goes on."""
    alert_supervisors(state, ctx, "possible_watch_match", {"party": party})


def _memo_digest(key: bytes, kind: str, value: str) -> str:
    d = _ID_DIGESTS.get((key, kind, value))
    if d is None:
        d = watch_digest(key, kind, value)
        if len(_ID_DIGESTS) >= _ID_DIGESTS_MAX:
            _ID_DIGESTS.clear()
        _ID_DIGESTS[key, kind, value] = d
    return d


def _profile(state: ContractState, subject: str) -> dict[str, Any]:
    return state.get(NAME, "profile/" + subject) or {"rules": [], "frozen": {}}


def _put_profile(state: ContractState, subject: str, prof: dict[str, Any]) -> None:
    if prof["rules"] or prof["frozen"]:
        state.put(NAME, "profile/" + subject, prof)
    else:
        state.delete(NAME, "profile/" + subject)


def _alert(state: ContractState, ctx: TxContext, rule: str, accounts: list[str],
           detail: Mapping[str, Any], kept: bool) -> None:
    """Raise alert ``rule``: an ``alert`` event, the accounts' alert lists, the rule's count and
    the alert's case for review (:mod:`contracts.risk_cases`: its record and its place in the
    review queues, O(1) keys per alert). ``kept``: recorded even though the transaction is
    refused (the refusing rule's alert): its writes are then computed from the state before the
    transaction (:func:`_kept_view`), whose own writes are discarded."""
    from contracts import risk_cases  # (risk_cases imports this module)

    alert_id = risk_cases.next_alert_id(ctx, kept)
    data = {"rule": rule, "accounts": accounts, "height": ctx.height,
            "time_ms": ctx.timestamp_ms, **detail, "alert": alert_id}
    view = _kept_view(state, ctx) if kept else state.get
    writes: list[tuple[str, str, Any]] = []
    entry = {"rule": rule, "tx_id": ctx.tx_hex, "height": ctx.height, "alert": alert_id}
    for acct in sorted(set(accounts)):
        lst = view(NAME, "alerts/" + acct) or []
        writes.append((NAME, "alerts/" + acct, [*lst, entry][-KEEP_ALERTS:]))
    count = view(NAME, "alert_count/" + rule) or 0
    writes.append((NAME, "alert_count/" + rule, count + 1))
    writes += risk_cases.open_case(state, view, ctx, alert_id, data)
    if kept:
        ctx.keep(("alert", data, NAME), writes)
    else:
        for c, k, v in writes:
            state.put(c, k, v)
        ctx.emit("alert", data, contract=NAME)


def _kept_view(state: ContractState, ctx: TxContext) -> Callable[[str, str], Any]:
    """Reads for a kept alert's writes: the transaction's earlier kept writes, else the state as
    it was before the transaction. A refused transaction's own writes are discarded and its kept
    writes applied after, so a count or a queue computed from the transaction's view would
    include a monitoring alert raised earlier in the same (refused) transaction."""
    parent = state.parent if type(state) is Overlay else None
    before = parent if type(parent) is Overlay else state  # (the block's overlay)

    def get(contract: str, key: str) -> Any:
        for c, k, v in reversed(ctx.kept_writes):
            if c == contract and k == key:
                return v  # (callers build new values: never mutated)
        return before.get(contract, key)

    return get


def alert_supervisors(state: ContractState, ctx: TxContext, rule: str,
                      detail: Mapping[str, Any]) -> None:
    """Raise alert ``rule`` for the supervisors alone (it names no account, so no account's
    alert list or stream gets it): what another contract found suspicious."""
    _alert(state, ctx, rule, [], detail, kept=False)


# ============================================================================ the rules


def check_not_frozen(state: ContractState, account: str, currency: str,
                     standing_checked: bool = False) -> None:
    """A frozen identity, or its frozen account in ``currency``, neither pays nor is paid.
    ``standing_checked``: the account is the signer, whose standing execution has checked.

    Raises:
        ContractError: ``account_frozen`` (identity frozen or revoked, or account frozen).
    """
    if not standing_checked:
        ident = gov.peek_identity(state, account)
        if ident is not None and ident.get("status") in ("frozen", "revoked"):
            raise _frozen(ident["status"], standing_checked)
    prof = state.peek(NAME, "profile/" + account)
    if prof is not None and currency in prof["frozen"]:
        raise _frozen(f"frozen in {currency}", standing_checked)


def _frozen(what: str, own: bool) -> ContractError:
    """``account_frozen``: naming what is frozen only to the signer about its own account; of
    another party it says neither which nor why (its standing is not the payer's to read:
    red-team round 2)."""
    if own:
        return ContractError(f"your account is {what}", "account_frozen")
    return ContractError("a party cannot take part in this payment (frozen)", "account_frozen")


def screen_identities(state: ContractState, ctx: TxContext, accounts: Iterable[str], *,
                      places: bool = True, refusing: bool = True,
                      home_banks: bool = False) -> None:
    """No payment, PvP leg or issuance may involve an identity on the watch list; and (unless
    ``places`` is false: a payment screens its two sides' places itself, with the amount) none
    in a refused jurisdiction, the identities and the signer
    (:func:`contracts.risk_jurisdictions.screen_accounts`: a monitored one alerts).

    ``refusing`` false: the near screening alone, of the identities not watched exactly (a
    payment refused before its screening, for a freeze: decision 205); nothing refused.

    ``home_banks`` (money moving: :func:`check_payment`, :func:`check_receipt`,
    :func:`check_on_behalf`): a customer among the identities whose home bank is watched is
    dealt with as the consortium's :func:`watched_bank_customers` policy says (decision 277);
    its home banks are read only under a policy other than :data:`ALLOW`.

    Raises:
        ContractError: ``sanctioned_party`` (the alert is kept), ``jurisdiction_refused``.
    """
    accounts = tuple(accounts)
    key = watch_key(ctx.fingerprint_key)
    version = None
    policy: str | None = None  # the consortium's, read once, for a customer's first (below)
    customers: list[str] = []  # customers of a watched bank (decision 277)
    banks: dict[str, bool] = {}  # bank id -> watched (two customers of one bank: read once)
    for acct in accounts:
        if not acct:
            continue
        hit = state.peek(NAME, "watch/" + _id_digest(key, acct)) is not None
        ident = None
        if not hit:
            ident = gov.peek_identity(state, acct)
            if ident is not None:
                # every exact form of each of its names, as a document's party name is
                # screened: an identity registered as "GlobexTrading" before "Globex Trading"
                # was listed paid on (red-team round 9, decision 177)
                names = (ident.get("name"), ident.get("legal_name"))  # IDENTITY_NAME_FIELDS
                keys = _IDENTITY_KEYS.get((key, names))
                if keys is None:
                    keys = _identity_keys(key, names)
                for k in keys:  # (a loop, no call per name: screening runs on every payment)
                    if state.peek(NAME, k) is not None:
                        hit = True
                        break
                if not hit:  # a near match: once per identity and version of the list
                    if version is None:
                        version = state.peek(NAME, NEAR_VERSION) or 0
                    if version:
                        _screen_identity_near(state, ctx, key, acct, ident, version)
        if (home_banks and not hit and refusing and ident is not None
                and ident.get("role") in gov.CUSTOMER_ROLES
                and (ident.get("registered_by") or ident.get("bank"))):
            # a customer's home bank: read only under a policy other than "allow" (decision 277)
            if policy is None:
                policy = watched_bank_customers(state)
            if policy != ALLOW and _home_bank_watched(state, key, ident, banks):
                customers.append(acct)
        if hit and refusing:
            # the alert goes to the signer's list, never the watched party's (no tipping off:
            # supervisors read it from the event; the detail names the watched account)
            # the detail names no one: the signer's receipt carries it, and supervisors see
            # the transaction whole (red-team round 2)
            _alert(state, ctx, "sanctioned_party", [ctx.sender_hex], {"party": "identity"},
                   kept=True)
            raise ContractError("a party to this transaction is on the watch list",
                                "sanctioned_party")
    if customers:
        _watched_bank_customer(state, ctx, accounts, customers, policy == REFUSE)
    if places and refusing:
        _jur.screen_accounts(state, ctx, accounts)


#: ``governance/params`` key of the consortium's policy on a payment to or from a customer of a
#: watched bank (decisions 277-280): :data:`ALLOW` (the default, and the rule of a chain whose
#: genesis predates it: the payment is screened on its parties alone), :data:`ALERT` (it
#: commits, with a ``watched_bank_customer`` alert) or :data:`REFUSE` (refused
#: ``sanctioned_party``, the alert kept). OFAC's SDN and the EU's asset freezes block a
#: transaction involving a listed bank, and a payment to or from an account it holds is one;
#: correspondent-account sanctions (the CAPTA list) restrict rather than block: a policy the
#: consortium votes (governance ``set_watched_bank_customers``), not a rule of the code.
WATCHED_BANK_CUSTOMERS = "watched_bank_customers"
ALLOW, ALERT, REFUSE = "allow", "alert", "refuse"
WATCHED_BANK_POLICIES = (ALLOW, ALERT, REFUSE)


def watched_bank_customers(state: ContractState) -> str:
    """The consortium's :data:`WATCHED_BANK_CUSTOMERS` policy (absent: :data:`ALLOW`)."""
    stored = state.peek(gov.NAME, "params") or {}
    policy = stored.get(WATCHED_BANK_CUSTOMERS, ALLOW)
    return policy if policy in WATCHED_BANK_POLICIES else ALLOW


def _home_bank_watched(state: ContractState, key: bytes, ident: Mapping[str, Any],
                       banks: dict[str, bool]) -> bool:
    """Is a home bank of customer record ``ident`` watched (by its id or an exact form of one
    of its names: :func:`identity_watched`)? Its home banks are the two of
    :func:`contracts.governance.home_bank_rule`: the admin bank that registered it, and the bank
    identity holding the BIC/LEI in its ``bank`` field (governance's ``bic/`` index, decision
    237; a BIC held by no bank identity names no bank of the ledger). A customer of a watched
    bank's BIC registered by another admin is that bank's customer all the same: the code is
    where its account is held. ``banks``: the answers so far for this transaction's screening
    (bank id -> watched), added to.

    Reads: the ``bic/`` claim of its BIC, and per bank not yet in ``banks`` the reads of
    :func:`identity_watched` (its id's digest, its record, its names' exact keys)."""
    homes = [ident.get("registered_by")]
    bank = ident.get("bank")
    if isinstance(bank, str) and bank:
        claim = state.peek(gov.NAME, "bic/" + bic_key(bank))
        homes.append(claim.get("holder") if claim is not None else None)
    for home in homes:
        if not home:
            continue
        watched = banks.get(home)
        if watched is None:
            watched = banks[home] = identity_watched(state, key, home)
        if watched:
            return True
    return False


def _watched_bank_customer(state: ContractState, ctx: TxContext, accounts: Sequence[str],
                           customers: Sequence[str], refuse: bool) -> None:
    """A payment whose payer or payee (``customers``) is a customer of a watched bank, under
    the policy :data:`ALERT` (``refuse`` false: a ``watched_bank_customer`` alert, the payment
    commits) or :data:`REFUSE` (the alert kept, the payment refused). The alert names the
    transaction's other accounts and its signer, never the customers: their home bank is the
    watched bank, whose review queue an alert naming them would reach (tipping off, FATF R.21);
    supervisors see it in the network queue, the other side's bank in its own. The detail names
    no one either, as a watch-list hit's.

    Raises:
        ContractError: ``sanctioned_party`` (``refuse``; the alert is kept).
    """
    named = sorted({*accounts, ctx.sender_hex} - {*customers, ""})
    _alert(state, ctx, WATCHED_BANK_CUSTOMER_RULE, named,
           {"party": "customer_of_watched_bank", "policy": REFUSE if refuse else ALERT},
           kept=refuse)
    if refuse:
        raise ContractError("a party to this transaction is a customer of a bank on the watch "
                            "list", "sanctioned_party")


#: An identity is screened by its id and by each of these names (a watched name stops the
#: identity that bears it, not only documents that name it: red-team F7, decision 111).
IDENTITY_NAME_FIELDS = ("name", "legal_name")

#: (watch key, (name, legal_name)) -> the state keys of the exact forms of both names
_IDENTITY_KEYS: dict[tuple[bytes, tuple[Any, Any]], tuple[str, ...]] = {}


def _identity_keys(key: bytes, names: tuple[Any, Any]) -> tuple[str, ...]:
    """The state keys :func:`screen_identities` reads for an identity's names: each name's
    :func:`_exact_keys` in :data:`IDENTITY_NAME_FIELDS` order, a key met twice read once (a
    read changes nothing, so the answer is that of reading every form of each name).
    Memoised by the names (a pure function; emptied when full, as :func:`_memo_digest`)."""
    out: list[str] = []
    for name in names:
        if name:
            out += (k for k in _exact_keys(key, name) if k not in out)
    keys = tuple(out)
    if len(_IDENTITY_KEYS) >= _ID_DIGESTS_MAX:
        _IDENTITY_KEYS.clear()
    _IDENTITY_KEYS[key, names] = keys
    return keys


def screen_identity_name(state: ContractState, ctx: TxContext, name: str) -> None:
    """A new identity may not bear a watched name (``governance.register_identity``), nor be
    registered by a watched bank: a listed admin bank kept onboarding customers, each a fresh
    account for its money (red-team round 12, decision 236).

    Raises:
        ContractError: ``sanctioned_party`` (the alert is kept).
    """
    screen_identities(state, ctx, (ctx.sender_hex,), places=False)
    key = watch_key(ctx.fingerprint_key)
    if _name_watched(state, key, name):
        _alert(state, ctx, "sanctioned_party", [ctx.sender_hex], {"party": "identity"},
               kept=True)
        raise ContractError("the new identity's name is on the watch list", "sanctioned_party")
    if _name_sounds_watched(state, key, name):
        _possible_match(state, ctx, "identity")
    else:
        _screen_near(state, ctx, key, "identity", name)  # decision 184


def screen_parties(state: ContractState, ctx: TxContext, names: Mapping[str, str],
                   ports: Mapping[str, str] | None = None) -> None:
    """No document or financing may name a watched party: ``names`` maps the party's role
    (seller, buyer, shipper, applicant, beneficiary, ...) to its name as written. Nor a port
    in a refused jurisdiction: ``ports`` maps a port's role to the country recorded for it at
    registration, only for ports written as UN/LOCODEs (a monitored one alerts:
    :func:`contracts.risk_jurisdictions.screen_ports`; names are never read for a place).

    Raises:
        ContractError: ``sanctioned_party`` naming the role, never the name (the alert is kept);
            ``jurisdiction_refused`` naming the port's role and its place.
    """
    key = watch_key(ctx.fingerprint_key)
    possible, near = [], []
    for role in sorted(names):
        name = names[role]
        if name and (_name_watched(state, key, name)
                     or any(_name_watched(state, key, a) for a in name_aliases(role, name))
                     or any(identity_watched(state, key, h) for h in code_holders(state, name))):
            _alert(state, ctx, "sanctioned_party", [ctx.sender_hex], {"party": role}, kept=True)
            raise ContractError(f"the {role} is on the watch list", "sanctioned_party")
        if name and _name_sounds_watched(state, key, name):
            possible.append(role)
        elif name:
            near.append(role)
    if ports:
        _jur.screen_ports(state, ctx, ports)  # ports written as UN/LOCODEs, by their places
    for role in possible:  # after every exact check: a refusal keeps no possible-match alert
        _possible_match(state, ctx, role)
    for role in near:  # a name containing a watched one (decision 184)
        _screen_near(state, ctx, key, role, names[role])


# ---------------------------------------------------------------------------- codes in names
# Red-team round 12 (decision 237): a party named by a code, or a vessel by its prefix or its
# IMO number, was screened as a string of letters: "GLBXRUMM" (the BIC of a watched bank) was no
# watched name; "MV Oceanic Star" and "Oceanic Star (IMO 9074729)" were only possible matches
# of a watched vessel "Oceanic Star", and a renamed vessel with a watched IMO number nothing.
# Screening only (documents keep contracts.names' skeletons): the extra lookups are made for a
# name that holds such a code or prefix, never on a plain transfer.

#: words a vessel's name is written after (its type: motor vessel, motor tanker, motor ship,
#: steamship, motor yacht, sailing yacht), dropped from the head of a ``vessel`` field only:
#: elsewhere "MT Bank" or "MS Amlin" are companies' names
VESSEL_PREFIXES: tuple[tuple[str, ...], ...] = (
    ("motor", "vessel"), ("motor", "tanker"), ("motor", "ship"), ("m", "v"), ("m", "t"),
    ("m", "s"), ("m", "y"), ("s", "y"), ("mv", ), ("mt", ), ("ms", ), ("ss", ), ("my", ),
    ("sy", ), ("mts", ),
)
#: an IMO ship identification number as written: "IMO 9074729", "IMO No. 9074729", "IMO:9074729"
_IMO = re.compile(r"\bimo\W*(?:no\b\W*|number\W*|nr\b\W*)?([0-9]{7})\b")
#: an LEI (ISO 17442): 18 letters or digits and two check digits, as one word
_LEI = re.compile(r"\b[0-9A-Z]{18}[0-9]{2}\b")
#: a BIC (ISO 9362) as one word of 8 or 11 characters: 4 letters, a country, 2 (and 3) more
_BIC_WORD = re.compile(r"\b[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b")


def imo_valid(digits: str) -> bool:
    """The IMO number's check digit (its seventh: the first six times 7, 6, 5, 4, 3, 2, summed,
    modulo 10), so a 7-digit reference that is no ship's number is not read as one."""
    return sum(int(digits[i]) * (7 - i) for i in range(6)) % 10 == int(digits[6])


def lei_valid(lei: str) -> bool:
    """The LEI's check digits (ISO 17442, ISO 7064 MOD 97-10: the letters as 10-35, the whole
    number modulo 97 is 1)."""
    return int("".join(str(int(c, 36)) for c in lei)) % 97 == 1


@functools.lru_cache(maxsize=4096)
def name_aliases(role: str, name: str) -> tuple[str, ...]:
    """The other names a party name is screened by exactly (decision 237): each IMO number it
    holds as "IMO <number>" (check digit valid), each LEI it holds (check digits valid) as the
    LEI, and for a ``vessel`` the name without its type prefix (:data:`VESSEL_PREFIXES`) and
    without its IMO number. Empty for a name with none of these (the common case). A regulator
    lists a vessel by its name and its IMO number ("IMO 9074729"), a party by its LEI, as names
    (``chainfin risk watch add``)."""
    from contracts.names import fold

    out: list[str] = []
    low = fold(name)
    imos = [d for d in _IMO.findall(low) if imo_valid(d)] if "imo" in low else []
    out += (f"IMO {d}" for d in imos)
    if any(c.isdigit() for c in name):
        out += (m for m in _LEI.findall(name.upper()) if lei_valid(m) and m != name.strip().upper())
    if role.split(":")[0] == "vessel":
        words = re.findall(r"[^\W_]+", _IMO.sub(" ", low))
        for prefix in VESSEL_PREFIXES:
            if tuple(words[:len(prefix)]) == prefix and len(words) > len(prefix):
                words = words[len(prefix):]
                break
        rest = " ".join(words)
        if rest and rest != " ".join(re.findall(r"[^\W_]+", low)):
            out.append(rest)
    return tuple(dict.fromkeys(out))


def code_holders(state: ContractState, name: str) -> list[str]:
    """The bank identities a name's BIC- or LEI-shaped words are the codes of (governance's
    ``bic/`` index: the first bank identity registered with it; decision 237): a party named
    only by its bank's code is screened as that identity. One absent-key read per such word
    ("SHANGHAI" has the shape), none for a name without one."""
    from contracts.risk_jurisdictions import bic_country

    up = name.upper()
    words = re.findall(r"[0-9A-Z]+", up)
    whole = "".join(words)  # a code written in groups ("GLBX RU MM") or in lower case
    if not any(len(w) in (8, 11, 20) for w in (*words, whole)):
        return []
    codes = [w for w in _BIC_WORD.findall(up) if bic_country(w) is not None]
    if len(words) > 1 and len(whole) in (8, 11, 20) and (
            (len(whole) != 20 and _BIC_WORD.fullmatch(whole) and bic_country(whole))
            or (len(whole) == 20 and _LEI.fullmatch(whole) and lei_valid(whole))):
        codes.append(whole)
    codes += (w for w in _LEI.findall(up) if lei_valid(w))
    out = []
    for c in dict.fromkeys(bic_key(c) for c in codes):
        claim = state.peek(gov.NAME, "bic/" + c)
        if claim is not None and claim.get("holder"):
            out.append(claim["holder"])
    return out


def identity_watched(state: ContractState, key: bytes, acct: str) -> bool:
    """Is identity ``acct`` watched, by its id or an exact form of one of its names (the reads
    of :func:`screen_identities`, without its near screening)?"""
    if state.peek(NAME, "watch/" + _id_digest(key, acct)) is not None:
        return True
    ident = gov.peek_identity(state, acct)
    if ident is None:
        return False
    names = (ident.get("name"), ident.get("legal_name"))
    keys = _IDENTITY_KEYS.get((key, names)) or _identity_keys(key, names)
    return any(state.peek(NAME, k) is not None for k in keys)


def screen_bank_code(state: ContractState, ctx: TxContext, role: str, code: str | None) -> None:
    """A bank a document names by its BIC or LEI (a letter of credit's ``issuing_bank``) is not
    a watched bank identity (decision 237).

    Raises:
        ContractError: ``sanctioned_party`` naming the role (the alert is kept).
    """
    if not code:
        return
    key = watch_key(ctx.fingerprint_key)
    claim = state.peek(gov.NAME, "bic/" + bic_key(code))
    if claim is not None and claim.get("holder") and identity_watched(state, key,
                                                                      claim["holder"]):
        _alert(state, ctx, "sanctioned_party", [ctx.sender_hex], {"party": role}, kept=True)
        raise ContractError(f"the {role} is on the watch list", "sanctioned_party")


def _rules_for(state: ContractState, account: str,
               currency: str) -> list[tuple[str, Mapping[str, Any]]]:
    """(subject, rule) of every rule on ``account``'s outflows in ``currency``: network first;
    a rule in a base currency (``"base": True``, decision 187) applies in every currency.
    The rules are the profiles' own (shared, read only: :meth:`StateView.peek`)."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for subject in (NETWORK, account):
        prof = state.peek(NAME, "profile/" + subject)
        if prof is not None:
            out += [(subject, r) for r in prof["rules"]
                    if r["currency"] in (currency, ANY_CURRENCY) or "base" in r]
    return out


def _window_use(entry: Mapping[str, Any] | None, rule: Mapping[str, Any],
                now_ms: int) -> tuple[dict[str, Any], int, int]:
    """A windowed rule's counter rebuilt from ``entry`` (its entry in the account's usage
    record, read only) with expired buckets dropped (re-cut when the rule's window changed), and
    the amount and count inside the window
    (the last BUCKETS buckets of block time, the current one included). The result is a new
    dict and list (its buckets may be ``entry``'s: replace them, never mutate them)."""
    size = -(-rule["window_s"] * 1000 // BUCKETS)
    now = now_ms // size
    if entry is None:
        b: list[Sequence[int]] = []
    elif entry["size"] != size:  # the rule was re-set with another window (decision 193):
        # its buckets re-cut, each counted from its start (never longer than the new window)
        cut: dict[int, list[int]] = {}
        for x in entry["b"]:
            j = x[0] * entry["size"] // size
            if j > now - BUCKETS:
                c = cut.setdefault(j, [j, 0, 0])
                c[1] += x[1]
                c[2] += x[2]
        b = [cut[j] for j in sorted(cut)]
    else:
        b = [x for x in entry["b"] if x[0] > now - BUCKETS]
    return {"size": size, "b": b}, sum(x[1] for x in b), sum(x[2] for x in b)


def _usage_key(subject: str, rule: Mapping[str, Any]) -> str:
    """A windowed rule's entry in the account's usage record: its ``rule_id``, and for a
    network rule ``*`` + its id. Rule ids never start with ``*`` (:func:`parse_rule`), so an
    account's own rule cannot share, and so reset, a network rule's counter (red-team F4)."""
    rule_id = str(rule["rule_id"])
    return NETWORK + rule_id if subject == NETWORK else rule_id


def _expired(entry: Mapping[str, Any], now_ms: int) -> bool:
    """No bucket of a usage entry is inside its window any more: the entry counts nothing,
    exactly as if it were absent, and is dropped when the record is next written."""
    now = now_ms // entry["size"]
    return all(x[0] <= now - BUCKETS for x in entry["b"])


def _refuse_limit(state: ContractState, ctx: TxContext, subject: str, rule: Mapping[str, Any],
                  frm: str, to: str, currency: str, amount: int, what: str,
                  base_amount: int | None = None) -> ContractError:
    detail = {"rule_id": rule["rule_id"], "kind": rule["kind"], "subject": subject,
              "currency": currency, "amount": amount, "max": rule["max"], "counterparty": to}
    # the rule counts in its currency (a base, decision 187), else in the payment's; a velocity
    # rule counts payments, not money (decision 223: amounts said with their decimals)
    unit = str(rule.get("currency", currency))
    if base_amount is not None:  # a limit in a base currency (decision 187)
        detail |= {"base": rule["currency"], "base_amount": base_amount}
        what += (f" ({said(state, amount, currency)} counted as "
                 f"{said(state, base_amount, unit)} at the reference rate)")
    cap = rule["max"] if rule["kind"] == "velocity" else said(state, rule["max"], unit)
    _alert(state, ctx, "limit_exceeded", [frm], detail, kept=True)
    return ContractError(f"limit {rule['rule_id']} ({rule['kind']}, max {cap}): {what}",
                         "limit_exceeded")


# The limit rules: each says how a payment breaks it (a sentence for the refusal) or None.
# A broken rule refuses the payment with ``limit_exceeded`` naming the rule.


def _said_in(state: ContractState, currency: str, amount: int) -> str:
    return said(state, amount, currency)


# ``say`` says an amount in the rule's units (:func:`contracts.amounts.said`, decision 223).


def breaks_per_payment_maximum(rule: Mapping[str, Any], amount: int, window_total: int,
                               window_count: int, say: Callable[[int], str] = str) -> str | None:
    """No single payment may be larger than the maximum (the maximum itself passes)."""
    return f"{say(amount)} in one payment" if amount > rule["max"] else None


def breaks_window_outflow(rule: Mapping[str, Any], amount: int, window_total: int,
                          window_count: int, say: Callable[[int], str] = str) -> str | None:
    """What an account paid within the window, this payment included, may not exceed the
    maximum."""
    if window_total + amount > rule["max"]:
        return f"{say(window_total)} + {say(amount)} paid within {rule['window_s']} s"
    return None


def breaks_velocity(rule: Mapping[str, Any], amount: int, window_total: int,
                    window_count: int, say: Callable[[int], str] = str) -> str | None:
    """An account may make at most ``max`` outgoing payments within the window."""
    if window_count + 1 > rule["max"]:
        return f"{window_count + 1} payments within {rule['window_s']} s"
    return None


LIMIT_RULES = {"max_per_tx": breaks_per_payment_maximum,
               "window_outflow": breaks_window_outflow,
               "velocity": breaks_velocity}


def check_limits(state: ContractState, ctx: TxContext, frm: str, to: str, currency: str,
                 amount: int) -> tuple[int, int, str | None] | None:
    """An outflow may not break a limit on its account (:data:`LIMIT_RULES`). Counts the
    outflow in every windowed rule when none is broken. A rule in a base currency (decision
    187) counts a payment in another currency at the reference rate, rounded up
    (:func:`contracts.risk_rates.to_base`). Returns ``(counted, max, base)`` of the
    per-payment maximum the payment comes nearest to (structuring is measured against it), or
    None: a rule in the payment's currency counts the amount, one in a base currency the amount
    at the reference rate, rounded up as the limit counts it (decision 193); ``base``: that
    rule's base currency (its near payments are counted in one count, decision 206), or None.

    Raises:
        ContractError: ``limit_exceeded`` naming the rule (its alert is kept, nothing else);
            ``rate_unavailable``: a base-currency rule and no fresh rate (decision 188).
    """
    rules = _rules_for(state, frm, currency)
    if not rules:
        return None
    # the account's usage record, read only: the updated record is built anew below
    record: Mapping[str, Any] = state.peek(NAME, "use/" + frm) or {}
    counted = []
    # (counted, max, base) of the nearest per-payment max
    nearest: tuple[int, int, str | None] | None = None
    for subject, rule in rules:
        use, total, count = None, 0, 0
        counts, converted = amount, "base" in rule and rule["currency"] != currency
        if converted:  # a limit in a base currency: the payment at the reference rate
            counts = _rates.to_base(state, ctx.timestamp_ms, rule["currency"], currency, amount)
        if rule["kind"] == "max_per_tx" and (
                nearest is None or counts * nearest[1] > nearest[0] * rule["max"]):
            # the highest counts / max (a lower max on a tie)
            nearest = (counts, rule["max"], rule["currency"] if "base" in rule else None)
        if rule["window_s"]:
            ukey = _usage_key(subject, rule)
            use, total, count = _window_use(record.get(ukey), rule, ctx.timestamp_ms)
            counted.append((ukey, use, counts))
        unit = str(rule["currency"]) if converted else currency
        broken = LIMIT_RULES[rule["kind"]](rule, counts, total, count,
                                           functools.partial(_said_in, state, unit))
        if broken is not None:
            raise _refuse_limit(state, ctx, subject, rule, frm, to, currency, amount, broken,
                                counts if converted else None)
    if counted:
        now_ms = ctx.timestamp_ms
        new = {rid: e for rid, e in sorted(record.items()) if not _expired(e, now_ms)}
        for ukey, use, counts in counted:
            now = now_ms // use["size"]
            b = use["b"]
            if b and b[-1][0] == now:
                b[-1] = [now, b[-1][1] + counts, b[-1][2] + 1]
            else:
                b.append([now, counts, 1])
            new[ukey] = use
        state.put(NAME, "use/" + frm, new)
    return nearest


def check_payment(state: ContractState, ctx: TxContext, frm: str, to: str, currency: str,
                  amount: int, linked_return: bool = False) -> None:
    """Everything money moving from ``frm`` to ``to`` must pass, in order: neither side frozen,
    neither side on the watch list nor in a refused jurisdiction (a monitored one alerts), no
    limit on ``frm`` broken; then the pattern alerts (``linked_return``: a return of a payment
    ``to`` made, recorded against it, raises none and leaves no trace in the pattern memory:
    the money going back is the point of it, and on the ledger as such)."""
    try:
        check_not_frozen(state, frm, currency, standing_checked=frm == ctx.sender_hex)
        check_not_frozen(state, to, currency)
    except ContractError:
        # refused for a freeze before its screening: a near match is still raised (kept by
        # the refusal, decision 205), or a payment to a frozen account probed unseen
        screen_identities(state, ctx, (frm, to), places=False, refusing=False)
        raise
    screen_identities(state, ctx, (frm, to), places=False, home_banks=True)
    _jur.screen_payment(state, ctx, frm, to, currency, amount)
    nearest = check_limits(state, ctx, frm, to, currency, amount)
    if nearest is None:
        watch_patterns(state, ctx, frm, to, currency, amount, None, linked_return)
    else:
        watch_patterns(state, ctx, frm, to, currency, amount, nearest[1], linked_return,
                       counted=nearest[0], base=nearest[2])


def check_receipt(state: ContractState, ctx: TxContext, to: str, currency: str) -> None:
    """Money arriving without an outflow to count (issuance): the recipient is neither frozen
    nor watched, nor it or the signer in a refused jurisdiction (a monitored one alerts)."""
    check_not_frozen(state, to, currency)
    screen_identities(state, ctx, (to,), home_banks=True)


def check_on_behalf(state: ContractState, ctx: TxContext, accounts: Iterable[str],
                    currency: str) -> None:
    """Money paid *on behalf of* ``accounts`` without their being a side of the payment (an
    LC's proceeds: the applicant's debt; proceeds assigned to a financing bank, a buyer
    repaying an exporter's financing: the exporter's debt): each is neither frozen (identity,
    or its account in ``currency``) nor watched nor in a refused jurisdiction, as if it paid
    (red-team F8c for the applicant; round 9, decision 178, for the exporter). The signer —
    the bank that gives the promise or pays under it (an LC's issuer, a guarantor), or the
    party that pays or claims — is not watched either: a watched bank's credit or guarantee
    was issued, amended and relied on until its payment was refused (red-team round 12,
    decision 236). Only the watch list: a promisor whose account is frozen still promises (its
    payment out of it is refused), as before.

    Raises:
        ContractError: ``account_frozen``, ``sanctioned_party``, ``jurisdiction_refused``.
    """
    accounts = tuple(accounts)
    screen_identities(state, ctx, accounts, home_banks=True)
    if ctx.sender_hex not in accounts:  # (its places are screened with the accounts)
        screen_identities(state, ctx, (ctx.sender_hex,), places=False, home_banks=True)
    for acct in accounts:
        check_not_frozen(state, acct, currency)


# ---------------------------------------------------------------------------- patterns


def _stats(state: ContractState, account: str, currency: str) -> dict[str, Any]:
    """The account's pattern memory, to be updated and put back: a new top-level dict over the
    stored record's lists (read with :meth:`StateView.peek`, no deep copy). The update only
    rebinds ``avg``, ``n``, ``cps`` and ``near`` to new values, never changes a list (or a pair
    in one) in place, so the stored record stays as it was."""
    stored = state.peek(NAME, f"stats/{account}/{currency}")
    if stored is None:
        return {"n": 0, "avg": 0, "cps": [], "near": []}
    return dict(stored)


def watch_patterns(state: ContractState, ctx: TxContext, frm: str, to: str, currency: str,
                   amount: int, per_tx_limit: int | None, linked_return: bool = False,
                   counted: int | None = None, base: str | None = None) -> None:
    """Alerts that do not refuse: structuring (``counted``, the payment in the limit's units —
    ``amount`` unless the limit is in a base currency, decision 193 — against
    ``per_tx_limit``, the per-transaction maximum it comes nearest to; ``base``: that maximum's
    base currency, whose pattern memory counts the near payments of every currency, decision
    206), a sudden counterparty change, round-tripping. Updates the payer's
    pattern memory (bounded, O(1)); reads the payee's (written only when a trip is found).
    A linked return (``linked_return``) is the payer's own money going back: no pattern, and
    no trace in the memory (a payer paying again after a return is no round trip)."""
    if linked_return:
        return
    now = ctx.timestamp_ms
    mine = _stats(state, frm, currency)
    to_short, frm_short = to[:MEMORY_ID_HEX], frm[:MEMORY_ID_HEX]
    payee = state.peek(NAME, f"stats/{to}/{currency}")  # read only; a new record is written
    new_payee: dict[str, Any] | None = None
    if payee is not None and is_round_trip(payee, frm_short, now):
        _alert(state, ctx, "round_trip", [to, frm], {"currency": currency, "amount": amount},
               kept=False)
        new_payee = {  # one alert per trip
            **payee, "cps": [[c, 0 if c == frm_short else t] for c, t in payee["cps"]]}
    if is_counterparty_change(mine, to_short, amount):
        _alert(state, ctx, "counterparty_change", [frm], {
            "counterparty": to, "currency": currency, "amount": amount,
            "average": mine["avg"]}, kept=False)
    counted = amount if counted is None else counted
    across = base is not None and base != currency and is_near_limit(per_tx_limit, counted)
    if across:  # (read only for a near payment: nothing more on any other)
        # near a base-currency maximum in another currency: counted in the base's memory
        # with the near payments in every currency, so alternating currencies counts once
        # (decision 206), as the limit itself counts them
        assert base is not None
        in_base = _stats(state, frm, base)
        near = count_near_limit(in_base, per_tx_limit, counted, now, ctx.tx_hex)
        state.put(NAME, f"stats/{frm}/{base}", in_base)
    else:
        near = count_near_limit(mine, per_tx_limit, counted, now, ctx.tx_hex)
    if near >= STRUCTURING_COUNT:
        # the earlier near payments it counted, by transaction (decision 217)
        earlier = near_txs(in_base if across else mine, ctx.tx_hex)
        _alert(state, ctx, "structuring", [frm], {
            "currency": currency, "amount": amount, "near_limit_payments": near,
            "near_limit_txs": earlier, **({"base": base} if across else {})}, kept=False)
    if near and across:  # the payee's count, in the base's memory too
        assert base is not None
        payee_base = dict(state.peek(NAME, f"stats/{to}/{base}")
                          or {"n": 0, "avg": 0, "cps": [], "near": []})
        received = count_near_received(payee_base, now)
        if received >= STRUCTURING_COUNT and near < STRUCTURING_COUNT:
            _alert(state, ctx, "structuring", [to], {
                "currency": currency, "amount": amount, "counterparty": frm,
                "near_limit_receipts": received, "base": base}, kept=False)
        state.put(NAME, f"stats/{to}/{base}", payee_base)
    elif near:
        # smurfing: payments each just under their payers' limits, from many payers (fresh
        # accounts, one or two payments each) into one account: counted on the payee, written
        # only for such a payment; alerted for the payee when the payer's own structuring
        # alert (one payer's pattern) does not fire (red-team round 9, decision 178)
        new_payee = dict(new_payee or payee or {"n": 0, "avg": 0, "cps": [], "near": []})
        received = count_near_received(new_payee, now)
        if received >= STRUCTURING_COUNT and near < STRUCTURING_COUNT:  # (else the payer's)
            _alert(state, ctx, "structuring", [to], {
                "currency": currency, "amount": amount, "counterparty": frm,
                "near_limit_receipts": received}, kept=False)
    if new_payee is not None:
        state.put(NAME, f"stats/{to}/{currency}", new_payee)
    mine["avg"] = amount if mine["n"] == 0 else mine["avg"] + (amount - mine["avg"]) // 8
    mine["n"] += 1
    mine["cps"] = [p for p in mine["cps"] if p[0] != to_short][-(RECENT - 1):] + [
        [to_short, now]]
    state.put(NAME, f"stats/{frm}/{currency}", mine)


def is_round_trip(payee_stats: Mapping[str, Any], payer: str, now_ms: int) -> bool:
    """Round-tripping: the payee paid the payer within the window (so the money goes back).
    Accounts in pattern memory are the first MEMORY_ID_HEX digits of their ids."""
    for c, t in payee_stats["cps"]:  # (a loop: a generator here was ~1 % of a node's CPU)
        if c == payer and now_ms - t < ROUND_TRIP_WINDOW_MS:
            return True
    return False


def is_counterparty_change(payer_stats: dict[str, Any], to: str, amount: int) -> bool:
    """A sudden change: an account with a history pays a counterparty it has not paid lately
    at least CHANGE_FACTOR times its average payment."""
    # (the amount first: it rules out nearly every payment without a pass over the list)
    return (payer_stats["n"] >= CHANGE_MIN_HISTORY
            and amount >= CHANGE_FACTOR * max(payer_stats["avg"], 1)
            and all(c != to for c, _ in payer_stats["cps"]))


def is_near_limit(limit: int | None, amount: int) -> bool:
    """Is ``amount`` just under the per-transaction ``limit`` (at least STRUCTURING_BPS of it,
    not over it)?"""
    return limit is not None and limit * STRUCTURING_BPS <= amount * 10_000 and amount <= limit


def count_near_limit(payer_stats: dict[str, Any], limit: int | None, amount: int,
                     now_ms: int, tx_hex: str | None = None) -> int:
    """Structuring: payments each just under a per-transaction limit (at least
    STRUCTURING_BPS of it), counted per hour of block time over the window; returns the count
    including this payment (0 when it is not near a limit). Rebinds ``payer_stats["near"]``
    to a new list when it counts: the old list is never changed (it may be the stored
    record's). ``tx_hex``: the payment's transaction, kept in ``near_tx`` (the last
    :data:`STRUCTURING_TX_KEEP` near payments in the window, decision 217), rebound likewise;
    nothing of it is written for a payment not near a limit."""
    if not is_near_limit(limit, amount):
        return 0
    hour = now_ms // STRUCTURING_BUCKET_MS
    keep = STRUCTURING_WINDOW_MS // STRUCTURING_BUCKET_MS
    near = [b for b in payer_stats["near"] if b[0] > hour - keep]
    if near and near[-1][0] == hour:
        near[-1] = [hour, near[-1][1] + 1]
    else:
        near.append([hour, 1])
    payer_stats["near"] = near
    if tx_hex is not None:
        txs = [t for t in payer_stats.get("near_tx", ()) if t[1] > hour - keep]
        payer_stats["near_tx"] = txs[-(STRUCTURING_TX_KEEP - 1):] + [[tx_hex, hour]]
    return sum(b[1] for b in near)


def near_txs(payer_stats: Mapping[str, Any], tx_hex: str) -> list[str]:
    """The transactions of the near payments ``payer_stats`` keeps other than ``tx_hex`` (the
    one alerting), oldest first, each once: a structuring alert's ``near_limit_txs``
    (decision 217). Fewer than it counted when the count passes :data:`STRUCTURING_TX_KEEP`
    (the earlier alerts named those) or began before decision 217."""
    out: list[str] = []
    for t, _ in payer_stats.get("near_tx", ()):
        if t != tx_hex and t not in out:
            out.append(t)
    return out


def count_near_received(payee_stats: dict[str, Any], now_ms: int) -> int:
    """Structuring into one account (smurfing): a payment just under its payer's limit (as
    :func:`count_near_limit` counts it) counted on the payee, per hour of block time over the
    same window, in ``near_in``; returns the count including this payment. Rebinds
    ``payee_stats["near_in"]`` to a new list."""
    hour = now_ms // STRUCTURING_BUCKET_MS
    keep = STRUCTURING_WINDOW_MS // STRUCTURING_BUCKET_MS
    near = [b for b in payee_stats.get("near_in", ()) if b[0] > hour - keep]
    if near and near[-1][0] == hour:
        near[-1] = [hour, near[-1][1] + 1]
    else:
        near.append([hour, 1])
    payee_stats["near_in"] = near
    return sum(b[1] for b in near)


# ---------------------------------------------------------------------------- trade finance


def _exposure_keys(bank: str, side: str, party: str, currency: str) -> tuple[str, str]:
    tail = f"{bank}/{side}/{normalise_name(party)}/{currency}"
    return "exposure_limit/" + tail, "exposure/" + tail


def check_financing_exposure(state: ContractState, ctx: TxContext, bank: str, exporter: str,
                             buyer: str, currency: str, amount: int) -> None:
    """A bank may not finance an exporter, or against a buyer, beyond the exposure limit it
    (or a regulator) set; counts ``amount`` as outstanding when within both. ``exporter`` and
    ``buyer`` are identity ids or party names (compared normalised).

    A limit in a base currency (``exposure_limit/…/*``, decision 194) counts what is
    outstanding in every currency (``exposure/…/*``, kept while it exists) at the reference
    rates, each rounded up, this amount included.

    Raises:
        ContractError: ``limit_exceeded`` naming ``exposure:<side>`` (the alert is kept);
            ``rate_unavailable``: a base limit and no fresh rate of a currency outstanding.
    """
    updates: list[tuple[str, Any]] = []
    for side, party in (("exporter", exporter), ("buyer", buyer)):
        limit_key, out_key = _exposure_keys(bank, side, party, currency)
        limit = state.get(NAME, limit_key)
        if isinstance(limit, dict):  # {"max", "set_by", "by_regulator"} (an int before)
            limit = limit["max"]
        outstanding = state.get(NAME, out_key) or 0
        if limit is not None and outstanding + amount > limit:
            rule = {"rule_id": f"exposure:{side}", "kind": "financing_exposure", "max": limit}
            raise _refuse_limit(state, ctx, bank, rule, bank, party, currency, amount,
                                f"{said(state, outstanding, currency)} + "
                                f"{said(state, amount, currency)} outstanding to this {side}")
        updates.append((out_key, outstanding + amount))
        base_limit_key, held_key = _exposure_keys(bank, side, party, EXPOSURE_BASE)
        base_limit = state.peek(NAME, base_limit_key)
        if base_limit is not None:  # a limit in a base currency (decision 194)
            held = dict(state.peek(NAME, held_key) or {})
            held[currency] = held.get(currency, 0) + amount
            base, now = base_limit["currency"], ctx.timestamp_ms
            total = sum(_rates.to_base(state, now, base, c, v) for c, v in sorted(held.items()))
            if total > base_limit["max"]:
                counts = _rates.to_base(state, now, base, currency, amount)
                rule = {"rule_id": f"exposure:{side}", "kind": "financing_exposure",
                        "max": base_limit["max"], "currency": base}
                raise _refuse_limit(state, ctx, bank, rule, bank, party, currency, amount,
                                    f"{said(state, total - counts, base)} + "
                                    f"{said(state, counts, base)} outstanding to this {side}",
                                    counts)
            updates.append((held_key, held))
    for key, value in updates:
        state.put(NAME, key, value)


def release_financing_exposure(state: ContractState, bank: str, exporter: str, buyer: str,
                               currency: str, amount: int) -> None:
    """Repayment (or cancellation) of financing: the outstanding amounts go down (not below 0),
    in the per-currency record and, under a base limit (decision 194), in the all-currency one."""
    for side, party in (("exporter", exporter), ("buyer", buyer)):
        _, out_key = _exposure_keys(bank, side, party, currency)
        left = max(0, (state.get(NAME, out_key) or 0) - amount)
        if left:
            state.put(NAME, out_key, left)
        else:
            state.delete(NAME, out_key)
        _, held_key = _exposure_keys(bank, side, party, EXPOSURE_BASE)
        held = state.peek(NAME, held_key)
        if held is not None and currency in held:
            rest = {c: v for c, v in held.items() if c != currency}
            if held[currency] > amount:
                rest[currency] = held[currency] - amount
            if rest:
                state.put(NAME, held_key, rest)
            else:
                state.delete(NAME, held_key)


# ============================================================================ setting the rules


def _p_rule_currency(v: Any, name: str) -> str:
    return ANY_CURRENCY if v == ANY_CURRENCY else p_currency(v, name)


def _p_rule_kind(v: Any, name: str) -> str:
    if v not in RULE_KINDS:
        raise ContractError(f"{name} must be one of {', '.join(RULE_KINDS)}", "bad_field")
    return str(v)


def parse_rule(args: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """A rule's fields checked: ``kind``, ``currency``, ``max``, ``window_s`` (windowed kinds
    only), optional ``rule_id`` (default: given by :func:`put_rule`) and ``base`` (true: an
    amount limit in a base currency, counting payments in every currency, decision 187)."""
    pre = where + "." if where else ""
    known = {"kind", "currency", "max", "window_s", "rule_id", "base"}
    extra = sorted(set(args) - known)
    if extra:
        raise ContractError(f"{pre}{extra[0]} is not a rule field", "unknown_field")
    kind = args.get("kind")
    if kind not in RULE_KINDS:
        raise ContractError(f"{pre}kind must be one of {', '.join(RULE_KINDS)}", "bad_field")
    for k in ("currency", "max"):
        if args.get(k) is None:
            raise ContractError(f"{pre}{k} is missing", "missing_field")
    rule = {"kind": kind, "currency": _p_rule_currency(args["currency"], pre + "currency"),
            "max": p_int(0, MAX_AMOUNT)(args["max"], pre + "max"), "window_s": 0}
    if kind == "max_per_tx":
        if args.get("window_s") is not None:
            raise ContractError(f"{pre}window_s: a per-transaction limit has no window",
                                "bad_field")
    else:
        rule["window_s"] = p_int(BUCKETS, MAX_WINDOW_S)(args.get("window_s"), pre + "window_s")
    if kind != "velocity" and rule["currency"] == ANY_CURRENCY:
        raise ContractError(f"{pre}currency: an amount limit needs a currency", "bad_field")
    if args.get("rule_id") is not None:
        rule["rule_id"] = p_text(64)(args["rule_id"], pre + "rule_id")
        if rule["rule_id"].startswith(NETWORK):
            raise ContractError(f"{pre}rule_id may not start with {NETWORK!r}", "bad_field")
    if _p_base(args.get("base"), pre + "base"):  # stored only when true: older rules unchanged
        if kind == "velocity":
            raise ContractError(f"{pre}base: a velocity rule counts payments, not amounts "
                                "(currency '*' counts every currency)", "bad_field")
        rule["base"] = True
    return rule


def _p_base(v: Any, name: str) -> bool:
    if v is None or v is False:
        return False
    if v is True:
        return True
    raise ContractError(f"{name} must be true or false", "bad_field")


def put_rule(state: ContractState, ctx: TxContext, subject: str,
             rule: dict[str, Any]) -> dict[str, Any]:
    """Add (or replace, same ``rule_id``) a rule on ``subject``'s outflows."""
    if rule["currency"] != ANY_CURRENCY:
        gov.require_currency(state, rule["currency"])
    rule = {**rule, "rule_id": rule.get("rule_id") or ctx.tx_hex[:16], "set_by": ctx.sender_hex,
            "by_regulator": subject != NETWORK and gov.is_regulator(state, ctx.sender_hex)}
    prof = _profile(state, subject)
    old = next((r for r in prof["rules"] if r["rule_id"] == rule["rule_id"]), None)
    if subject != NETWORK and old is not None:
        gov.require_may_lift(state, ctx, old.get("set_by"), old.get("by_regulator"),
                             f"limit {old['rule_id']}")
    _keep_counter_units(state, ctx, subject, old, rule)
    rules = [r for r in prof["rules"] if r["rule_id"] != rule["rule_id"]]
    if len(rules) >= MAX_RULES:
        raise ContractError(f"{subject[:16]} already has {MAX_RULES} rules", "too_many_rules")
    prof["rules"] = [*rules, rule]
    _put_profile(state, subject, prof)
    ctx.emit("limit_set", {"subject": subject, **rule}, contract=NAME)
    return rule


def _units(rule: Mapping[str, Any]) -> tuple[str, bool]:
    """What a windowed rule's counter counts in: its currency, and whether it is a base."""
    return str(rule["currency"]), "base" in rule


def _retired_key(subject: str, rule_id: str) -> str:
    return f"retired/{subject}/{rule_id}"


def _keep_counter_units(state: ContractState, ctx: TxContext, subject: str,
                        old: Mapping[str, Any] | None, rule: Mapping[str, Any]) -> None:
    """A windowed rule's counter (``use/<account>``, kept per ``rule_id``) is in the units of
    the rule that counted it: a rule set under the same ``rule_id`` in another currency, or
    with the base flag changed, while that counter may still hold payments — the rule it
    replaces, or one removed or replaced by a rule without a window less than its window ago
    (``retired/<subject>/<rule_id>``) — is refused: it would read the spent amount in the
    wrong units, and a reset would launder a spent limit by re-setting it (decision 193).
    A rule in other units is set under a new ``rule_id``, as a new rule."""
    now = ctx.timestamp_ms
    rid = str(rule["rule_id"])
    counting: tuple[str, bool] | None = None
    if old is not None and old["window_s"]:
        counting = _units(old)
        if not rule["window_s"]:  # the counter outlives the rule that counted it
            state.put(NAME, _retired_key(subject, rid), {
                "currency": counting[0], "base": counting[1],
                "until_ms": now + old["window_s"] * 1000})
            return
    elif rule["window_s"]:
        retired = state.peek(NAME, _retired_key(subject, rid))
        if retired is not None and retired["until_ms"] > now:
            counting = (retired["currency"], retired["base"])
        if retired is not None and (retired["until_ms"] <= now or counting == _units(rule)):
            state.delete(NAME, _retired_key(subject, rid))
    if counting is not None and rule["window_s"] and counting != _units(rule):
        was = counting[0] + (" (a base)" if counting[1] else "")
        raise ContractError(
            f"limit {rid} counts in {was}: a rule in {_units(rule)[0]}"
            f"{' (a base)' if 'base' in rule else ''} under the same rule_id would read that "
            f"count in other units; set it under another rule_id", "bad_field")


def remove_rule(state: ContractState, ctx: TxContext, subject: str, rule_id: str) -> None:
    """Remove a rule; one a regulator set only a regulator removes (governance removes
    network rules). A windowed rule's id keeps its counter's units for one window
    (:func:`_keep_counter_units`)."""
    prof = _profile(state, subject)
    rules = [r for r in prof["rules"] if r["rule_id"] != rule_id]
    if len(rules) == len(prof["rules"]):
        raise ContractError(f"no rule {rule_id} on {subject[:16]}", "unknown_rule")
    old = next(r for r in prof["rules"] if r["rule_id"] == rule_id)
    if subject != NETWORK:
        gov.require_may_lift(state, ctx, old.get("set_by"), old.get("by_regulator"),
                             f"limit {rule_id}")
    if old["window_s"]:
        currency, base = _units(old)
        state.put(NAME, _retired_key(subject, rule_id), {
            "currency": currency, "base": base,
            "until_ms": ctx.timestamp_ms + old["window_s"] * 1000})
    prof["rules"] = rules
    _put_profile(state, subject, prof)
    ctx.emit("limit_removed", {"subject": subject, "rule_id": rule_id, "by": ctx.sender_hex},
             contract=NAME)


def apply_governance_action(state: ContractState, ctx: TxContext, action: str,
                            p: dict[str, Any]) -> None:
    """The risk actions a governance vote applies (``governance._apply``)."""
    if action == "set_network_limit":
        put_rule(state, ctx, NETWORK, p)
    elif action == "remove_network_limit":
        remove_rule(state, ctx, NETWORK, p["rule_id"])
    elif action == "set_seize_approvals":
        state.put(NAME, "param/seize_approvals", p["count"])
    elif action == "set_watched_bank_customers":
        # a consortium parameter, beside genesis's others (decision 278): from the next
        # transaction on
        params = dict(state.get(gov.NAME, "params") or {})
        params[WATCHED_BANK_CUSTOMERS] = p["policy"]
        state.put(gov.NAME, "params", params)
        ctx.emit("watched_bank_customers_set", {"policy": p["policy"]}, contract=gov.NAME)
    else:
        raise ContractError(f"unknown action {action}", "bad_field")


def seize_approvals(state: ContractState) -> int:
    """Regulators who must sign a seizure order (governance ``set_seize_approvals``)."""
    return int(state.get(NAME, "param/seize_approvals") or 1)


def regulator_order(state: ContractState, ctx: TxContext, kind: str, ref: str,
                    order: dict[str, Any]) -> list[str] | None:
    """The two-regulator rule (governance ``set_seize_approvals``) for an order a regulator
    signs — a seizure (``kind`` ``seizure``) or a key rebound by a regulator (``rebind``): the
    regulators who approved it, once :func:`seize_approvals` current regulators have; until
    then None, and the order waits at ``<kind>/<ref>`` (event ``<kind>_pending``). Approvals of
    regulators removed since no longer count.

    Raises:
        ContractError: ``bad_field`` (the ref names another pending order), ``forbidden``
            (this regulator already approved it).
    """
    need = seize_approvals(state)
    pending = state.get(NAME, f"{kind}/{ref}")
    approvals = [ctx.sender_hex]
    if pending is not None:
        if pending["order"] != order:
            raise ContractError("order_ref names a different pending order", "bad_field")
        if ctx.sender_hex in pending["approvals"]:
            raise ContractError("this regulator already signed the order", "forbidden")
        current = set(gov.regulators(state))
        approvals = sorted([*(a for a in pending["approvals"] if a in current),
                            ctx.sender_hex])
    if len(approvals) < need:
        state.put(NAME, f"{kind}/{ref}", {"order": order, "approvals": approvals})
        ctx.emit(f"{kind}_pending", {**order, "order_ref": ref, "by": ctx.sender_hex})
        return None
    if pending is not None:
        state.delete(NAME, f"{kind}/{ref}")
    return approvals


ORDER_KINDS = ("seizure", "rebind", "rate")  # rate: decision 191 (contracts.risk_rates)


@CONTRACT.method(roles=None, params={"kind": p_text(16), "order_ref": p_text(64),
                                     "reason": p_text(256)})
def withdraw_order(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A regulator withdraws a pending two-regulator order (a seizure or a key rebind) that
    can no longer be executed as recorded — a wrong amount, an offer since closed."""
    _require_regulator(state, ctx)
    kind, ref = args["kind"], args["order_ref"]
    if kind not in ORDER_KINDS:
        raise ContractError(f"kind must be one of {', '.join(ORDER_KINDS)}", "bad_field")
    if state.get(NAME, f"{kind}/{ref}") is None:
        raise ContractError(f"no pending {kind} order {ref}", "bad_field")
    state.delete(NAME, f"{kind}/{ref}")
    ctx.emit("order_withdrawn", {"kind": kind, "order_ref": ref, "reason": args["reason"],
                                 "by": ctx.sender_hex})
    return {"kind": kind, "order_ref": ref, "status": "withdrawn"}


def _supervised(state: ContractState, ctx: TxContext, account: str) -> str:
    """The identity id of ``account`` if the sender is a regulator or its home bank."""
    ident_id = gov.identity_id(state, account)
    gov.require_supervisor(state, ctx, ident_id)
    return ident_id


def _require_regulator(state: ContractState, ctx: TxContext) -> None:
    if not gov.is_regulator(state, ctx.sender_hex):
        raise ContractError("only a regulator may do this", "forbidden")


# ============================================================================ methods


_RULE_OPTIONAL = {"window_s": p_int(0, MAX_WINDOW_S), "rule_id": p_text(64), "base": _p_base}


# the rule's fields are checked as arguments too, so a malformed rule ("usd", an unknown kind)
# is refused at admission like any other bad argument, not rejected in a block for a nonce
@CONTRACT.method(roles=None, params={"subject": p_pubkey, "kind": _p_rule_kind,
                                     "currency": _p_rule_currency, "max": p_int(0, MAX_AMOUNT)},
                 optional=_RULE_OPTIONAL)
def set_limit(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A regulator (anyone) or the home bank (its customers) limits ``subject``'s outflows."""
    subject = _supervised(state, ctx, args.pop("subject"))
    rule = put_rule(state, ctx, subject, parse_rule(args))
    return {"subject": subject, "rule_id": rule["rule_id"]}


@CONTRACT.method(roles=None, params={"subject": p_pubkey, "rule_id": p_text(64)})
def remove_limit(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A regulator or the home bank removes a limit it may set."""
    subject = _supervised(state, ctx, args["subject"])
    remove_rule(state, ctx, subject, args["rule_id"])
    return {"subject": subject, "rule_id": args["rule_id"]}


def _p_side(v: Any, name: str) -> str:
    if v not in EXPOSURE_SIDES:
        raise ContractError(f"{name} must be one of {', '.join(EXPOSURE_SIDES)}", "bad_field")
    return str(v)


@CONTRACT.method(roles=None, params={"side": _p_side, "party": p_text(140),
                                     "currency": p_currency, "max": p_int(0, MAX_AMOUNT)},
                 optional={"bank": p_pubkey, "base": _p_base})
def set_exposure_limit(state: ContractState, ctx: TxContext,
                       args: dict[str, Any]) -> dict[str, Any]:
    """A bank caps its own financing per exporter or per buyer; a regulator may cap any
    ``bank``'s. ``base``: the cap is in a base currency and counts the financing outstanding
    in every currency at the reference rates (decision 194); one per bank, side and party."""
    bank = gov.identity_id(state, args.get("bank", ctx.sender_hex))
    if bank != ctx.sender_hex:
        _require_regulator(state, ctx)
    gov.require_identity(state, bank, "bank")
    gov.require_currency(state, args["currency"])
    party, base = args["party"], args.get("base", False)
    if args["side"] == "exporter":  # financing counts against the exporter's identity id
        party = gov.identity_id(state, p_pubkey(party, "party"))
    limit_key, _ = _exposure_keys(bank, args["side"], party,
                                  EXPOSURE_BASE if base else args["currency"])
    old = state.get(NAME, limit_key)
    if isinstance(old, dict):  # a bank does not raise the cap a regulator put on it
        gov.require_may_lift(state, ctx, old.get("set_by"), old.get("by_regulator"),
                             "this exposure limit")
    record = {"max": args["max"], "set_by": ctx.sender_hex,
              "by_regulator": gov.is_regulator(state, ctx.sender_hex)}
    if base:
        record["currency"] = args["currency"]
        _, held_key = _exposure_keys(bank, args["side"], party, EXPOSURE_BASE)
        if old is None and state.peek(NAME, held_key) is None:
            # what is outstanding already, per currency: from now on kept in one record
            held = {}
            for ccy in sorted({*gov.ISO_EXPONENTS, args["currency"]}):
                v = state.get(NAME, _exposure_keys(bank, args["side"], party, ccy)[1])
                if v:
                    held[ccy] = v
            if held:
                state.put(NAME, held_key, held)
    state.put(NAME, limit_key, record)
    ctx.emit("exposure_limit_set", {"bank": bank, "side": args["side"],
                                    "currency": args["currency"], "max": args["max"],
                                    "by": ctx.sender_hex, **({"base": True} if base else {})})
    return {"bank": bank, "side": args["side"], "max": args["max"],
            **({"base": True} if base else {})}


@CONTRACT.method(roles=None, params={"entries": p_list(p_hex(32), 256)})
def add_watch(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A regulator adds watch-list entries, each the keyed hash :func:`watch_digest` of an
    identity or a party name (the clear value never reaches the chain)."""
    _require_regulator(state, ctx)
    added = 0
    for digest in sorted(set(args["entries"])):
        if state.get(NAME, "watch/" + digest) is None:
            state.put(NAME, "watch/" + digest, {"by": ctx.sender_hex, "height": ctx.height})
            added += 1
    if added:  # identities are near-screened again at their next payment (decision 185)
        state.put(NAME, NEAR_VERSION, (state.get(NAME, NEAR_VERSION) or 0) + 1)
    ctx.emit("watch_added", {"count": added, "by": ctx.sender_hex})
    return {"added": added}


@CONTRACT.method(roles=None, params={"entries": p_list(p_hex(32), 256), "reason": p_text(256)})
def remove_watch(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A regulator removes entries; each removal is recorded as an event with its reason."""
    _require_regulator(state, ctx)
    removed = 0
    for digest in sorted(set(args["entries"])):
        if state.get(NAME, "watch/" + digest) is not None:
            state.delete(NAME, "watch/" + digest)
            ctx.emit("watch_removed", {"digest": digest, "reason": args["reason"],
                                       "by": ctx.sender_hex})
            removed += 1
    return {"removed": removed}


_FREEZE = {"account": p_pubkey, "currency": p_currency, "reason": p_text(256),
           "order_ref": p_text(64)}


@CONTRACT.method(roles=None, params=_FREEZE)
def freeze_account(state: ContractState, ctx: TxContext, args: dict[str, Any]) -> dict[str, Any]:
    """A regulator or the home bank freezes one account (identity + currency): no money moves
    into or out of it (``account_frozen``) until unfrozen; a seizure still may."""
    acct, ccy = _supervised(state, ctx, args["account"]), args["currency"]
    gov.require_currency(state, ccy)
    prof = _profile(state, acct)
    old = prof["frozen"].get(ccy)
    if old is not None:  # a home bank may not replace a regulator's order with its own
        gov.require_may_lift(state, ctx, old.get("by"), old.get("by_regulator"),
                             f"the {ccy} account's freeze")
    prof["frozen"][ccy] = {"reason": args["reason"], "order_ref": args["order_ref"],
                           "by": ctx.sender_hex, "height": ctx.height,
                           "by_regulator": gov.is_regulator(state, ctx.sender_hex)}
    _put_profile(state, acct, prof)
    ctx.emit("account_frozen", {"account": acct, "currency": ccy, "reason": args["reason"],
                                "order_ref": args["order_ref"], "by": ctx.sender_hex})
    return {"account": acct, "currency": ccy, "frozen": True}


@CONTRACT.method(roles=None, params=_FREEZE)
def unfreeze_account(state: ContractState, ctx: TxContext,
                     args: dict[str, Any]) -> dict[str, Any]:
    """A regulator or the home bank lifts an account freeze; a regulator's only a regulator."""
    acct, ccy = _supervised(state, ctx, args["account"]), args["currency"]
    prof = _profile(state, acct)
    old = prof["frozen"].pop(ccy, None)
    if old is None:
        raise ContractError(f"the {ccy} account is not frozen", "not_frozen")
    gov.require_may_lift(state, ctx, old.get("by"), old.get("by_regulator"),
                         f"the {ccy} account's freeze")
    _put_profile(state, acct, prof)
    ctx.emit("account_unfrozen", {"account": acct, "currency": ccy, "reason": args["reason"],
                                  "order_ref": args["order_ref"], "by": ctx.sender_hex})
    return {"account": acct, "currency": ccy, "frozen": False}


# the alert review (cases): its method ``review_alert`` is this contract's (imported last: it
# imports this module)
from contracts import risk_cases as _cases  # noqa: E402,F401
from contracts import risk_goods as _goods  # noqa: E402,F401  (the controlled-goods list)
from contracts import risk_jurisdictions as _jur  # noqa: E402  (the jurisdiction list)
from contracts import risk_rates as _rates  # noqa: E402  (reference rates, decision 187)
