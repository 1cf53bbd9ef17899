"""Train page glue: dataset choice (with CSV upload), previews, the run form, live progress, results, runs table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import settings
from core.data import uploads
from core.errors import CoreError
from core.tasks.base import CLASSIFICATION, new_run_datasets, task_for_dataset, tasks
from core.training import jobs as core_jobs
from core.training import ownership
from core.training.preview import ARCHITECTURE_FIELDS, DATA_FIELDS, SOURCE_FIELDS, relevant
from core.training.recipe import NEW_RUN_BASES
from core.training.recipes import NEW_RUN, Recipe, new_run_defaults
from core.viz import charts
from ui import i18n, render, safe, train_upload
from ui.i18n import N_, _, pgettext
from ui.runtime import session_owner

UPLOADED = {"csv": N_("Your CSV file"), "hub": N_("A Hugging Face Hub dataset (online)")}
# what a training job reports it is doing, and how it ended, translated where shown
JOB_WORDS = (N_("starting"), N_("preparing"), N_("loading data"), N_("loading model"), N_("training"),
             N_("evaluating"), N_("saving"), N_("running"), N_("failed"), N_("died"), N_("timed out"),
             N_("cancelled"), N_("Read from the Hub when training starts."))  # fmt: skip


def datasets() -> dict[str, str]:
    """Every named dataset of a registered classification task, then the two a run brings with it."""
    return {**new_run_datasets(), **UPLOADED}


def task_of(dataset: str) -> str | None:
    found = task_for_dataset(dataset)
    return found.name if found else None


def classification_tasks() -> list[str]:
    return [name for name, task in tasks().items() if task.family == CLASSIFICATION]


def task_titles() -> dict[str, str]:
    return {name: _(task.title) for name, task in tasks().items()}


def data_choice() -> dict | None:
    """The dataset fields of the recipe, or None when the choice is not usable yet (with the reason shown)."""
    if st.session_state.pop(train_upload.FORGET_PREVIEWS, False):  # a student deleted an upload: its texts go from
        _kept_split.clear()  # memory too (the other students' previews are read again once)
        _preview.clear()
    train_upload.still_here()
    choices = {name: _(title) for name, title in datasets().items()}
    dataset = st.radio(_("Dataset"), list(choices), format_func=choices.get, key="train-dataset", horizontal=True)
    fields = {"dataset": dataset}
    if dataset == "csv":
        found = train_upload.csv_fields()
        if found is None:
            return None
        fields.update(found)
    elif dataset == "hub":
        if not settings.current_mode().online:
            st.warning(_("Hub datasets need internet; LM Lab is offline. Choose a packaged dataset or upload a CSV."),
                       icon=":material/cloud_off:")  # fmt: skip
            return None
        a, b, c = st.columns(3)
        fields.update(
            hub_dataset=a.text_input(
                _("Dataset id"), "stanfordnlp/sst2", key="train-hub-dataset", max_chars=200,
                help=_("owner/name, or owner/name/configuration: e.g. stanfordnlp/sst2, stanfordnlp/imdb, "
                       "nyu-mll/glue/sst2"),
            ).strip(),
            text_column=b.text_input(_("Text column"), "sentence", key="train-hub-text", max_chars=200),
            label_column=c.text_input(_("Label column"), "label", key="train-hub-label", max_chars=200),
        )
    return fields


def limits_note() -> None:
    """The caps a student's run works under, in view before it starts."""
    limits = settings.limits()
    minutes = min(limits.job_timeout_s, limits.session_job_timeout_s) // 60
    st.caption(i18n.plural(limits.max_concurrent_jobs, N_("The class shares {count} training slot: a run started here is "
               "stopped after {minutes} minutes, and each session keeps its {runs} newest runs."), N_("The class shares "
               "{count} training slots: a run started here is stopped after {minutes} minutes, and each session keeps "
               "its {runs} newest runs."), minutes=minutes, runs=ownership.RUNS_PER_SESSION))  # fmt: skip


@st.cache_resource(show_spinner=False, max_entries=8)
def _kept_split(source: dict) -> tuple:  # an upload read once per file and columns, whatever the seed or length cap
    from core.training.preview import source_split

    return source_split(source)


@st.cache_data(show_spinner=False, max_entries=8)
def _lengths(source: dict, _texts: tuple) -> list[int]:  # tokenized once per set of texts, whatever the seed or cap
    from core.training.preview import token_lengths

    return token_lengths(source, _texts)  # _texts: the split of ``source``, left out of the cache key


