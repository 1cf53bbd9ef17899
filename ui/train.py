"""Train page glue: dataset choice (with CSV upload), previews, the run form, live progress, results, runs table."""

from __future__ import annotations

import contextlib

import pandas as pd
import streamlit as st

from core import catalog, settings
from core.errors import CoreError
from core.tasks import snippets
from core.tasks.base import CLASSIFICATION, new_run_datasets, task_for_dataset, tasks
from core.training import jobs as core_jobs
from core.training import ownership
from core.training.preview import ARCHITECTURE_FIELDS, DATA_FIELDS, relevant
from core.training.recipes import NEW_RUN, Recipe, new_run_defaults
from core.viz import charts, heatmaps
from ui import render, safe
from ui.runtime import session_owner

UPLOADED = {"csv": "Your CSV file", "hub": "A Hugging Face Hub dataset (online)"}


def datasets() -> dict[str, str]:
    """Every named dataset of a registered classification task, then the two a run brings with it."""
    return {**new_run_datasets(), **UPLOADED}


def task_of(dataset: str) -> str | None:
    found = task_for_dataset(dataset)
    return found.name if found else None


def classification_tasks() -> list[str]:
    return [name for name, task in tasks().items() if task.family == CLASSIFICATION]


def data_choice() -> dict | None:
    """The dataset fields of the recipe, or None when the choice is not usable yet (with the reason shown)."""
    choices = datasets()
    dataset = st.radio("Dataset", list(choices), format_func=choices.get, key="train-dataset", horizontal=True)
    fields = {"dataset": dataset}
    if dataset == "csv":
        upload = st.file_uploader("CSV with a header row: one column of text, one of labels", type=["csv"],
                                  key="train-csv")  # fmt: skip
        if upload is None:
            st.info("Upload a CSV to continue (UTF-8, at most 5 MB, at least 20 labelled rows).")
            return None
        remembered = st.session_state.get("train-csv-stored")
        if remembered and remembered[0] == upload.file_id:
            stored = remembered[1]  # checked and stored once per upload, not on every rerun
        else:
            try:
                from core.data import uploads

                stored = uploads.store(upload.getvalue())
            except CoreError as error:
                safe.error(error)
                return None
            st.session_state["train-csv-stored"] = (upload.file_id, stored)
        left, right = st.columns(2)
        text_column = left.selectbox("Text column", stored.columns, key="train-text-column")
        label_column = right.selectbox("Label column", stored.columns, index=min(1, len(stored.columns) - 1),
                                       key="train-label-column")  # fmt: skip
        fields.update(data_file=stored.data_id, text_column=text_column, label_column=label_column)
    elif dataset == "hub":
        if not settings.current_mode().online:
            st.warning("Hub datasets need internet; LM Lab is offline. Choose a packaged dataset or upload a CSV.",
                       icon=":material/cloud_off:")  # fmt: skip
            return None
        a, b, c = st.columns(3)
        fields.update(
            hub_dataset=a.text_input(
                "Dataset id", "stanfordnlp/sst2", key="train-hub-dataset", max_chars=200,
                help="owner/name, or owner/name/configuration: e.g. stanfordnlp/sst2, stanfordnlp/imdb, "
                "nyu-mll/glue/sst2",
            ).strip(),
            text_column=b.text_input("Text column", "sentence", key="train-hub-text", max_chars=200),
            label_column=c.text_input("Label column", "label", key="train-hub-label", max_chars=200),
        )
    return fields


@st.cache_data(show_spinner="Reading and tokenizing the data…", max_entries=8)
def _preview(fields: dict) -> dict:
    from core.training.preview import data_preview

    return data_preview(fields)


def data_preview(recipe: Recipe) -> dict | None:
    try:
        preview = _preview(relevant(recipe, DATA_FIELDS))
    except CoreError as error:
        safe.error(error)
        return None
    labels = preview["labels"]
    render.figure(charts.class_balance(labels, preview["balance"]), key="train-balance")
    sizes = {name: sum(counts) for name, counts in preview["balance"].items()}
    st.caption(f"{safe.md(preview['dataset'])}: {sizes['train']} to train on, {sizes['validation']} for validation curves, "
               f"{sizes['test']} held out for the final scores (never seen in training).")  # fmt: skip
    st.markdown("**Preprocessing** — what the tokenizer makes of the first training example:")
    example = preview["example"]
    st.caption(f"“{safe.md(example['text'][:200])}” → {safe.md(example['label'])}")
    table = pd.DataFrame([example["tokens"], example["input_ids"], example["attention_mask"]],
                         index=["token", "id", "attention mask"]).astype(str)  # fmt: skip
    st.dataframe(table, key="train-tokens")
    render.figure(charts.histogram(preview["lengths"], title="Tokens per training example", x_title="tokens",
                                   marker=recipe.max_length), key="train-lengths")  # fmt: skip
    st.caption(f"{preview['truncated']} of {len(preview['lengths'])} examples are longer than max length "
               f"{recipe.max_length} and will be cut.")  # fmt: skip
    return preview


