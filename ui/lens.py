"""Inspect → Layers glue: the causal language models the logit lens reads, its grids, curves and code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks import snippets
from core.tasks.lens import MAX_TOKENS
from core.viz import heatmaps
from ui import i18n, models, render, safe, scenario
from ui.i18n import N_, _

# hover lines of the two grids, translated when drawn (ui.render)
RANK_HOVER = N_("%{y}, after %{x}: rank %{customdata}")
MASKED_HOVER = N_("%{y}, at %{x}: %{customdata} (%{z:.2f})")

EXAMPLES = {"en": "The Prime Minister said the government would not change its policy.",
            "zh": "国务院今天召开会议，研究明年的经济工作。"}  # fmt: skip


MASKED_EXAMPLE = "国务院今天召开[MASK]议，研究明年的经济工作。"


def candidates(masked: bool = False) -> list[catalog.ModelSpec]:
    """Every causal language model LM Lab has (the news GPT, the Chinese character GPT, GPT-2 from the Hub) and,
    with ``masked``, the masked language models too (the Chinese BERT pretrained here)."""
    tasks = ("generation", "generation-zh", *(("fill-mask",) if masked else ()))
    return [spec for task in tasks for spec in catalog.specs_for_task(task)]


def pick_model(prefix: str = "lens", *, masked: bool = False) -> catalog.ModelSpec | None:
    """The model picker of an Inspect page on language models (``{prefix}-model``, its text box ``{prefix}-text``);
    None while the chosen one trains (its job shared by the class) or is offline."""
    specs = {spec.key: spec for spec in candidates(masked)}
    key, text_key = f"{prefix}-model", f"{prefix}-text"
    if st.session_state.get(key) not in specs:
        asked = st.query_params.get("model")
        st.session_state[key] = asked if asked in specs else "lm-lee-gpt"
    chosen = st.selectbox(_("Model"), list(specs), key=key, on_change=_model_changed, args=(prefix, masked),
                          format_func=lambda name: i18n.title(specs[name]))  # fmt: skip
    spec = specs[chosen]
    if text_key not in st.session_state:
        st.session_state[text_key] = st.query_params.get("text", _example(spec))
    if not scenario.ensure_ready(spec, fallback=N_("the Attention page")):
        if spec.trained_here:
            from ui import jobs

            jobs.panel(scenario.job_key(spec), title=i18n.title(spec))
        return None
    return spec


def _example(spec: catalog.ModelSpec) -> str:
    if spec.task == "fill-mask":
        return MASKED_EXAMPLE
    return EXAMPLES["zh" if "zh" in spec.languages else "en"]


def _model_changed(prefix: str, masked: bool = False) -> None:
    specs = {spec.key: spec for spec in candidates(masked)}
    chosen = specs.get(st.session_state.get(f"{prefix}-model"))
    if chosen is not None:
        st.session_state[f"{prefix}-text"] = _example(chosen)
    st.session_state.pop(f"{prefix}-result", None)


def run(spec: catalog.ModelSpec, text: str) -> None:
    try:
        found = models.task_model(spec).lens(text)
    except CoreError as error:
        safe.error(error)
        return
    st.session_state["lens-result"] = (spec.key, text, found)


def show(spec: catalog.ModelSpec) -> None:
    stored = st.session_state.get("lens-result")
    if not stored or stored[0] != spec.key:
        return
    text, lens = stored[1], stored[2]
    layers = [render.layer_name(name) for name in lens.layers]
    if not hasattr(lens, "true_ranks"):  # a masked language model's lens
        _show_masked(spec, text, lens, layers)
        return
    st.metric(_("Last row vs the model's own output: max |difference| of the logits"), f"{lens.final_difference:.1e}",
              help=_("The lens after the last block is exactly what the model outputs; only rounding may differ."))  # fmt: skip
    render.figure(heatmaps.token_grid(lens.top_probs, lens.top_tokens, x_labels=lens.tokens, y_labels=layers,
                                      title=_("Top prediction after each block (colour: its probability)")),
                  key="lens-top", stem=f"logit-lens-{spec.key}",
                  numbers={"model": spec.key, "text": text, "tokens": lens.tokens, "layers": lens.layers,
                           "top_tokens": lens.top_tokens, "top_probs": lens.top_probs, "true_probs": lens.true_probs,
                           "true_ranks": lens.true_ranks})  # fmt: skip
    st.caption(_("Column: the text up to and including that token; cell: the token the model would write next if it "
                 "stopped at that row. The first column is the document-boundary token. With input and output "
                 "embeddings shared (as in GPT-2), the embeddings row mostly predicts the token itself."))  # fmt: skip
    ranks = lens.true_ranks
    texts = [[str(int(rank)) for rank in row] for row in ranks]
    render.figure(heatmaps.token_grid(np.log10(ranks), texts, x_labels=lens.tokens[:-1], y_labels=layers,
                                      colorscale="Reds_r", zmin=0, zmax=max(1.0, float(np.log10(ranks).max())),
                                      title=_("Rank of the token that really comes next (1 = top prediction)"),
                                      hover=RANK_HOVER, colorbar=_rank_colorbar(int(ranks.max()))), key="lens-rank", stem=f"logit-lens-ranks-{spec.key}",
                  numbers={"model": spec.key, "text": text, "next_tokens": lens.tokens[1:], "layers": lens.layers,
                           "true_ranks": ranks})  # fmt: skip
    summary = lens.summary()
    positions = list(range(len(lens.tokens) - 1))
    position = st.select_slider(_("After the token"), positions, value=positions[-1], key="lens-mover-position",
                                format_func=lambda i: f"{i}: {lens.tokens[i]}",
                                help=_("The position the line below follows, and the table under it reads."))  # fmt: skip
    series = {_("probability of the real next token (geometric mean)"): np.exp(summary["mean_logprob"]),
              _("share of positions where it is the top prediction"): summary["top1"],
              _("after “{token}”: probability of “{next}”", token=lens.tokens[position],
                next=lens.tokens[position + 1]): lens.true_probs[:, position]}  # fmt: skip
    render.figure(heatmaps.lines(layers, series, title=_("How the prediction forms, layer by layer"),
                                 x_title=_("layer"), y_title=_("probability / share")), key="lens-lines",
                  stem=f"logit-lens-lines-{spec.key}",
                  numbers={"model": spec.key, "text": text, "layers": lens.layers, "position": position,
                           "geometric_mean_probability_of_next": np.exp(summary["mean_logprob"]), "top1_share": summary["top1"],
                           "probability_of_next_at_position": lens.true_probs[:, position]})  # fmt: skip
    st.caption(_("{count} positions of “{text}”. A curve that rises only at the last block means the earlier layers "
                 "do not yet hold the answer in a form the output matrix can read; the tuned lens (Belrose et al., "
                 "2023) trains a small map per layer for that.", count=ranks.shape[1], text=safe.md(text[:80])))  # fmt: skip
    _movers(lens, layers, position)
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(snippets.logit_lens(spec, text), language="python")


def _rank_colorbar(highest: int) -> dict:
    """The colour is log10 of the rank: the bar's ticks say 1, 10, 100… (the ranks) rather than 0, 1, 2…"""
    powers = range(int(np.floor(np.log10(max(highest, 10)))) + 1)
    return {"title": {"text": _("rank")}, "tickvals": list(powers), "ticktext": [f"{10 ** p:,}" for p in powers]}


