"""Words core says to people, in a form the interface can show in the reader's language.

Core speaks English. A ``Message`` is that English text (it *is* a ``str``: logs, the command lines and
tests read it as they always did) which also remembers its template and arguments, so ``ui.i18n._``
looks the template up in the message catalog and fills in the same arguments. ``N_`` marks a plain
string (a model's title, a description) for the catalog without changing it. Both are found by Babel
(``-k N_ -k Message``; see ``ui/i18n.py``).
"""

from __future__ import annotations


class Message(str):
    """English text made from ``template`` and ``args``, with both kept for translation."""

    template: str
    args: dict

    def __new__(cls, template: str, /, **args) -> Message:
        text = super().__new__(cls, template.format(**args) if args else template)
        text.template, text.args = template, args
        return text

    def __reduce__(self):  # pickled (st.session_state, caches) as what it is
        return (_rebuild, (self.template, self.args))


def _rebuild(template: str, args: dict) -> Message:
    return Message(template, **args)


def N_(text: str) -> str:
    """Marks a title or description for the interface's message catalog; the UI translates it where it is shown."""
    return text