def architecture_choice() -> dict:
    base = st.radio("Start from", ["minilm-l6", "scratch", "hub"], key="train-base", horizontal=True,
                    format_func={"minilm-l6": "Packaged MiniLM (pretrained)", "scratch": "Random BERT (from scratch)",
                                 "hub": "A Hub checkpoint (online)"}.get)  # fmt: skip
    fields: dict = {"base": base}
    if base == "scratch":
        a, b, c = st.columns(3)
        layers = a.slider("Layers", 1, 6, 2, key="train-layers")
        hidden = b.select_slider("Hidden size", [32, 64, 128, 256], value=64, key="train-hidden")
        heads = c.select_slider("Heads", [1, 2, 4, 8], value=2, key="train-heads")
        if hidden % heads:
            st.error(f"Hidden size {hidden} is not divisible by {heads} heads.")
        fields["scratch"] = {"num_hidden_layers": layers, "hidden_size": hidden, "num_attention_heads": heads,
                             "intermediate_size": 2 * hidden}  # fmt: skip
    elif base == "hub":
        fields["hub_model"] = st.text_input(
            "Hub model id", "distilbert/distilbert-base-uncased", key="train-hub-model"
        )
        if not settings.current_mode().online:
            st.warning("Hub checkpoints need internet; LM Lab is offline.", icon=":material/cloud_off:")
    return fields


@st.cache_data(show_spinner="Building the model to count its parameters…", max_entries=8)
def _architecture(fields: dict, n_labels: int) -> dict:
    from core.training.preview import architecture

    return architecture(fields, n_labels)


def architecture_summary(recipe: Recipe, n_labels: int) -> None:
    try:
        info = _architecture(relevant(recipe, ARCHITECTURE_FIELDS), n_labels)
    except CoreError as error:
        safe.error(error)
        return
    if info["parameters"]:
        st.metric("Parameters", f"{info['parameters'] / 1e6:.2f} M")
    st.json(info["config"], expanded=False)
    if info["note"]:
        st.caption(info["note"])


def hyperparameters(base: str) -> dict:
    """The training settings, starting from the same defaults as ``python -m core.train --name``."""
    start = new_run_defaults(base)
    a, b, c, d = st.columns(4)
    values = {
        "learning_rate": a.select_slider("Learning rate", [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3],
                                         value=start["learning_rate"], key=f"train-lr-{base}",
                                         format_func=lambda v: f"{v:g}"),
        "epochs": float(b.number_input("Epochs", 1, 50, int(NEW_RUN["epochs"]), key="train-epochs")),
        "batch_size": c.select_slider("Batch size", [4, 8, 16, 32, 64], value=NEW_RUN["batch_size"], key="train-batch"),
        "max_length": d.select_slider("Max length (tokens)", [16, 32, 64, 128, 256, 512], value=start["max_length"],
                                      key="train-maxlen"),
    }  # fmt: skip
    a, b, c, d = st.columns(4)
    values["weight_decay"] = a.select_slider(
        "Weight decay", [0.0, 0.01, 0.05, 0.1], value=NEW_RUN["weight_decay"], key="train-wd"
    )
    values["warmup_ratio"] = b.select_slider(
        "Warmup (share of steps)", [0.0, 0.05, 0.1, 0.2], value=NEW_RUN["warmup_ratio"], key="train-warmup"
    )
    values["dropout"] = c.select_slider("Dropout", [0.0, 0.1, 0.2, 0.3, 0.5], value=NEW_RUN["dropout"],
                                        key="train-dropout")  # fmt: skip
    values["seed"] = int(d.number_input("Seed", 0, 99_999, NEW_RUN["seed"], key="train-seed"))
    a, b, c, d = st.columns(4)
    values["patience"] = int(
        a.number_input("Early stopping patience (0 = off)", 0, 10, NEW_RUN["patience"], key="train-patience")
    )
    values["augment"] = b.selectbox(
        "Augmentation", ["none", "word-dropout", "word-swap"], key="train-augment"
    )
    values["augment_p"] = c.select_slider(
        "Augmentation rate", [0.05, 0.1, 0.2, 0.3], value=NEW_RUN["augment_p"], key="train-augment-p"
    )
    values["validation_fraction"] = d.select_slider("Validation share", [0.0, 0.1, 0.15, 0.2, 0.3],
                                                    value=NEW_RUN["validation_fraction"],
                                                    key="train-validation")  # fmt: skip
    values["group_by_length"] = st.toggle(
        "Group batches by length (less padding, faster)", NEW_RUN["group_by_length"], key="train-group"
    )
    return values


