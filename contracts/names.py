"""Canonical forms of party names and document numbers, so cosmetic variants compare equal.

Consensus code: the result must be the same on every validator, so everything here is a fixed
table in this file or Python's Unicode database (NFKC/NFKD, ``casefold``, general categories,
``unicodedata.decimal``), which all validators share because they run the same Python minor
version. No third-party normaliser, no floats.

Two canonical forms:

- :func:`name_skeleton` for party, vessel and port names: what screening hashes and what trade
  documents compare. "GLÖBEX, Corp." == "Globex Corporation" == "Corp Globex" ==
  "Gl<Cyrillic o>bex<zero-width space> Corp" == "globex".
- :func:`ref_tokens` / :func:`ref_skeletons` for document numbers: two keys, either of which
  makes a document a duplicate. "INV-2025-001" == "INV2025001" == "No. INV#2025#001" ==
  "INV-2025-0001" == "INV-2O25-OO1" == "INV-٢٠٢٥-٠٠١".

Both over-match on purpose: a false "same" costs a registrant a ``declare_distinct`` (or a new
number); a false "different" lets one trade be financed twice or a watched party through.
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = ["CONFUSABLES", "LEGAL_FORMS", "REF_PREFIXES", "TRANSLITERATION", "fold",
           "name_skeleton", "joined_skeleton", "sound_key", "ref_tokens", "ref_skeletons",
           "ref_keys", "is_control", "has_control"]

#: Letters that render like a Latin letter, mapped to it: a subset of the Unicode TR39
#: confusables table (Cyrillic and Greek homoglyphs of Latin letters) plus Latin letters whose
#: stroke or ligature NFKD does not remove. Upper-case sources are listed because the table is
#: applied before case-folding too (Cyrillic "В" looks like "B"; its lower case "в" does not).
CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "А": "a", "В": "b", "Ь": "b", "с": "c", "С": "c", "ԁ": "d", "е": "e", "Е": "e",
    "ё": "e", "Ё": "e", "һ": "h", "Һ": "h", "Н": "h", "і": "i", "І": "i", "ӏ": "i", "Ӏ": "i",
    "ј": "j", "Ј": "j", "к": "k", "К": "k", "М": "m", "о": "o", "О": "o", "р": "p", "Р": "p",
    "ԛ": "q", "Ԛ": "q", "ѕ": "s", "Ѕ": "s", "Т": "t", "у": "y", "У": "y", "ү": "y", "Ү": "y",
    "ԝ": "w", "Ԝ": "w", "х": "x", "Х": "x",
    # Greek
    "α": "a", "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "ι": "i", "Ι": "i", "ϳ": "j",
    "κ": "k", "Κ": "k", "Μ": "m", "Ν": "n", "ν": "v", "ο": "o", "Ο": "o", "ρ": "p", "Ρ": "p",
    "ϲ": "c", "Ϲ": "c", "Τ": "t", "υ": "u", "Υ": "y", "χ": "x", "Χ": "x",
    # Cyrillic, Armenian, Cherokee and IPA letters a second red-team round used (TR39)
    "ԍ": "g", "Ԍ": "g", "є": "e", "Є": "e", "ɡ": "g", "ɑ": "a", "ɩ": "i", "օ": "o", "Օ": "o",
    "ս": "u", "հ": "h", "ո": "n", "ց": "g", "զ": "q", "Ꭺ": "a", "Ᏼ": "b", "Ꮯ": "c", "Ꭼ": "e",
    "Ꮐ": "g", "Ꮋ": "h", "Ꭻ": "j", "Ꮶ": "k", "Ꮮ": "l", "Ꮇ": "m", "Ꮲ": "p", "Ꮢ": "r",
    "Ꮪ": "s", "Ꭲ": "t", "Ꮃ": "w", "Ꮓ": "z",
    # Latin small capitals
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j",
    "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t",
    "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
    # Latin letters with a stroke or ligatures (NFKD keeps them whole)
    "ı": "i", "ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ħ": "h", "Ħ": "h",
    "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ß": "ss", "ſ": "s",
}
_CONFUSABLES = str.maketrans(CONFUSABLES)

#: Legal-form words -> their canonical abbreviation. Dropped from a name that has other words
#: ("ACME Exports Limited" == "ACME Exports Ltd" == "ACME Exports"). Kept short: each entry is
#: a word no one uses as the distinguishing part of a company name.
LEGAL_FORMS: dict[str, str] = {
    "corp": "corp", "corporation": "corp", "ltd": "ltd", "limited": "ltd", "inc": "inc",
    "incorporated": "inc", "co": "co", "company": "co", "llc": "llc", "llp": "llp",
    "plc": "plc", "gmbh": "gmbh", "ag": "ag", "sa": "sa", "sas": "sas", "sarl": "sarl",
    "srl": "srl", "spa": "spa", "bv": "bv", "nv": "nv", "pte": "pte", "pty": "pty",
    "pvt": "pvt", "kk": "kk", "oy": "oy", "ab": "ab", "bhd": "bhd",
}

#: Words that introduce a document number ("No. 123", "Ref 123", "N° 123"); dropped when they
#: lead and other tokens follow.
REF_PREFIXES = frozenset({"no", "nr", "nbr", "num", "number", "ref"})

#: The control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) but the
#: ordinary whitespace a person types (tab, line feed, vertical tab, form feed, return).
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def is_control(ch: str) -> bool:
    """A control character (Unicode category Cc) that is not ordinary whitespace."""
    return _CONTROL.fullmatch(ch) is not None


def has_control(s: str) -> bool:
    """``s`` holds a character :func:`is_control` refuses."""
    return _CONTROL.search(s) is not None


def fold(s: str) -> str:
    """The letters a reader sees: NFKC; format characters (Cf: zero-width space/joiner/
    non-joiner, soft hyphen, word joiner, BOM, bidi marks) and the other default-ignorable code
    points (:data:`_IGNORABLE`: Hangul fillers, variation selectors) dropped; NFKD with marks
    (Mn, Mc, Me) dropped ("ö" -> "o"); :data:`CONFUSABLES` mapped; case-folded; every Unicode decimal
    digit as its ASCII digit ("٢" -> "2"). Idempotent."""
    if s.isascii():  # all of the above leaves ASCII as it is but the case
        return s.lower()
    s = unicodedata.normalize("NFKC", s)
    s = "".join(c for c in s if unicodedata.category(c) != "Cf" and not _ignorable(c))
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if unicodedata.category(c) not in _MARKS)
    s = s.translate(_CONFUSABLES).casefold().translate(_CONFUSABLES)
    out = []
    for c in s:
        d = unicodedata.decimal(c, None) if not c.isascii() else None
        out.append(str(d) if d is not None else c)
    return unicodedata.normalize("NFKC", "".join(out))


#: Mark categories dropped after NFKD: nonspacing, spacing and enclosing marks.
_MARKS = frozenset({"Mn", "Mc", "Me"})

#: Unicode's Default_Ignorable_Code_Point ranges that are not format characters (Cf): letters
#: and marks that render as nothing (Hangul fillers, variation selectors, the combining
#: grapheme joiner...). A fixed list, so every validator drops the same.
_IGNORABLE = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
              (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
              (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))


def _ignorable(c: str) -> bool:
    o = ord(c)
    return any(lo <= o <= hi for lo, hi in _IGNORABLE)


def _words(s: str) -> list[str]:
    """``s`` folded, split into runs of letters, digits and marks: every punctuation, symbol,
    separator or control character is a space."""
    s = fold(s)
    if s.isascii():
        return _ASCII_WORD.findall(s)
    chars = [c if unicodedata.category(c)[0] in "LMN" else " " for c in s]
    return "".join(chars).split()


_ASCII_WORD = re.compile("[0-9a-z]+")


@functools.lru_cache(maxsize=4096)  # pure: party names recur in every document of a trade
def name_skeleton(s: str) -> str:
    """The canonical form of a party, vessel or port name.

    :func:`fold`; punctuation and symbols as spaces; all single-letter words joined, in order,
    into one word where the first stood ("G.m.b.H." -> "gmbh", "S. A." -> "sa", "J. P. Morgan"
    -> "jp morgan"); :data:`LEGAL_FORMS` canonicalised and dropped if any other word remains;
    words sorted (order ignored); one space between. A name that is only legal-form words keeps
    them, canonicalised and sorted ("Company Limited" -> "co ltd"), so it is never empty.
    Returns "" only for a name with no letter or digit. Idempotent.

    Over-matches by design: "Globex Inc" == "Globex Ltd" == "Globex", "Bank Royal" ==
    "Royal Bank". For screening that is the safe side; for duplicates it costs a
    ``declare_distinct``.
    """
    return " ".join(sorted(_name_words(_words(s))))


def _name_words(words: list[str]) -> list[str]:
    """A name's words as the skeletons use them: all single-letter words joined, in order, into
    one word where the first stood; :data:`LEGAL_FORMS` canonicalised and dropped if any other
    word remains."""
    single = [w for w in words if len(w) == 1 and w.isalpha()]
    if len(single) > 1:
        first = words.index(single[0])
        words = [w for w in words if not (len(w) == 1 and w.isalpha())]
        words.insert(first, "".join(single))
    words = [LEGAL_FORMS.get(w, w) for w in words]
    return [w for w in words if w not in LEGAL_FORMS] or words


@functools.lru_cache(maxsize=4096)
def joined_skeleton(s: str) -> str:
    """A name's letters and digits run together, in the order written, legal forms dropped
    when other words remain: what a space or an invisible separator inside a word cannot change
    ("Glo bex Corp" == "Globex Corporation" -> "globex"). The screening's second form beside
    :func:`name_skeleton` (which ignores word order but not where a word was split). Over-matches
    more ("Glob Ex" == "Globex"): screening only, never a document's identity."""
    words = [LEGAL_FORMS.get(w, w) for w in _words(s)]
    kept = [w for w in words if w not in LEGAL_FORMS]
    return "".join(kept or words)


