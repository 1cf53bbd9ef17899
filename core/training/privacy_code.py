"""Copyable code for the Privacy page: the personal-data finder and the masking it ran, in plain Python (no LM Lab
needed), its patterns copied from LM Lab's."""

from __future__ import annotations

import inspect
import re

from core.training import privacy


def personal_data(text: str) -> str:
    """The finder and the masking the page ran, its patterns copied from LM Lab's."""
    patterns = "".join(f"    {kind!r}: re.compile({pattern.pattern!r}{', re.IGNORECASE' if pattern.flags & re.IGNORECASE else ''}),\n"
                       for kind, pattern in privacy.PII_PATTERNS.items())  # fmt: skip
    checker = inspect.getsource(privacy.valid_chinese_id) + "\n\n" + inspect.getsource(privacy.phone_end)
    return (
        "import re\n\n"
        "PATTERNS = {  # tried in this order; a later match never overlaps an earlier one\n"
        + patterns
        + "}\n"
        f"ID_WEIGHTS = {privacy.ID_WEIGHTS!r}\n"
        f"ID_CHECK = {privacy.ID_CHECK!r}\n\n\n"
        + checker
        + "\n\n"
        "def find(text):\n"
        "    found, taken = [], set()\n"
        "    for kind, pattern in PATTERNS.items():\n"
        "        for m in pattern.finditer(text):\n"
        "            if taken & set(range(m.start(), m.end())):\n"
        "                continue\n"
        '            if kind == "Chinese ID" and not valid_chinese_id(m.group()):\n'
        "                continue\n"
        '            end = phone_end(text, m.start(), m.end()) if kind == "phone" else m.end()\n'
        "            if end is None:\n"
        "                continue\n"
        "            found.append((m.start(), end, kind))\n"
        "            taken |= set(range(m.start(), end))\n"
        "    return sorted(found)\n\n\n"
        "def mask(text):\n"
        "    out, last = [], 0\n"
        "    for start, end, kind in find(text):\n"
        '        out += [text[last:start], f"[{kind}]"]\n'
        "        last = end\n"
        '    return "".join([*out, text[last:]])\n\n\n'
        f"text = {text[:2000]!r}\n"
        "print(mask(text))\n"
    )
