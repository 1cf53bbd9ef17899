"""Challenges → Compute glue: counts for a model or a typed size, the live throughput measurement, the runs
trained here against 6 N D, and the article's models extrapolated to this machine."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog, compute
from core.errors import CoreError
from core.viz import compute as figures
from ui import i18n, render, safe
from ui.i18n import N_, _

PARTS = {"weights (serving)": N_("weights (serving)"),
         "training: weights": N_("training: weights"),
         "training: gradients": N_("training: gradients"), "training: AdamW moments": N_("training: AdamW moments"),
         "training: activations": N_("training: activations")}  # fmt: skip
SIZES = (512, 1024, 2048)
MEASURED_FOR_S = 300  # a measurement is shared for five minutes
GRID_G_PER_KWH = 500  # a round default for the grid's carbon intensity; the page says to edit it


@st.cache_resource(max_entries=4096, show_spinner=False)  # a count is a few hundred bytes; a class trains many models
def _shape(key: str, fingerprint: str) -> compute.Shape:  # the fingerprint: a retrained model is counted again
    return compute.shape_of(catalog.get_spec(key))


def candidates() -> list[catalog.ModelSpec]:
    """Every model whose config can be read now: with weights on this machine (packaged, or trained here and
    finished), and the Hub's when online or when their config is in the Hugging Face cache."""
    return [spec for spec in catalog.all_specs() if compute.countable(spec)]


def pick_shape() -> compute.Shape | None:
    """A model LM Lab has, or a GPT-style size the user types."""
    modes = {"model": _("a model LM Lab has"), "size": _("a size you type")}  # translated now, not when asked
    mode = st.radio(_("Count"), list(modes), horizontal=True, key="compute-mode", format_func=modes.get)
    if mode == "model":
        specs = {spec.key: spec for spec in candidates()}
        if not specs:
            st.info(_("No model can be counted here yet: type a size instead."))
            return None
        titles = {k: i18n.title(spec) for k, spec in specs.items()}
        key = st.selectbox(_("Model"), list(specs), key="compute-model", format_func=titles.get)
        if specs[key].source == catalog.HUB:
            st.caption(_("Counted from its config.json alone, a few kilobytes; none of its weights are downloaded.")
                       + " " + (_("Read from the Hub.") if catalog.availability(specs[key]).ready else
                                _("Offline: read from the copy an earlier run with internet left in this machine's "
                                  "Hugging Face cache.")))  # fmt: skip
        try:
            return _shape(key, catalog.weights_sha256(specs[key]))
        except CoreError as error:
            safe.error(error)
            return None
    columns = st.columns(4)
    layers = columns[0].number_input(_("Layers"), 1, 1000, 12, key="compute-layers")
    width = columns[1].number_input(_("Width (d_model)"), 1, 100_000, 768, key="compute-width")
    vocab = columns[2].number_input(_("Vocabulary"), 1, 10_000_000, 50_257, key="compute-vocab")
    context = columns[3].number_input(_("Context (tokens)"), 1, 10_000_000, 1024, key="compute-context")
    st.caption(_("Counted as a GPT-2-style decoder: per block 12 d² + 13 d weights (attention, a 4 d feed-forward "
                 "layer, two layer norms), token and position tables, the output matrix tied to the token table. "
                 "12 layers × 768 with 50,257 tokens and 1,024 positions is GPT-2 small: 124 M. Heads: one per 64 "
                 "dimensions."))  # fmt: skip
    try:
        return compute.shape_from_size(int(layers), int(width), int(vocab), int(context))
    except CoreError as error:
        safe.error(error)
        return None


def _gb(value: float, largest: float | None = None) -> str:
    """Bytes in GB, or in MB where they (or, given ``largest``, the largest number of the same table) stay under
    100 MB: one unit for a whole table."""
    return f"{value / 1e9:.3g} GB" if (value if largest is None else largest) >= 1e8 else f"{value / 1e6:.3g} MB"


