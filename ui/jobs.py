"""Background training jobs, as seen in a page: start, watch, cancel.

The job itself runs in its own process (core.training.jobs); this module only reads its
progress file, so the bar survives reruns and page switches and every session that asks for
the same model sees the same job.
"""

from __future__ import annotations

import streamlit as st

from core.errors import CoreError
from core.training import jobs, ownership
from ui import i18n, safe
from ui.i18n import _
from ui.runtime import session_owner


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds >= 60:  # a sentence of its own, with its space and full stop: "" when there is no estimate
        return _(" About {minutes} min {seconds} s left.", minutes=seconds // 60, seconds=f"{seconds % 60:02d}")
    return _(" About {seconds} s left.", seconds=seconds)


def start(key: str) -> None:
    try:
        jobs.start(key, owner=session_owner())
    except CoreError as error:
        safe.error(error)


def panel(key: str, *, title: str) -> None:
    """Progress of the job for ``key``, refreshed every second while it runs."""
    current = jobs.status(key)
    if current.active:
        _live(key, title)
        return
    if current.state == "failed":
        reason = i18n.problem(current.error) if current.error else current.message  # in the reader's language
        safe.error(_("Training {title} failed: {reason}", title=title, reason=reason))  # escaped
    elif current.state in ("died", "timed out"):
        st.warning(current.message)
    elif current.state == "cancelled":
        st.info(_("Training {title} was cancelled; nothing was saved.", title=safe.md(title)))


@st.fragment(run_every=1.0)
def _live(key: str, title: str) -> None:
    current = jobs.status(key)
    if not current.active:
        st.rerun()  # the whole page, so the model picker sees the new model
    caption = _("Training **{title}** — {phase}", title=safe.md(_(title)), phase=safe.md(_(current.phase or current.state)))
    if current.total_steps:
        caption += _(", step {step}/{total}", step=current.step, total=current.total_steps)
    if current.loss is not None:
        caption += _(", loss {loss}", loss=f"{current.loss:.3f}")
    st.progress(current.fraction, text=caption)
    eta = _eta(current.eta_s) if current.phase == "training" else ""
    st.caption(
        _("Running in a background process (pid {pid}) for {seconds} s.{eta} The job keeps running if you switch "
          "pages or close the tab. Everyone asking for this model sees this same job.", pid=current.pid, seconds=f"{current.elapsed_s:.0f}", eta=eta)
    )  # fmt: skip
    if ownership.owner_of(key) is None:
        st.caption(_("No page can cancel this job: it trains a model the whole class uses, or it was started on the "
                     "server's command line."))
    elif not ownership.may_change(key, session_owner()):
        st.caption(_("Another session started this job; only it can cancel it."))
    elif st.button(_("Cancel training"), key=f"cancel-{key}", icon=":material/stop_circle:"):
        try:
            jobs.cancel(key, owner=session_owner())
        except CoreError as error:
            safe.error(error)
        else:
            st.toast(_("Stopping at the next step…"))
