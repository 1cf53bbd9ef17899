"""Home page blocks. Imports no torch: the device comes from a child-process probe."""

from __future__ import annotations

import streamlit as st

from core import catalog, settings
from core.tasks.base import load_errors, tasks
from core.training import jobs
from ui import i18n, language, models, runtime, safe
from ui.i18n import N_, _, pgettext


def environment() -> None:
    mode = settings.current_mode()
    left, middle, right = st.columns(3)
    left.metric(
        _("Mode"),
        _("online") if mode.online else _("offline"),
        help=_("Decided in {seconds} s: {reason}. Set LMLAB_OFFLINE=1 or 0 to force it.",
               seconds=f"{mode.seconds:.2f}", reason=_(mode.reason)),
    )  # fmt: skip
    with middle:
        _device_metric()
    limits = settings.limits()
    right.metric(
        _("Training jobs"),
        f"{len(jobs.active_jobs())} / {limits.max_concurrent_jobs}",
        help=_("Running now / the most that may run at once (LMLAB_MAX_JOBS)."),
    )
    if not mode.online:
        st.info(
            _("Offline: LM Lab uses what is installed — the packaged MiniLM encoder, the VADER lexicon, and models "
              "it trains itself on data shipped inside installed packages. Hub models are listed but greyed out."),
            icon=":material/cloud_off:",
        )  # fmt: skip


def _device_metric() -> None:
    if runtime.device_info() is None and not runtime.device_error():
        _device_pending()
        return
    _device_now()


def _device_now() -> None:
    info = runtime.device_info()
    if info is None:
        st.caption(runtime.device_error())
        return
    detail = info["name"] + (f", {info['memory_gb']} GB" if info.get("memory_gb") else "")
    st.metric(
        _("Device"),
        info["device"].upper(),
        help=_("{detail}; {threads} CPU threads; training precision {train}, inference {infer}; torch {torch}. "
               "LMLAB_DEVICE overrides.", detail=detail, threads=info["threads"], train=runtime.training_precision(info),
               infer=info["infer_dtype"], torch=info["torch_version"]),
    )  # fmt: skip


@st.fragment(run_every=1.0)
def _device_pending() -> None:
    """Polls until the probe answers, then shows the metric in place: never a whole-app ``st.rerun()`` (see
    ``ui.runtime._device_pending``; a rerun started from this fragment also lost the session's language)."""
    if runtime.device_info() is not None or runtime.device_error():
        _device_now()
        return
    st.metric(_("Device"), _("detecting…"))