#: Cyrillic and Greek letters as they sound in Latin letters (a fixed subset of the common
#: romanisations: BGN/PCGN for Russian and Ukrainian, ELOT 743 for Greek), for :func:`sound_key`
#: only: a name written in its own script or romanised is one sound ("Глобекс" ~ "Globeks").
#: :data:`CONFUSABLES` maps the same letters by their look ("р" -> "p"), which the skeletons use.
TRANSLITERATION: dict[str, str] = {
    # Cyrillic (lower case: the key is case-folded first)
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "ё": "e", "є": "ye",
    "ж": "zh", "з": "z", "и": "i", "і": "i", "ї": "yi", "й": "y", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh",
    "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e",
    "ю": "yu", "я": "ya", "ў": "w",
    # Greek
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i",
    "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s",
    "ς": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
}
_TRANSLITERATION = str.maketrans(TRANSLITERATION)
#: Greek pairs that sound as one Latin consonant ("Μπ" is "b"), read before the letters.
_GREEK_DIGRAPH = {"μπ": "b", "ντ": "d", "γκ": "g", "γγ": "ng"}
_GREEK_DIGRAPHS = re.compile("|".join(_GREEK_DIGRAPH))

#: Consonant letters -> their sound class (:func:`sound_key`): voiced and unvoiced pairs, and
#: letters one sound is spelt with, share a class. Vowels (and y) are a class of their own; h and
#: w are silent between letters.
_SOUND_CLASS = {**dict.fromkeys("bp", "P"), **dict.fromkeys("fv", "F"),
                **dict.fromkeys("cgjkq", "K"), **dict.fromkeys("sz", "S"),
                **dict.fromkeys("dt", "T"), "l": "L", **dict.fromkeys("mn", "N"), "r": "R",
                "x": "KS", **dict.fromkeys("aeiouy", "A"), "h": "", "w": ""}
