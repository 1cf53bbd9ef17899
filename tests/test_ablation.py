"""Inspect → Ablate: heads and MLPs switched off with hooks on the real model; the hooks leave nothing behind;
a sweep ranks every head with paired CIs; the page's code prints the page's numbers."""

from __future__ import annotations

import contextlib
import io
import json
import re

import numpy as np
import pytest

from conftest import open_page


def _tiny_gpt():
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=40, n_positions=32, n_embd=16, n_layer=2, n_head=4)).eval()


def _logits(model, ids):
    import torch

    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


def test_every_head_off_means_no_token_sees_another_and_the_hooks_leave_nothing_behind():
    from core.tasks.ablation import ablated

    model = _tiny_gpt()
    first, second = [1, 2, 3, 4, 5], [9, 2, 3, 4, 5]
    original = _logits(model, first)
    every_head = [(layer, head) for layer in range(2) for head in range(4)]
    with ablated(model, every_head):
        alone_a, alone_b = _logits(model, first), _logits(model, second)
        assert np.allclose(alone_a[1:], alone_b[1:], atol=1e-6), "no attention: a token's output ignores the others"
        assert not np.allclose(alone_a, original)
    with ablated(model, [(0, 1)], mlps=[1]):
        assert not np.allclose(_logits(model, first), original)
    assert np.array_equal(_logits(model, first), original), "the model is exactly itself again"
    with ablated(model):
        assert np.array_equal(_logits(model, first), original), "nothing switched off, nothing changed"


def test_mean_ablation_puts_each_parts_held_out_mean_in_its_place():
    import torch

    from core.errors import CoreError
    from core.tasks.ablation import ablated, mean_outputs

    model = _tiny_gpt()
    every_head = [(layer, head) for layer in range(2) for head in range(4)]
    # averaged over one token, the mean is that token's own output: switching everything to it changes nothing
    alone = mean_outputs(model, [[7]], block=8)
    original = _logits(model, [7])
    with ablated(model, every_head, [0, 1], alone):
        assert np.allclose(_logits(model, [7]), original, atol=1e-6)
    with ablated(model, every_head, [0, 1]):
        assert not np.allclose(_logits(model, [7]), original, atol=1e-3), "zeroing does change it"
    # over several documents, cut into pieces of `block` tokens, up to `most` tokens: W_O's input and the MLP's output
    documents = [[1, 2, 3, 4, 5], [6, 7, 8]]
    means = mean_outputs(model, documents, block=3, most=6)
    seen = {"w_o": [], "mlp": []}
    w_o, mlp = model.transformer.h[1].attn.c_proj, model.transformer.h[1].mlp
    hooks = [w_o.register_forward_pre_hook(lambda _m, inputs: seen["w_o"].append(inputs[0][0])),
             mlp.register_forward_hook(lambda _m, _i, out: seen["mlp"].append(out[0]))]  # fmt: skip
    with torch.no_grad():
        for piece in ([1, 2, 3], [4, 5], [6]):  # 6 tokens: the second document stops after one
            model(torch.tensor([piece]))
    for hook in hooks:
        hook.remove()
    assert means["tokens"] == 6
    assert torch.allclose(means[("heads", 1)], torch.cat(seen["w_o"]).mean(0), atol=1e-6)
    assert torch.allclose(means[("mlp", 1)], torch.cat(seen["mlp"]).mean(0), atol=1e-6)
    # a head switched off by its mean: W_O reads that head's slice of the mean, the other heads untouched
    read, width = [], 16 // 4
    with ablated(model, [(1, 2)], means=means):  # an observer registered after the ablation's hook sees its work
        hook = w_o.register_forward_pre_hook(lambda _m, inputs: read.append(inputs[0][0].clone()))
        _logits(model, [3, 4])
        hook.remove()
    hook = w_o.register_forward_pre_hook(lambda _m, inputs: read.append(inputs[0][0].clone()))
    _logits(model, [3, 4])  # the whole model: the other heads' slices are what W_O read above
    hook.remove()
    assert torch.allclose(read[0][:, 2 * width : 3 * width], means[("heads", 1)][2 * width : 3 * width].expand(2, width))
    assert torch.equal(read[0][:, : 2 * width], read[1][:, : 2 * width])
    assert np.array_equal(_logits(model, [7]), original) and not any(
        h for h in (w_o._forward_pre_hooks, mlp._forward_hooks) if len(h) > 0), "the hooks leave nothing behind"
    with pytest.raises(CoreError, match="No mean was taken"), ablated(model, [(0, 1)], means={"tokens": 1}):
        pass


