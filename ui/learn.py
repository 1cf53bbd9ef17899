"""Learn section glue: the shared MiniLM encoder (eager attention) and cached computations."""

from __future__ import annotations

import inspect
from pathlib import Path

import streamlit as st

from core import catalog
from core.errors import CoreError
from core.tasks.inputs import inference_gate
from ui import i18n, safe
from ui.i18n import N_, _

# what core names, marked for the message catalog and translated where it is shown
CORE_WORDS = (
    N_("entropy (nats)"), N_("mean distance (tokens)"), N_("share to [CLS]"), N_("share to [SEP]"),
    N_("share to punctuation"), N_("share to itself"), N_("encoder input"), N_("encoder self-attention weights"),
    N_("after attention + residual + norm"), N_("encoder output"), N_("decoder input (shifted target)"),
    N_("decoder self-attention weights (causal)"), N_("encoder output (memory)"), N_("cross-attention weights"),
    N_("decoder output"),
)  # fmt: skip


# The encoders the Learn pages open: the packaged MiniLM, and the small Chinese BERT pretrained here, each with an
# example sentence of its language per page (self-attention, multi-head).
ENCODERS = {
    "minilm-l6": (N_("MiniLM (English)"), {"attn": "The animal didn't cross the street because it was too tired.",
                                       "mha": "The keys to the cabinet are on the table."}),
    "zh-bert-mlm": (N_("Chinese BERT pretrained here (中文)"), {"attn": "这只动物没有过马路，因为它太累了。",
                                                              "mha": "柜子的钥匙在桌子上。"}),
}  # fmt: skip


def minilm(spec=None):
    """An encoder with eager attention (SDPA returns no weights), shared with the Inspect page: the same loaded
    model, and its lock, so the tokenizer is never used by two sessions at once. MiniLM unless ``spec`` says."""
    from ui.inspect import attention_model

    return attention_model(spec or catalog.MINILM)


def encoders() -> list:
    """The encoders the Learn pages offer (MiniLM, the Chinese BERT)."""
    return [catalog.get_spec(key) for key in ENCODERS]


def encoder_choice(prefix: str, text_key: str, *, fallback: str):
    """Which encoder the page opens (MiniLM, or the Chinese BERT once trained: choosing it starts its training
    job, shared by the class); None while the chosen one trains. A new choice puts its example
    sentence in the box."""
    from ui import jobs, scenario

    key = f"{prefix}-encoder"
    if st.session_state.get(key) not in ENCODERS:
        st.session_state[key] = "minilm-l6"
    if text_key not in st.session_state:
        st.session_state[text_key] = ENCODERS[st.session_state[key]][1][prefix]
    chosen = st.segmented_control(_("Model"), list(ENCODERS), key=key, required=True,
                                  format_func=lambda k: _(ENCODERS[k][0]), on_change=_encoder_changed,
                                  args=(key, prefix, text_key),
                                  help=_("The packaged English MiniLM (6 layers, 12 heads), or the 2-layer, 4-head "
                                         "Chinese BERT LM Lab pretrains on People's Daily and reviews, one token per "
                                         "Chinese character."))  # fmt: skip
    spec = catalog.get_spec(chosen)
    if catalog.availability(spec).ready:
        return spec
    # A Learn page never starts a training job: pretraining takes about 1 GB and holds the class's job slot, so it
    # is the teacher's (or the Sentiment page's, for its pretrained Chinese model) to start. Its progress shows here.
    st.info(_("The Chinese BERT is not trained on this server yet. The teacher can train it (a few minutes on two CPU cores): "
              "`python -m core.train --model zh-bert-mlm` — or it is trained with the Sentiment page's Chinese model "
              "that starts from it ('Chinese BERT pretrained here, fine-tuned on reviews'). Meanwhile, try {fallback}.", fallback=_(fallback)), icon=":material/hourglass_top:")  # fmt: skip
    jobs.panel(scenario.job_key(spec), title=i18n.title(spec))
    return None


def _encoder_changed(key: str, prefix: str, text_key: str) -> None:
    chosen = st.session_state.get(key)
    if chosen in ENCODERS:
        st.session_state[text_key] = ENCODERS[chosen][1][prefix]


def pick(where, label: str, count: int, key: str, default: int = 0) -> int:
    """A layer or head number from a slider in ``where``, whose value is set before it is drawn (so it takes no
    default of its own): ``default`` at first, then kept inside a smaller model's range (MiniLM has 6 layers, the
    Chinese BERT 2). A model with only one just says so."""
    if count <= 1:
        where.caption(_("{label}: 0 (the only one)", label=label))
        return 0
    if not isinstance(st.session_state.get(key), int):
        st.session_state[key] = min(default, count - 1)
    elif st.session_state[key] > count - 1:
        st.session_state[key] = count - 1
    return where.slider(label, 0, count - 1, key=key)


def shape(spec) -> tuple[int, int, int]:
    """(layers, heads, width) of an encoder the Learn pages open, from its config.json (a damaged model folder is a
    CoreError)."""
    from core.transformer import bert_weights

    try:
        found = bert_weights.read_shape(_folder(spec))
    except (OSError, ValueError) as error:
        raise CoreError(_("{model} could not be loaded: {error}", model=spec.key, error=str(error))) from None
    return found.layers, found.heads, found.width