@st.cache_data(show_spinner=False, max_entries=8)
def _preview(fields: dict) -> dict:
    """A packaged dataset's or an upload's preview (an upload, at most 5 MB, read once for every seed and length cap)."""
    from core.training.preview import data_preview

    source = {name: fields[name] for name in SOURCE_FIELDS}
    split = _kept_split(source)
    return data_preview(fields, lengths=_lengths(source, split), split=split)


HUB_PREVIEW = "train-hub-preview"  # (data fields, length cap, preview): the Hub dataset this session read, as shown
HUB_FIELDS = tuple(name for name in DATA_FIELDS if name != "max_length")  # a new length cap is recut, not read again


def _hub_preview(recipe: Recipe) -> dict | None:
    """A Hub dataset's preview, read when the student asks: each read streams up to HUB_ROWS rows from the Hub, so it
    waits for a button instead of starting while an id is typed. The preview (class balance, lengths, one example; not the
    texts) stays in the session while the data fields do — a new length cap is recut from it — so no rerun reads the
    Hub again and the class shares only the token lengths (a few KB); a read that fails keeps nothing, and the button
    stays."""
    from core.training.preview import data_preview, recut, source_split

    fields = relevant(recipe, HUB_FIELDS)
    kept = st.session_state.get(HUB_PREVIEW)  # (fields, length cap, preview)
    if kept is not None and kept[0] == fields:
        if kept[1] != recipe.max_length:  # recut once per new cap (the tokenizer loads under the class's load lock)
            with st.spinner(_("Cutting the example at the new length…")):
                kept = (fields, recipe.max_length, recut(kept[2], recipe.max_length))
                st.session_state[HUB_PREVIEW] = kept  # before the spinner closes (see below)
        return kept[2]
    st.caption(_("The preview reads up to {rows} rows of this dataset from the Hub (fewer where their texts reach "
                 "{characters} characters), and the run reads them again; changing the dataset, a column, the seed, "
                 "the validation share or the number of labelled examples means reading it again.",
                 rows=i18n.number(uploads.HUB_ROWS), characters=i18n.number(uploads.HUB_CHARACTERS)))  # fmt: skip
    if not st.button(_("Read this dataset"), key="train-hub-read", icon=":material/cloud_download:"):
        return None
    with st.spinner(_("Reading and tokenizing the data…")):
        source = {name: fields[name] for name in SOURCE_FIELDS}
        split = source_split(source)  # read once for the token lengths and the preview
        preview = data_preview({**fields, "max_length": recipe.max_length}, lengths=_lengths(source, split),
                               split=split)  # the lengths (small) shared: a class reading one dataset tokenizes it once
        # kept before the spinner ends: a click during the read reruns the page as the spinner closes
        st.session_state[HUB_PREVIEW] = (fields, recipe.max_length, preview)
    return preview


def data_preview(recipe: Recipe) -> dict | None:
    """The data as the model will see it (None while there is nothing to show: training waits for it)."""
    try:
        if recipe.dataset == "hub":
            preview = _hub_preview(recipe)
            if preview is None:
                return None
        else:
            with st.spinner(_("Reading and tokenizing the data…")):
                preview = _preview(relevant(recipe, DATA_FIELDS))
    except CoreError as error:
        safe.error(error)
        return None
    own = recipe.dataset not in ("csv", "hub")  # LM Lab's data: its class names in the session's language
    labels = [_(label) if own else label for label in preview["labels"]]
    splits = {"train": _("training set"), "validation": _("validation set"), "test": _("test set")}
    render.figure(charts.class_balance(labels, preview["balance"], splits), key="train-balance")
    sizes = {name: sum(counts) for name, counts in preview["balance"].items()}
    st.caption(_("{dataset}: {train} to train on, {validation} for validation curves, {test} held out for the final "
                 "scores (never seen in training).", dataset=safe.md(_(preview["dataset"])), train=sizes["train"],
                 validation=sizes["validation"], test=sizes["test"]))  # fmt: skip
    if sizes["train"] + sizes["validation"] < preview.get("available", 0):
        st.caption(_("A sample of {used} of the {available} labelled training examples, each label keeping its share.",
                     used=sizes["train"] + sizes["validation"], available=preview["available"]))  # fmt: skip
    st.markdown(_("**Preprocessing** — what MiniLM's tokenizer (the from-scratch BERT uses it too) makes of the "
                  "first training example:"))  # fmt: skip
    if recipe.base == "hub":
        st.caption(_("A Hub checkpoint brings its own tokenizer: its tokens, ids and lengths may differ from these."))
    example = preview["example"]
    st.caption(f"“{safe.md(example['text'][:200])}” → {safe.md(_(example['label']) if own else example['label'])}")
    table = pd.DataFrame([example["tokens"], example["input_ids"], example["attention_mask"]],
                         index=[_("token"), "id", _("attention mask")]).astype(str)  # fmt: skip
    safe.table(table, key="train-tokens")
    render.figure(charts.histogram(preview["lengths"], title=_("Tokens per example for training and validation"), x_title=_("tokens"),
                                   marker=recipe.max_length, marker_label=_("max length {value}")),
                  key="train-lengths")  # fmt: skip
    st.caption(_("Longer than max length {limit}, and so cut: {cut} of the {count} examples for training and "
                 "validation.", cut=preview["truncated"], count=len(preview["lengths"]), limit=recipe.max_length))  # fmt: skip
    return preview


