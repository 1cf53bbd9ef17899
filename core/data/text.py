"""Text utilities every layer may use: how Chinese and English sit side by side in one string."""

from __future__ import annotations

import re

# CJK ideographs and full-width punctuation: written without spaces between them
_CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<={_CJK}) +(?={_CJK})")


# Chinese characters (CJK unified ideographs, extension A, compatibility ideographs, extensions B to G)
HAN_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # for a regular expression's [...]
_HAN = re.compile(f"[{HAN_RANGES}]")
CHINESE_AT = 0.3  # a text whose letters are at least this share Chinese characters is read as Chinese


SAMPLE_CHARS = 4000  # a text's language is read from its start: a pasted megabyte costs no more than this


def han_share(text: str) -> float:
    """The share of a text's letters (characters that are letters or ideographs, not digits, spaces or
    punctuation) that are Chinese characters, in its first ``SAMPLE_CHARS`` characters; 0.0 without letters."""
    sample = text[:SAMPLE_CHARS]
    letters = sum(map(str.isalpha, sample))
    return len(_HAN.findall(sample)) / letters if letters else 0.0


def has_han(text: str) -> bool:
    """Whether the text has at least one Chinese character."""
    return _HAN.search(text) is not None


def language_of(text: str) -> str:
    """'zh' for a text that is mostly Chinese characters, else 'en' (the two languages LM Lab tells apart)."""
    return "zh" if han_share(text) >= CHINESE_AT else "en"


_CJK_PUNCTUATION = re.compile(r"[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]")


def count_words(text: str) -> int:
    """Words as a reader counts them: whitespace-separated in English (exactly ``len(text.split())``), one per
    character in Chinese, which writes no spaces; full-width punctuation is no word."""
    if not _HAN.search(text):
        return len(text.split())
    spaced = _CJK_PUNCTUATION.sub(" ", _HAN.sub(" x ", text))
    return len(re.sub("[\u2018-\u201f]", " ", spaced).split())  # Chinese quotes “…” are no words either


def join_cjk(text: str) -> str:
    """Remove the spaces a WordPiece decoder puts between Chinese characters; keep them between English words."""
    return _SPACE_BETWEEN_CJK.sub("", text).strip()