def test_bad_choices_are_refused_and_a_sweep_stays_within_its_cap():
    from core.errors import CoreError
    from core.tasks.ablation import (
        LM_SWEEP_WORK_BUDGET,
        MIN_SWEEP_BLOCKS,
        SWEEP_BLOCK,
        ablated,
        paired_change,
        sweep_plan,
    )
    from core.tasks.lm_scoring import windows

    model = _tiny_gpt()
    with pytest.raises(CoreError, match="no head 4 in layer 0"), ablated(model, [(0, 4)]):
        pass
    with pytest.raises(CoreError, match="no layer 7"), ablated(model, mlps=[7]):
        pass
    rng = np.random.default_rng(1)
    documents = [list(rng.integers(0, 1000, int(rng.integers(100, 500)))) for _ in range(30)]  # like the Lee articles
    read, cut = sweep_plan(8, 1_000_000, documents)  # a small model reads every document whole
    assert not cut and read == documents
    # GPT-2 small (144 heads, 12 MLPs, 124,439,808 weights): blocks of SWEEP_BLOCK tokens, as many as the cap allows,
    # counted as documents_nll reads them (the whole model once, then each head and each MLP off: 157 passes)
    blocks, cut = sweep_plan(144, 124_439_808, documents, mlps=12)
    tokens = sum(len(w) for block in blocks for w, _first in windows(block, SWEEP_BLOCK))
    assert cut and 7 <= len(blocks) <= 12 and all(len(block) <= SWEEP_BLOCK for block in blocks)
    assert tokens == sum(len(block) for block in blocks)  # a block is one window: read once
    assert 157 * tokens * 124_439_808 <= LM_SWEEP_WORK_BUDGET < 157 * (tokens + SWEEP_BLOCK) * 124_439_808
    cuts = [block for ids in documents for block in (ids[i : i + SWEEP_BLOCK] for i in range(0, len(ids), SWEEP_BLOCK))]
    positions = [next(i for i, c in enumerate(cuts) if c == block) for block in blocks]
    assert positions == sorted(positions) and positions[-1] - positions[0] > len(cuts) / 3  # spread, in order
    with pytest.raises(CoreError, match=f"at least {MIN_SWEEP_BLOCKS} held-out blocks.* 384 heads and 24 MLPs"):
        sweep_plan(384, 355_000_000, documents, mlps=24)  # GPT-2 medium is refused before any scoring
    base = np.array([10.0, 20.0, 30.0])
    counts = np.array([5.0, 5.0, 5.0])
    assert paired_change(base, base, counts) == (0.0, 0.0, 0.0)
    value, low, high = paired_change(base, base + 2.0, counts)
    assert low <= value <= high and value > 0


def test_a_sweep_ranks_the_heads_of_the_chinese_gpt_and_the_code_prints_the_pages_numbers(tiny_zh_gpt):
    from core import catalog
    from core.tasks import ablation, ablation_code
    from core.tasks.generate import LanguageModel

    spec = catalog.get_spec("zh-char-gpt")
    lm = LanguageModel(spec)
    shares = []
    found = ablation.sweep_model(lm, shares.append)
    assert found["delta"].shape == (1, 2) and shares[-1] == pytest.approx(1.0)
    assert (found["low"] <= found["delta"] + 1e-9).all() and (found["delta"] <= found["high"] + 1e-9).all()
    assert 150 <= int(found["documents"]) <= 200  # at most SWEEP_DOCUMENTS, spread over the held-out paragraphs
    assert int(found["available"]) == int(found["documents"]) and not found["blocks"]  # a small model reads every one
    # the MLP's column is the same held-out score with that MLP's output zeroed, computed here by hand
    from core.tasks.lm_scoring import documents_nll

    documents, block = ablation.held_out_ids(lm), min(lm.context, ablation.SWEEP_BLOCK)
    with lm.exclusive() as model:
        base = np.array(documents_nll(model, documents, block))
        with ablation.ablated(model, mlps=[0]):
            off = np.array(documents_nll(model, documents, block))
    expected = np.exp(off[:, 0].sum() / off[:, 1].sum()) - np.exp(base[:, 0].sum() / base[:, 1].sum())
    assert found["mlp_delta"].shape == (1,) and found["mlp_delta"][0] == pytest.approx(expected, rel=1e-6)
    assert found["mlp_low"][0] <= found["mlp_delta"][0] <= found["mlp_high"][0]
    # mean ablation: the same text, each part replaced by its mean over the first MEAN_TOKENS held-out tokens
    averaged = ablation.sweep_model(lm, mean=True)
    assert float(averaged["base"]) == float(found["base"]) and averaged["delta"].shape == found["delta"].shape
    with lm.exclusive() as model:
        means = ablation.mean_outputs(model, documents, block)
        with ablation.ablated(model, mlps=[0], means=means):
            off = np.array(documents_nll(model, documents, block))
    assert int(averaged["mean_tokens"]) == means["tokens"] == min(ablation.MEAN_TOKENS, sum(len(d) for d in documents))
    expected = np.exp(off[:, 0].sum() / off[:, 1].sum()) - np.exp(base[:, 0].sum() / base[:, 1].sum())
    assert averaged["mlp_delta"][0] == pytest.approx(expected, rel=1e-6)
    effect = ablation.effect_on(lm, "国务院今天召开会议", heads=[(0, 1)])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(ablation_code.ablation(spec, "国务院今天召开会议", [(0, 1)], []), {})  # noqa: S102 — the page's own code
    assert printed.getvalue().strip() == f"perplexity {effect.perplexity_before:.1f} -> {effect.perplexity_after:.1f}"


