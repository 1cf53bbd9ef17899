"""The app in English and Chinese: one language per session, chosen in the sidebar and kept in the URL.

Every string of the UI is written in English inside ``_()`` (or ``N_()`` where it is defined before a
session exists, e.g. a module-level table, and translated where it is shown). The Chinese text lives in
``ui/locale/zh/LC_MESSAGES/messages.po``, a standard gettext catalog maintained with Babel::

    pybabel extract -F babel.cfg -k N_ -k Message --no-location --sort-output -o ui/locale/messages.pot .
    pybabel update -i ui/locale/messages.pot -d ui/locale -l zh --no-fuzzy-matching --width 100

then write the Chinese of every new ``msgstr ""`` in the ``.po`` file.

The catalog is read from the ``.po`` file itself (parsed once per process with Babel), so there is no
compiled ``.mo`` to fall out of date. ``tests/test_i18n.py`` fails when a string in the code has no
Chinese translation, when the catalog holds strings the code no longer has, or when a translation
drops a ``{placeholder}``.

A language is per session — one student's choice never changes another's: the default comes from the
browser's language (``st.context.locale``), the choice is kept in ``st.session_state`` and in the URL
(``?lang=zh``), so a teacher can share a link that opens in Chinese.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from core.messages import Message

LANGUAGES = {"en": "English", "zh": "中文"}
KEY = "lang"  # the session-state key and the URL's query parameter
CHOSEN = "lang-chosen"  # the same choice, in a key no widget owns
FOLDER = Path(__file__).parent / "locale"
_lock = threading.Lock()


@functools.cache
def catalog(language: str) -> dict[str, str]:
    """msgid → translation for a language (empty for English, the language the code is written in)."""
    path = FOLDER / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not path.is_file():
        return {}
    from babel.messages.pofile import read_po

    with _lock, path.open("rb") as handle:
        found = read_po(handle, locale=language)
    return {(f"{m.context}\x04{m.id}" if m.context else m.id): m.string
            for m in found if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def _browser_language() -> str:
    try:
        locale = (st.context.locale or "").lower()
    except Exception:  # noqa: BLE001 - outside a browser session (a script, a test) there is no locale
        locale = ""
    return "zh" if locale.startswith("zh") else "en"


def language() -> str:
    """This session's language: its choice, else the URL's ``?lang=``, else the browser's."""
    for value in (st.session_state.get(KEY), st.session_state.get(CHOSEN)):
        if value in LANGUAGES:
            return value
    asked = st.query_params.get(KEY)
    return asked if asked in LANGUAGES else _browser_language()


def switch() -> str:
    """The language switch in the sidebar (every page draws it through the router); returns the language.

    The URL carries ``?lang=`` once a session is in Chinese or came with one, so its address opens the same way.
    """
    if st.session_state.get(KEY) not in LANGUAGES:
        # the session's last choice, kept under a key of its own: Streamlit drops a widget's state when a run does
        # not draw it (a fragment's rerun can), and the language must survive that
        kept, asked = st.session_state.get(CHOSEN), st.query_params.get(KEY)
        st.session_state[KEY] = kept if kept in LANGUAGES else asked if asked in LANGUAGES else _browser_language()
    with st.sidebar:
        st.radio("Language · 语言", list(LANGUAGES), format_func=LANGUAGES.get, key=KEY, horizontal=True,
                 label_visibility="collapsed")  # fmt: skip
    chosen = language()
    st.session_state[CHOSEN] = chosen
    if st.query_params.get(KEY) != chosen and (chosen != "en" or KEY in st.query_params):
        st.query_params[KEY] = chosen
    return chosen


def _(message: str, /, **values) -> str:
    """``message`` in this session's language, with ``{name}`` placeholders filled from ``values``; a ``Message``
    from core is looked up by its template and filled with its own arguments."""
    found = catalog(language())
    if isinstance(message, Message):  # its arguments may be words core wrote too ("English", a model's title)
        args = {k: _(v) if isinstance(v, Message) else found.get(v, v) if isinstance(v, str) else v
                for k, v in message.args.items()}  # fmt: skip
        message, values = message.template, {**args, **values}
    text = found.get(message, message)
    return text.format(**values) if values else text


def plural(count: int, one: str, many: str, /, **values) -> str:
    """``one`` or ``many`` by ``count`` (English's two forms; both are in the catalog, and Chinese writes them
    alike), with ``{count}`` filled in."""
    return _(one if count == 1 else many, count=count, **values)


def pgettext(context: str, message: str, /) -> str:
    """``message`` where the same English word means something else elsewhere (``context`` tells them apart,
    e.g. "key" of an attention head and "key" of a model in a table)."""
    return catalog(language()).get(f"{context}\x04{message}", message)


def problem(error: object) -> str:
    """An error from core (or its message) in this session's language: a ``Message`` translated, else as it is."""
    found = error.args[0] if isinstance(error, BaseException) and len(error.args) == 1 else error
    return _(found) if isinstance(found, Message) else str(error)


def sentences(*parts: str) -> str:
    """Translated sentences one after another: a space between them in English, none in Chinese."""
    return ("" if language() == "zh" else " ").join(part for part in parts if part)


def labels(options) -> Callable[[object], str]:
    """A widget's ``format_func`` that shows each option in this session's language, translated now (while the
    page runs) rather than whenever the widget asks again."""
    shown = {option: _(str(option)) for option in options}
    return lambda option: shown.get(option, str(option))


def title(spec) -> str:
    """A model's title in this session's language: LM Lab's own models are translated; a run trained here is
    called what its student named it, even when that name happens to be a word of the catalog."""
    return spec.title if spec.trained_here and not _is_builtin(spec.key) else _(spec.title)


def class_name(label: str, spec=None) -> str:
    """A class's name in this session's language where it is one of LM Lab's own (positive, negative, the topics); a
    student's run keeps the names its data gave (its "正面" and "positive" stay two classes, as they were trained)."""
    return label if spec is not None and spec.trained_here and not _is_builtin(spec.key) else _(label)


def _is_builtin(key: str) -> bool:
    """One of LM Lab's own models: a catalog entry, or a recipe of its own trained here (the keyword model); not a
    student's run."""
    from core.specs import STATIC_SPECS
    from core.training.recipes import RECIPES

    return key in RECIPES or any(spec.key == key for spec in STATIC_SPECS)


def N_(message: str, /) -> str:  # noqa: N802 - the gettext name for "mark for translation, translate later"
    """Marks a string for the catalog where it is defined; ``_()`` translates it where it is shown."""
    return message


def when(iso: str) -> str:
    """A saved moment (ISO 8601, as cards and benchmark runs store it) written for this session's locale, in UTC:
    "Dec 4, 2026 16:39 UTC", "2026年12月4日 16:39 UTC". Anything that does not parse comes back as it was."""
    from datetime import UTC, datetime

    from babel.dates import format_skeleton

    try:
        moment = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    moment = (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)
    locale = _locale()
    return f"{format_skeleton('yMMMd', moment, locale=locale)} {format_skeleton('Hm', moment, locale=locale)} UTC"


def _locale() -> str:
    return "zh_Hans_CN" if language() == "zh" else "en_US"


def number(value: float, digits: int = 0) -> str:
    """A number written for this session's locale (digit grouping, decimal sign); what is not a number (a "?" for
    a count a card lacks) comes back as text."""
    from babel.numbers import format_decimal

    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)

    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_locale())