def architecture_choice() -> dict:
    base = st.radio(_("Start from"), list(NEW_RUN_BASES), key="train-base", horizontal=True,
                    format_func={"minilm-l6": _("Packaged MiniLM (pretrained)"), "scratch": _("Random BERT (from scratch)"),
                                 "hub": _("A Hub checkpoint (online)")}.get)  # fmt: skip
    fields: dict = {"base": base}
    if base == "scratch":
        a, b, c = st.columns(3)
        layers = a.slider(_("Layers"), 1, 6, 2, key="train-layers")
        hidden = b.select_slider(_("Hidden size"), [32, 64, 128, 256], value=64, key="train-hidden")
        heads = c.select_slider(_("Heads"), [1, 2, 4, 8], value=2, key="train-heads")
        if hidden % heads:
            st.error(_("Hidden size {hidden} is not divisible by {heads} heads.", hidden=hidden, heads=heads))
        fields["scratch"] = {"num_hidden_layers": layers, "hidden_size": hidden, "num_attention_heads": heads,
                             "intermediate_size": 2 * hidden}  # fmt: skip
    elif base == "hub":
        fields["hub_model"] = st.text_input(
            _("Hub model id"), "distilbert/distilbert-base-uncased", key="train-hub-model", max_chars=200
        )
        if not settings.current_mode().online:
            st.warning(_("Hub checkpoints need internet; LM Lab is offline."), icon=":material/cloud_off:")
    return fields


@st.cache_data(show_spinner=False, max_entries=8)
def _architecture(fields: dict, n_labels: int) -> dict:
    from core.training.preview import architecture

    return architecture(fields, n_labels)


def architecture_summary(recipe: Recipe, n_labels: int) -> None:
    try:
        with st.spinner(_("Building the model to count its parameters…")):
            info = _architecture(relevant(recipe, ARCHITECTURE_FIELDS), n_labels)
    except CoreError as error:
        safe.error(error)
        return
    if info["parameters"]:
        st.metric(_("Parameters"), f"{info['parameters'] / 1e6:.2f} M")
    st.json(info["config"], expanded=False)
    if info["note"]:
        st.caption(_(info["note"]))


