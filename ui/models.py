"""Shared models (one instance per process, used by every session) and the model picker."""

from __future__ import annotations

import streamlit as st

from core import catalog
from core.catalog import ModelSpec
from core.errors import CoreError
from core.tasks.base import CLASSIFICATION, get_task, tasks
from ui import i18n, safe
from ui.i18n import _

# Community Cloud gives 2.7 GB: keep at most three loaded large models (a MiniLM classifier holds ~170–200 MB with
# its ONNX sessions, a Hub DistilBERT more); the least recently used one is dropped first. Small ones (under 12 MB on
# disk: the Chinese BERT classifiers trained here, 5–6 MB, the tiny English ones, 9 MB, a student's small run from
# scratch; VADER) are kept apart, so that a class on the Chinese and the English pages at once does not make them
# evict MiniLMs and load them again (0.4–0.7 s each, under the load lock).
SMALL_MODEL_BYTES = 12_000_000


@st.cache_resource(max_entries=3, show_spinner=False)
def _large_predictor(key: str, fingerprint: str):
    return _load_predictor(key)


@st.cache_resource(max_entries=8, show_spinner=False)
def _small_predictor(key: str, fingerprint: str):
    return _load_predictor(key)


def _load_predictor(key: str):
    from core.tasks.classify import make_classifier
    from core.tasks.sentiment import VaderSentiment

    spec = catalog.get_spec(key)
    return VaderSentiment(spec) if spec.kind == "vader" else make_classifier(spec)


def _predictor(spec: ModelSpec, fingerprint: str, size_bytes: int | None):
    """The shared predictor, from the cache its size belongs to (an unknown size counts as large)."""
    small = spec.kind == "vader" or (size_bytes or spec.size_bytes or SMALL_MODEL_BYTES) < SMALL_MODEL_BYTES
    return (_small_predictor if small else _large_predictor)(spec.key, fingerprint)


def predictor(spec: ModelSpec):
    """The shared predictor for ``spec``; a retrained model (new sha256) gets a fresh instance."""
    return predictor_and_version(spec)[0]


def predictor_and_version(spec: ModelSpec) -> tuple[object, str]:
    """The shared predictor and the version it was loaded for (its weights' sha256; a Hub model's repository),
    read once: results kept under that version belong to those weights even if a retrain lands meanwhile."""
    meta = catalog.read_metadata(spec.key) if spec.trained_here else None
    fingerprint = meta.sha256 if meta else ""
    with st.spinner(_("Loading {model}…", model=safe.md(i18n.title(spec)))):
        return _predictor(spec, fingerprint, meta.size_bytes if meta else None), fingerprint or spec.location


def predictor_quietly(spec: ModelSpec, fingerprint: str):
    """The shared predictor for ``spec`` at ``fingerprint``, loaded without a spinner (from a background run)."""
    meta = catalog.read_metadata(spec.key) if spec.trained_here else None
    return _predictor(spec, fingerprint, meta.size_bytes if meta else None)


@st.cache_resource(show_spinner=False)
def _sentence_encoder():
    from core.tasks.embeddings import SentenceEncoder

    return SentenceEncoder()


def sentence_encoder_quietly():
    """The shared sentence encoder without a spinner (inside a cached computation)."""
    return _sentence_encoder()


def sentence_encoder():
    """One MiniLM sentence encoder for every page that embeds text (Topic's zero-shot, Summarize)."""
    with st.spinner(_("Loading MiniLM for sentence embeddings…")):
        return _sentence_encoder()


@st.cache_data(show_spinner=False)
def _vader_heldout() -> dict:
    from core.tasks.sentiment import heldout_accuracy_vader

    return heldout_accuracy_vader().as_dict()


def quality(spec: ModelSpec) -> dict | None:
    """Held-out accuracy with its 95 % CI (a dict of value/low/high/n), when LM Lab has measured it."""
    if spec.kind == "vader":
        try:
            with st.spinner(_("Scoring VADER on the held-out sentences…")):
                return _vader_heldout()
        except CoreError:
            return None
    if spec.trained_here:
        meta = catalog.read_metadata(spec.key) or {}
        return meta.get("metrics", {}).get("accuracy")
    return None


