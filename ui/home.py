"""Home page blocks. Imports no torch: the device comes from a child-process probe."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog, settings
from core.tasks.base import load_errors, tasks
from core.training import jobs
from ui import models, runtime, safe


def environment() -> None:
    mode = settings.current_mode()
    left, middle, right = st.columns(3)
    left.metric(
        "Mode",
        mode.label,
        help=f"Decided in {mode.seconds:.2f} s: {mode.reason}. Set LMLAB_OFFLINE=1 or 0 to force it.",
    )
    with middle:
        _device_metric()
    limits = settings.limits()
    right.metric(
        "Training jobs",
        f"{len(jobs.active_jobs())} / {limits.max_concurrent_jobs}",
        help="Running now / the most that may run at once (LMLAB_MAX_JOBS).",
    )
    if not mode.online:
        st.info(
            "Offline: LM Lab uses what is installed — the packaged MiniLM encoder, the VADER lexicon, and "
            "models it trains itself on data shipped inside installed packages. Hub models are listed but greyed out.",
            icon=":material/cloud_off:",
        )


def _device_metric() -> None:
    info = runtime.device_info()
    if info is None:
        _device_pending()
        return
    detail = info["name"] + (f", {info['memory_gb']} GB" if info.get("memory_gb") else "")
    st.metric(
        "Device",
        info["device"].upper(),
        help=f"{detail}; {info['threads']} CPU threads; training precision {info['train_dtype']}, "
        f"inference {info['infer_dtype']}; torch {info['torch_version']}. LMLAB_DEVICE overrides.",
    )


@st.fragment(run_every=1.0)
def _device_pending() -> None:
    if runtime.device_info() is not None or runtime.device_error():
        st.rerun()
    st.metric("Device", "detecting…")


SECTIONS = [
    (
        "Learn → Self-attention",
        "Q, K, V, scores, softmax and the weighted sum of one real MiniLM head (or a toy example), as heatmaps; "
        "the causal mask; why scores are divided by √d_k.",
    ),
    (
        "Learn → Multi-head attention",
        "A real MiniLM layer split into its 12 heads and recomputed by LM Lab's own code — checked against "
        "Hugging Face — with statistics of how each head attends.",
    ),
    (
        "Learn → Positional encoding",
        "The paper's sinusoids, the article's differing formula and what it costs, BERT's learned positions, RoPE.",
    ),
    (
        "Learn → Encoder and decoder",
        "Padding, causal and cross-attention masks and the shapes flowing through an encoder and a decoder layer.",
    ),
    (
        "Train → Train a classifier",
        "The article's five steps — data, architecture, training, evaluation, deployment — with your own CSV or the "
        "packaged data, live curves, early stopping, augmentation, confidence intervals and runs compared.",
    ),
    (
        "Evaluate → Benchmark",
        "Models side by side on the same held-out examples: accuracy and macro-F1 with 95 % CIs, paired bootstrap "
        "and McNemar against a baseline, latency p50/p95 after warm-up, throughput, memory, int8/bf16 variants, "
        "calibration, and the examples where models disagree; translation (chrF), semantic roles (span F1) and "
        "language models (perplexity per word, against a Kneser–Ney trigram) the same way.",
    ),
    (
        "Inspect → Attention",
        "bertviz's head and model views that work offline, every layer × head, head statistics, attention "
        "rollout, and two models compared head by head (what fine-tuning changed).",
    ),
    (
        "Apply → Sentiment",
        "Type a sentence and get positive or negative with class probabilities, from a MiniLM encoder "
        "fine-tuned here, a model trained from scratch, the VADER lexicon, or a Hub model when online — "
        "side by side, each with its held-out accuracy and a 95 % confidence interval — and which words pushed "
        "the answer (occlusion, integrated gradients), with a what-if box.",
    ),
    (
        "Apply → Topic",
        "Newsgroup topics from a MiniLM fine-tuned here, or zero-shot with labels you type (sentence-embedding "
        "similarity), each with its held-out accuracy.",
    ),
    (
        "Apply → Summarize",
        "Extractive summaries offline (TextRank + MMR on MiniLM embeddings, lead baseline) with the chosen "
        "sentences highlighted; abstractive Hub models when online.",
    ),
    (
        "Apply → Translate",
        "English to Chinese with an encoder-decoder trained here on a generated grammar (word order, measure "
        "words, tense, questions, negation): greedy or beam search, the cross-attention alignment as a heatmap and "
        "in bertviz, chrF and BLEU with CIs; Marian models from the Hub when online.",
    ),
    (
        "Apply → Semantic roles",
        "Who did what to whom, when and where: PropBank frames for each verb as coloured spans and a table, from "
        "MiniLM fine-tuned here on generated sentences, with span F1 per role.",
    ),
    (
        "Apply → Generate",
        "A language model as the article defines it: next-token probabilities, sampling with temperature, top-k, "
        "top-p and a seed, the log-probability of a sentence token by token, and a small GPT against a Kneser–Ney "
        "trigram on held-out perplexity; GPT-2 from the Hub when online.",
    ),
]


def sections() -> None:
    for problem in load_errors():  # an operator's LMLAB_TASKS plug-in that failed: the rest of the app works
        safe.error(problem)
    st.subheader("What you can do")
    for title, text in SECTIONS:
        st.markdown(f"**{title}** — {text}")


def _other_quality(spec: catalog.ModelSpec, found: dict) -> str:
    """A sequence model's held-out headline (chrF, span F1, perplexity) from its card, as its task words it."""
    task = tasks().get(spec.task)
    if task is None or task.metric.key not in found:
        return ""
    return task.metric.short(found[task.metric.key])


def _row(spec: catalog.ModelSpec) -> dict:
    state = catalog.availability(spec)
    meta = catalog.read_metadata(spec.key) if spec.trained_here else None
    size = (meta or {}).get("size_bytes") or spec.size_bytes
    accuracy = ((meta or {}).get("metrics") or {}).get("accuracy") or (
        models.quality(spec) if state.ready else None
    )
    return {
        "model": spec.title,
        "key": spec.key,
        "task": spec.task,
        "source": catalog.SOURCE_LABELS[spec.source],
        "status": "ready" if state.ready else state.reason.split(":")[0],
        "size (MB)": round(size / 1e6, 1) if size else None,
        "trained": (meta or {}).get("created_at", "")[:16].replace("T", " "),
        "train time (s)": meta.train_seconds if meta else None,
        "held-out quality": (
            f"accuracy {100 * accuracy['value']:.0f} % [{100 * accuracy['low']:.0f}, {100 * accuracy['high']:.0f}]"
            if accuracy
            else _other_quality(spec, (meta or {}).get("metrics") or {})
        ),
        "license": spec.license,
    }


def _tilde(path) -> str:
    """A path under the home folder written with ~, shorter on a projector."""
    from pathlib import Path

    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def model_table() -> None:
    st.subheader("Models")
    st.caption(
        f"Trained models are cached in `{_tilde(settings.models_dir())}` (set LMLAB_CACHE_HOME to move it)."
    )
    frame = pd.DataFrame([_row(spec) for spec in catalog.all_specs()])
    order = [
        "model",
        "source",
        "status",
        "held-out quality",
        "size (MB)",
        "trained",
        "train time (s)",
        "key",
        "task",
    ]
    st.dataframe(frame, hide_index=True, key="home-models", column_order=[*order, "license"])
