"""Inspect → Ablate, hand-picked parts replaced by their mean output: the same means as the sweep's, taken once per
model version; the page's copyable code prints the page's numbers for a language model, a classifier and a
translation model; the page says how the parts were switched off."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from conftest import open_page


def _printed(code: str) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, {})  # noqa: S102 — the page's own code
    return printed.getvalue().strip()


def test_a_language_model_s_hand_picked_means_are_the_sweep_s_and_the_code_prints_the_page_s_numbers(tiny_zh_gpt):
    import torch

    from core import catalog
    from core.tasks import ablation, ablation_code
    from core.tasks.generate import LanguageModel
    from core.tasks.lm_scoring import documents_nll

    spec = catalog.get_spec("zh-char-gpt")
    lm = LanguageModel(spec)
    means = ablation.lm_means(lm, "v1")
    assert ablation.lm_means(lm, "v1") is means, "taken once per model version for every session"
    documents, block = ablation.held_out_ids(lm), min(lm.context, ablation.SWEEP_BLOCK)
    with lm.exclusive() as model:
        by_hand = ablation.mean_outputs(model, documents, block)
    assert means["tokens"] == by_hand["tokens"] == min(ablation.MEAN_TOKENS, sum(len(d) for d in documents))
    assert all(torch.equal(means[key], by_hand[key]) for key in by_hand if key != "tokens")
    # the sweep in mean mode uses the same means: its MLP column is the held-out score with these means put in
    swept = ablation.sweep_model(lm, mean=True, version="v1")
    with lm.exclusive() as model:
        base = np.array(documents_nll(model, documents, block))
        with ablation.ablated(model, mlps=[0], means=means):
            off = np.array(documents_nll(model, documents, block))
    expected = np.exp(off[:, 0].sum() / off[:, 1].sum()) - np.exp(base[:, 0].sum() / base[:, 1].sum())
    assert swept["mlp_delta"][0] == pytest.approx(expected, rel=1e-6)
    text = "国务院今天召开会议"
    zeroed = ablation.effect_on(lm, text, heads=[(0, 1)], mlps=[0])
    averaged = ablation.effect_on(lm, text, heads=[(0, 1)], mlps=[0], means=means)
    assert averaged.before == zeroed.before and averaged.after != zeroed.after
    code = ablation_code.ablation(spec, text, [(0, 1)], [0], mean=True)
    assert "lm_means(" in code and "out * 0" not in code
    assert _printed(code) == f"perplexity {averaged.perplexity_before:.1f} -> {averaged.perplexity_after:.1f}"


def test_a_classifier_s_and_a_translation_model_s_hand_picked_means_and_their_code(tiny_model, translate_tiny_model):
    from core import catalog
    from core.data.text import join_cjk
    from core.tasks import ablation_classifier, ablation_code
    from core.tasks import ablation_translation as at
    from core.tasks.classify import TransformerClassifier
    from core.tasks.translate import Translator

    spec = catalog.get_spec("sentiment-tiny")
    classifier = TransformerClassifier(spec, runtime="torch")
    held_out = ablation_classifier.held_out_texts(classifier)
    means = ablation_classifier.held_out_means(classifier, held_out, version="v1")
    assert means[("heads", 0)].shape[0] == 2, "[CLS] apart from the other positions"
    found = ablation_classifier.classifier_effect(classifier, "A warm film.", [(1, 0)], [0], held_out, version="v1",
                                                  means=means)  # fmt: skip
    zeroed = ablation_classifier.classifier_effect(classifier, "A warm film.", [(1, 0)], [0])
    assert found.before == zeroed.before and found.after != zeroed.after
    # the held-out half scored the same parts with the same means: as by hand through the shared scorer
    scored = ablation_classifier._held_out(classifier, held_out, classifier.max_tokens, "v1")
    assert found.held_out["after"] == pytest.approx(scored.right([(1, 0)], [0], mean=True).mean())
    code = ablation_code.classifier_ablation(spec, "A warm film.", [(1, 0)], [0], classifier.max_tokens, mean=True)
    rows = [line.split() for line in _printed(code).splitlines()]
    assert [row[0] for row in rows] == found.labels
    assert np.allclose([float(row[3]) for row in rows], found.after, atol=1e-4)

    spec = catalog.get_spec("translate-en-zh")
    translator = Translator(spec)
    pairs = at.held_out_pairs(spec)
    means = at.held_out_means(translator, pairs, version="v1")
    assert means["pairs"] == min(at.MAX_HELD_OUT, len(pairs[0]))
    heads, mlps = [("cross", 0, 0), ("decoder", 0, 1)], [("encoder", 0)]
    found = at.translation_effect(translator, "Mary bought two cats.", heads, mlps, version="v1", means=means)
    code = ablation_code.translation_ablation(spec, "Mary bought two cats.", heads, mlps, max_source=translator.max_source,
                                              max_new=translator.max_new, mean=True)  # fmt: skip
    before, after = _printed(code).split(" -> ")
    assert (join_cjk(before), join_cjk(after)) == (found.before, found.after)


def test_the_page_switches_hand_picked_parts_off_by_their_means_and_says_so(tiny_zh_gpt, tiny_model):
    from core.tasks.ablation import MEAN_MEMO

    at = open_page("pages/ablate.py", model="zh-char-gpt")
    at.multiselect(key="ablate-heads-zh-char-gpt").set_value([(0, 0)]).run()
    at.segmented_control(key="ablate-mode").set_value("mean").run()
    at.button(key="ablate-run").click().run()
    assert not at.exception and not at.error
    assert any("with its mean over the first" in c.value and "held-out tokens" in c.value for c in at.caption)
    taken = MEAN_MEMO.misses
    at.button(key="ablate-run").click().run()  # the means are kept for the model's version: nothing is taken again
    assert MEAN_MEMO.misses == taken and not at.exception
    code = next(c.value for c in at.code if "perplexity" in c.value)
    assert "lm_means(" in code
    at.segmented_control(key="ablate-mode").set_value("zero").run()
    at.button(key="ablate-run").click().run()
    assert any("switched off by zeroing their output" in c.value for c in at.caption)

    at.segmented_control(key="ablate-kind").set_value("classifier").run()
    at.button(key="ablate-classifier-open").click().run()
    at.selectbox(key="ablate-classifier").set_value("sentiment-tiny").run()
    at.multiselect(key="ablate-classifier-heads-sentiment-tiny").set_value([(0, 0)]).run()
    at.segmented_control(key="ablate-classifier-mode").set_value("mean").run()
    at.button(key="ablate-classifier-run").click().run()
    assert not at.exception and not at.error
    assert any("replaced by its mean output over the first" in c.value for c in at.caption)
    assert any("held_out_means(" in c.value for c in at.code)
