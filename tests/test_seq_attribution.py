"""Integrated gradients for translation on the tiny encoder-decoder trained here: completeness, the values checked
against plain forward passes on token ids, the gradient against autograd on one row alone, and the Translate page."""

from __future__ import annotations

import numpy as np
import pytest

from core import catalog

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


def test_the_attribution_refuses_what_the_translation_refuses(translator):
    from core.errors import InputError
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
    assert metrics["Same top source token"].count("/") == 1
    chinese = open_page("pages/translate.py", lang="zh")
    chinese.button(key="translate-run").click().run()
    chinese.button(key="translate-attribute").click().run()
    assert not chinese.exception and any("积分梯度" in m.value for m in chinese.markdown)
