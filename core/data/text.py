"""Text utilities every layer may use: how Chinese and English sit side by side in one string."""

from __future__ import annotations

import re

# CJK ideographs and full-width punctuation: written without spaces between them
_CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<={_CJK}) +(?={_CJK})")


def join_cjk(text: str) -> str:
    """Remove the spaces a WordPiece decoder puts between Chinese characters; keep them between English words."""
    return _SPACE_BETWEEN_CJK.sub("", text).strip()
