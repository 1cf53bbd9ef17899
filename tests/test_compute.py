"""Challenges → Compute: the counts against torch's own FLOP counter and a real optimizer, the live measurement,
the runs trained here, and the page in both languages."""

from __future__ import annotations

import pytest
import torch

from core import catalog, compute
from core.errors import CoreError

from conftest import open_page


def _gpt2(layers=2, width=64, vocab=500, context=32):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=layers, n_embd=width, n_head=4, vocab_size=vocab, n_positions=context,
                        bos_token_id=0, eos_token_id=0)  # fmt: skip
    config._attn_implementation = "eager"  # attention as two matrix products the FLOP counter sees
    return GPT2LMHeadModel(config).eval()


def test_the_hand_count_of_a_gpt2_is_the_real_model_and_gpt2_small_is_124_million():
    model = _gpt2()
    assert compute.shape_from_size(2, 64, 500, 32).parameters == sum(p.numel() for p in model.parameters())
    assert compute.shape_from_size(12, 768, 50_257, 1024).parameters == 124_439_808  # GPT-2 small, as published
    with pytest.raises(CoreError):
        compute.shape_from_size(0, 64, 500, 32)


def test_flops_per_token_match_torch_flop_counter_on_a_real_forward_pass():
    from torch.utils.flop_counter import FlopCounterMode

    model, tokens = _gpt2(), 32
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randint(0, 500, (1, tokens)))
    counted = counter.get_total_flops() / tokens
    shape = compute.shape_from_size(2, 64, 500, 32)
    ours = compute.flops_per_token(shape, tokens)
    # the counter sees matrix products only: ours also counts 2 FLOPs per bias and layer-norm weight (13 d + 2 d)
    biases_and_norms = 2 * (2 * 13 * 64 + 2 * 64)
    assert ours["forward"] - biases_and_norms == counted
    assert ours["training"] == 3 * ours["forward"]


def test_adamw_keeps_16_bytes_per_weight_as_the_memory_table_says():
    model = _gpt2()
    n = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters())
    model.train()
    loss = model(torch.randint(0, 500, (2, 16)), labels=torch.randint(0, 500, (2, 16))).loss
    loss.backward()
    optimizer.step()
    states = sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values() if t.dim())
    gradients = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters())
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    table = compute.memory(compute.shape_from_size(2, 64, 500, 32), batch=2, context=16)
    assert weights == table["fp32"]["weights (serving)"] == 4 * n
    assert weights + gradients + states == n * compute.ADAM_BYTES  # fp32: 4 + 4 + 8 bytes, no master copy
    fp32 = table["fp32"]
    assert (fp32["training: weights"], fp32["training: gradients"], fp32["training: AdamW moments"]) == (
        weights, gradients, states)  # each part as PyTorch keeps it
    bf16 = [table["bf16"][f"training: {part}"] for part in ("weights", "gradients", "AdamW moments")]
    assert bf16 == [4 * n, 4 * n, 8 * n]  # torch.autocast (Trainer's bf16=True): fp32 weights and gradients
    assert table["bf16"]["training: activations"] == table["fp32"]["training: activations"] / 2  # only these shrink
    assert "training: activations" not in table["int8"]


def test_the_memory_chart_never_stacks_the_serving_weights_on_the_training_bar():
    from core.viz.compute import memory_bars

    table = compute.memory(compute.shape_from_size(2, 64, 500, 32), batch=2, context=16)
    figure = memory_bars(table, {}, uses=("serve", "train"))
    totals: dict[str, float] = {}
    for trace in figure.data:
        for x, y in zip(trace.x, trace.y, strict=True):
            totals[x] = totals.get(x, 0) + y
    n = table["fp32"]["weights (serving)"] / 4
    assert totals["fp32 · serve"] == 4 * n / 1e9 and totals["int8 · serve"] == n / 1e9
    assert abs(totals["fp32 · train"] - (16 * n + table["fp32"]["training: activations"]) / 1e9) < 1e-12
    assert "int8 · train" not in totals


def test_a_catalog_model_is_counted_from_its_config_without_reading_its_weights():
    shape = compute.shape_of(catalog.MINILM)
    assert (shape.layers, shape.d_model, shape.heads) == (6, 384, 12)
    assert shape.parameters == 22_713_216  # all-MiniLM-L6-v2 with its pooler, as the loaded model counts it
    assert shape.embedding == (30_522 + 512 + 2) * 384


def test_the_measured_throughput_is_a_real_matrix_product_and_caps_its_size():
    found = compute.measure_matmul("cpu", "fp32", 256, repeats=3)
    assert found.flops_per_s == pytest.approx(2 * 256**3 / found.seconds) and found.flops_per_s > 1e8
    with pytest.raises(CoreError):
        compute.measure_matmul("cpu", "fp32", compute.MAX_MATMUL * 2)


def test_runs_trained_here_predict_their_time_from_6nd(tiny_model):
    runs = {run.key: run for run in compute.runs_here()}
    run = runs["sentiment-tiny"]
    card = catalog.read_metadata("sentiment-tiny")
    assert run.parameters == card["parameters"] and run.seconds == card["train_seconds"]
    examples = card["data"]["train_size_after_augmentation"]
    assert not run.tokens_exact
    assert run.tokens == examples * card["hyperparameters"]["epochs"] * card["hyperparameters"]["max_length"]
    per_token = compute.flops_per_token(compute.shape_of(catalog.get_spec("sentiment-tiny")),
                                        card["hyperparameters"]["max_length"])["training"]  # fmt: skip
    assert run.training_flops_per_token == per_token
    assert run.predicted_seconds(1e9) == pytest.approx(per_token * run.tokens / 1e9)


