"""Sentiment page logic: readiness, running the model(s), showing results and the model card."""

from __future__ import annotations

import streamlit as st

from core import catalog, settings, snippets
from core.catalog import ModelSpec
from core.errors import CoreError
from core.training import jobs as core_jobs
from core.viz import charts
from ui import jobs, models, render

EXAMPLES = [
    "A gripping, beautifully acted film that stays with you.",
    "The plot is thin and the jokes fall flat.",
    "I didn't expect to like it, but I did.",
    "Not good, not bad — just forgettable.",
]


def use_example() -> None:
    chosen = st.session_state.get("sentiment-example")
    if chosen:
        st.session_state["sentiment-text"] = chosen


def _prefill_from_query() -> None:
    """``?text=…`` opens the page with that text in the box (links from other pages)."""
    if "sentiment-text" not in st.session_state:
        st.session_state["sentiment-text"] = st.query_params.get("text", EXAMPLES[0])


def ensure_ready(spec: ModelSpec) -> bool:
    """True when ``spec`` can answer now; otherwise explain why and, for trained-here models, train it."""
    _prefill_from_query()
    state = catalog.availability(spec)
    if state.ready:
        return True
    if spec.trained_here:
        current = core_jobs.status(spec.key)
        if current.state == "none" and settings.autotrain():
            jobs.start(spec.key)  # first use: train in the background, shared by every session
        elif not current.active and st.button(
            "Train it now", key=f"train-{spec.key}", icon=":material/model_training:"
        ):
            jobs.start(spec.key)
            st.rerun()
        st.info(
            f"{spec.title} is {state.reason}. It trains in the background (about a minute on 2 CPU cores); "
            "meanwhile, try the VADER baseline.",
            icon=":material/hourglass_top:",
        )
    else:
        st.warning(f"{spec.title}: {state.reason}.", icon=":material/cloud_off:")
    return False


def run(spec: ModelSpec, text: str, *, compare: bool) -> None:
    chosen = (
        [s for s in catalog.specs_for_task("sentiment") if catalog.availability(s).ready]
        if compare
        else [spec]
    )
    results = []
    for model_spec in chosen:
        try:
            result = models.predictor(model_spec).predict(text)
        except CoreError as error:
            st.session_state["sentiment-results"] = []
            st.error(str(error))
            return
        results.append((model_spec, result))
    st.session_state["sentiment-results"] = results


def show_results() -> None:
    results = st.session_state.get("sentiment-results") or []
    if not results:
        return
    columns = st.columns(len(results)) if len(results) > 1 else [st.container()]
    for column, (model_spec, result) in zip(columns, results, strict=True):
        with column:
            st.markdown(f"{'#####' if len(results) > 1 else '####'} {model_spec.title}")
            measured = models.quality_text(models.quality(model_spec))
            st.caption(
                f"{catalog.SOURCE_LABELS[model_spec.source]}"
                + (f" · held-out {measured}" if measured else "")
            )
            render.sentiment_result(
                result, title="", key=f"sentiment-chart-{model_spec.key}", compact=len(results) > 1
            )
    model_spec, result = results[0]
    with st.expander("Code to reproduce this", icon=":material/code:"):
        text = st.session_state.get("sentiment-text", "")
        st.code(snippets.sentiment(model_spec, text, max(result.max_tokens, 1)), language="python")


def model_card(spec: ModelSpec) -> None:
    with st.expander(f"About {spec.title}", icon=":material/info:"):
        st.markdown(spec.description)
        st.markdown(f"**Source:** {catalog.SOURCE_LABELS[spec.source]} · **License:** {spec.license}")
        meta = catalog.read_metadata(spec.key) if spec.trained_here else None
        if not meta:
            return
        data = meta.get("data", {})
        st.markdown(
            f"**Trained** {meta.get('created_at', '')} on {meta.get('device', '?')} "
            f"in {meta.get('train_seconds', 0):.0f} s · **data** {data.get('dataset', '')}: "
            f"{data.get('train_size')} train / {data.get('test_size')} held out (seed {data.get('seed')}) · "
            f"**parameters** {meta.get('parameters', 0) / 1e6:.1f} M"
        )
        st.json(meta.get("hyperparameters", {}), expanded=False)
        if meta.get("loss_curve"):
            render.figure(charts.loss_curve(meta["loss_curve"]), key=f"loss-{spec.key}")
