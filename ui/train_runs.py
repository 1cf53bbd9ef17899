"""Train page, steps 4 and 5: the finished runs — their held-out scores and curves, the model to download and
its code, deleting one's own run, and every run compared."""

from __future__ import annotations

import contextlib

import pandas as pd
import streamlit as st

from core import catalog
from core.cards import labelled_examples
from core.errors import CoreError
from core.tasks import snippets
from core.tasks.base import tasks
from core.training import ownership
from core.training.curve import by_labels
from core.viz import charts, heatmaps
from ui import i18n, render, safe
from ui.i18n import N_, _, pgettext
from ui.runtime import session_owner
from ui.train import curve_words


def runs() -> list[dict]:
    """Every finished classifier in the cache with its card (translation, SRL and language models have their
    own pages and metrics)."""
    found = []
    for spec in catalog.all_specs():
        if spec.trained_here:
            meta = catalog.read_metadata(spec.key)
            if meta and "accuracy" in meta.get("metrics", {}):
                found.append(meta)
    return sorted(found, key=lambda meta: meta.get("created_at", ""), reverse=True)


def from_link(keys: list[str]) -> None:
    """A link's ``?run=KEY`` (the lesson's) chooses the run shown, once per session."""
    wanted = st.query_params.get("run")
    if wanted in keys and not st.session_state.get("train-linked"):
        st.session_state["train-shown"] = wanted
        st.session_state["train-linked"] = True


def results(meta: dict) -> None:
    metrics = meta.get("metrics", {})
    columns = st.columns(4)
    for column, name in zip(columns, ("accuracy", "macro_f1"), strict=False):
        estimate = metrics.get(name)
        if estimate:
            column.metric(_("accuracy") if name == "accuracy" else _("macro-F1"), f"{100 * estimate['value']:.1f} %",
                          help=_("95 % bootstrap CI {low}–{high}, n={n}", low=f"{100 * estimate['low']:.1f}",
                                 high=f"{100 * estimate['high']:.1f}", n=estimate["n"]))  # fmt: skip
            column.caption(_("95 % CI {low}–{high} %", low=f"{100 * estimate['low']:.0f}",
                             high=f"{100 * estimate['high']:.0f}"))  # fmt: skip
    columns[2].metric(_("Training time"), f"{meta.get('train_seconds', 0):.0f} s")
    epochs = meta.get("epochs_run", meta.get("hyperparameters", {}).get("epochs"))
    columns[3].metric(_("Epochs run"), f"{epochs:g}" if isinstance(epochs, int | float) else "–",
                      help=_("Fewer than asked when early stopping ended the run."))  # fmt: skip
    labels = [_(label) for label in meta.get("labels", [])]  # negative, positive, … in the session's language
    if meta.get("confusion"):
        left, right = st.columns(2)
        with left:
            render.figure(heatmaps.heatmap(pd.DataFrame(meta["confusion"]).to_numpy(), title=_("Confusion matrix (test)"),
                                           x_labels=labels, y_labels=labels, x_title=_("predicted"), y_title=_("true"),
                                           text_values=True, height=320), key=f"train-confusion-{meta['key']}")  # fmt: skip
        with right:
            table = pd.DataFrame(meta.get("per_class", {})).T.round(3)
            if "support" in table:  # a count, shown without decimals beside the three-decimal scores
                table["support"] = pd.to_numeric(table["support"], errors="coerce").astype("Int64")
            table.index = [_(label) for label in table.index]
            names = {"precision": _("precision"), "recall": _("recall"), "f1": "F1", "support": _("support")}
            safe.table(table.rename(columns=names), decimals=3, key=f"train-perclass-{meta['key']}")
    render.figure(charts.training_curves({meta["key"]: meta}, title=_("Loss during training"), **curve_words()),
                  key=f"train-curves-{meta['key']}")  # fmt: skip
    if meta.get("overfitting"):
        overfitting_note(meta)


def overfitting_note(meta: dict) -> None:
    """Validation loss rose after its best epoch. With early stopping on, the saved (and tested) weights are already
    the best epoch's: say so rather than advise turning it on."""
    flag = meta["overfitting"]
    words = {"epoch": f"{flag['best_epoch']:g}", "best": f"{flag['best_eval_loss']:.3f}",
             "last": f"{flag['last_eval_loss']:.3f}"}  # fmt: skip
    hyper = meta.get("hyperparameters") or {}
    if (hyper.get("patience") or 0) > 0 and (meta.get("data") or {}).get("validation_size", 0) > 0:
        st.info(_("Validation loss was lowest after epoch {epoch} ({best}) and rose to {last}: the model began to "
                  "overfit. Early stopping kept the weights of epoch {epoch}, and the test scores above are theirs.",
                  **words), icon=":material/trending_up:")  # fmt: skip
    else:
        st.warning(_("Overfitting: validation loss was lowest after epoch {epoch} ({best}) and rose to {last}. Try "
                     "early stopping, more dropout, augmentation or fewer epochs.", **words),
                   icon=":material/trending_up:")  # fmt: skip