SECTIONS = [  # (where, what): translated where they are shown
    (
        N_('Learn → Tokenization'),
        N_(
            'The article\'s step 1: one text cut five ways (MiniLM\'s WordPiece, a Chinese character vocabulary, '
            'Chinese pieces, jieba\'s words, a byte-level BPE), what each way does not know, and how each fits real '
            'Chinese reviews.'
        ),
    ),
    (
        N_('Learn → Self-attention'),
        N_(
            'Q, K, V, scores, softmax and the weighted sum of one real MiniLM head (or a toy example), as '
            'heatmaps; the causal mask; why scores are divided by √d_k.'
        ),
    ),
    (
        N_('Learn → Multi-head attention'),
        N_(
            "A real MiniLM layer split into its 12 heads and recomputed by LM Lab's own code — checked against "
            'Hugging Face — with statistics of how each head attends.'
        ),
    ),
    (
        N_('Learn → Positional encoding'),
        N_(
            "The paper's sinusoids, the article's differing formula and what it costs, BERT's learned positions, "
            'RoPE.'
        ),
    ),
    (
        N_('Learn → Encoder and decoder'),
        N_(
            'Padding, causal and cross-attention masks and the shapes flowing through an encoder and a decoder '
            'layer.'
        ),
    ),
    (
        N_('Train → Train a classifier'),
        N_(
            "The article's five steps — data, architecture, training, evaluation, deployment — with your own CSV "
            'or the packaged data, live curves, early stopping, augmentation, confidence intervals and runs '
            'compared.'
        ),
    ),
    (
        N_('Evaluate → Benchmark'),
        N_(
            'Models side by side on the same held-out examples: accuracy and macro-F1 with 95 % CIs, paired '
            'bootstrap and McNemar against a baseline, latency p50/p95 after warm-up, throughput, memory, '
            'int8/bf16 variants, calibration, and the examples where models disagree; translation (chrF), '
            'semantic roles (span F1) and language models (perplexity per word, against a Kneser–Ney trigram) the'
            ' same way.'
        ),
    ),
    (
        N_('Inspect → Attention'),
        N_(
            "bertviz's head and model views that work offline, every layer × head, head statistics, attention "
            'rollout, and two models compared head by head (what fine-tuning changed).'
        ),
    ),
    (
        N_('Inspect → Layers, Ablate, Patch'),
        N_(
            "The logit lens (what each block of a GPT would predict), heads and MLPs switched off with a ranking of "
            "every head on held-out text, and activation patching: one vector of a clean run copied into a corrupted "
            "run, for every position after every layer, to see where the answer is decided."
        ),
    ),
    (
        N_('Challenges → Bias'),
        N_(
            "The article's data-bias challenge measured: sentences where only a group term changes, the "
            'probability gap with a 95 % CI and a permutation test; an embedding association test on MiniLM; each '
            "training set's class balance and shortcut words."
        ),
    ),
    (
        N_('Challenges → Compute'),
        N_(
            'Parameters, FLOPs per token and memory for any model or size; this machine\'s matrix throughput '
            'measured live; runs trained here against their FLOP count; BERT, GPT-2 and GPT-3 extrapolated in '
            'days, kWh and CO₂.'
        ),
    ),
    (
        N_('Challenges → Privacy'),
        N_(
            'A membership-inference attack on the models trained here (AUC with its 95 % CI, the ROC curve, the loss '
            'of training and held-out texts), a secret planted in the training text of a GPT and how far it was '
            'memorised, and e-mail addresses, phone numbers, URLs and Chinese ID numbers found and masked in a text.'
        ),
    ),
    (
        N_('Challenges → Robustness'),
        N_(
            "A few typing mistakes, in the words a classifier's answer leans on most, on held-out texts it never "
            'saw: accuracy before and under attack with 95 % intervals, and how many edits it took.'
        ),
    ),
    (
        N_('Challenges → FAQ'),
        N_(
            "The article's five questions — choosing a model, training, evaluating, overfitting, improving — "
            'answered with what was trained and measured on this machine, each with a link to the page that shows it.'
        ),
    ),
    (
        N_('Apply → Sentiment'),
        N_(
            'Type a sentence and get positive or negative with class probabilities, from a MiniLM encoder fine-'
            'tuned here, a model trained from scratch, the VADER lexicon, or a Hub model when online — side by '
            'side, each with its held-out accuracy and a 95 % confidence interval — and which words pushed the '
            'answer (occlusion, integrated gradients), with a what-if box.'
        ),
    ),
    (
        N_('Apply → Topic'),
        N_(
            'Newsgroup topics from a MiniLM fine-tuned here, or zero-shot with labels you type (sentence-'
            'embedding similarity), each with its held-out accuracy.'
        ),
    ),
    (
        N_('Apply → Summarize'),
        N_(
            'Extractive summaries offline (TextRank + MMR on MiniLM embeddings, lead baseline) with the chosen '
            'sentences highlighted; abstractive Hub models when online.'
        ),
    ),
    (
        N_('Apply → Translate'),
        N_(
            'English to Chinese and Chinese to English, each with an encoder-decoder trained here on a generated '
            'grammar (word order, measure words, tense, questions, negation): greedy or beam search, the '
            'cross-attention alignment as a heatmap and in bertviz, chrF and BLEU with CIs; online, Marian models '
            'from the Hub (English to Chinese, German and French).'
        ),
    ),
    (
        N_('Apply → Word segmentation'),
        N_(
            'Chinese text cut into words by a character tagger trained here on People\'s Daily and by jieba, side '
            'by side with their disagreements marked, and both scored on held-out paragraphs.'
        ),
    ),
    (
        N_('Apply → Semantic roles'),
        N_(
            'Who did what to whom, when and where: PropBank frames for each verb as coloured spans and a table, '
            'from MiniLM fine-tuned here on generated sentences, with span F1 per role.'
        ),
    ),
    (
        N_('Apply → Generate'),
        N_(
            'A language model as the article defines it: next-token probabilities, sampling with temperature, '
            'top-k, top-p and a seed, the log-probability of a sentence token by token, and a small GPT against a'
            ' Kneser–Ney trigram on held-out perplexity; GPT-2 from the Hub when online.'
        ),
    ),
]


