"""Learn section glue: the shared MiniLM encoder (eager attention) and cached computations."""

from __future__ import annotations

import inspect

import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks.inputs import inference_gate
from ui.i18n import N_, _

# what core names, marked for the message catalog and translated where it is shown
CORE_WORDS = (
    N_("entropy (nats)"), N_("mean distance (tokens)"), N_("share to [CLS]"), N_("share to [SEP]"),
    N_("share to punctuation"), N_("share to itself"), N_("encoder input"), N_("encoder self-attention weights"),
    N_("after attention + residual + norm"), N_("encoder output"), N_("decoder input (shifted target)"),
    N_("decoder self-attention weights (causal)"), N_("encoder output (memory)"), N_("cross-attention weights"),
    N_("decoder output"),
)  # fmt: skip


def minilm():
    """The packaged MiniLM with eager attention (SDPA returns no weights), shared with the Inspect page:
    the same loaded model, and its lock, so the tokenizer is never used by two sessions at once."""
    from ui.inspect import attention_model

    return attention_model(catalog.MINILM)


def _checked(text: str, max_chars: int = 500) -> str:
    from core.tasks.inputs import check_text

    return check_text(text, max_chars=max_chars)


def head_steps(text: str, layer: int, head: int, causal: bool):
    from core.transformer import explain

    shared = minilm()
    cleaned = _checked(text)
    with shared.lock, inference_gate():
        return explain.minilm_head(shared.model, shared.tokenizer, cleaned, layer, head, causal)


def toy_steps(words: str, d_model: int, d_k: int, causal: bool, seed: int):
    from core.transformer import explain

    tokens = _checked(words).split()
    if len(tokens) > 16:
        raise CoreError(
            _("The toy example takes at most 16 words (got {count}); use the sentence mode for more.", count=len(tokens))
        )
    return explain.toy(tokens, d_model=d_model, d_k=d_k, causal=causal, seed=seed)


@st.cache_data(show_spinner=False)
def scaling(d_ks: tuple[int, ...], n_keys: int) -> dict:
    from core.transformer import explain

    return explain.scaling_demo(list(d_ks), n_keys=n_keys)


def layer_report(text: str, layer: int):
    from core.transformer.bert_layer import recompute_layer

    shared = minilm()
    cleaned = _checked(text)
    with shared.lock, inference_gate():
        return recompute_layer(shared.model, shared.tokenizer, cleaned, layer)


@st.cache_data(show_spinner=False)
def torch_checks() -> dict[str, dict[str, float]]:
    from core.transformer import checks

    return {
        N_("scaled dot-product attention vs torch SDPA"): checks.attention_vs_torch(),
        N_("multi-head attention vs torch.nn.MultiheadAttention"): checks.multihead_vs_torch(),
        N_("layers vs torch.nn.TransformerEncoderLayer / DecoderLayer"): checks.layers_vs_torch(),
    }


def checked() -> dict[str, dict[str, float]]:
    """``torch_checks``, with a spinner in the session's language while they first run."""
    with st.spinner(_("Checking our code against PyTorch…")):
        return torch_checks()


def source_of(name: str) -> str:
    """The source of one of our Transformer functions, shown on the page so text and code cannot drift."""
    from core.transformer import attention, layers, multihead, positional

    objects = {
        "scaled_dot_product_attention": attention.scaled_dot_product_attention,
        "MultiHeadAttention.forward": multihead.MultiHeadAttention.forward,
        "EncoderLayer.forward": layers.EncoderLayer.forward,
        "DecoderLayer.forward": layers.DecoderLayer.forward,
        "sinusoidal": positional.sinusoidal,
        "rope_rotate": positional.rope_rotate,
    }
    return inspect.getsource(objects[name])


def verification_table(results: dict[str, dict[str, float]], tolerance: float = 1e-5):
    import pandas as pd

    largest = _("max |ours − reference|")
    rows = [
        {_("check"): _(group), _("case"): case, largest: diff, _("within 1e-5"): diff <= tolerance}
        for group, cases in results.items()
        for case, diff in cases.items()
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        column_config={largest: st.column_config.NumberColumn(format="%.2e")},
        key=f"verify-{abs(hash(tuple(results))) % 10_000}",
    )


def learned_positions(n_positions: int):
    from core.transformer.bert_layer import learned_positions as read

    return read(minilm().model, n_positions)


def walkthrough(source: str, target: str, d_model: int, n_heads: int, n_pad: int, seed: int):
    from core.transformer import walkthrough as walk

    source_words, target_words = _checked(source).split(), _checked(target).split()
    if len(source_words) + n_pad > 24 or len(target_words) > 24:
        raise CoreError(_("Keep the toy sentences to 24 tokens or fewer each, padding included."))
    return walk.run(source_words, target_words, d_model=d_model, n_heads=n_heads, n_pad=n_pad, seed=seed)