def _si(value: float) -> str:
    """A count to 3 significant figures with its k / M / G / T / P prefix, as the parameter counts are written
    (26.3 M, 1.02 k, 0): a table's parts span a millionfold (an output layer of a tiny model, GPT-3's training)."""
    if value == 0:
        return "0"
    for power, prefix in ((15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k")):
        if abs(value) >= 10**power * 0.9995:  # 999.7 reads 1 k, not 1e+03
            return f"{value / 10**power:.3g} {prefix}"
    return f"{value:.3g}"


def show_counts(shape: compute.Shape) -> None:
    total, embedding = shape.parameters, shape.embedding
    first, second, third = st.columns(3)
    first.metric(_("Parameters"), i18n.number(total / 1e6, 2) + " M")
    second.metric(_("of which token and position tables"), i18n.number(embedding / 1e6, 2) + " M")
    third.metric(_("in the blocks (N in 6 N D)"), i18n.number(shape.non_embedding / 1e6, 2) + " M")
    left, right = st.columns(2)
    context = left.number_input(_("Tokens in the context"), 1, max(1, shape.context), max(1, shape.context),
                                key=f"compute-ctx-{shape.name}")  # fmt: skip
    batch = right.number_input(_("Batch (sequences) while training"), 1, 4096, 8, key="compute-batch")
    flops = compute.flops_per_token(shape, int(context))
    names = {"weights": _("weights of the blocks (2 per weight)"), "output layer": _("output layer (2 · vocabulary · d)"),
             "attention": _("attention scores and sums (4 · layers · context · d)"),
             "forward": _("forward pass, per token"), "training": _("training, per token (≈ 3 forward passes)")}  # fmt: skip
    safe.table(pd.DataFrame({_("part"): [names[k] for k in flops], _("FLOPs per token"): [_si(v) for v in flops.values()]}),
               hide_index=True)  # fmt: skip
    rows = compute.memory(shape, batch=int(batch), context=int(context))
    every = list(dict.fromkeys(part for parts in rows.values() for part in parts))  # fp16 and int8 only serve: "–"
    largest = max(value for parts in rows.values() for value in parts.values())
    table = pd.DataFrame([{_("numeric precision"): p,
                           **{_(PARTS[k]): _gb(parts[k], largest) if k in parts else "–" for k in every}}
                          for p, parts in rows.items()])  # fmt: skip
    safe.table(table, hide_index=True)
    render.figure(figures.memory_bars(rows, PARTS, uses=(_("serving"), _("training"))), key="compute-memory")
    st.caption(_("Serving needs the weights (plus activations and, while generating, a key–value cache that grows "
                 "with the context); training with AdamW needs 16 bytes per weight "
                 "(4 for the weight, 4 for its gradient, 8 for two fp32 moments; with bf16 as torch.autocast and HF "
                 "Trainer's bf16=True do it, weights and gradients stay fp32 and only the activations shrink, while "
                 "DeepSpeed/Megatron-style mixed precision keeps 2 + 2 bytes and a 4-byte fp32 master copy: 16 too) plus "
                 "the activations kept for the backward pass: context · batch · d · (34 + 5 · heads · context / d) "
                 "bytes per layer in 16-bit (Korthikanti et al. 2022), about twice that in fp32. int8 is for serving only."))  # fmt: skip


@st.cache_data(ttl=MEASURED_FOR_S, max_entries=16, show_spinner=False)
def _measured(device: str, precisions: tuple[str, ...], size: int) -> list[compute.Throughput]:
    """One measurement per setting for the whole class for a few minutes: forty students pressing the button at
    once multiply the matrices once, and the inference queue is not held forty times."""
    from core.tasks.inputs import inference_gate

    with inference_gate():
        return [compute.measure_matmul(device, precision, size) for precision in precisions]


def measure_panel() -> compute.Throughput | None:
    """The button that measures this machine's matrix throughput (kept for this session)."""
    from core.device import native_bf16, native_cpu_bf16, pick_device

    device = pick_device()
    size = st.selectbox(_("Matrix size"), SIZES, index=1, key="compute-size",
                        help=_("Two random square matrices multiplied: 2 · size³ FLOPs, the median of five after a "
                               "warm-up. At most {most} rows; the measurement waits for a free inference slot, and "
                               "the class shares it for {minutes} minutes.", most=compute.MAX_MATMUL,
                               minutes=MEASURED_FOR_S // 60))  # fmt: skip
    bf16 = (device == "cuda" and native_bf16()) or (device == "cpu" and native_cpu_bf16())
    precisions = ["fp32", "bf16"] if bf16 else ["fp32"]  # bf16 beside fp32 where this machine computes it in hardware
    if st.button(_("Measure this machine"), key="compute-measure", type="primary"):
        with st.spinner(render.queue_note(_("Multiplying matrices…"))):
            st.session_state["compute-throughput"] = _measured(device, tuple(precisions), int(size))
    measured = st.session_state.get("compute-throughput")
    if not measured:
        st.info(_("Press the button: the page predicts nothing until it has measured this machine."))
        return None
    columns = st.columns(len(measured))
    for column, one in zip(columns, measured, strict=True):
        column.metric(_("{device}, {precision}, {size} × {size}", device=one.device, precision=one.precision,
                        size=one.size), i18n.number(one.flops_per_s / 1e9, 1) + " GFLOP/s")  # fmt: skip
    return measured[0]


def show_runs(throughput: compute.Throughput) -> None:
    runs = compute.runs_here(lambda spec: _shape(spec.key, catalog.weights_sha256(spec)))
    if not runs:
        st.info(_("No model trained here yet: train one (Train page or python -m core.train) and come back."))
        return
    rate = throughput.flops_per_s
    frame = pd.DataFrame([{_("model"): run.key, _("parameters (M)"): round(run.parameters / 1e6, 3),
                           _("tokens trained"): ("" if run.tokens_exact else "≤ ") + i18n.number(run.tokens),
                           _("device"): run.device, _("numeric precision"): run.precision,
                           _("measured (s)"): round(run.seconds, 1),
                           _("its counted FLOPs at this throughput (s)"): float(f"{run.predicted_seconds(rate):.3g}"),
                           _("measured ÷ predicted"): float(f"{run.seconds / run.predicted_seconds(rate):.3g}")}
                          for run in runs])  # fmt: skip
    safe.table(frame, hide_index=True)
    render.figure(figures.predicted_vs_measured([r.key for r in runs], [r.predicted_seconds(rate) for r in runs],
                                                [r.seconds for r in runs]), key="compute-runs")  # fmt: skip
    st.caption(_("The prediction is the run's FLOPs (3 forward passes per token, counted as above at its training "
                 "length, and the layers' once more for a run with activation checkpointing) at the throughput just "
                 "measured. A ratio above 1 is everything else a step does (tokenizing, "
                 "padding, hundreds of small operations, evaluation) and matrices too small to reach that rate; below "
                 "1, the token count was an upper bound (\"≤\": examples × epochs × the length batches are padded to "
                 "at most; the language models count their tokens exactly). Runs made on another device are compared "
                 "with this machine's throughput all the same, and so are runs trained in bf16 mixed precision (the "
                 "precision column): their matrix products ran at bf16's rate, which the measurement above shows "
                 "beside fp32's where this machine computes bf16 in hardware, so their ratio usually comes out "
                 "lower."))  # fmt: skip


def show_extrapolation(throughput: compute.Throughput) -> None:
    left, middle, right = st.columns(3)
    watts = left.number_input(_("Power while training (W)"), 0.0, 1e7, 700.0 if throughput.device == "cuda" else 100.0,
                              key="compute-watts", help=_("An assumption: edit it for your machine."))  # fmt: skip
    grid = middle.number_input(_("Grid carbon intensity (g CO₂/kWh)"), 0.0, 2000.0, float(GRID_G_PER_KWH),
                               key="compute-grid", help=_("A round default: edit it for your grid."))  # fmt: skip
    gpt2_tokens = right.number_input(_("GPT-2's training tokens (billions; not published)"), 0.1, 1e4, 30.0,
                                     key="compute-gpt2", help=_("OpenAI did not publish it; 30 B is 20 tokens per "
                                                                "parameter (Hoffmann et al. 2022), an assumption."))  # fmt: skip
    rows, names, days = [], [], []
    for famous in compute.FAMOUS:
        tokens = famous.tokens if famous.tokens is not None else gpt2_tokens * 1e9
        flops = compute.training_flops(famous.parameters, tokens)
        found = compute.cost(flops, throughput.flops_per_s, watts, grid)
        rows.append({_("model"): famous.name, _("parameters"): i18n.number(famous.parameters), _("tokens"): f"{tokens:.3g}",
                     _("training FLOPs (6 N D)"): f"{flops:.3g}", _("days here"): found["seconds"] / 86400,
                     _("energy (kWh)"): found["kwh"], _("CO₂ (t)"): found["co2_kg"] / 1000, _("source"): _(famous.source)})  # fmt: skip
        names.append(famous.name)
        days.append(found["seconds"] / 86400)
    safe.table(pd.DataFrame(rows), hide_index=True)
    render.figure(figures.training_days(names, days), key="compute-days")
    st.caption(_("Here N is every parameter, embeddings included, as the papers count their models (for BERT-base "
                 "about a fifth of its 110 M is the embedding tables, so the blocks-only N of the calculator above "
                 "would be smaller). 6 N D for GPT-3 gives {ours:.3g} FLOPs; the paper reports 3.14e23. Real runs are "
                 "spread over many accelerators (BERT-base: 16 TPU chips for 4 days, BERT-large: 64; GPT-3: a V100 "
                 "cluster whose size the paper does not give): divide the days by the number of devices and by how "
                 "many times this machine's throughput each of them sustains.", ours=compute.training_flops(175e9, 300e9)))  # fmt: skip


def code() -> None:
    """Copyable code that counts the chosen model (or GPT-2 small) and measures the matrix throughput."""
    with st.expander(_("Code: count and measure it yourself")):
        chosen = st.session_state.get("compute-model") if st.session_state.get("compute-mode") == "model" else None
        spec = catalog.get_spec(chosen) if chosen else None
        typed = tuple(int(st.session_state.get(f"compute-{name}", default)) for name, default in
                      (("layers", 12), ("width", 768), ("vocab", 50_257), ("context", 1024)))  # fmt: skip
        st.code(compute.snippet(spec, int(st.session_state.get("compute-size", 1024)), typed), language="python")