def start(recipe: Recipe) -> None:
    try:
        core_jobs.start(recipe.key, recipe=recipe, owner=session_owner())
    except CoreError as error:
        safe.error(error)
        return
    st.session_state["train-watching"] = recipe.key
    st.toast(f"Training {recipe.key} started in the background.")


@st.fragment(run_every=1.0)
def live(key: str) -> None:
    """Progress, ETA, the loss curve as it grows, and a cancel button, refreshed every second."""
    status = core_jobs.status(key)
    data = core_jobs.progress_data(key)
    if not status.active:
        if status.state in ("failed", "died", "timed out"):
            safe.error(f"Training {key} {status.state}: {status.error or status.message}")
        elif status.state == "cancelled":
            st.info(f"Training {key} was cancelled; nothing was saved.")
        if st.session_state.get("train-watching") == key and status.state != "none":
            st.session_state["train-watching"] = None
            st.rerun()
        return
    text = f"**{key}** — {status.phase}" + (
        f", step {status.step}/{status.total_steps}" if status.total_steps else ""
    )
    if status.eta_s is not None and status.phase == "training":
        text += f", about {status.eta_s:.0f} s left"
    st.progress(status.fraction, text=text)
    if data.get("curve"):
        render.figure(charts.training_curves({key: {"loss_curve": data["curve"], "eval_curve": data.get("eval_curve")}},
                                             title="Live: loss so far"), key="train-live-curve")  # fmt: skip
    if not ownership.may_change(key, session_owner()):
        st.caption("Another session started this run; only it can cancel it.")
    elif st.button("Cancel", key="train-cancel", icon=":material/stop_circle:"):
        try:
            core_jobs.cancel(key, owner=session_owner())
        except CoreError as error:
            safe.error(error)
        else:
            st.toast(f"Stopping at the next step (or within {core_jobs.STOP_GRACE_S:.0f} s)…")


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


def results(meta: dict) -> None:
    metrics = meta.get("metrics", {})
    columns = st.columns(4)
    for column, name in zip(columns, ("accuracy", "macro_f1"), strict=False):
        estimate = metrics.get(name)
        if estimate:
            column.metric(name.replace("_", "-"), f"{100 * estimate['value']:.1f} %",
                          help=f"95 % bootstrap CI {100 * estimate['low']:.1f}–{100 * estimate['high']:.1f}, n={estimate['n']}")  # fmt: skip
            column.caption(f"95 % CI {100 * estimate['low']:.0f}–{100 * estimate['high']:.0f} %")
    columns[2].metric("Training time", f"{meta.get('train_seconds', 0):.0f} s")
    columns[3].metric("Epochs run", f"{meta.get('epochs_run', meta.get('hyperparameters', {}).get('epochs'))}",
                      help="Fewer than asked when early stopping ended the run.")  # fmt: skip
    labels = meta.get("labels", [])
    if meta.get("confusion"):
        left, right = st.columns(2)
        with left:
            render.figure(heatmaps.heatmap(pd.DataFrame(meta["confusion"]).to_numpy(), title="Confusion matrix (test)",
                                           x_labels=labels, y_labels=labels, x_title="predicted", y_title="true",
                                           text_values=True, height=320), key=f"train-confusion-{meta['key']}")  # fmt: skip
        with right:
            st.dataframe(
                pd.DataFrame(meta.get("per_class", {})).T.round(3), key=f"train-perclass-{meta['key']}"
            )
    render.figure(charts.training_curves({meta["key"]: meta}), key=f"train-curves-{meta['key']}")
    if meta.get("overfitting"):
        flag = meta["overfitting"]
        st.warning(f"Overfitting: validation loss was lowest after epoch {flag['best_epoch']:g} "
                   f"({flag['best_eval_loss']:.3f}) and rose to {flag['last_eval_loss']:.3f}. Try early stopping, "
                   "more dropout, augmentation or fewer epochs.", icon=":material/trending_up:")  # fmt: skip