def hyperparameters(base: str) -> dict:
    """The training settings, starting from the same defaults as ``python -m core.train --name``."""
    start = new_run_defaults(base)
    a, b, c, d = st.columns(4)
    values = {
        "learning_rate": a.select_slider(_("Learning rate"), [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3],
                                         value=start["learning_rate"], key=f"train-lr-{base}",
                                         format_func=lambda v: f"{v:g}"),
        "epochs": float(b.number_input(_("Epochs"), 1, 50, int(NEW_RUN["epochs"]), key="train-epochs")),
        "batch_size": c.select_slider(_("Batch size"), [4, 8, 16, 32, 64], value=NEW_RUN["batch_size"], key="train-batch"),
        "max_length": d.select_slider(_("Max length (tokens)"), [16, 32, 64, 128, 256, 512], value=start["max_length"],
                                      key="train-maxlen"),
    }  # fmt: skip
    a, b, c, d = st.columns(4)
    values["weight_decay"] = a.select_slider(
        _("Weight decay"), [0.0, 0.01, 0.05, 0.1], value=NEW_RUN["weight_decay"], key="train-wd"
    )
    values["warmup_ratio"] = b.select_slider(
        _("Warmup (share of steps)"), [0.0, 0.05, 0.1, 0.2], value=NEW_RUN["warmup_ratio"], key="train-warmup"
    )
    values["dropout"] = c.select_slider(_("Dropout"), [0.0, 0.1, 0.2, 0.3, 0.5], value=NEW_RUN["dropout"],
                                        key="train-dropout")  # fmt: skip
    values["seed"] = int(d.number_input(_("Seed"), 0, 99_999, NEW_RUN["seed"], key="train-seed"))
    a, b, c, d = st.columns(4)
    values["patience"] = int(
        a.number_input(_("Early stopping patience (0 = off)"), 0, 10, NEW_RUN["patience"], key="train-patience")
    )
    values["augment"] = b.selectbox(
        _("Augmentation"), ["none", "word-dropout", "word-swap"], key="train-augment",
        format_func={"none": _("none"), "word-dropout": _("word dropout"), "word-swap": _("word swap")}.get
    )
    values["augment_p"] = c.select_slider(
        _("Augmentation rate"), [0.05, 0.1, 0.2, 0.3], value=NEW_RUN["augment_p"], key="train-augment-p"
    )
    values["validation_fraction"] = d.select_slider(_("Validation share"), [0.0, 0.1, 0.15, 0.2, 0.3],
                                                    value=NEW_RUN["validation_fraction"],
                                                    key="train-validation")  # fmt: skip
    if values["patience"] > 0 and values["validation_fraction"] == 0:
        st.caption(_("Early stopping needs a validation share above 0: with none, every epoch runs and the patience "
                     "is not used."))  # fmt: skip
    a, b = st.columns([1, 3], vertical_alignment="bottom")
    values["examples"] = int(a.number_input(
        _("Labelled examples (0 = all)"), 0, 1_000_000, 0, step=100, key="train-examples",
        help=_("How many of the training set's labelled examples this run spends, its validation share included; each "
               "label keeps its share, and with the same seed a larger number takes the same examples and more (the "
               "validation share is drawn from them anew). Train "
               "the same model on 200, 1,000 and all of them, then compare the runs under Compare runs (a learning "
               "curve) and on the Evaluate page: how much "
               "labelled data a model needs, and whether one that starts pretrained needs less.")))  # fmt: skip
    values["group_by_length"] = b.toggle(
        _("Group batches by length (less padding, faster)"), NEW_RUN["group_by_length"], key="train-group"
    )
    return {**values, **memory_savers(values["batch_size"], values["max_length"])}


def memory_savers(batch: int, length: int) -> dict:
    """The two ways to train in less memory, as toggles: activation checkpointing and a frozen word table; and what
    a batch too big for one pass on the CPU becomes (the cap the server holds every new run to)."""
    from core.training.trainer import split
    from ui.runtime import device_info

    tokens, info = NEW_RUN["step_tokens"], device_info() or {"device": "cpu"}  # the probe's answer, torch not imported
    part, count, _scoring = split(batch, length, tokens, on_cpu=info["device"] == "cpu")
    if count > 1:
        st.caption(_("On the CPU a pass takes at most {tokens} tokens: each batch of {batch} × {length} runs as {count} "
                     "passes of {part} texts whose gradients add up before the step (gradient accumulation). The same "
                     "steps in a fraction of the memory: MiniLM took 2.5 GB for batches of 64 × 512 this way, against "
                     "11.4 GB for 32 × 512 in one pass.", tokens=f"{tokens:,}", batch=batch, length=length,
                     count=count, part=part))  # fmt: skip
    a, b = st.columns(2)
    checkpointing = a.toggle(
        _("Save memory: activation checkpointing"), NEW_RUN["checkpointing"], key="train-checkpointing",
        help=_("Keep only each layer's input during the forward pass and compute the rest again during the backward "
               "pass, and hand freed memory straight back to the system: the same numbers, far less memory, about "
               "half as much time again. Measured on MiniLM with batches of 16 × 128 tokens: 1.01 GB at the peak "
               "against 1.64, and 7.6–8.4 s a step against 4.8–5.4 (two runs each)."))  # fmt: skip
    freeze = b.toggle(
        _("Freeze the word-embedding table"), NEW_RUN["freeze_word_embeddings"], key="train-freeze",
        help=_("Train every weight except the table of token vectors, which stays as the base model has it: no "
               "gradients or optimiser state for it (MiniLM: 11.7 M of its 22.7 M weights, about 0.14 GB less). From "
               "a pretrained model every token keeps the vector pretraining gave it, [UNK] included; from random "
               "weights the table stays random."))  # fmt: skip
    return {"checkpointing": checkpointing, "freeze_word_embeddings": freeze, "step_tokens": tokens}