def sections() -> None:
    for problem in load_errors():  # an operator's LMLAB_TASKS plug-in that failed: the rest of the app works
        safe.error(problem)
    st.subheader(_("What you can do"))
    for title, text in SECTIONS:
        st.markdown(f"**{_(title)}** — {_(text)}")


def _other_quality(spec: catalog.ModelSpec, found: dict) -> str:
    """A sequence model's held-out headline (chrF, span F1, perplexity) from its card, as its task words it."""
    task = tasks().get(spec.task)
    if task is None or task.metric.key not in found:
        return ""
    return task.metric.short(found[task.metric.key])


# words the catalog writes into the table, marked here for the message catalog
CATALOG_WORDS = (N_("packaged"), N_("trained here"), N_("Hugging Face Hub"), N_("needs internet"),
                 N_("not trained yet on this machine"),
                 N_("needs internet: LM Lab is offline (the Hugging Face Hub is not reachable)"))  # fmt: skip
HEADERS = {"model": N_("model"), "source": N_("source"), "status": N_("status"),
           "held-out quality": N_("held-out quality"), "size (MB)": N_("size (MB)"), "trained": N_("trained"),
           "train time (s)": N_("train time (s)"), "key": "key", "task": N_("task"), "license": N_("license"),
           "reads": N_("reads")}  # fmt: skip


def _row(spec: catalog.ModelSpec) -> dict:
    state = catalog.availability(spec)
    meta = catalog.read_metadata(spec.key) if spec.trained_here else None
    size = (meta or {}).get("size_bytes") or spec.size_bytes
    accuracy = ((meta or {}).get("metrics") or {}).get("accuracy") or (
        models.quality(spec) if state.ready else None
    )
    return {
        "model": i18n.title(spec),
        "key": spec.key,
        "task": spec.task,
        "source": _(catalog.SOURCE_LABELS[spec.source]),
        "status": _("ready") if state.ready else _(state.reason.split(":")[0]),
        "size (MB)": round(size / 1e6, 1) if size else None,
        "trained": i18n.when(meta["created_at"]) if (meta or {}).get("created_at") else "",
        "train time (s)": meta.train_seconds if meta else None,
        "held-out quality": (
            _("accuracy") + f" {100 * accuracy['value']:.0f} % [{100 * accuracy['low']:.0f}, {100 * accuracy['high']:.0f}]"
            if accuracy
            else _other_quality(spec, (meta or {}).get("metrics") or {})
        ),
        "license": _(spec.license),
        "reads": language.names(spec.languages),
    }


def _tilde(path) -> str:
    """A path under the home folder written with ~, shorter on a projector."""
    from pathlib import Path

    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def model_table() -> None:
    import pandas as pd  # here, not at the top: what the page says first reaches the browser before pandas loads

    st.subheader(_("Models"))
    st.caption(_("Trained models are cached in `{folder}` (set LMLAB_CACHE_HOME to move it).",
                 folder=_tilde(settings.models_dir())))  # fmt: skip
    frame = pd.DataFrame([_row(spec) for spec in catalog.all_specs()])
    order = [
        "model",
        "reads",
        "source",
        "status",
        "held-out quality",
        "size (MB)",
        "trained",
        "train time (s)",
        "key",
        "task",
    ]
    names = {column: pgettext("model table", "key") if column == "key" else _(HEADERS[column])
             for column in frame.columns}  # fmt: skip
    safe.table(frame.rename(columns=names), hide_index=True, key="home-models",
               column_order=[names[column] for column in [*order, "license"]])  # fmt: skip
