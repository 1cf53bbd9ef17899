"""Integrated gradients for translation on the tiny encoder-decoder trained here: completeness, the values checked
against plain forward passes on token ids, the gradient against autograd on one row alone, and the Translate page."""

from __future__ import annotations

import numpy as np
import pytest

from core import catalog
from core.errors import InputError

from conftest import open_page

TEXT = "Tom read a book in the library yesterday."


@pytest.fixture(scope="module")
def translator(translate_tiny_model):
    from core.tasks.translate import Translator

    return Translator(catalog.get_spec("translate-en-zh"))


def test_completeness_and_the_values_match_plain_forward_passes(translator):
    import torch

    from core.tasks.seq_attribution import MAX_TARGET, attribute_translation

    found = attribute_translation(translator, TEXT)
    rows, columns = found.integrated.shape
    assert rows == len(found.target_tokens) and columns == len(found.source_tokens)
    assert found.relative_completeness_error < 0.01  # the bar: within 1 %
    assert np.allclose(found.integrated.sum(axis=1), found.output_change, atol=0.02 + 0.01 * np.abs(found.output_change))
    assert np.allclose(found.attention.sum(axis=1), 1, atol=1e-4)  # attention rows are distributions
    # the row sums' target, recomputed from token ids: the real source, and the source with every word [PAD]
    model, tokenizer = translator.model, translator.tokenizer
    encoded = tokenizer(TEXT, return_tensors="pt", return_token_type_ids=False)
    with torch.no_grad():
        output = model.generate(**encoded, num_beams=1, do_sample=False, max_new_tokens=64)[0]
        decoder, labels = output[:-1][None, :MAX_TARGET], output[1:][:MAX_TARGET]  # as long as the page's
        special = set(tokenizer.all_special_ids)
        blank = torch.tensor([[i if i in special else tokenizer.pad_token_id for i in encoded["input_ids"][0].tolist()]])

        def logprobs(ids):
            logits = model(input_ids=ids, attention_mask=encoded["attention_mask"], decoder_input_ids=decoder).logits[0]
            return torch.log_softmax(logits, -1)[torch.arange(len(labels)), labels].numpy()

        expected = logprobs(encoded["input_ids"]) - logprobs(blank)
    assert tokenizer.convert_ids_to_tokens(labels.tolist()) == found.target_tokens
    assert np.allclose(found.output_change, expected, atol=1e-4)
    # gradient × input of the first output token, from one backward pass of its own
    embeddings = model.get_encoder().embed_tokens(encoded["input_ids"]).detach().requires_grad_(True)
    logits = model(inputs_embeds=embeddings, attention_mask=encoded["attention_mask"], decoder_input_ids=decoder).logits
    torch.log_softmax(logits[0, 0], -1)[labels[0]].backward()
    alone = (embeddings.grad[0] * embeddings[0]).sum(-1).detach().numpy()
    assert np.allclose(found.gradient_x_input[0], alone, atol=1e-4)


def test_the_translation_shown_is_the_one_attributed_and_special_tokens_score_zero(translator):
    from core.tasks.seq_attribution import MIN_CHANGE, attribute_translation

    beam = translator.translate(TEXT, beams=3)
    found = attribute_translation(translator, TEXT, beam.output_ids)
    assert found.target_tokens == beam.target_tokens[: len(found.target_tokens)]  # beam search's output, not greedy's
    assert found.kept.any() and np.abs(found.integrated[:, found.kept]).max() == 0  # kept by the baseline: 0
    agreement = found.top_agreement()
    assert agreement.rows == int((np.abs(found.output_change) >= MIN_CHANGE).sum())  # rows the source moved
    assert 0 <= agreement.same <= agreement.rows and (agreement.rows == 0 or 0 < agreement.chance <= 1)


def test_the_agreement_counts_only_the_inputs_that_can_matter():
    from core.tasks.seq_attribution import SourceAttribution

    found = SourceAttribution(
        source_tokens=["<s>", "a", "b", "c"], target_tokens=["x", "y", "z"],
        integrated=np.array([[0, 0.9, 0.1, 0], [0, 0.2, -0.8, 0], [0, 0.5, 0.5, 0.0]]), gradient_x_input=np.zeros((3, 4)),
        attention=np.array([[0.9, 0.05, 0.05, 0], [0.5, 0.1, 0.3, 0.1], [0.1, 0.2, 0.7, 0]]),
        output_change=np.array([1.0, -0.6, 0.05]), completeness_error=0.0, cut=False,
        kept=np.array([True, False, False, False]), reach=np.array([2, 3, 4]),
    )  # fmt: skip
    agreement = found.top_agreement()
    # row x: only "a" can matter (before it, not kept): both pick it; row y: |−0.8| on "b", attention's top among a, b
    # is b; row z moved by 0.05 nats: not counted
    assert (agreement.same, agreement.rows) == (2, 2) and agreement.chance == pytest.approx((1 + 1 / 2) / 2)