def curve_words() -> dict[str, str]:
    """The loss curves' legend and overfitting mark in the session's language."""
    return {"training": pgettext("loss curve", "training"), "validation": pgettext("loss curve", "validation"),
            "rises": _("validation loss rises after epoch {epoch}")}  # fmt: skip


def start(recipe: Recipe) -> None:
    try:
        core_jobs.start(recipe.key, recipe=recipe, owner=session_owner())
    except CoreError as error:
        safe.error(error)
        return
    st.session_state["train-watching"] = recipe.key
    st.toast(_("Training {run} started in the background.", run=safe.md(recipe.key)))


@st.fragment(run_every=1.0)
def live(key: str) -> None:
    """Progress, ETA, the loss curve as it grows, and a cancel button, refreshed every second."""
    status = core_jobs.status(key)
    data = core_jobs.progress_data(key)
    if not status.active:
        if status.state in ("failed", "died", "timed out"):
            safe.error(_("Training {run} {state}: {reason}", run=key, state=_(status.state),
                         reason=i18n.problem(status.error) if status.error else status.message))  # fmt: skip
        elif status.state == "cancelled":
            st.info(_("Training {title} was cancelled; nothing was saved.", title=safe.md(key)))
        if st.session_state.get("train-watching") == key and status.state != "none":
            st.session_state["train-watching"] = None
            st.rerun()
        return
    text = f"**{safe.md(key)}** — {safe.md(_(status.phase))}" + (
        _(", step {step}/{total}", step=status.step, total=status.total_steps) if status.total_steps else ""
    )
    if status.eta_s is not None and status.phase == "training":
        text += ", " + _("about {seconds} s left", seconds=f"{status.eta_s:.0f}")
    st.progress(status.fraction, text=text)
    if data.get("curve"):
        render.figure(charts.training_curves({key: {"loss_curve": data["curve"], "eval_curve": data.get("eval_curve")}},
                                             title=_("Live: loss so far"), **curve_words()), key="train-live-curve")  # fmt: skip
    if not ownership.may_change(key, session_owner()):
        st.caption(_("Another session started this run; only it can cancel it."))
    elif st.button(_("Cancel"), key="train-cancel", icon=":material/stop_circle:"):
        try:
            core_jobs.cancel(key, owner=session_owner())
        except CoreError as error:
            safe.error(error)
        else:
            st.toast(_("Stopping at the next step (or within {seconds} s)…", seconds=f"{core_jobs.STOP_GRACE_S:.0f}"))


def other_tasks() -> None:
    """Where the translation, role-labeling and language models are trained, and real SRL data from the Hub."""
    from core import catalog, settings
    from core.training.recipes import CONLL_DATASET, conll_srl_recipe

    with st.expander(
        _("Translation, semantic roles, text generation — and real SRL data"), icon=":material/info:"
    ):
        st.markdown(
            _("This page trains classifiers. The models of the **Translate**, **Semantic roles** and **Generate** "
              "pages train from those pages (a *Train it now* button, one shared background job) or from the command "
              "line; `python -m core.train --all` builds every built-in model before a lesson.")
            + "\n\n"
            + _("**Semantic role labeling on real data (online).** The CoNLL-2012 (OntoNotes 5) frames are on the Hub "
                "as `{dataset}`: documents of sentences with `words` and, per predicate, `srl_frames` holding BIO tags "
                "in PropBank's labels. LM Lab converts them into the same frames it generates and fine-tunes MiniLM "
                "the same way (4,000 sentences, 2 epochs); the model then appears in the Semantic roles page's picker "
                "with its span F1 on the CoNLL test split. From the command line:", dataset=CONLL_DATASET)
            + "\n\n```\npython -m core.train --name srl-conll --task srl --dataset hub \\\n"
            f"    --hub-dataset {CONLL_DATASET} --set examples=4000\n```"
        )  # fmt: skip
        mode = settings.current_mode()
        trained = catalog.read_metadata(conll_srl_recipe().key) is not None  # the class's: not one student's to redo
        if st.button(_("Fine-tune MiniLM on CoNLL-2012 now"), key="train-conll", icon=":material/cloud_download:",
                     disabled=not mode.online or trained):  # fmt: skip
            start(conll_srl_recipe())
        if trained:
            st.caption(_("Trained: it is on the Semantic roles page for the whole class. Training it again replaces "
                         "everyone's copy, so only the command above does that."))  # fmt: skip
        if not mode.online:
            st.caption(":material/cloud_off: " + _("needs internet: LM Lab is offline ({reason}).", reason=_(mode.reason)))