def test_the_ablate_page_switches_a_head_off_and_ranks_them_all(tiny_zh_gpt):
    at = open_page("pages/ablate.py", model="zh-char-gpt")
    at.button(key="ablate-run").click().run()  # nothing chosen: a note, not the whole model shown twice
    assert any(i.value.startswith("Choose at least one head or MLP") for i in at.info) and not at.metric
    at.multiselect(key="ablate-heads-zh-char-gpt").set_value([(0, 0)]).run()
    at.button(key="ablate-run").click().run()
    assert not at.exception and not at.error
    changed = next(m for m in at.metric if m.label.startswith("Perplexity with 1 switched off"))
    assert changed.proto.color != changed.proto.GRAY  # a change is coloured: red for worse, green for better
    at.button(key="ablate-sweep").click().run()
    assert not at.exception and not at.error and len(at.dataframe) == 1
    assert any("held-out documents" in c.value for c in at.caption)
    table = at.dataframe[0].value  # every head and the MLP, costliest first
    assert sorted(table["head or MLP"]) == ["L0 H0", "L0 H1", "L0 MLP"]
    assert list(table["Δ perplexity"]) == sorted(table["Δ perplexity"], reverse=True)
    zeroed = dict(zip(table["head or MLP"], table["Δ perplexity"], strict=True))
    base_caption = next(c.value for c in at.caption if "held-out documents:" in c.value)
    at.segmented_control(key="ablate-sweep-mode").set_value("mean").run()  # a shared run of its own, asked again
    at.button(key="ablate-sweep").click().run()
    assert not at.exception and not at.error and len(at.dataframe) == 1
    assert any(c.value.startswith("Mean ablation: each part's output is replaced by its mean over the first") for c in at.caption)
    table = at.dataframe[0].value
    averaged = dict(zip(table["head or MLP"], table["Δ perplexity"], strict=True))
    assert averaged.keys() == zeroed.keys() and averaged != zeroed
    bases = [c.value for c in at.caption if "held-out documents:" in c.value]
    assert len(bases) == 1 and bases[0] == base_caption, "both modes score the same text: the same base perplexity"
    assert any("dotted diagonal" in c.value and "Δ perplexity" in c.value for c in at.caption)
    drawn = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    points = next(f["data"][1] for f in drawn if len(f["data"]) == 2 and "customdata" in f["data"][1])
    for part, x, y in zip(points["customdata"], points["x"], points["y"], strict=True):  # each part both ways
        assert x == pytest.approx(zeroed[part], abs=0.006) and y == pytest.approx(averaged[part], abs=0.006)


