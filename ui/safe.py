"""Strings that came from a user are shown as text, never interpreted.

Many sessions share one server: a CSV cell, a column name, a label, a run name, a query parameter
or an error message quoting any of them reaches other students' pages. Streamlit renders
Markdown (links, images, emphasis, ``:colour[...]`` directives) in ``st.markdown``, captions,
widget labels, ``st.error`` and friends; Plotly renders a subset of HTML (``<a href>``, ``<b>``) in
trace names, tick labels and texts. Every untrusted string goes through ``md`` or ``figure``
before it is drawn.
"""

from __future__ import annotations

import html
import re

import streamlit as st

# Characters that start Markdown or HTML anywhere in a line: emphasis, code, links and images, HTML
# and entities, tables, strikethrough, LaTeX, and ":" (bare URLs autolink; Streamlit's
# ":material/…:" icons and ":red[…]" directives). Backslash-escaped, they show as themselves.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>#!|~$:&@])")  # "@": e-mail addresses autolink too
# Characters that mean something only at the start of a line: lists ("- ", "+ ", "1. "), headings
# made by underlining ("===", "---"), block quotes (">", handled above).
_LINE_START = re.compile(r"^(\s*)(?:([-+=])|(\d+)([.)]))", re.MULTILINE)
_WWW = re.compile(r"(?i)\bwww\.")  # "www.example.com" autolinks without a scheme
_SCHEME = re.compile(r"(?i)\b(https?|ftp|mailto|xmpp)(\\:)")  # after the ":" was escaped
ZERO_WIDTH = "\u200b"


def md(value: object) -> str:
    """``value`` as a string that Markdown shows literally: no link, emphasis, HTML, heading or directive."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")  # a lone CR also ends a Markdown line
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = _LINE_START.sub(lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"), text)
    # GitHub-flavoured autolinks are found in the text *after* escapes are resolved, so a backslash does not
    # stop "https://…", "www.…" or "a@b.c" from becoming live links: a zero-width space breaks the pattern.
    text = _SCHEME.sub(lambda m: m.group(1) + ZERO_WIDTH + m.group(2), text)
    text = _WWW.sub(lambda m: m.group(0)[:3] + ZERO_WIDTH + ".", text)
    text = text.replace("\\@", ZERO_WIDTH + "\\@")
    # a newline would start a new Markdown block (a heading, a list): keep the text on its lines as text
    return text.replace("\n", "  \n")


def plain(value: object) -> str:
    """``value`` for a place that renders a subset of HTML (Plotly labels): ``<``, ``>``, ``&`` as entities."""
    return html.escape(str(value), quote=False)


def error(problem: object) -> None:
    """``st.error`` for a message that may quote what the user typed."""
    from ui.i18n import problem as translated

    st.error(md(translated(problem)))


_TRACE_TEXT_FIELDS = ("x", "y", "text", "name", "labels", "hovertext", "ids", "customdata")


def _has_text(value) -> bool:
    """A string anywhere in ``value``, nested lists and tuples included (a heatmap's grid of cell texts)."""
    if isinstance(value, str):
        return True
    return isinstance(value, (list, tuple)) and any(_has_text(item) for item in value)


def _escaped(value):
    if isinstance(value, str):
        return plain(value)
    if isinstance(value, (list, tuple)):
        return [_escaped(item) for item in value]
    return value


def figure(fig):
    """Escape every string a Plotly trace or axis would draw as HTML; numbers and our templates stay."""
    for trace in fig.data:
        for field in _TRACE_TEXT_FIELDS:
            if field not in trace:
                continue
            value = trace[field]
            if _has_text(value):
                trace[field] = _escaped(list(value) if isinstance(value, tuple) else value)
            elif hasattr(value, "dtype") and value.dtype.kind in "OUS":  # numpy arrays of strings
                trace[field] = [_escaped(item) for item in value.tolist()]
    layout = fig.layout
    if layout.title.text:
        layout.title.text = plain(layout.title.text)
    for name in dir(layout):
        if name.startswith(("xaxis", "yaxis")):
            axis = getattr(layout, name, None)
            if axis is None:
                continue
            if getattr(axis, "ticktext", None) is not None:
                axis.ticktext = _escaped(list(axis.ticktext))
            if axis.title.text:
                axis.title.text = plain(axis.title.text)
    for annotation in layout.annotations or ():
        if annotation.text:
            annotation.text = plain(annotation.text)
    return fig


def table(data, *, decimals: int | None = None, **kwargs):
    """``st.dataframe`` with a missing value shown as an empty cell: Streamlit writes "None" by default, an English
    word in the middle of a Chinese page (a baseline has no size, a model no score yet). Its cells are shown as
    text, so strings from a user are safe in it as they are. With ``decimals``, every column of floats not
    configured otherwise shows that many (0.970 above 1.078, not 0.97)."""
    kwargs.setdefault("placeholder", "")
    if decimals is not None:
        floats = [str(name) for name, kind in data.dtypes.items() if kind.kind == "f"]
        number = st.column_config.NumberColumn(format=f"%.{decimals}f")
        kwargs["column_config"] = {**{name: number for name in floats}, **kwargs.get("column_config", {})}
    return st.dataframe(data, **kwargs)