def deployment(meta: dict) -> None:
    from core.training.export import zip_bytes

    spec = catalog.get_spec(meta["key"])
    task = tasks().get(str(meta.get("task")))
    if task and task.page:
        with contextlib.suppress(st.errors.StreamlitAPIException):  # a plug-in task's page this app lacks
            st.page_link(task.page, label=f"Use {meta['key']} on its page ({task.title})", icon=":material/open_in_new:",
                         query_params={"model": meta["key"]})  # fmt: skip
    key = meta["key"]
    # zipped only when the button is pressed, not on every rerun of every session that shows it
    st.download_button("Download the model (zip)", lambda: zip_bytes(key), file_name=f"{key}.zip",
                       mime="application/zip", key=f"train-zip-{key}", on_click="ignore")  # fmt: skip
    st.code(snippets.classifier(spec, "Your text here.", meta.get("hyperparameters", {}).get("max_length", 128)),
            language="python")  # fmt: skip


def delete_button(meta: dict) -> None:
    """"Delete this run", for the session that trained it (built-in models and others' runs have none)."""
    key = meta["key"]
    if ownership.builtin(key) or ownership.owner_of(key) is None or not ownership.may_change(key, session_owner()):
        return
    if st.button("Delete this run", key=f"train-delete-{key}", icon=":material/delete:",
                 help="Removes the model and its job record from the server's cache."):  # fmt: skip
        try:
            ownership.delete_run(key, owner=session_owner())
        except CoreError as error:
            safe.error(error)
            return
        st.toast(f"Deleted {key}.")
        st.rerun()


def compare_runs(all_runs: list[dict]) -> None:
    rows = []
    for meta in all_runs:
        hp = meta.get("hyperparameters", {})
        acc = meta.get("metrics", {}).get("accuracy", {})
        f1 = meta.get("metrics", {}).get("macro_f1", {})
        rows.append({
            "run": meta["key"], "data": meta.get("data", {}).get("dataset", ""), "base": meta.get("base"),
            "accuracy": acc.get("value"), "acc CI": f"{100 * acc['low']:.0f}–{100 * acc['high']:.0f}" if acc else "",
            "macro-F1": f1.get("value"), "lr": hp.get("learning_rate"), "epochs": meta.get("epochs_run", hp.get("epochs")),
            "batch": hp.get("batch_size"), "dropout": hp.get("dropout"), "augment": hp.get("augment"),
            "patience": hp.get("patience"), "train s": meta.get("train_seconds"), "created": meta.get("created_at", "")[:16],
        })  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="train-runs",
                 column_config={"accuracy": st.column_config.NumberColumn(format="percent"),
                                "macro-F1": st.column_config.NumberColumn(format="percent")})  # fmt: skip
    chosen = st.multiselect("Overlay the curves of", [r["run"] for r in rows], default=[r["run"] for r in rows[:3]],
                            key="train-overlay")  # fmt: skip
    if chosen:
        by_key = {meta["key"]: meta for meta in all_runs}
        render.figure(charts.training_curves({key: by_key[key] for key in chosen}, title="Runs compared"),
                      key="train-overlay-chart")  # fmt: skip


def other_tasks() -> None:
    """Where the translation, role-labeling and language models are trained, and real SRL data from the Hub."""
    from core import settings
    from core.training.recipes import CONLL_DATASET, conll_srl_recipe

    with st.expander(
        "Translation, semantic roles, text generation — and real SRL data", icon=":material/info:"
    ):
        st.markdown(
            "This page trains classifiers. The models of the **Translate**, **Semantic roles** and **Generate** pages "
            "train from those pages (a *Train it now* button, one shared background job) or from the command line; "
            "`python -m core.train --all` builds every built-in model before a lesson.\n\n"
            f"**Semantic role labeling on real data (online).** The CoNLL-2012 (OntoNotes 5) frames are on the Hub "
            f"as `{CONLL_DATASET}`: documents of sentences with `words` and, per predicate, `srl_frames` holding "
            "BIO tags in PropBank's labels. LM Lab converts them into the same frames it generates and fine-tunes "
            "MiniLM the same way (4,000 sentences, 2 epochs); the model then appears in the Semantic roles page's "
            "picker with its span F1 on the CoNLL test split. From the command line:\n\n"
            "```\npython -m core.train --name srl-conll --task srl --dataset hub \\\n"
            f"    --hub-dataset {CONLL_DATASET} --set examples=4000\n```"
        )
        mode = settings.current_mode()
        if st.button("Fine-tune MiniLM on CoNLL-2012 now", key="train-conll", icon=":material/cloud_download:",
                     disabled=not mode.online):  # fmt: skip
            start(conll_srl_recipe())
        if not mode.online:
            st.caption(f":material/cloud_off: needs internet: LM Lab is offline ({mode.reason}).")