def test_a_large_models_sweep_reads_fewer_documents_and_says_so(tiny_zh_gpt, clear_streamlit_caches, monkeypatch):
    from core import catalog
    from core.tasks import ablation
    from core.tasks.generate import LanguageModel

    lm = LanguageModel(catalog.get_spec("zh-char-gpt"))
    available = ablation.held_out_ids(lm)
    layers, heads = ablation.shape(lm.model)
    weights = sum(p.numel() for p in lm.model.parameters())
    tokens = sum(len(d) - 1 for d in available)
    # a cap a quarter of what the whole held-out set would cost: this small model is treated as a large one
    # (the whole model, each head, each MLP, and the pass mean ablation takes its means in: counted in either mode)
    monkeypatch.setattr(ablation, "LM_SWEEP_WORK_BUDGET", (layers * heads + layers + 2) * weights * tokens / 4)
    at = open_page("pages/ablate.py", model="zh-char-gpt")
    at.button(key="ablate-sweep").click().run()
    assert not at.exception and not at.error
    read = next(c.value for c in at.caption if "the sweep read" in c.value)
    count, block, of = (int(n) for n in re.search(r"read (\d+) blocks of at most (\d+) tokens .* from its (\d+)", read).groups())
    assert of == len(available) and block == min(lm.context, ablation.SWEEP_BLOCK)
    every = sum(-(-len(d) // block) for d in available)  # the blocks cut from every document
    assert tokens / 4 / block <= count < 0.5 * every  # a quarter of the tokens, in blocks of at most 128
    assert len(at.dataframe) == 1 and not any("on 1" in c.value and "held-out documents:" in c.value for c in at.caption)


def test_a_classifier_s_heads_switched_off_by_hook_equal_zeroed_columns_of_w_o(tiny_model):
    import copy

    import torch

    from core import catalog
    from core.tasks import ablation, ablation_classifier
    from core.tasks.base import get_task, own_dataset
    from core.tasks.classify import TransformerClassifier

    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")
    text = "A warm, funny and moving film."
    split, _ = get_task("sentiment").held_out(own_dataset(classifier.spec))
    index = classifier.model.config.label2id
    held_out = ([e.text for e in split.test], [index[e.label] for e in split.test])
    nothing = ablation_classifier.classifier_effect(classifier, text, held_out=held_out)
    assert nothing.before == nothing.after and nothing.held_out["delta"] == 0 == nothing.held_out["low"]
    layers, heads = ablation.shape(classifier.model)
    found = ablation_classifier.classifier_effect(classifier, text, [(layers - 1, 0)], [0], held_out=held_out)
    # the same model with head 0's columns of W_O and MLP 0's output matrix zeroed by hand (biases kept)
    edited = copy.deepcopy(classifier.model)
    width = edited.config.hidden_size // heads
    with torch.no_grad():
        edited.bert.encoder.layer[layers - 1].attention.output.dense.weight[:, :width] = 0
        edited.bert.encoder.layer[0].output.dense.weight.zero_()
        edited.bert.encoder.layer[0].output.dense.bias.zero_()
        batch = classifier.tokenizer(text, return_tensors="pt")
        by_hand = torch.softmax(edited(**batch).logits, dim=-1)[0].tolist()
    assert np.allclose(found.after, by_hand, atol=1e-5) and not np.allclose(found.after, found.before, atol=1e-6)
    again = ablation_classifier.classifier_effect(classifier, text)
    assert again.before == nothing.before  # the hooks are gone: the model is itself again
    assert found.held_out["low"] <= found.held_out["delta"] <= found.held_out["high"]
    assert found.held_out["n"] == len(split.test)


def test_the_ablate_page_switches_a_classifier_s_heads_off(tiny_model):
    from conftest import open_page

    page = open_page("pages/ablate.py")
    page.segmented_control(key="ablate-kind").set_value("classifier").run()
    page.button(key="ablate-classifier-open").click().run()  # nothing loads before this
    page.selectbox(key="ablate-classifier").set_value("sentiment-tiny").run()
    page.multiselect(key="ablate-classifier-heads-sentiment-tiny").set_value([(0, 0), (0, 1)]).run()
    page.button(key="ablate-classifier-run").click().run()
    assert not page.exception and not page.error
    assert list(page.dataframe[-1].value.columns) == ["class", "whole model", "switched off"]
    assert any(m.label == "Held-out accuracy, whole model" for m in page.metric)


def _tiny_held_out(classifier):
    from core.tasks.base import get_task, own_dataset

    split, _ = get_task("sentiment").held_out(own_dataset(classifier.spec))
    index = classifier.model.config.label2id
    return [e.text for e in split.test], [index[e.label] for e in split.test]


def test_a_classifier_sweep_ranks_every_head_and_agrees_with_w_o_zeroed_by_hand(tiny_model, monkeypatch):
    import copy

    import torch

    from core import catalog, stats
    from core.errors import CoreError
    from core.tasks import ablation, ablation_classifier
    from core.tasks.classify import TransformerClassifier

    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")
    texts, truth = _tiny_held_out(classifier)
    progress = []
    found = ablation_classifier.classifier_sweep(classifier, (texts, truth), version="test", report=progress.append)
    layers, heads = ablation.shape(classifier.model)
    assert found["delta"].shape == (layers, heads) and progress[-1] == 1.0 and len(progress) == layers * heads
    assert np.all(found["low"] <= found["delta"] + 1e-12) and np.all(found["delta"] <= found["high"] + 1e-12)
    assert int(found["texts"]) == len(texts)
    # head (1, 0) by hand: W_O's columns of that head zeroed in a copy, every held-out text classified
    edited = copy.deepcopy(classifier.model)
    width = edited.config.hidden_size // heads
    with torch.no_grad():
        edited.bert.encoder.layer[1].attention.output.dense.weight[:, :width] = 0
        whole, cut = [], []
        for text, label in zip(texts, truth, strict=True):
            batch = classifier.tokenizer(text, truncation=True, max_length=classifier.max_tokens, return_tensors="pt")
            whole.append(int(classifier.model(**batch).logits.argmax()) == label)
            cut.append(int(edited(**batch).logits.argmax()) == label)
    assert float(found["base"]) == pytest.approx(np.mean(whole))
    assert found["delta"][1, 0] == pytest.approx(np.mean(cut) - np.mean(whole))
    turned_wrong = sum(w and not c for w, c in zip(whole, cut, strict=True))
    assert (found["worse"][1, 0], found["better"][1, 0]) == (turned_wrong, sum(c and not w for w, c in zip(whole, cut, strict=True)))
    # the exact sign test by hand: five texts turned wrong, none right, p = 2 × 0.5⁵
    assert stats.sign_test(np.ones(8), np.array([0, 0, 0, 0, 0, 1, 1, 1.0])) == (5, 0, pytest.approx(0.0625))
    monkeypatch.setattr(ablation_classifier, "SWEEP_WORK_BUDGET", 1e6)
    with pytest.raises(CoreError, match="more than LM Lab runs for one sweep"):
        ablation_classifier.classifier_sweep(classifier, (texts, truth), version="other")


def test_a_translation_model_s_heads_off_by_hook_equal_w_o_zeroed_by_hand(translate_tiny_model):
    import copy

    import torch

    from core import catalog
    from core.errors import CoreError
    from core.tasks import ablation_translation as at
    from core.tasks.translate import Translator

    translator = Translator(catalog.get_spec("translate-en-zh"))
    model = translator.model
    batch = translator.tokenizer(["Tom bought a car."], return_tensors="pt", return_token_type_ids=False)
    labels = torch.tensor([[model.config.decoder_start_token_id, 5, 6, 7]])

    def logits(m):
        with torch.no_grad():
            return m(**batch, decoder_input_ids=labels).logits.numpy()

    whole = logits(model)
    with at.ablated(model):
        assert np.array_equal(logits(model), whole)  # nothing switched off changes nothing
    sizes = at.shape(model)
    assert set(sizes) == {"encoder", "decoder", "cross"}
    with at.ablated(model, [("cross", 0, 1), ("encoder", 0, 0)], [("decoder", 0)]):
        hooked = logits(model)
    edited = copy.deepcopy(model)
    width = model.config.d_model // sizes["cross"][1]
    with torch.no_grad():
        edited.model.decoder.layers[0].encoder_attn.out_proj.weight[:, width : 2 * width] = 0
        edited.model.encoder.layers[0].self_attn.out_proj.weight[:, :width] = 0
        edited.model.decoder.layers[0].fc2.weight.zero_()
        edited.model.decoder.layers[0].fc2.bias.zero_()
    assert np.allclose(hooked, logits(edited), atol=1e-5) and not np.allclose(hooked, whole, atol=1e-4)
    assert np.array_equal(logits(model), whole)  # the hooks are gone
    with pytest.raises(CoreError, match="no head"), at.ablated(model, [("cross", 9, 0)]):
        pass
    every_cross = [head for head in at.every_head(model) if head[0] == "cross"]
    # with every cross-attention head off the decoder cannot read the source: any two sentences, one output
    one, two = at._greedy(translator, ["Tom bought a car.", "What did Mary read yesterday?"], (tuple(every_cross), ()))
    assert one == two


def test_a_translation_sweep_ranks_every_head_with_paired_cis(translate_tiny_model):
    from core import catalog
    from core.tasks import ablation_translation as at
    from core.tasks.translate import Translator

    spec = catalog.get_spec("translate-en-zh")
    translator = Translator(spec)
    held_out = at.held_out_pairs(spec)
    assert held_out is not None and len(held_out[0]) == 400
    nothing = at.translation_effect(translator, "Tom bought a car.", held_out=held_out, version="t")
    assert nothing.before == nothing.after and nothing.held_out["delta"] == 0
    found = at.translation_sweep(translator, held_out, version="t")
    heads = at.every_head(translator.model)
    assert len(found["rows"]) == len({(g, layer) for g, layer, _ in heads}) and found["pairs"] == at.MAX_HELD_OUT
    assert np.isfinite(found["delta"]).sum() == len(heads)
    finite = np.isfinite(found["delta"])
    assert np.all(found["low"][finite] <= found["delta"][finite] + 1e-9)
    assert np.all(found["delta"][finite] <= found["high"][finite] + 1e-9)
    group, layer, head = heads[-1]
    alone = at.translation_effect(translator, "Tom bought a car.", [heads[-1]], held_out=held_out, version="t")
    row = found["rows"].index(f"{at.ABBREVIATIONS[group]} L{layer}")
    assert alone.held_out["delta"] == pytest.approx(found["delta"][row, head])
    assert found["base"] == pytest.approx(nothing.held_out["before"])
    assert at.held_out_pairs(catalog.get_spec("hub-opus-mt-en-zh")) is None


def test_a_translation_sweep_by_mean_ablation_puts_each_heads_mean_over_held_out_pairs_in_its_place(
        translate_tiny_model):  # fmt: skip
    import copy

    import torch

    from core import catalog
    from core.tasks import ablation_translation as at
    from core.tasks.translate import Translator

    spec = catalog.get_spec("translate-en-zh")
    translator = Translator(spec)
    model, tokenizer = translator.model, translator.tokenizer
    sources, references = (list(side)[: at.MAX_HELD_OUT] for side in at.held_out_pairs(spec))
    with translator.exclusive():
        means = at.mean_outputs(translator, sources[:3], references[:3])
    # the cross-attention's mean in layer 0, read by hand: W_O's input at every reference token, three pairs
    seen = []
    hook = model.model.decoder.layers[0].encoder_attn.out_proj.register_forward_pre_hook(
        lambda _m, inputs: seen.append(inputs[0][0]))
    with torch.no_grad():
        for source, reference in zip(sources[:3], references[:3], strict=True):
            target = tokenizer(reference, return_tensors="pt")["input_ids"]
            start = torch.tensor([[model.config.decoder_start_token_id]])
            model(**tokenizer(source, return_tensors="pt", return_token_type_ids=False),
                  decoder_input_ids=torch.cat([start, target[:, :-1]], dim=1))  # fmt: skip
    hook.remove()
    assert torch.allclose(means[("cross", 0)], torch.cat(seen).mean(dim=0), atol=1e-6)
    assert set(means) >= {("encoder", 0), ("decoder", 0), ("mlp", "encoder", 0), ("mlp", "decoder", 0)}
    # one head replaced by its mean = that head's columns of W_O zeroed and their product with the mean in the bias
    found = at.translation_sweep(translator, (sources, references), version="t", mean=True)
    passes = []  # the same sweep asked again (another session): its scores and its means come from the memo
    counting = model.register_forward_pre_hook(lambda *_: passes.append(1))
    again = at.translation_sweep(translator, (sources, references), version="t", mean=True)
    means = at._held_out(translator, (sources, references), "t").means  # the sweep's means, from the memo
    assert passes == [] and np.array_equal(again["delta"], found["delta"], equal_nan=True)
    fewer = at._held_out(translator, (sources[:3], references[:3]), "t").means  # other pairs: taken anew
    counting.remove()
    assert len(passes) == 3 and torch.allclose(fewer[("cross", 0)], torch.cat(seen).mean(dim=0), atol=1e-6)
    group, layer, head = "cross", 0, 1
    edited = copy.deepcopy(model)
    w_o = edited.model.decoder.layers[layer].encoder_attn.out_proj
    width = w_o.in_features // at.shape(model)[group][1]
    part = slice(head * width, (head + 1) * width)
    with torch.no_grad():
        w_o.bias += w_o.weight[:, part] @ means[(group, layer)][part]
        w_o.weight[:, part] = 0
    by_hand = at._sentence_chrf(at._greedy(Translator(spec, tokenizer, edited), sources, ((), ())), references)
    base = at._sentence_chrf(at._greedy(translator, sources, ((), ())), references)
    row = found["rows"].index(f"cross L{layer}")
    assert found["delta"][row, head] == pytest.approx(np.mean(by_hand) - np.mean(base), abs=1e-9)
    assert np.isfinite(found["delta"]).sum() == len(at.every_head(model))


def test_the_ablation_code_prints_the_pages_translations_and_probabilities(tiny_model, translate_tiny_model):
    from core import catalog
    from core.data.text import join_cjk
    from core.tasks import ablation_classifier, ablation_code
    from core.tasks import ablation_translation as at
    from core.tasks.classify import TransformerClassifier
    from core.tasks.translate import Translator

    spec = catalog.get_spec("translate-en-zh")
    heads, mlps = [("cross", 0, 0), ("decoder", 0, 1)], [("encoder", 0)]
    translator = Translator(spec)
    found = at.translation_effect(translator, "Mary bought two cats.", heads, mlps)
    code = ablation_code.translation_ablation(spec, "Mary bought two cats.", heads, mlps, max_source=translator.max_source,
                                         max_new=translator.max_new)  # fmt: skip
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, {})  # noqa: S102
    before, after = printed.getvalue().strip().split(" -> ")
    assert (join_cjk(before), join_cjk(after)) == (found.before, found.after)
    spec = catalog.get_spec("sentiment-tiny")
    classifier = TransformerClassifier(spec, runtime="torch")
    found = ablation_classifier.classifier_effect(classifier, "A warm film.", [(1, 0)], [0])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(ablation_code.classifier_ablation(spec, "A warm film.", [(1, 0)], [0], classifier.max_tokens), {})  # noqa: S102
    rows = [line.split() for line in printed.getvalue().strip().splitlines()]
    assert [row[0] for row in rows] == found.labels
    assert np.allclose([float(row[1]) for row in rows], found.before, atol=1e-4)
    assert np.allclose([float(row[3]) for row in rows], found.after, atol=1e-4)


def test_a_classifier_sweep_by_mean_ablation_agrees_with_the_means_put_in_by_hand(tiny_model, monkeypatch):
    """Mean mode: each head's output replaced by its mean over the held-out texts' first tokens (each text read alone,
    so no padding is averaged), kept apart at [CLS], where the classifier reads its answer. The means are checked
    against hooks read by hand, the cap cuts inside a text, and one head's Δ is recomputed with the means put in."""
    import torch

    from core import catalog
    from core.tasks import ablation, ablation_classifier
    from core.tasks.classify import TransformerClassifier

    monkeypatch.setattr(ablation_classifier, "MEAN_TOKENS", 100)  # fewer than the texts have: the cap cuts one
    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")
    texts, truth = _tiny_held_out(classifier)
    model, layers = classifier.model, ablation.shape(classifier.model)[0]
    ids = [classifier.tokenizer(t, truncation=True, max_length=classifier.max_tokens)["input_ids"] for t in texts]
    seen: dict = {}  # by hand: W_O's input of every layer, text by text, until 100 tokens are read
    hooks = [w_o.register_forward_pre_hook(lambda _m, inputs, n=n: seen.setdefault(n, []).append(inputs[0][0]))
             for n, w_o in enumerate(ablation.head_inputs(model))]  # fmt: skip
    left = 100
    with torch.no_grad():
        for one in ids:
            if left <= 0:
                break
            model(input_ids=torch.tensor([one[:left]]))
            left -= len(one[:left])
    for hook in hooks:
        hook.remove()
    means = ablation_classifier._held_out(classifier, (texts, truth), classifier.max_tokens, "mean-test").means
    assert means["tokens"] == 100 and means["pieces"] == len(seen[0]) < len(texts)
    for layer in range(layers):
        first = torch.stack([rows[0] for rows in seen[layer]]).mean(0)
        rest = torch.cat([rows[1:] for rows in seen[layer]]).mean(0)
        assert torch.allclose(means[("heads", layer)], torch.stack([first, rest]), atol=1e-5)
    assert not torch.allclose(means[("heads", 1)][0], means[("heads", 1)][1], atol=1e-3)  # [CLS] is not the others
    zeroed = ablation_classifier.classifier_sweep(classifier, (texts, truth), version="mean-test")
    averaged = ablation_classifier.classifier_sweep(classifier, (texts, truth), version="mean-test", mean=True)
    assert float(averaged["base"]) == float(zeroed["base"]) and int(averaged["mean_tokens"]) == 100
    passes = []  # the same sweep asked again (another session): its answers and its means come from the memo
    counting = model.register_forward_pre_hook(lambda *_: passes.append(1))
    again = ablation_classifier.classifier_sweep(classifier, (texts, truth), version="mean-test", mean=True)
    assert passes == [] and np.array_equal(again["delta"], averaged["delta"]) and int(again["mean_tokens"]) == 100
    shorter = ablation_classifier._held_out(classifier, (texts, truth), 8, "mean-test").means  # another cap: taken anew
    assert passes and shorter["tokens"] == 100 and shorter["pieces"] > means["pieces"]  # 8 tokens a text at most
    passes.clear()  # a token cap above the texts' total: means and scores taken anew, every token counted
    monkeypatch.setattr(ablation_classifier, "MEAN_TOKENS", 10**6)
    every = ablation_classifier.classifier_sweep(classifier, (texts, truth), version="mean-test", mean=True)
    counting.remove()
    held = ablation_classifier._held_out(classifier, (texts, truth), classifier.max_tokens, "mean-test")
    assert passes and int(every["mean_tokens"]) == sum(held.lengths) == held.means["tokens"] > 100
    whole, cut = [], []
    with torch.no_grad():
        for one, label in zip(ids, truth, strict=True):
            whole.append(int(model(input_ids=torch.tensor([one])).logits.argmax()) == label)
            with ablation.ablated(model, [(1, 0)], means=means):
                cut.append(int(model(input_ids=torch.tensor([one])).logits.argmax()) == label)
    assert averaged["delta"][1, 0] == pytest.approx(np.mean(cut) - np.mean(whole))


def test_a_sweep_run_both_ways_is_drawn_one_way_against_the_other():
    from core.viz import charts

    figure = charts.mode_comparison(["L0 H0", "L0 H1", "L1 MLP"], [1.0, 50.0, 491.0], [1.2, 48.0, 128.0],
                                    title="t", x_title="zeroed", y_title="by its mean", named=1)  # fmt: skip
    diagonal, points = figure.data
    assert list(diagonal.x) == list(diagonal.y) == [0.0, 491.0]  # from 0 (or below) to the largest Δ either way
    assert list(points.x) == [1.0, 50.0, 491.0] and list(points.y) == [1.2, 48.0, 128.0]
    assert list(points.text) == ["", "", "L1 MLP"]  # only the part farthest from the diagonal is named
    assert list(points.marker.symbol) == ["circle", "circle", "diamond"]  # an MLP is drawn apart from the heads
    on_it = charts.mode_comparison(["L0 H0", "L0 H1"], [0.0, -2.0], [0.0, -1.0], title="t", x_title="zeroed",
                                   y_title="by its mean")  # fmt: skip
    assert list(on_it.data[1].text) == ["", "L0 H1"]  # a part on the diagonal is never named
    assert "zeroed: %{x:.2f}" in on_it.data[1].hovertemplate and on_it.layout.yaxis.scaleanchor == "x"


def test_the_ablate_page_ranks_a_classifier_s_and_a_translation_model_s_heads(tiny_model, translate_tiny_model):
    from conftest import open_page

    page = open_page("pages/ablate.py")
    page.segmented_control(key="ablate-kind").set_value("classifier").run()
    page.button(key="ablate-classifier-open").click().run()
    page.selectbox(key="ablate-classifier").set_value("sentiment-tiny").run()
    page.button(key="ablate-classifier-sweep").click().run()  # the page waits for the shared run, with a bar
    assert not page.exception and not page.error
    tables = [f.value for f in page.dataframe if "Δ accuracy (points)" in f.value.columns]
    columns = ["head", "Δ accuracy (points)", "95 % CI", "worse / better", "exact p"]
    assert len(tables) == 1 and list(tables[0].columns) == columns
    assert len(tables[0]) == 4 and any("(its output zeroed before W_O)" in c.value for c in page.caption)
    assert not any("dotted diagonal" in c.value for c in page.caption)  # one way only: nothing to compare yet
    page.segmented_control(key="ablate-classifier-sweep-mode").set_value("mean").run()  # a shared run of its own
    page.button(key="ablate-classifier-sweep").click().run()
    assert not page.exception and not page.error
    assert any("replaced by its mean over the first" in c.value for c in page.caption)
    assert any("dotted diagonal" in c.value for c in page.caption)  # both sweeps done: each head one way and the other
    page.segmented_control(key="ablate-kind").set_value("translation").run()
    page.button(key="ablate-translation-open").click().run()
    page.multiselect(key="ablate-translation-heads-translate-en-zh").set_value([("cross", 0, 0)]).run()
    page.button(key="ablate-translation-run").click().run()
    assert not page.exception and not page.error
    assert any(m.label == "Held-out chrF, whole model" for m in page.metric)
    page.button(key="ablate-translation-sweep").click().run()
    tables = [f.value for f in page.dataframe if "Δ chrF" in f.value.columns]
    assert len(tables) == 1 and len(tables[0]) == 6
    assert {name.split()[0] for name in tables[0]["head"]} == {"enc", "dec", "cross"}
    assert any("(its output zeroed before W_O; in the decoder" in c.value for c in page.caption)
    page.segmented_control(key="ablate-translation-sweep-mode").set_value("mean").run()  # a shared run of its own
    page.button(key="ablate-translation-sweep").click().run()
    assert not page.exception and not page.error
    assert len([f for f in page.dataframe if "Δ chrF" in f.value.columns]) == 1
    assert any("replaced by its mean over the same held-out pairs" in c.value for c in page.caption)
    assert any("dotted diagonal" in c.value and "Δ chrF" in c.value for c in page.caption)