def deployment(meta: dict) -> None:
    from core.training.export import zip_bytes

    spec = catalog.get_spec(meta["key"])
    task = tasks().get(str(meta.get("task")))
    if task and task.page:
        with contextlib.suppress(st.errors.StreamlitAPIException):  # a plug-in task's page this app lacks
            st.page_link(task.page, label=_("Use {run} on its page ({task})", run=safe.md(meta["key"]), task=_(task.title)),
                         icon=":material/open_in_new:",
                         query_params={"model": meta["key"]})  # fmt: skip
    key = meta["key"]
    # zipped only when the button is pressed, not on every rerun of every session that shows it
    st.download_button(_("Download the model (zip)"), lambda: zip_bytes(key), file_name=f"{key}.zip",
                       mime="application/zip", key=f"train-zip-{key}", on_click="ignore")  # fmt: skip
    st.code(snippets.classifier(spec, _("Your text here."), meta.get("hyperparameters", {}).get("max_length", 128)),
            language="python")  # fmt: skip


def delete_button(meta: dict) -> None:
    """"Delete this run", for the session that trained it (built-in models and others' runs have none)."""
    key = meta["key"]
    if ownership.builtin(key) or ownership.owner_of(key) is None or not ownership.may_change(key, session_owner()):
        return
    if st.button(_("Delete this run"), key=f"train-delete-{key}", icon=":material/delete:",
                 help=_("Removes the model and its job record from the server's cache.")):  # fmt: skip
        try:
            ownership.delete_run(key, owner=session_owner())
        except CoreError as error:
            safe.error(error)
            return
        st.toast(_("Deleted {run}.", run=safe.md(key)))
        st.rerun()


def compare_runs(all_runs: list[dict]) -> None:
    rows = []
    for meta in all_runs:
        hp = meta.get("hyperparameters", {})
        acc = meta.get("metrics", {}).get("accuracy", {})
        f1 = meta.get("metrics", {}).get("macro_f1", {})
        rows.append({
            "run": meta["key"], "data": meta.get("data", {}).get("dataset", ""), "base": meta.get("base"),
            "labelled": labelled_examples(meta),
            "accuracy": acc.get("value"), "acc CI": f"{100 * acc['low']:.0f}–{100 * acc['high']:.0f}" if acc else "",
            "macro-F1": f1.get("value"), "lr": hp.get("learning_rate"), "epochs": meta.get("epochs_run", hp.get("epochs")),
            "batch": hp.get("batch_size"),
            "dropout": _("default") if hp.get("dropout") is None else str(hp["dropout"]), "augment": hp.get("augment"),
            "patience": hp.get("patience"), "train s": meta.get("train_seconds"), "created": i18n.when(meta.get("created_at", "")),
        })  # fmt: skip
    names = {"run": _("run"), "data": _("data"), "base": pgettext("training run", "base"), "labelled": _("labelled examples"),
             "accuracy": _("accuracy"), "acc CI": _("acc CI"),
             "lr": _("learning rate"), "epochs": _("epochs"), "batch": _("batch"), "augment": _("augment"), "patience": _("patience"),
             "train s": _("train s"), "created": _("created")}  # fmt: skip
    safe.table(pd.DataFrame(rows).rename(columns=names), hide_index=True, key="train-runs",
               column_config={names["accuracy"]: st.column_config.NumberColumn(format="percent"),
                              "macro-F1": st.column_config.NumberColumn(format="percent")})  # fmt: skip
    curves = {name: [(size, found, _("{run} · learning rate {rate} · {epochs} epochs", run=run, rate=rate,
                                     epochs=epochs)) for size, found, (run, rate, epochs) in points]
              for name, points in by_labels(all_runs).items()}  # fmt: skip
    if curves:  # runs that differ in the labels they spent (and their epochs): a learning curve
        render.figure(charts.learning_curves(curves), key="train-learning-curve")
        st.caption(_("Each point is a run (hover for its name, learning rate and epochs); the runs of one line have the "
                     "same data, starting point and settings, except the labelled examples they spent and their "
                     "epochs. Where a size was run more than once, the line passes through the mean of its runs."))  # fmt: skip
    chosen = st.multiselect(_("Overlay the curves of"), [r["run"] for r in rows], default=[r["run"] for r in rows[:3]],
                            placeholder=_("Choose options"), key="train-overlay")  # fmt: skip
    if chosen:
        by_key = {meta["key"]: meta for meta in all_runs}
        render.figure(charts.training_curves({key: by_key[key] for key in chosen}, title=_("Runs compared"),
                                             **curve_words()),
                      key="train-overlay-chart")  # fmt: skip


def session_key() -> None:
    """The session's key, to take its runs back after a reload (a reload starts a new session)."""
    with st.expander(_("Reloading the page? Keep your runs"), icon=":material/key:"):
        st.caption(_("A reload starts a new session, and a run belongs to the session that started it: only that "
                     "session can cancel or delete it. Copy this key before you reload and paste it afterwards. Keep "
                     "it to yourself: whoever has it can cancel and delete your runs."))  # fmt: skip
        if st.toggle(_("Show my key"), key="train-show-key", help=_("Not on a projected screen.")):
            st.code(session_owner(), language=None)
        pasted = st.text_input(_("Key from before a reload"), key="train-claim", max_chars=64)
        st.button(_("Take my runs back"), key="train-claim-run", disabled=not pasted.strip(), on_click=_claim)
        taken = st.session_state.pop("train-claimed", None)
        if taken == []:
            st.error(_("No run on the server belongs to that key."))
        elif taken:
            st.success(i18n.plural(len(taken), N_("This session now owns {count} run: {runs}."),
                                   N_("This session now owns {count} runs: {runs}."), runs=safe.md(", ".join(taken))))


def _claim() -> None:
    """Before the page runs again: the whole page then sees the session as the runs' owner."""
    from ui.runtime import take_over

    st.session_state["train-claimed"] = take_over(st.session_state.get("train-claim", "")) or []