def _checked(text: str, max_chars: int = 500) -> str:
    from core.tasks.inputs import check_text

    return check_text(text, max_chars=max_chars)


def head_steps(text: str, layer: int, head: int, causal: bool, spec=None):
    """One head's stages, computed by LM Lab's own code from the model's verified folder (no transformers: on a
    fresh server the page need not wait for it to load); kept per model version, text and choice, so a rerun that
    changes nothing of them (another widget) computes nothing."""
    spec = spec or catalog.MINILM
    cleaned = _checked(text)
    name = "MiniLM" if spec.key == catalog.MINILM.key else spec.key
    return _head_steps(spec.key, catalog.weights_sha256(spec), str(_folder(spec)), cleaned, layer, head, causal, name)


@st.cache_data(show_spinner=False, max_entries=64)
def _head_steps(key: str, fingerprint: str, folder: str, cleaned: str, layer: int, head: int, causal: bool,
                name: str):  # fmt: skip
    from core.transformer import explain

    with inference_gate():
        return explain.encoder_head(Path(folder), cleaned, layer, head, causal, name=name)


def _folder(spec):
    """The verified folder of an encoder the Learn pages open (a missing or damaged one is a CoreError)."""
    from core import loading

    try:
        return loading.local_dir(spec)
    except OSError as error:
        raise CoreError(_("{model} could not be loaded: {error}", model=spec.key, error=str(error))) from None


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


def layer_report(text: str, layer: int, spec=None):
    """One layer's heads, recomputed by LM Lab's own code from the model's verified folder (no transformers); kept
    per model version, text and layer."""
    spec = spec or catalog.MINILM
    return _layer_report(spec.key, catalog.weights_sha256(spec), str(_folder(spec)), _checked(text), layer)


@st.cache_data(show_spinner=False, max_entries=64)
def _layer_report(key: str, fingerprint: str, folder: str, cleaned: str, layer: int):
    from core.transformer.bert_layer import layer_from_files

    with inference_gate():
        return layer_from_files(Path(folder), cleaned, layer)


def layer_check(report, text: str, spec=None):
    """The same layer by Hugging Face (the shared model, loaded once per process), compared with ``report``; kept
    per model version, text and layer."""
    spec = spec or catalog.MINILM
    cleaned = _checked(text)
    return _layer_check(spec.key, catalog.weights_sha256(spec), cleaned, report.layer, report, minilm(spec))


@st.cache_data(show_spinner=False, max_entries=64)
def _layer_check(key: str, fingerprint: str, cleaned: str, layer: int, _report, _shared):
    from core.transformer.bert_layer import against_transformers

    with _shared.lock, inference_gate():
        return against_transformers(_report, _shared.model, _shared.tokenizer, cleaned)


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
    from core.transformer import attention, bert_weights, layers, multihead, positional

    objects = {
        "scaled_dot_product_attention": attention.scaled_dot_product_attention,
        "MultiHeadAttention.forward": multihead.MultiHeadAttention.forward,
        "EncoderLayer.forward": layers.EncoderLayer.forward,
        "DecoderLayer.forward": layers.DecoderLayer.forward,
        "sinusoidal": positional.sinusoidal,
        "rope_rotate": positional.rope_rotate,
        "bert_weights.encoder_layer": bert_weights.encoder_layer,
        "rope_heads": positional.rope_heads,
    }
    return inspect.getsource(objects[name])


def verification_table(results: dict[str, dict[str, float]], tolerance: float = 1e-5):
    import pandas as pd

    largest = _("max |ours − reference|")
    rows = [
        {_("check"): _(group), _("case"): _(case), largest: diff, _("within 1e-5"): diff <= tolerance}
        for group, cases in results.items()
        for case, diff in cases.items()
    ]
    safe.table(
        pd.DataFrame(rows),
        hide_index=True,
        column_config={largest: st.column_config.NumberColumn(format="%.2e")},
        key=f"verify-{abs(hash(tuple(results))) % 10_000}",
    )


def learned_positions(n_positions: int):
    """MiniLM's learned position table (first rows), read from its weight file.  # (N, d)"""
    from core.transformer import bert_weights

    return bert_weights.positions(_folder(catalog.MINILM), n_positions).numpy().astype(float)


def walkthrough(source: str, target: str, d_model: int, n_heads: int, n_pad: int, seed: int):
    source_words, target_words = _checked(source).split(), _checked(target).split()
    if len(source_words) + n_pad > 24 or len(target_words) > 24:
        raise CoreError(_("Keep the toy sentences to 24 tokens or fewer each, padding included."))
    return _walkthrough(tuple(source_words), tuple(target_words), d_model, n_heads, n_pad, seed)


@st.cache_data(show_spinner=False, max_entries=64)
def _walkthrough(source: tuple, target: tuple, d_model: int, n_heads: int, n_pad: int, seed: int):
    """Computed once for every session that asks the same (the class's default sentences): its many small torch
    operations each wait for the GIL on a busy server."""
    from core.transformer import walkthrough as walk

    return walk.run(list(source), list(target), d_model=d_model, n_heads=n_heads, n_pad=n_pad, seed=seed)