def test_generated_tokens_are_attributed_to_the_tokens_before_them(lm_tiny_model):
    import torch

    from core.tasks.base import get_task
    from core.tasks.seq_attribution import attribute_generation

    spec = catalog.get_spec("lm-lee-gpt")
    lm = get_task(spec.task).hook("predictor")(spec)
    implementation = lm.model.config._attn_implementation
    generated = lm.generate("the government said", max_new_tokens=6, temperature=0.0, top_k=0, top_p=1.0, seed=0)
    found = attribute_generation(lm, generated.ids, generated.start)
    rows = len(found.target_tokens)
    assert rows == min(6, len(generated.ids) - generated.start) and found.relative_completeness_error < 0.01
    for row in range(rows):  # a causal model: what comes at or after the predicted position cannot matter
        assert np.abs(found.integrated[row, generated.start + row :]).max() == 0
    assert np.abs(found.integrated[:, 0]).max() == 0  # the boundary token, kept by the baseline
    with torch.no_grad():  # the row sums' target from plain passes: the text, and zero embeddings but the first
        ids = torch.tensor([list(generated.ids[: generated.start + rows])])
        embeddings = lm.model.get_input_embeddings()(ids)
        blank = torch.zeros_like(embeddings)
        blank[0, 0] = embeddings[0, 0]
        positions = torch.arange(generated.start, generated.start + rows)

        def logprobs(inputs):
            logits = lm.model(inputs_embeds=inputs).logits[0]
            return torch.log_softmax(logits, -1)[positions - 1, ids[0, positions]].numpy()

        expected = logprobs(embeddings) - logprobs(blank)
    assert np.allclose(found.output_change, expected, atol=1e-4)
    assert np.allclose(found.attention.sum(axis=1), 1, atol=1e-4)
    assert lm.model.config._attn_implementation == implementation  # switched back after reading attention
    with pytest.raises(InputError):
        attribute_generation(lm, generated.ids[: generated.start], generated.start)  # nothing generated


def test_generated_tokens_are_attributed_through_a_traced_pass_with_the_eager_numbers(lm_tiny_model):
    from core.tasks.base import get_task
    from core.tasks.seq_attribution import attribute_generation

    spec = catalog.get_spec("lm-lee-gpt")
    traced, eager = (get_task(spec.task).hook("predictor")(spec) for _ in range(2))
    eager.traced_pass.stay_eager()  # this one keeps the eager model
    generated = traced.generate("the government said", max_new_tokens=6, temperature=0.0, top_k=0, top_p=1.0, seed=0)
    found = attribute_generation(traced, generated.ids, generated.start)
    assert traced.traced_pass.get().traced is not None, traced.traced_pass.get().why
    expected = attribute_generation(eager, generated.ids, generated.start)  # another model: not the shared result
    for name in ("integrated", "gradient_x_input", "output_change", "attention"):
        assert np.array_equal(getattr(found, name), getattr(expected, name)), name


def test_a_translation_is_attributed_through_a_traced_pass_with_the_eager_numbers(translator):
    from core.tasks.seq_attribution import attribute_translation
    from core.tasks.translate import Translator

    eager = Translator(catalog.get_spec("translate-en-zh"))
    eager.traced_pass.stay_eager()  # another model: not the shared result, and the eager pass
    for text in ("The teacher read a book.", "The old man sold two houses in the morning."):
        shown = translator.translate(text).output_ids  # as the page asks: the translation it shows
        found, expected = attribute_translation(translator, text, shown), attribute_translation(eager, text, shown)
        for name in ("integrated", "gradient_x_input", "output_change", "attention"):
            assert np.array_equal(getattr(found, name), getattr(expected, name)), name
    assert translator.traced_pass.get().traced is not None, translator.traced_pass.get().why


def test_the_attribution_refuses_what_the_translation_refuses(translator):
    from core.tasks.seq_attribution import attribute_translation

    with pytest.raises(InputError):
        attribute_translation(translator, "   ")
    with pytest.raises(InputError):
        attribute_translation(translator, "汤姆昨天在图书馆看了一本书。")  # English → Chinese reads English only


def test_the_translate_page_draws_attributions_next_to_attention(translate_tiny_model):
    page = open_page("pages/translate.py")
    page.button(key="translate-run").click().run()
    page.button(key="translate-attribute").click().run()
    assert not page.exception and not page.error
    metrics = {m.label: m.value for m in page.metric}
    assert float(metrics["Completeness error"].rstrip(" %")) < 1.0
    shown = metrics["Same top source token"]  # "–" where no row moved by 0.1 nats (the tiny model: often)
    assert shown == "–" or 0 <= int(shown.split(" / ")[0]) <= int(shown.split(" / ")[1])
    chinese = open_page("pages/translate.py", lang="zh")
    chinese.button(key="translate-run").click().run()
    chinese.button(key="translate-attribute").click().run()
    assert not chinese.exception and any("积分梯度" in m.value for m in chinese.markdown)


def test_the_generate_page_draws_attributions(lm_tiny_model):
    page = open_page("pages/generate.py")
    page.button(key="generate-run").click().run()
    page.button(key="generate-attribute").click().run()
    assert not page.exception and not page.error
    metrics = {m.label: m.value for m in page.metric}
    assert float(metrics["Completeness error"].rstrip(" %")) < 1.0
    assert "Same top earlier token" in metrics
