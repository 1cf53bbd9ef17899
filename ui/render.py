"""Draw what core returns: figures, results, snippets."""

from __future__ import annotations

import json

import streamlit as st

from core.viz import charts
from ui import safe
from ui.i18n import N_, _, plural

# class names of LM Lab's own classifiers, shown in the session's language (other labels as they are)
LABELS = (N_("positive"), N_("negative"), N_("neutral"), N_("atheism"), N_("space"))
LAYER_WORDS = (N_("embeddings"),)  # what core names the first row of a lens or patching grid


def queue_note(action: str) -> str:
    """A spinner text with this request's place in the server's queue of forward passes."""
    from core.tasks.inputs import inference_gate

    ahead = inference_gate().ahead()
    if not ahead:
        return action
    return action + " " + plural(ahead, N_("({count} request of other users ahead of yours)"),
                                 N_("({count} requests of other users ahead of yours)"))


def _translated(fig):
    """The words core's figure builders write (titles, axis titles, trace names, marked with N_) in this
    session's language; anything else — numbers, tokens, model names — as it is."""
    from ui.i18n import catalog, language

    found = catalog(language())
    if not found:
        return fig
    for trace in fig.data:
        if isinstance(trace.name, str) and trace.name in found:
            trace.name = found[trace.name]
        hover = getattr(trace, "hovertemplate", None)
        if isinstance(hover, str) and hover:  # its lines ("query %{y}") one by one, the trace's box as it is
            body, box, extra = hover.partition("<extra>")
            trace.hovertemplate = "<br>".join(found.get(line, line) for line in body.split("<br>")) + box + extra
    layout = fig.layout
    if layout.title and isinstance(layout.title.text, str) and layout.title.text in found:
        layout.title.text = found[layout.title.text]
    for axis in [name for name in layout if name.startswith(("xaxis", "yaxis"))]:
        title = layout[axis].title
        if title and isinstance(title.text, str) and title.text in found:
            title.text = found[title.text]
    for note in layout.annotations or ():  # a marked line's label (add_vline/add_hline annotation_text)
        if isinstance(note.text, str) and note.text in found:
            note.text = found[note.text]
    return fig


def figure(fig, *, key: str, numbers: dict | None = None, stem: str = "") -> None:
    """Draw a Plotly figure in the session's language; labels that came from users (class names, model names)
    are drawn as text. With ``numbers``, an inspection view: it also downloads as an interactive HTML file that
    opens offline (plotly.js from the installed plotly package goes inside it) and as the JSON of its numbers;
    PNG is the camera button of every chart's toolbar."""
    shown = safe.figure(_translated(fig))
    st.plotly_chart(shown, key=key, config={"displaylogo": False})
    if numbers is None:
        return
    left, right, _space = st.columns([1, 1, 2])
    # built only when asked; a fixed div id makes the same figure the same bytes, so the server keeps one copy
    left.download_button(_("HTML (works offline)"), lambda: shown.to_html(include_plotlyjs=True, full_html=True,
                                                                          div_id=key),
                         file_name=f"{stem or key}.html", mime="text/html", key=f"{key}-html", on_click="ignore",
                         icon=":material/download:")  # fmt: skip
    right.download_button(_("Numbers (JSON)"), lambda: json.dumps(plain(numbers), ensure_ascii=False, indent=1),
                          file_name=f"{stem or key}.json", mime="application/json", key=f"{key}-json",
                          on_click="ignore", icon=":material/data_object:")  # fmt: skip


def layer_name(name: str) -> str:
    """A layer as core names it ("embeddings", "block 3") in this session's language; other words translated."""
    if name.startswith("block "):
        return _("block {number}", number=name.split()[-1])
    return _(name)


def plain(value):
    """Numbers, arrays, lists and dicts as JSON can hold them (numpy arrays as nested lists, NaN as null)."""
    import math

    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(name): plain(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def sentiment_result(result, *, title: str, key: str, compact: bool = False, model: str = "", others=()) -> None:
    """Label, scores chart, latency and truncation note for one prediction."""
    from core.tasks.sentiment import LEXICON_SHARE
    from ui.language import warn

    warn(getattr(result, "language", None), model or title or result.model_key, others)  # before the answer: does the model read this text at all?
    label_colour = {"positive": "green", "negative": "red"}.get(result.label, "gray")
    top = max(result.scores.values())
    what = _("share of wording") if result.score_kind == LEXICON_SHARE else _("probability")
    label = safe.md(_(result.label))
    if compact:
        st.markdown(f":{label_colour}[**{label}**] · {what} {100 * top:.1f} % · {result.latency_ms:.1f} ms")
    else:
        first, second, third = st.columns(3)
        first.markdown("**" + _("Label") + f"**  \n:{label_colour}[**{label}**]")
        second.metric(_("Top {what}", what=what), f"{100 * top:.1f} %")
        third.metric(
            _("Latency"),
            f"{result.latency_ms:.1f} ms",
            help=_("Tokenize + forward pass on the server: the pass that answered this call (on PyTorch, other "
                   "sessions' requests arriving at the same moment may have shared it; on ONNX Runtime every request "
                   "has a pass of its own, and a close call computed again in fp32 adds that fp32 pass, on PyTorch one "
                   "that other close calls may share). Time waiting for the model is not included."),
        )  # fmt: skip
        if result.runtime:
            computed_by(result.runtime, result.device, result.runtime_note)
    scores = {_(name): value for name, value in result.scores.items()}
    if len(scores) < len(result.scores):  # two classes that read the same once translated: keep them apart
        scores = dict(result.scores)
    figure(charts.class_scores(scores, score_kind=what, title=title, classes=list(result.scores)), key=key)
    if result.score_kind == LEXICON_SHARE:
        compound = result.details.get("compound", 0.0)
        st.caption(
            _("VADER's bars are shares, not probabilities: each positive or negative word adds its lexicon valence "
              "(adjusted for intensifiers, negation and capitals) plus 1 to its side, each word without valence adds "
              "1 to neutral, '!' and '?' add to the stronger side, and the three are normalised to add up to 1. Its "
              "compound score is {compound} (≥ +0.05 positive, ≤ −0.05 negative).", compound=f"{compound:+.3f}")
        )  # fmt: skip
    if result.truncated:
        st.warning(
            _("Your text is {length} tokens long; this model reads at most {limit}, so only the first {used} tokens "
              "were used.", length=result.n_tokens_input, limit=result.max_tokens, used=result.n_tokens)
        )  # fmt: skip


def computed_by(runtime: str, device: str, note: str = "") -> None:
    """A caption naming what computed an answer and where, and why not the runtime asked for (``note``)."""
    note = _(" ({note})", note=_(note)) if note else ""  # （…） in Chinese
    where = _("on the server's CPU") if device == "cpu" else _("on the server's GPU ({device})", device=device)
    st.caption(_("Computed by {runtime} {where}{note}.", runtime=safe.md(_(runtime)), where=where, note=safe.md(note)))