#: Spellings of one sound, rewritten before the classes: "ph" is "f", "ck" "k", "sch", "sh",
#: "ch", "zh" one sibilant (class X), "c" before e/i/y an "s", "kh" a "k", "th" a "t".
_SOUND_SPELLINGS = ((re.compile("sch|sh|ch|zh"), "X"), (re.compile("ph"), "f"),
                    (re.compile("ck|kh"), "k"), (re.compile("c(?=[eiy])"), "s"),
                    (re.compile("th"), "t"))
#: A name whose sound key is shorter than this (letters of all its words) is too common a sound
#: to screen on: :func:`sound_key` returns "" for it.
SOUND_KEY_MIN = 4


def _word_sound(w: str) -> str:
    for pattern, repl in _SOUND_SPELLINGS:
        w = pattern.sub(repl, w)
    out: list[str] = []
    for c in w:
        code = c if c.isdigit() or c == "X" else _SOUND_CLASS.get(c, "")
        if code and (not out or out[-1] != code):  # a doubled sound is one; h, w are silent
            out.append(code)
    if len(out) > 1 and out[-1] == "A":  # a final vowel is not heard the same everywhere
        out.pop()
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def sound_key(s: str) -> str:
    """How a name sounds, for screening's "possible match" (decision 124): transliterated
    (:data:`TRANSLITERATION`), :func:`fold`-ed, single letters joined and legal forms dropped as
    in :func:`name_skeleton`; each word as its sound classes (pairs like b/p, d/t, c/g/k/q, s/z,
    m/n are one class; "ph" is "f", "ck" "k", "sh"/"ch"/"zh" one sibilant; a run of vowels is one
    vowel, a final one dropped; a doubled consonant one; h and w silent); words sorted. So
    "Globex" ~ "Glowbecks" ~ "Klobex" ~ "Глобекс" and "Mohammed" ~ "Muhammad" ~ "Mahmoud".
    "" for a name whose key has fewer than :data:`SOUND_KEY_MIN` sounds (too common to screen).

    Over-matches far more than the skeletons (it is meant to): a hit is an alert for a
    supervisor to review, never a refusal.
    """
    t = unicodedata.normalize("NFKC", s).casefold()
    if not t.isascii():
        t = _GREEK_DIGRAPHS.sub(lambda m: _GREEK_DIGRAPH[m.group()], t).translate(
            _TRANSLITERATION)
    codes = sorted(c for c in (_word_sound(w) for w in _name_words(_words(t)))
                   if c and c != "A")
    return " ".join(codes) if sum(map(len, codes)) >= SOUND_KEY_MIN else ""