def _movers(lens, layers: list[str], position: int) -> None:
    """What each block did to the next-token prediction at one position: the tokens it promoted and suppressed."""
    if not getattr(lens, "movers", ()):
        return
    st.markdown("##### " + _("Tokens each block promotes and suppresses after “{token}”",
                             token=safe.md(lens.tokens[position])))  # fmt: skip

    def listed(pairs) -> str:  # changes under 0.05 points are noise, not a finding
        return " · ".join(f"{token} {100 * change:+.1f}" for token, change in pairs if abs(change) >= 5e-4) or "–"

    rows = [{_("block"): layers[block + 1], _("promoted (points of probability)"): listed(moved[position][0]),
             _("suppressed (points of probability)"): listed(moved[position][1])}
            for block, moved in enumerate(lens.movers)]  # fmt: skip
    safe.table(pd.DataFrame(rows), hide_index=True, key="lens-movers")  # tokens as text: they came from the text
    st.caption(_("Each block's change to the lens's next-token distribution at this position: the {count} tokens "
                 "whose probability rose most and fell most from the row before it to its own row, in percentage "
                 "points (changes under 0.05 are left out). Where the input and output embeddings are shared, the "
                 "embeddings row predicts the token itself, so block 1 shows it falling steeply. A block that promotes "
                 "the token the last row predicts is where the lens first sees the answer; whether that block causes it "
                 "takes ablation or patching (the Ablate and Patch pages).",
                 count=len(lens.movers[0][position][0])))  # fmt: skip


def _show_masked(spec: catalog.ModelSpec, text: str, lens, layers: list[str]) -> None:
    """What a masked language model would put at each position after each block, and how sure it is of the token
    really there."""
    st.metric(_("Last row vs the model's own output: max |difference| of the logits"), f"{lens.final_difference:.1e}",
              help=_("The lens after the last block is exactly what the model outputs; only rounding may differ."))  # fmt: skip
    render.figure(heatmaps.token_grid(lens.top_probs, lens.top_tokens, x_labels=lens.tokens, y_labels=layers,
                                      title=_("What the model would put at each position (colour: its probability)"),
                                      hover=MASKED_HOVER),
                  key="lens-masked-top", stem=f"masked-lens-{spec.key}",
                  numbers={"model": spec.key, "text": text, "tokens": lens.tokens, "layers": lens.layers,
                           "top_tokens": lens.top_tokens, "top_probs": lens.top_probs,
                           "input_probs": lens.input_probs})  # fmt: skip
    st.caption(_("A masked language model (BERT's pretraining) predicts the token at each position from both sides. "
                 "The masked-LM head (its transform, layer norm and output matrix) is applied to the hidden state "
                 "after the embeddings and after every block: at a [MASK] the column shows its guess forming; elsewhere "
                 "what the model would put where a character already is — the grid below says how sure it is of that "
                 "character (a small model trained briefly often guesses the commonest characters instead)."))  # fmt: skip
    render.figure(heatmaps.heatmap(lens.input_probs, title=_("Probability of the character really there"),
                                   x_labels=lens.tokens, y_labels=layers, zmin=0, zmax=1, text_values=True),
                  key="lens-masked-input", stem=f"masked-lens-input-{spec.key}",
                  numbers={"model": spec.key, "text": text, "tokens": lens.tokens, "layers": lens.layers,
                           "input_probs": lens.input_probs})  # fmt: skip
    st.caption(_("Empty cells: [MASK], [UNK] and the other special tokens, where there is no character to rebuild."))


def limits() -> str:
    return _("At most {count} tokens (the grid's width): a GPT reads its boundary token and the first {text} tokens "
             "of the text; a masked language model refuses a longer text, which would lose its [SEP] and any [MASK] after the "
             "cut.", count=MAX_TOKENS, text=MAX_TOKENS - 1)
