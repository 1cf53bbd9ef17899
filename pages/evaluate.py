"""Evaluate: models side by side — quality with confidence intervals, paired tests, latency, memory."""

import streamlit as st

from core.bench import run as bench
from core.errors import CoreError
from ui import evaluate, i18n, safe
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("Benchmark models side by side"))
st.markdown(
    _("Every model answers the same held-out examples. Each score comes with a 95 % bootstrap confidence "
      "interval; each model is compared with a baseline of your choice on the *same* examples (paired "
      "bootstrap and McNemar's test), and timed after warm-up.")
)
left, right = st.columns([1, 3])
labels = evaluate.task_labels()
task = left.selectbox(_("Task"), list(labels), index=evaluate.first_task(list(labels)), format_func=labels.get,
                      key="bench-task")
options = evaluate.choices(task)
default = [m for m in options if "@" not in m][:4]
models = right.multiselect(_("Models"), options, default=default, placeholder=_("Choose options"), key=f"bench-models-{task}",
                           max_selections=evaluate.MAX_MODELS, help=evaluate.limits_note())  # fmt: skip
left, right = st.columns(2)
baseline = left.selectbox(_("Baseline for the comparison"), models or ["—"], key=f"bench-baseline-{task}")
repeats = right.slider(_("Timed single-example calls per model"), 20, 300, 100, 10, key="bench-repeats",
                       help=_("On one fixed held-out text of median length. The p95 column needs at least 100 calls."))
if not options:
    st.info(
        _("No model for this task is ready yet: train it on its Apply page (or `python -m core.train --all`).")
    )
if st.button(_("Run the benchmark"), key="bench-run-button", type="primary", disabled=not models):
    evaluate.start(task, models, baseline if baseline in models else None, repeats)
evaluate.watch()
if st.session_state.get("bench-error"):
    safe.error(st.session_state.pop("bench-error"))

saved = bench.saved_runs()
if not saved:
    st.info(_("No benchmark has run yet on this server."))
    st.stop()
chosen = st.selectbox(
    _("Results of the run"), saved, index=evaluate.shown_first(saved, task), key="bench-shown",
    format_func={run: evaluate.run_label(run) for run in saved}.get,
)
try:
    result = bench.load(chosen)
except CoreError as error:
    safe.error(error)
    st.stop()
st.caption(
    _("Task {task} · {dataset} · {count} held-out examples · run {when}", task=evaluate.task_labels().get(result.task, result.task),
      dataset=safe.md(_(result.dataset)), count=len(result.texts), when=i18n.when(result.created_at))
)  # fmt: skip
evaluate.table(result)
if result.labels:  # a classification: the per-class views, calibration
    evaluate.plots(result)
st.subheader(_("Where the models disagree"))
evaluate.disagreements(result)
