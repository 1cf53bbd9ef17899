"""Train page glue for a student's own CSV: upload (checked and stored once), personal data counted and masked,
and the button that takes the upload back off the server."""

from __future__ import annotations

import contextlib

import streamlit as st

from core.data import claims, uploads
from core.errors import CoreError
from core.training import jobs as core_jobs
from ui import safe
from ui.i18n import N_, _, plural
from ui.runtime import session_owner


def csv_fields() -> dict | None:
    """The recipe's data fields for an uploaded CSV, or None until one is usable (with the reason shown)."""
    done = st.session_state.pop("train-csv-deleted", None)
    if done is not None:
        _deleted_note(done)
    round_ = st.session_state.get("train-csv-round", 0)  # a new uploader after a deletion: the browser's copy goes
    upload = st.file_uploader(_("CSV with a header row: one column of text, one of labels"), type=["csv"],
                              key="train-csv" if not round_ else f"train-csv-{round_}")  # fmt: skip
    if upload is None:
        st.info(_("Upload a CSV to continue (UTF-8, at most 5 MB, at least 20 labelled rows)."))
        return None
    remembered = st.session_state.get("train-csv-stored")
    if remembered and remembered[0] == upload.file_id:
        stored = remembered[1]  # checked and stored once per upload, not on every rerun
        if isinstance(stored, CoreError):  # a refused file is not read again on every rerun either
            return _refused(stored)
    else:
        try:
            stored = uploads.store(upload.getvalue(), owner=session_owner())
        except CoreError as error:
            st.session_state["train-csv-stored"] = (upload.file_id, error)
            return _refused(error)
        st.session_state["train-csv-stored"] = (upload.file_id, stored)
        _own(stored.data_id)
    _delete_button()
    left, right = st.columns(2)
    text_column = left.selectbox(_("Text column"), stored.columns, key="train-text-column")
    label_column = right.selectbox(_("Label column"), stored.columns, index=min(1, len(stored.columns) - 1),
                                   key="train-label-column")  # fmt: skip
    data_file = _personal_data(stored.data_id, text_column)
    if data_file is None:  # the personal data could not be counted or masked: nothing trains on the file unasked
        return None
    return {"data_file": data_file, "text_column": text_column, "label_column": label_column}


FORGET_PREVIEWS = "train-forget-previews"


def _refused(error: CoreError) -> None:
    safe.error(error)
    if st.session_state.get("train-own-uploads"):  # e.g. too many files of this session's on the server already
        _delete_button()


def still_here() -> None:
    """A session with files of its own on the server keeps its claims while it opens the Train page."""
    claims.renew(session_owner(), st.session_state.get("train-own-uploads", set()))


def _delete_button() -> None:
    st.button(_("Delete my uploaded file from the server"), key="train-csv-delete", on_click=_delete_uploads,
              icon=":material/delete:",
              help=_("Removes the CSV you uploaded in this session, and its masked copy, from the server's "
                     "cache now (otherwise the server keeps the newest uploads of the class)."))  # fmt: skip


def _own(data_id: str) -> None:
    """Remember an upload (or its masked copy) as this session's, on the server too: its delete button gives up this
    session's claim, and the file goes once no other session uploaded the same bytes."""
    owned = st.session_state.setdefault("train-own-uploads", set())
    if data_id not in owned:
        uploads.hold(data_id, session_owner())
        owned.add(data_id)


def _delete_uploads() -> None:
    owned = st.session_state.get("train-own-uploads", set())
    busy = {data_id for data_id in owned if core_jobs.reading(data_id)}  # a queued run reads it when it starts
    outcomes = [uploads.release(data_id, session_owner()) for data_id in owned - busy]
    st.session_state["train-own-uploads"] = busy
    st.session_state["train-csv-deleted"] = {"deleted": outcomes.count("deleted"), "kept": outcomes.count("kept"),
                                             "busy": len(busy)}  # fmt: skip
    st.session_state[FORGET_PREVIEWS] = True  # the page's previews keep texts in memory: dropped with the files
    if not busy:
        st.session_state.pop("train-csv-stored", None)
        st.session_state["train-csv-round"] = st.session_state.get("train-csv-round", 0) + 1


def _deleted_note(done: dict) -> None:
    if done["deleted"]:
        st.success(plural(done["deleted"], N_("Deleted {count} file from the server: your upload or a masked copy of "
                                              "it. Models already trained on it stay until you delete them."),
                          N_("Deleted {count} files from the server: what you uploaded and any masked copies. Models "
                             "already trained on them stay until you delete them.")), icon=":material/delete:")  # fmt: skip
    if done["kept"]:
        st.info(plural(done["kept"], N_("{count} file stays on the server for now: other sessions uploaded the same "
                                        "file, and it goes when the last of them deletes it. Your claim on it is gone."),
                       N_("{count} files stay on the server for now: other sessions uploaded the same files, and each "
                          "goes when the last of them deletes it. Your claim on them is gone.")))  # fmt: skip
    if done["busy"]:
        st.warning(plural(done["busy"], N_("{count} file is read by a training run that is queued or running: delete "
                                           "it when the run has finished, or cancel the run first."),
                          N_("{count} files are read by a training run that is queued or running: delete them when "
                             "it has finished, or cancel it first.")))  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=32)
def _pii(data_id: str, text_column: str) -> dict[str, int]:  # once per upload and column, for every session
    from core.training.privacy import pii_counts

    return pii_counts(uploads.column(data_id, text_column))


@st.cache_data(show_spinner=False, max_entries=32)
def _masked(data_id: str, text_column: str) -> str:
    from core.training.privacy import mask_all

    return uploads.rewritten(data_id, text_column, mask_all).data_id


def _personal_data(data_id: str, text_column: str) -> str | None:
    """The upload to train on: the student's, or a copy with its personal data masked when they ask for it; None
    (with the reason shown) when the column could not be searched or the masked copy could not be made, so that a
    run never trains on personal data the student asked to mask."""
    from ui.privacy import KINDS

    try:
        counts = _pii(data_id, text_column)
    except CoreError as error:
        safe.error(error)
        return None
    if not counts:
        return data_id
    found = ", ".join(f"{count} × {_(KINDS[kind])}" for kind, count in sorted(counts.items()))
    st.warning(_("The text column holds personal data: {found}. A model can give away what it was trained on "
                 "(see Challenges → Privacy).", found=found), icon=":material/privacy_tip:")  # fmt: skip
    if not st.checkbox(_("Mask it before training (e-mail addresses become [e-mail], and so on)"), value=True,
                       key="train-mask-pii"):  # fmt: skip
        return data_id
    try:
        masked = _masked(data_id, text_column)
        if not uploads.exists(masked):  # its last holder deleted it since: mask again
            _masked.clear(data_id, text_column)
            masked = _masked(data_id, text_column)
        with contextlib.suppress(CoreError):  # past the session's cap: the copy trains, held by nobody (leaves first)
            _own(masked)
        return masked
    except CoreError as error:
        safe.error(error)
        st.error(_("Nothing trains on this file while its personal data cannot be masked. Untick the box only if the "
                   "file may be trained on as it is."))  # fmt: skip
        return None
