"""Text generation page glue: next-token bars, sampling controls, token-by-token scores, two-sentence comparison."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import snippets
from core.viz import charts
from ui import models, render, safe

PROMPTS = [
    "The Prime Minister said",
    "Police say the fire",
    "The Australian cricket team",
    "Palestinian",
]
SENTENCE = "The Prime Minister said the government would not change its policy."


def _model(spec):
    try:
        return models.task_model(spec)
    except CoreError as error:
        safe.error(error)
        return None


def heldout(spec) -> None:
    meta = catalog.read_metadata(spec.key) if spec.trained_here else None
    found = (meta or {}).get("metrics", {})
    if "perplexity" not in found:
        return
    ppl, kn = found["perplexity"], found["ngram_perplexity"]
    left, right, third = st.columns(3)
    left.metric("Held-out perplexity — Transformer", f"{ppl['value']:.0f}",
                help=f"95 % CI {ppl['low']:.0f}–{ppl['high']:.0f}, resampling the {ppl['n']} unseen articles")  # fmt: skip
    right.metric("Held-out perplexity — Kneser–Ney trigram", f"{kn['value']:.0f}",
                 help=f"95 % CI {kn['low']:.0f}–{kn['high']:.0f}; fitted on the same training tokens")  # fmt: skip
    data = meta.get("data", {})
    third.metric("Training text", f"{data.get('train_tokens', 0):,} tokens",
                 help=f"{data.get('train_size')} articles; trained in {meta.get('train_seconds', 0):.0f} s")  # fmt: skip
    if kn["value"] < ppl["value"]:
        verdict = ("the trigram still wins: a Transformer needs far more text than an n-gram model to pay off, and "
                   "GPT-2 was trained on billions")  # fmt: skip
    else:
        verdict = "the Transformer wins, though GPT-2 was trained on billions"
    st.caption(
        "Perplexity is exp(average negative log-probability per token): the number of equally likely tokens the "
        f"model is, on average, choosing between. Lower is better. On {data.get('train_tokens', 0):,} training "
        f"tokens {verdict}. Expect grammatical fragments of Australian 2001 news, not facts."
    )
    if meta.get("loss_curve"):
        with st.expander("Training loss", icon=":material/show_chart:"):
            render.figure(charts.loss_curve(meta["loss_curve"]), key="generate-loss")
            st.caption(
                "Cross-entropy per token on the training blocks, a running value during training with dropout on; "
                f"the held-out perplexity above ({ppl['value']:.0f}) is measured afterwards in eval mode on unseen "
                "articles. Part of the gap is fitting the training text, part is that difference in how they are "
                "measured."
            )


def next_token(spec, prompt: str, k: int) -> None:
    model = _model(spec)
    if model is None:
        return
    try:
        found = model.next_tokens(prompt, k=k)
    except CoreError as error:
        safe.error(error)
        return
    render.figure(charts.next_token_bars({"Transformer": found["transformer"], "Kneser–Ney trigram": found["ngram"]}),
                  key="generate-next")  # fmt: skip
    left, middle, right = st.columns(3)
    left.metric("Entropy — Transformer", f"{found['entropy_bits']:.2f} bits")
    middle.metric("Entropy — trigram", f"{found['ngram_entropy_bits']:.2f} bits")
    right.metric(
        "Latency", f"{found['latency_ms']:.0f} ms", help=f"{found['context_tokens']} tokens of context"
    )
    st.caption(
        "␣ marks a leading space (the BPE keeps it with the word). A language model is exactly this: a probability "
        "for every token of the vocabulary, given the tokens so far. Lower entropy means a more confident guess."
    )
    best = found["transformer"][0]["token"]
    st.button(f"Append the most likely token “{safe.md(best)}”", key="generate-append", icon=":material/add:",
              on_click=_set_prompt, args=(prompt + best,))  # fmt: skip


def _set_prompt(text: str) -> None:
    st.session_state["generate-prompt"] = text


def generate(spec, prompt: str, options: dict) -> None:
    model = _model(spec)
    if model is None:
        return
    try:
        result = model.generate(prompt, **options)
    except CoreError as error:
        safe.error(error)
        return
    st.session_state["generate-result"] = (spec.key, result, options)


def show_generation(spec) -> None:
    stored = st.session_state.get("generate-result")
    if not stored or stored[0] != spec.key:
        return
    _, result, options = stored
    prompt_part = result.text[: len(result.text) - len(result.continuation)]
    continuation = result.continuation
    core = continuation.strip()
    lead = continuation[: len(continuation) - len(continuation.lstrip())]
    bold = f"**{safe.md(core)}**" if core else ""  # "** text**" would not be bold: spaces go outside
    st.markdown(f"> {safe.md(prompt_part)}{' ' if lead else ''}{bold}")
    st.caption(
        f"{len(result.steps)} tokens in {result.latency_ms:.0f} ms · seed {result.seed} (the same seed and settings "
        "give the same text) · bold: generated"
    )
    if result.steps:
        render.figure(charts.generation_steps(result.steps), key="generate-steps")
        st.caption(
            "Bars: the model's probability of each token it chose. Low bars are where sampling took a risk."
        )
    with st.expander("Code to reproduce this", icon=":material/code:"):
        st.code(snippets.generation(spec, result.prompt, options), language="python")


def score(spec, text: str) -> None:
    model = _model(spec)
    if model is None:
        return
    try:
        found = model.score(text)
    except CoreError as error:
        safe.error(error)
        return
    left, right = st.columns(2)
    left.metric("Transformer", f"perplexity {found.perplexity:.1f}", f"log P = {found.logprob:.1f} nats",
                delta_color="off")  # fmt: skip
    right.metric("Kneser–Ney trigram", f"perplexity {found.ngram_perplexity:.1f}",
                 f"log P = {found.ngram_logprob:.1f} nats", delta_color="off")  # fmt: skip
    tokens = [t.token for t in found.tokens]
    render.figure(
        charts.token_logprobs(tokens, {"Transformer": [t.logprob for t in found.tokens],
                                       "Kneser–Ney trigram": [t.ngram_logprob for t in found.tokens]}),
        key="generate-score",
    )  # fmt: skip
    st.caption(
        "Each bar: how surprised the model is by that token (0 = certain, −10 bits = one chance in 1,024)."
    )


def more_likely(rows: list[dict], model_name: str) -> str:
    """Which of two scored sentences the model finds more likely: by total log P, with perplexity beside it."""
    a, b = rows
    key = f"{model_name} log P"
    if a[key] == b[key]:
        return f"The **{model_name}** gives both sentences the same probability."
    better, worse = (a, b) if a[key] > b[key] else (b, a)
    by_perplexity = better[f"{model_name} perplexity"] <= worse[f"{model_name} perplexity"]
    note = "it also has the lower perplexity" if by_perplexity else (
        f"per token it does worse (perplexity {better[f'{model_name} perplexity']} vs "
        f"{worse[f'{model_name} perplexity']}): the token counts differ ({better['tokens']} vs {worse['tokens']})"
    )
    return (f"The **{model_name}** finds sentence **{better['sentence']}** more likely "
            f"(log P {better[key]} vs {worse[key]} nats); {note}.")  # fmt: skip


def compare(spec, first: str, second: str) -> None:
    model = _model(spec)
    if model is None:
        return
    rows = []
    for name, text in (("A", first), ("B", second)):
        try:
            found = model.score(text)
        except CoreError as error:
            safe.error(f"Sentence {name}: {error}")
            return
        rows.append({"sentence": name, "text": text, "tokens": len(found.tokens),
                     "Transformer log P": round(found.logprob, 2), "Transformer perplexity": round(found.perplexity, 1),
                     "trigram log P": round(found.ngram_logprob, 2),
                     "trigram perplexity": round(found.ngram_perplexity, 1)})  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for model_name in ("Transformer", "trigram"):
        st.markdown(f"- {more_likely(rows, model_name)}")
    st.caption("More likely = higher total log-probability of the sentence's tokens as the start of a text (after "
               "<|endoftext|>, with no end marker). Perplexity is per token, so two sentences with different token "
               "counts can rank differently by it.")
