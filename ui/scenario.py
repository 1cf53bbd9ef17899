"""What every scenario page shares: model readiness (train on first use), errors, and result headers."""

from __future__ import annotations

import streamlit as st

from core import catalog, settings
from core.catalog import ModelSpec
from core.training import jobs as core_jobs
from ui import jobs


def ensure_ready(spec: ModelSpec, *, fallback: str = "another model") -> bool:
    """True when ``spec`` can answer now; otherwise say why and, for trained-here models, train it (shared job)."""
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
            f"{spec.title} is {state.reason}. It trains in the background (one to two minutes on 2 CPU cores); "
            f"meanwhile, try {fallback}.",
            icon=":material/hourglass_top:",
        )
    else:
        st.warning(f"{spec.title}: {state.reason}.", icon=":material/cloud_off:")
    return False


def copy_example(example_key: str, text_key: str) -> None:
    """``on_change`` of a row of example pills: put the chosen example in the text box."""
    chosen = st.session_state.get(example_key)
    if chosen:
        st.session_state[text_key] = chosen