def quality_text(estimate: dict | None) -> str:
    if not estimate:
        return ""
    return _("accuracy {value} % (95 % CI {low}–{high}, n={n})", value=f"{100 * estimate['value']:.0f}",
             low=f"{100 * estimate['low']:.0f}", high=f"{100 * estimate['high']:.0f}", n=estimate["n"])


# One each for the offline defaults — two translation directions, semantic roles, two language models (the Generate
# and Layers pages share them) and word segmentation — and two more: fewer made students on different pages evict
# each other's models (each reload waits on the load lock). The models trained here are 1–90 MB; the Hub's larger
# ones come only online.
@st.cache_resource(max_entries=8, show_spinner=False)
def _task_model(key: str, fingerprint: str):
    spec = catalog.get_spec(key)
    return get_task(spec.task).hook("predictor")(spec)


def task_model(spec: ModelSpec):
    """The shared translator, role labeler or language model for ``spec`` (one per process)."""
    return task_model_and_version(spec)[0]


def task_model_and_version(spec: ModelSpec) -> tuple[object, str]:
    """``task_model`` and the version it was loaded for, read once (see ``predictor_and_version``)."""
    meta = catalog.read_metadata(spec.key) if spec.trained_here else None
    fingerprint = meta.sha256 if meta else ""
    with st.spinner(_("Loading {model}…", model=safe.md(i18n.title(spec)))):
        return _task_model(spec.key, fingerprint), fingerprint or spec.location


def task_model_quietly(spec: ModelSpec, fingerprint: str):
    """The shared translator, role labeler or language model at ``fingerprint``, loaded without a spinner (inside a
    cached computation: loaded only when that computation runs)."""
    return _task_model(spec.key, fingerprint)


def headline(spec: ModelSpec) -> str:
    """The measured held-out quality of ``spec`` in words, for the caption under the picker."""
    task = tasks().get(spec.task)
    if task is None or task.family == CLASSIFICATION:
        return quality_text(quality(spec))
    card = catalog.read_metadata(spec.key) if spec.trained_here else None
    return task.headline(card.metrics if card else {})


def picker(task: str, *, key: str, default: str | None = None) -> ModelSpec:
    """A selectbox of every model for ``task``, then the chosen one's status and held-out accuracy.

    Option labels stay fixed (title and source): a label that changed when a model finished
    training would make Streamlit treat the box as a new widget and lose the user's choice.
    """
    specs = catalog.specs_for_task(task)
    keys = [spec.key for spec in specs]
    by_key = {spec.key: spec for spec in specs}

    sources = {spec.key: _(catalog.SOURCE_LABELS[spec.source]) for spec in specs}  # translated now, not later
    titles = {spec.key: i18n.title(spec) for spec in specs}

    def label(model_key: str) -> str:
        return f"{titles[model_key]} [{sources[model_key]}]"

    requested = st.query_params.get("model")
    if key not in st.session_state or st.session_state[key] not in by_key:
        initial = requested if requested in by_key else default if default in by_key else keys[0]
        st.session_state[key] = initial
    chosen = by_key[st.selectbox(_("Model"), keys, format_func=label, key=key)]
    state = catalog.availability(chosen)
    measured = _(headline(chosen)) if state.ready else ""  # a sequence task's words come as a Message
    if state.ready:
        st.caption(
            ":material/check_circle: " + (_("ready · held-out {measured}", measured=measured) if measured else _("ready"))
        )
    else:
        st.caption(f":material/block: {_(state.reason)}")
    return chosen


def ready_classifiers() -> dict[str, ModelSpec]:
    """Every Transformer classifier of any classification task that is ready here, by key (the Challenges pages'
    pickers)."""
    families = {name for name, task in tasks().items() if task.family == CLASSIFICATION}
    return {spec.key: spec for spec in catalog.all_specs()
            if spec.task in families and spec.kind == "transformers" and catalog.availability(spec).ready}  # fmt: skip
