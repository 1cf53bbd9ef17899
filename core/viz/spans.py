"""Semantic roles drawn as coloured spans (escaped HTML), one row per predicate, with a legend."""

from __future__ import annotations

import html
import unicodedata

from core.data.srl import ROLE_MEANINGS

ROLE_COLOURS = {
    "V": "#fdd835",
    "ARG0": "#90caf9",
    "ARG1": "#a5d6a7",
    "ARG2": "#ffcc80",
    "ARGM-TMP": "#ce93d8",
    "ARGM-LOC": "#80cbc4",
    "ARGM-MNR": "#f48fb1",
    "ARGM-NEG": "#ef9a9a",
    "ARGM-MOD": "#b0bec5",
    "ARGM-CAU": "#bcaaa4",
}
_OTHER = "#e0e0e0"


def frame_row(words: list[str], spans: list[tuple[str, int, int]], *, title: str, meanings: dict | None = None) -> str:
    """One predicate's frame: each span a coloured box with its role above the words; other words plain."""
    starts = {start: (role, end) for role, start, end in spans}
    parts, index = [], 0
    while index < len(words):
        if index in starts:
            role, end = starts[index]
            text = html.escape(" ".join(words[index : end + 1]))
            colour = ROLE_COLOURS.get(role, _OTHER)
            meaning = html.escape((meanings or ROLE_MEANINGS).get(role, role))
            parts.append(
                f'<span title="{html.escape(role)}: {meaning}" style="display:inline-flex; flex-direction:column; '
                f'align-items:center; background:{colour}; color:#111; border-radius:6px; padding:1px 6px; margin:2px">'
                f'<small style="font-size:0.68rem; font-weight:600">{html.escape(role)}</small>{text}</span>'
            )
            index = end + 1
        else:
            parts.append(
                f'<span style="display:inline-block; margin:2px; padding-top:0.9rem">{html.escape(words[index])}</span>'
            )
            index += 1
    return (
        f'<div style="margin:0.4rem 0"><div style="font-size:0.85rem; opacity:0.75">{html.escape(title)}</div>'
        f'<div style="line-height:1.6; font-size:1.02rem">{"".join(parts)}</div></div>'
    )


def legend(roles: list[str], meanings: dict | None = None) -> str:
    items = [
        f'<span style="background:{ROLE_COLOURS.get(role, _OTHER)}; color:#111; border-radius:4px; padding:1px 6px; '
        f'margin:2px; display:inline-block; font-size:0.8rem">{html.escape(role)} — {html.escape((meanings or ROLE_MEANINGS).get(role, role))}</span>'
        for role in roles
    ]
    return f'<div style="margin-top:0.3rem">{"".join(items)}</div>'



_CHIPS_STYLE = (
    "<style>.lmlab-w{background:#eceff1;color:#111;border:2px solid transparent;border-radius:6px;padding:1px 6px;"
    "margin:2px;display:inline-block;font-size:1.05rem;unicode-bidi:isolate}"
    ".lmlab-w.lmlab-d{background:#ffe0b2;border-color:#fb8c00}</style>"
)


def _visible(word: str) -> str:
    """The word, or its code points when nothing in it is visible (a zero-width space, a direction mark)."""
    if any(unicodedata.category(char)[0] in "LNPS" for char in word):
        return word
    return " ".join(f"U+{ord(char):04X}" for char in word)


def word_chips(words: list[str], different: set[int], titles: list[str] | None = None) -> str:
    """Words as chips in a row (escaped HTML, one style block, each chip isolated from the text direction of the
    next); the chips at the indices in ``different`` highlighted."""
    chips = []
    for index, word in enumerate(words):
        kind = "lmlab-w lmlab-d" if index in different else "lmlab-w"
        title = f' title="{html.escape(titles[index])}"' if titles else ""
        chips.append(f'<span class="{kind}"{title}>{html.escape(_visible(word))}</span>')
    return _CHIPS_STYLE + '<div style="line-height:2.1">' + "".join(chips) + "</div>"