_DIGIT_LOOKALIKES = str.maketrans({"o": "0", "i": "1", "l": "1"})


def _split_letters_digits(w: str) -> list[str]:
    """'inv2025' -> ['inv', '2025']: a number's tokens do not depend on where its separators
    were put between letters and digits."""
    return _LETTERS_OR_DIGITS.findall(w)


_LETTERS_OR_DIGITS = re.compile("[0-9]+|[^0-9]+")


def ref_tokens(s: str) -> tuple[str, ...]:
    """A document number as its tokens: :func:`fold`; "°" read as "o" ("N°"); every character
    that is not a letter or digit a separator; split where letters meet digits; within a word,
    a run of "o", "i", "l" touching digits read as the digits they look like ("2O25" -> "2025",
    "OO1" -> "001": numbers are copied by hand and OCR; "INV-IT-1001" and "INV-LT-1001" stay
    apart); leading :data:`REF_PREFIXES` dropped while another token follows. Leading zeros are
    kept (see :func:`ref_keys`). Empty for a number with no letter or digit.
    ``ref_tokens(" ".join(ref_tokens(s))) == ref_tokens(s)``."""
    tokens: list[str] = []
    for w in _words(fold(s).replace("°", "o")):
        parts = _split_letters_digits(w)
        if len(parts) > 1:
            parts = [t.translate(_DIGIT_LOOKALIKES)
                     if not t.isdigit() and set(t) <= _LOOKALIKE_LETTERS
                     and ((i > 0 and parts[i - 1].isdigit())
                          or (i + 1 < len(parts) and parts[i + 1].isdigit())) else t
                     for i, t in enumerate(parts)]
            parts = _split_letters_digits("".join(parts))
        tokens += parts
    while len(tokens) > 1 and tokens[0] in REF_PREFIXES:
        tokens = tokens[1:]
    return tuple(tokens)


_LOOKALIKE_LETTERS = frozenset("oil")


def ref_keys(tokens: tuple[str, ...] | list[str]) -> tuple[str, str]:
    """The two duplicate keys of a number's tokens: (a) separator-insensitive, the tokens
    concatenated ("INV2025001" == "INV-2025-001"); (b) token-aware, leading zeros stripped per
    token ("INV-2025-0001" == "INV-2025-001" == "INV-2025-1"). A document matching a registered
    one on either key is the same document.

    Trade-offs accepted: under (a) "INV-20-25" == "INV-2025" (the rule before decision 114);
    under (b) "INV-01" == "INV-1" and "A10" == "A-10"; the digit look-alikes make "2O25" ==
    "2025". These collide only for one seller (exporter, carrier, bank) whose own numbering is
    that ambiguous.
    """
    return "".join(tokens), " ".join(t.lstrip("0") or "0" for t in tokens)


def ref_skeletons(s: str) -> tuple[str, str]:
    """(separator-insensitive key, token-aware key) of a document number: :func:`ref_keys` of
    :func:`ref_tokens`."""
    return ref_keys(ref_tokens(s))
