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
           "name_skeleton", "joined_skeleton", "sound_key", "consonant_key", "is_abjad",
           "NAME_PARTICLES", "ARTICLES", "SOUND_KEY_MIN", "CONSONANT_KEY_MIN",
           "ref_tokens", "ref_skeletons",
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
    points (:data:`_IGNORABLE`: Hangul fillers, variation selectors, tatweel) dropped; NFKD
    with marks (Mn, Mc, Me) dropped ("ö" -> "o", Arabic vowel marks and shadda);
    :data:`CONFUSABLES` mapped; case-folded; every Unicode decimal digit as its ASCII digit
    ("٢" -> "2"). Idempotent."""
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
#: grapheme joiner...); and the Arabic tatweel (U+0640), a stroke that only stretches a word
#: ("مـحـمـد" is "محمد"). A fixed list, so every validator drops the same.
_IGNORABLE = ((0x034F, 0x034F), (0x0640, 0x0640), (0x115F, 0x1160), (0x17B4, 0x17B5),
              (0x180B, 0x180F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0),
              (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))


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


#: Letters as they sound in Latin letters, for :func:`sound_key` and :func:`consonant_key` only:
#: a name written in its own script or romanised is one sound ("Глобекс" ~ "Globeks",
#: "محمد" ~ "Muhammad"). A fixed subset of the common romanisations: BGN/PCGN for Russian and
#: Ukrainian, ELOT 743 for Greek, and for Arabic script (Arabic, Persian, Urdu) the spellings
#: sanctions lists use. :data:`CONFUSABLES` maps some of the same letters by their look
#: ("р" -> "p"), which the skeletons use.
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
    # Arabic. Short vowels are not written, so only consonant_key reads an Arabic-script name.
    # Alef in every form, alef maqsura, ain and hamza are "a": silent inside a word, and a word
    # that begins with one begins with a vowel, as its Latin spellings do ("Omar" عمر, "Ahmed"
    # أحمد). Waw and yeh are "w" and "y" (a long vowel or a semivowel, as in Latin spellings).
    # Each emphatic consonant is its plain Latin letter (ص s, ض d, ط t, ظ z); ذ is "d" as in
    # "Qaddafi" / "Kadhafi". ح, ه and ta marbuta are a silent "ɦ", not "h", so that no letter
    # before one reads as a Latin digraph (سهيل is "Suhail", not "Shyl"; ة: "Fatima" ~
    # "Fatimah").
    "ا": "a", "أ": "a", "إ": "a", "آ": "a", "ٱ": "a", "ى": "a", "ع": "a", "ء": "a",
    "ؤ": "w", "ئ": "y", "ب": "b", "ت": "t", "ث": "th", "ج": "j", "ح": "ɦ", "خ": "kh",
    "د": "d", "ذ": "d", "ر": "r", "ز": "z", "س": "s", "ش": "sh", "ص": "s", "ض": "d",
    "ط": "t", "ظ": "z", "غ": "gh", "ف": "f", "ق": "q", "ك": "k", "ل": "l", "م": "m",
    "ن": "n", "ه": "ɦ", "ة": "ɦ", "و": "w", "ي": "y",
    # Persian, Urdu and Maghreb letters
    "پ": "p", "چ": "ch", "ژ": "zh", "گ": "g", "ک": "k", "ی": "y", "ۀ": "ɦ", "ۃ": "ɦ",
    "ہ": "ɦ", "ھ": "ɦ", "ٹ": "t", "ڈ": "d", "ڑ": "r", "ں": "n", "ے": "y", "ۓ": "y",
    "ڤ": "v", "ڨ": "g", "ڭ": "g", "ڢ": "f", "ڧ": "q", "\u0620": "y", "\u063b": "k",
    "\u063c": "k", "\u063d": "y", "\u063e": "y", "\u063f": "y",
    # harakat, tanwin, shadda, sukun, superscript alef, hamza and madda marks, tatweel
    **dict.fromkeys("\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0653\u0654\u0655"
                    "\u0670\u0640", ""),
}
_TRANSLITERATION = str.maketrans(TRANSLITERATION)
#: Greek pairs that sound as one Latin consonant ("Μπ" is "b"), read before the letters.
_GREEK_DIGRAPH = {"μπ": "b", "ντ": "d", "γκ": "g", "γγ": "ng"}
_GREEK_DIGRAPHS = re.compile("|".join(_GREEK_DIGRAPH))
#: An Arabic-script letter (after NFKC, which maps the presentation forms to these blocks).
_ABJAD = re.compile("[\u0620-\u064a\u066e-\u06d3\u06d5\u06ee\u06ef\u06fa-\u06ff"
                    "\u0750-\u077f\u08a0-\u08c9]")
#: Arabic marks dropped before the particles are read (so a vowelled word is still one word).
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
#: "عبد" with the next word's article: one word, as "Abdul Rahman" (:func:`_particles`).
_ARABIC_ABD = re.compile(r"\bعبد(?:\s+|(?=[اٱ]ل))(?:[اٱ]ل)?(?=\w)")
#: The article at the head of a word, ال, or لل (li- + al-: للتجارة); the rest keeps >= 2 letters.
_ARABIC_ARTICLE = re.compile(r"\b[اٱل]ل(?=\w\w)")
#: Apostrophes and the ʿayn / hamza half rings: "Ja'far" is "Jafar", not "Ja" and "far".
_APOSTROPHES = str.maketrans(dict.fromkeys("'`´‘’ʻʼʽʾʿ", ""))

#: Name particles read alike ("bin" ~ "ibn" ~ "ben" ~ بن), the abbreviations of Muhammad, and
#: "Allah" as the word it is after its article ("Abdullah" ~ "Abd Allah" ~ عبد الله).
NAME_PARTICLES: dict[str, str] = {
    "bin": "bin", "ibn": "bin", "ben": "bin", "bn": "bin", "abn": "bin",
    "bint": "bint", "binti": "bint", "bnt": "bint",
    "mohd": "muhammad", "muhd": "muhammad", "mhd": "muhammad", "md": "muhammad",
    "allah": "lah", "alla": "lah", "ullah": "lah", "ulla": "lah",
}
#: The article as a word of its own, dropped when a word follows ("Al Rashid", "el-Sayed",
#: "Zia ul Haq", Russian "аль" -> "al", "lil" for li- + al-).
ARTICLES = frozenset({"al", "el", "ul", "il", "lil"})
#: The article assimilated to a sun letter, dropped when the next word begins with that letter
#: ("Ar Rashid", "As-Sayed", "ad-Din", "ash-Sharif", "ur Rahman").
_ASSIMILATED = re.compile("[aeiu](sh|th|dh|[tdrszn])")
#: The article run into its word ("Alrashid", "Elsayed", "Arrashid", "Assayed"); dropped when
#: at least 4 letters remain, so "Assad", "Essam", "Elbit" stay whole.
_JOINED_ARTICLE = re.compile(r"[ae]l(?=[^aeiouwy])|[ae](sh|th|dh|[tdrszn])(?=\1)")
#: "Abd" with its article or linking vowel ("Abdul", "Abdel", "Abdur", "Abdus", "Abdu-").
_ABD = re.compile(r"abd(?:[aeiou]{1,2}(?:l|(sh|th|dh|[tdrszn])(?=\1|$))?)?")
#: "Allah" and "ad-Din" run into the name before them ("Nasrallah", "Hezbollah", "Salahuddin",
#: "Nasreddine"): the two words, as "Nasr Allah", "حزب الله", "Salah ad-Din" are written.
_SUFFIXED = re.compile(r"(.{3,}?)[aeiou](?:l(lah)|d(d)(?:in|een|ine))")


def _particles(words: list[str]) -> list[str]:
    """A name's words with its particles read one way, so every spelling gives one key:
    :data:`NAME_PARTICLES` canonicalised; the article (:data:`ARTICLES`, or assimilated to the
    next word's sun letter) dropped before another word; an article run into a word dropped
    when 4 letters remain; "Abd" and its article ("Abdul", "Abd al", "Abdel", "Abdur") joined to
    the name that follows: "Abdul Rahman" ~ "Abd al-Rahman" ~ "Abdurrahman" -> "abdrahman";
    "Allah" and "ad-Din" split from the name they are run into ("Nasrallah" -> "nasr lah")."""
    split: list[str] = []
    for w in words:
        m = _SUFFIXED.fullmatch(w) if "ll" in w or "dd" in w else None
        split += [m.group(1), "lah" if m.group(2) else "din"] if m else [w]
    words = split
    out: list[str] = []
    join = False
    for i, w in enumerate(words):
        w = NAME_PARTICLES.get(w, w)
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if nxt and len(w) <= 3 and (w in ARTICLES or (
                (m := _ASSIMILATED.fullmatch(w)) is not None and nxt.startswith(m.group(1)))):
            continue
        if w[0] in "ae" and len(w) >= 6 and (m := _JOINED_ARTICLE.match(w)) \
                and len(w) - m.end() >= 4:
            w = w[m.end():]
        if w.startswith("abd"):
            m = _ABD.match(w)
            assert m is not None
            w = "abd" + w[m.end():]
        if join:
            out[-1] += w
            join = False
        else:
            out.append(w)
            join = w == "abd" and bool(nxt)
    return out


@functools.lru_cache(maxsize=4096)  # both keys read the same words
def _sound_words(s: str) -> tuple[str, ...]:
    """The words :func:`sound_key` and :func:`consonant_key` read: transliterated
    (:data:`TRANSLITERATION`, Arabic particles first), apostrophes dropped, :func:`fold`-ed,
    particles read one way (:func:`_particles`), single letters joined and legal forms dropped
    as in :func:`name_skeleton`."""
    t = unicodedata.normalize("NFKC", s).casefold()
    if not t.isascii():
        if _ABJAD.search(t):
            t = _ARABIC_MARKS.sub("", t)
            t = _ARABIC_ARTICLE.sub("", _ARABIC_ABD.sub("عبد", t))
        t = _GREEK_DIGRAPHS.sub(lambda m: _GREEK_DIGRAPH[m.group()], t).translate(
            _TRANSLITERATION)
    return tuple(_name_words(_particles(_words(t.translate(_APOSTROPHES)))))


#: Consonant letters -> their sound class (:func:`sound_key`): voiced and unvoiced pairs, and
#: letters one sound is spelt with, share a class. Vowels (and y) are a class of their own; h and
#: w are silent between letters.
_SOUND_CLASS = {**dict.fromkeys("bp", "P"), **dict.fromkeys("fv", "F"),
                **dict.fromkeys("cgjkq", "K"), **dict.fromkeys("sz", "S"),
                **dict.fromkeys("dt", "T"), "l": "L", **dict.fromkeys("mn", "N"), "r": "R",
                "x": "KS", **dict.fromkeys("aeiouy", "A"), "h": "", "w": ""}
#: Spellings of one sound, rewritten before the classes: "ph" is "f", "ck" "k", "sch", "sh",
#: "ch", "zh" one sibilant (class X), "c" before e/i/y an "s", "kh" a "k", "th" a "t", "dj"
#: (French for ج: "Djamel") a "j".
_SOUND_SPELLINGS = ((re.compile("sch|sh|ch|zh"), "X"), (re.compile("ph"), "f"),
                    (re.compile("ck|kh"), "k"), (re.compile("c(?=[eiy])"), "s"),
                    (re.compile("th"), "t"), (re.compile("dj"), "j"))
#: A name whose sound key is shorter than this (letters of all its words) is too common a sound
#: to screen on: :func:`sound_key` returns "" for it.
SOUND_KEY_MIN = 4
#: The same for :func:`consonant_key`, whose letters are consonants only: an Arabic name is
#: mostly a three-consonant root, and "NNT" (محمد, "Muhammad") says about what "NANAT" does.
CONSONANT_KEY_MIN = 3


def _spelt(w: str) -> str:
    for pattern, repl in _SOUND_SPELLINGS:
        w = pattern.sub(repl, w)
    return w


def _word_sound(w: str) -> str:
    out: list[str] = []
    for c in _spelt(w):
        code = c if c.isdigit() or c == "X" else _SOUND_CLASS.get(c, "")
        if code and (not out or out[-1] != code):  # a doubled sound is one; h, w are silent
            out.append(code)
    if len(out) > 1 and out[-1] == "A":  # a final vowel is not heard the same everywhere
        out.pop()
    return "".join(out)


def _word_consonants(w: str) -> str:
    out = ["A"] if w[:1] in _VOWEL_LIKE else []  # "Omar" عمر, "Walid" وليد, not "Mar"
    prev = ""
    for c in _spelt(w):
        if c != prev:  # a doubled letter is one ("Hassan" حسن); "mn" in رحمن is two
            code = c if c.isdigit() or c == "X" else _SOUND_CLASS.get(c, "")
            if code != "A":
                out.append(code)
        prev = c
    return "".join(out)


_VOWEL_LIKE = frozenset("aeiouwy")


def is_abjad(s: str) -> bool:
    """``s`` has a letter of the Arabic script (Arabic, Persian, Urdu), which writes no short
    vowel: only :func:`consonant_key` reads it."""
    return _ABJAD.search(unicodedata.normalize("NFKC", s)) is not None


@functools.lru_cache(maxsize=4096)  # pure: party names recur in every document of a trade
def sound_key(s: str) -> str:
    """How a name sounds, for screening's "possible match" (decision 124): transliterated
    (:data:`TRANSLITERATION`), :func:`fold`-ed, particles read one way (:func:`_particles`:
    "Al Rashid" ~ "Alrashid" ~ "Ar-Rashid", "bin" ~ "ibn", "Abdul Rahman" ~ "Abdurrahman"),
    single letters joined and legal forms dropped as in :func:`name_skeleton`; each word as its
    sound classes (pairs like b/p, d/t, c/g/k/q, s/z, m/n are one class; "ph" is "f", "ck" "k",
    "sh"/"ch"/"zh" one sibilant; a run of vowels is one vowel, a final one dropped; a doubled
    consonant one; h and w silent); words sorted. So "Globex" ~ "Glowbecks" ~ "Klobex" ~
    "Глобекс" and "Mohammed" ~ "Muhammad" ~ "Mahmoud". "" for a name whose key has fewer than
    :data:`SOUND_KEY_MIN` sounds (too common to screen), and for a name in Arabic script
    (:func:`is_abjad`: its vowels are not written; :func:`consonant_key` reads it).

    Over-matches far more than the skeletons (it is meant to): a hit is an alert for a
    supervisor to review, never a refusal.
    """
    if is_abjad(s):
        return ""
    codes = sorted(c for c in map(_word_sound, _sound_words(s)) if c and c != "A")
    return " ".join(codes) if sum(map(len, codes)) >= SOUND_KEY_MIN else ""


@functools.lru_cache(maxsize=4096)
def consonant_key(s: str) -> str:
    """How a name sounds without its vowels, the form in which a name in Arabic script (which
    writes no short vowel) and its Latin spellings agree (decision 132): the words of
    :func:`sound_key`, each as the sound classes of its consonants, a doubled letter one, every
    vowel, w, y and h dropped, "A" first for a word that begins with a vowel, w or y (alef, ain,
    hamza, waw, yeh: "Omar" ~ عمر -> "ANR", "Ahmed" ~ أحمد -> "ANT", "Muhammad" ~ محمد -> "NNT");
    words sorted. "" for fewer than :data:`CONSONANT_KEY_MIN` letters.

    Over-matches more than :func:`sound_key`, as the script does: حسن and حسين, "Hassan" and
    "Hussein", "Rashid" and "Rashad" are one key. Screening compares it only across the scripts
    (``contracts.risk``): a Latin name with an Arabic-script watched name and back, never two
    Latin names, which :func:`sound_key` compares.
    """
    codes = sorted(c for c in map(_word_consonants, _sound_words(s)) if c and c != "A")
    return " ".join(codes) if sum(map(len, codes)) >= CONSONANT_KEY_MIN else ""


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
