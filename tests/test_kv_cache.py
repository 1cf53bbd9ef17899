"""Apply → Generate → KV cache: the same greedy continuation with and without the key–value cache, on a real GPT
trained here."""

from __future__ import annotations

import pytest

from core import catalog
from core.errors import InputError

from conftest import open_page


def test_the_cache_gives_the_same_tokens_for_less_work_and_grows_one_token_a_step(lm_tiny_model):
    from core.tasks import kv_cache
    from core.tasks.generate import LanguageModel

    lm = LanguageModel(catalog.get_spec("lm-lee-gpt"))
    demo = kv_cache.compare(lm, "The government said", 12)
    prompt = demo.prompt_tokens
    assert demo.same_tokens and len(demo.tokens) == 12 and demo.max_logit_difference < 1e-4
    assert demo.positions_without == sum(prompt + i for i in range(12)) and demo.positions_with == prompt + 11
    config = lm.model.config
    assert demo.cache_shape == (config.n_layer, 2, config.n_head, prompt + 11, config.n_embd // config.n_head)
    per_token = config.n_layer * 2 * config.n_embd * 4  # fp32 keys and values of one token in every layer
    assert [b2 - b1 for b1, b2 in zip(demo.cache_bytes, demo.cache_bytes[1:], strict=False)] == [per_token] * 11
    with pytest.raises(InputError):
        kv_cache.compare(lm, "The government said", kv_cache.MAX_NEW_TOKENS + 1)
    with pytest.raises(InputError, match="window"):
        kv_cache.compare(lm, "word " * (lm.context - 5), 10)


def test_the_generate_page_shows_the_cache(lm_tiny_model):
    at = open_page("pages/generate.py")
    at.slider(key="generate-kv-tokens").set_value(8).run()
    at.button(key="generate-kv-run").click().run()
    assert not at.exception and not at.error
    assert any(m.label == "Cache at the end" and m.value.endswith("KiB") for m in at.metric)
    assert any("The same 8 tokens both ways" in c.value for c in at.caption)


def test_the_bars_and_their_reshaped_copy_cost_one_forward_pass(lm_tiny_model):
    from core.tasks.generate import LanguageModel

    lm = LanguageModel(catalog.get_spec("lm-lee-gpt"))
    passes = []
    submit = lm.coalescer.submit
    lm.coalescer.submit = lambda window: passes.append(window) or submit(window)
    found = lm.next_tokens("The minister said the", k=5)
    shaped = lm.sampled_next_tokens("The minister said the", 5, temperature=1.0, top_k=0, top_p=1.0)
    assert len(passes) == 1
    assert [row["id"] for row in shaped["rows"]] == [row["id"] for row in found["transformer"]]  # T = 1, no cut
    lm.next_tokens("The minister said the", k=5, fresh=True)  # the benchmark's timing runs the model again
    assert len(passes) == 2
