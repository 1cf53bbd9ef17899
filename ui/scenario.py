"""What every scenario page shares: the model picker with its readiness and job, the text box with its
examples and ``?text=`` prefill, and training on first use."""

from __future__ import annotations

import streamlit as st

from core import catalog, settings
from core.catalog import ModelSpec
from core.training import jobs as core_jobs
from ui import i18n, jobs, models, safe
from ui.i18n import _


def ensure_ready(spec: ModelSpec, *, fallback: str = "another model") -> bool:
    """True when ``spec`` can answer now; otherwise say why and, for trained-here models, train it (shared job)."""
    state = catalog.availability(spec)
    if state.ready:
        return True
    if spec.trained_here:
        first = job_key(spec)  # the model it starts from, when that must be trained first
        current = core_jobs.status(first)
        if current.state == "none" and settings.autotrain():
            jobs.start(first)  # first use: train in the background, shared by every session
        elif not current.active and st.button(
            _("Train it now"), key=f"train-{spec.key}", icon=":material/model_training:"
        ):
            jobs.start(first)
            st.rerun()
        if first != spec.key:
            st.caption(_("It starts from {base}, which is trained first (about 2½ minutes); then it is fine-tuned "
                         "(about 2 minutes).", base=first))  # fmt: skip
        if core_jobs.status(first).active:
            said = _("{model} is {reason}. It is training in the background now (one to about four minutes on 2 CPU "
                     "cores); meanwhile, try {fallback}.", model=safe.md(i18n.title(spec)), reason=_(state.reason),
                     fallback=_(fallback))  # fmt: skip
        else:
            said = _("{model} is {reason}. Press “Train it now” to train it in the background (one to about four "
                     "minutes on 2 CPU cores); meanwhile, try {fallback}.", model=safe.md(i18n.title(spec)),
                     reason=_(state.reason), fallback=_(fallback))  # fmt: skip
        st.info(said, icon=":material/hourglass_top:")
    else:
        st.warning(f"{safe.md(i18n.title(spec))}: {_(state.reason)}.", icon=":material/cloud_off:")
    return False


def when_asked(label: str, *, key: str) -> bool:
    """True once this session has pressed the button ``key`` (drawn until then): an expensive section loads and
    trains nothing before a student asks for it."""
    if st.session_state.get(f"{key}-asked"):
        return True
    if not st.button(label, key=key, type="primary"):
        return False
    st.session_state[f"{key}-asked"] = True
    return True


def ready_or_training(specs: list[ModelSpec], *, fallback: str) -> list[bool]:
    """``ensure_ready`` for each model, and the progress of the training job of each one that is not ready."""
    ready = [ensure_ready(spec, fallback=fallback) for spec in specs]
    for spec, is_ready in zip(specs, ready, strict=True):
        if not is_ready and spec.trained_here:
            jobs.panel(job_key(spec), title=i18n.title(spec))
    return ready


def job_key(spec: ModelSpec) -> str:
    """The training job a model that is not ready waits for: its own, or that of the model it starts from."""
    from core.training.prepare import prerequisite

    return prerequisite(spec.key) or spec.key


def copy_example(example_key: str, text_key: str) -> None:
    """``on_change`` of a row of example pills: put the chosen example in the text box."""
    chosen = st.session_state.get(example_key)
    if chosen:
        st.session_state[text_key] = chosen


def model_header(task: str, prefix: str, *, default: str, fallback: str) -> tuple[ModelSpec, bool]:
    """The top of an Apply page: the model picker, whether the model can answer now (else it trains, shared by
    the class, and the page says what to try meanwhile), and the progress of its training job."""
    spec = models.picker(task, key=f"{prefix}-model", default=default)
    ready = ensure_ready(spec, fallback=fallback)
    if spec.trained_here:
        first = job_key(spec) if not ready else spec.key
        jobs.panel(first, title=i18n.title(spec) if first == spec.key else first)
    return spec, ready


def text_box(prefix: str, examples: list[str], *, label: str, height: int = 80, text_key: str | None = None,
             examples_label: str = "", single_line: bool = False, **options) -> str:  # fmt: skip
    """The input of an Apply page: ``?text=…`` (a link from another page) or the first example in the box at
    first, a row of examples that fill it when clicked, and the box (a text area, or one line)."""
    key = text_key or f"{prefix}-text"
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get("text", examples[0])
    st.pills(examples_label or _("Examples"), examples, key=f"{prefix}-example", on_change=copy_example,
             args=(f"{prefix}-example", key), help=_("Click one to put it in the box."))  # fmt: skip
    if single_line:
        return st.text_input(label, key=key, **options)
    return st.text_area(label, key=key, height=height, **options)