def test_gpt3s_training_compute_is_the_papers_and_costs_add_up():
    assert compute.training_flops(175e9, 300e9) == pytest.approx(3.14e23, rel=0.01)
    found = compute.cost(3.6e15, 1e12, 1000, 500)  # an hour at 1 kW on a 500 g/kWh grid
    assert found == pytest.approx({"seconds": 3600, "kwh": 1.0, "co2_kg": 0.5})


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_counts_measures_and_extrapolates_in_both_languages(tiny_model, clear_streamlit_caches, lang):
    at = open_page("pages/compute.py", lang=lang)
    assert at.metric[0].value.endswith(" M")
    at.radio(key="compute-mode").set_value("size").run()
    assert at.metric[0].value == "124.44 M"  # the default size is GPT-2 small
    import json

    flops = next(frame for frame in at.dataframe if len(frame.value) == 5)  # the parts of a token's FLOPs
    counted = compute.flops_per_token(compute.shape_from_size(12, 768, 50257, 1024), 1024)
    cells = flops.value.iloc[:, 1].tolist()  # "170 M", written as the parameter counts above them, not 1.699e+8
    assert all(cell.endswith(" M") for cell in cells), cells
    assert all(abs(float(cell[:-2]) * 1e6 / value - 1) < 0.005 for cell, value in zip(cells, counted.values(), strict=True))
    memory = next(frame.value for frame in at.dataframe if len(frame.value) == 4)  # fp32, bf16, fp16, int8
    assert not memory.isna().to_numpy().any() and "–" in memory.to_string(), "fp16 and int8 serve only: a dash"
    units = {cell.split()[-1] for cell in memory.iloc[:, 1:].to_numpy().ravel() if cell != "–"}
    assert len(units) == 1, units  # one unit for the whole table, not MB beside GB
    at.selectbox(key="compute-size").set_value(512).run()
    at.button(key="compute-measure").click().run()
    assert not at.exception
    assert any("GFLOP/s" in metric.value for metric in at.metric)
    assert len(at.dataframe) >= 4  # FLOPs, memory, runs here, the article's models

    runs = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if len(json.loads(c.proto.spec)["data"]) == 2 and json.loads(c.proto.spec)["data"][1].get("customdata"))
    assert runs["data"][1]["mode"] == "markers" and "sentiment-tiny" in runs["data"][1]["customdata"]  # names on hover
    here = next(frame.value for frame in at.dataframe if "sentiment-tiny" in frame.value.iloc[:, 0].tolist())
    measured, ratio = here.iloc[:, 5], here.iloc[:, 7]  # seconds to a tenth, the ratio to 3 significant figures
    assert (measured == measured.round(1)).all() and all(float(f"{r:.3g}") == r for r in ratio)
    assert "GPT-3" in at.dataframe[-1].value.iloc[:, 0].tolist()


@pytest.mark.parametrize("typed", [(2, 64, 500, 32), (3, 130, 1000, 64)])
def test_the_pages_code_counts_the_size_typed(typed):
    import contextlib
    import io
    import re

    code = compute.snippet(None, 64, typed)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, {})  # noqa: S102 - our own snippet
    counted = int(re.search(r"([0-9,]+) parameters", printed.getvalue()).group(1).replace(",", ""))
    assert counted == compute.shape_from_size(*typed).parameters
    minilm = compute.snippet(catalog.MINILM, 64)
    assert "AutoModel.from_config" in minilm and "<model folder>" not in minilm


def test_a_hub_model_whose_config_is_cached_is_counted_offline(monkeypatch, tmp_path, clear_streamlit_caches):
    """Offline, a Hub model is counted when an earlier run with internet left its config.json in the Hugging Face
    cache (written here in the cache's own layout); without it, it is not offered."""
    from huggingface_hub import constants
    from transformers import DistilBertConfig

    from core.hub_specs import SST2_DISTILBERT

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert not compute.countable(SST2_DISTILBERT)  # offline, nothing cached: not offered
    repo = tmp_path / ("models--" + SST2_DISTILBERT.location.replace("/", "--"))
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    DistilBertConfig().to_json_file(str(repo / "snapshots" / commit / "config.json"))
    assert compute.countable(SST2_DISTILBERT)
    shape = compute.shape_of(SST2_DISTILBERT)
    assert (shape.layers, shape.d_model, shape.heads) == (6, 768, 12)
    assert shape.parameters == 66_362_880  # DistilBERT-base without a head, as its model card counts it
    # T5-small: both stacks counted, its relative positions at the 512 tokens it was pretrained on, and its output
    # layer counted, as every summarizer's (it scores the vocabulary at every step)
    from transformers import T5Config

    from core.hub_specs import T5_SMALL

    repo = tmp_path / ("models--" + T5_SMALL.location.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    T5Config().to_json_file(str(repo / "snapshots" / commit / "config.json"))
    t5 = compute.shape_of(T5_SMALL)
    assert (t5.layers, t5.context, t5.parameters) == (12, 512, 60_506_624) and t5.predicts_tokens
    at = open_page("pages/compute.py")
    at.selectbox(key="compute-model").set_value(SST2_DISTILBERT.key).run()
    assert not at.exception and not at.error
    assert at.metric[0].value == "66.36 M"
    assert any(SST2_DISTILBERT.location in code.value for code in at.code)  # the page's code reads the same config
