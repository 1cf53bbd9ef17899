"""The Chinese character GPT (the Chinese-models issue, part 3): its tokenizer and split, a tiny model trained for
real on People's Daily next to its Kneser–Ney character trigram, its benchmark row and the Generate page in Chinese."""

from __future__ import annotations

import pytest

from conftest import open_page


def test_the_character_tokenizer_reads_one_character_per_token():
    from core.training.tokenizers import chinese_characters

    tokenizer = chinese_characters(["人民日报社论", "人民日报", "１９９８年 人民"], min_frequency=2)
    ids = tokenizer("人民 日报９")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["人", "民", "日", "报", "9"]  # NFKC, white space dropped
    assert tokenizer.decode(ids) == "人民日报9"  # joined with nothing between the characters
    assert tokenizer.convert_ids_to_tokens(tokenizer("社论")["input_ids"]) == ["[UNK]", "[UNK]"]  # seen once
    assert tokenizer.eos_token == tokenizer.bos_token == "[EOS]"


def test_the_language_model_split_holds_out_whole_paragraphs():
    from core.data.peoples_daily import lm_split

    train, test = lm_split()
    assert len(test) == 1880 and len(train) > 17_000
    assert not set(test) & set(train), "no held-out paragraph is also a training one"
    assert sum(map(len, train)) > 1_600_000


def test_the_kneser_ney_baseline_is_small_enough_for_a_shared_server():
    from core.data.peoples_daily import lm_split
    from core.tasks.ngram import KneserNey

    train = lm_split()[0]
    vocabulary = {character: i for i, character in enumerate(sorted(set("".join(train))))}
    model = KneserNey(order=3).fit([[vocabulary[c] for c in text] for text in train], len(vocabulary))
    stored = sum(array.nbytes for level in model.levels for array in level.values())
    assert stored < 64e6, f"{stored / 1e6:.0f} MB for the character trigram"
    assert model.distribution([vocabulary["人"]]).sum() == pytest.approx(1.0)


def test_the_chinese_gpt_trains_and_answers_in_characters(tiny_zh_gpt):
    from core import catalog
    from core.errors import InputError
    from core.tasks.generate import LanguageModel

    card = catalog.read_metadata("zh-char-gpt")
    assert card["data"]["unit"] == "paragraphs" and card["data"]["train_size"] == 400
    for name in ("perplexity", "ngram_perplexity"):
        assert card.metrics[name]["n"] == 1880 and card.metrics[name]["low"] <= card.metrics[name]["value"]
    spec = catalog.get_spec("zh-char-gpt")
    assert spec.languages == ("zh",) and spec.task == "generation-zh"
    model = LanguageModel(spec)
    found = model.next_tokens("中国", k=5)
    assert all(len(row["token"]) == 1 or row["token"].startswith("[") for row in found["transformer"])
    assert sum(row["probability"] for row in found["ngram"]) <= 1.0 + 1e-9
    first = model.generate("中国", max_new_tokens=12, seed=3)
    assert first.text == model.generate("中国", max_new_tokens=12, seed=3).text, "same seed, same text"
    assert first.text.startswith("中国") and " " not in first.text
    scored = model.score("人民日报")
    assert [t.token for t in scored.tokens] == ["人", "民", "日", "报"]
    assert scored.ngram_perplexity > 1 and scored.perplexity > 1
    with pytest.raises(InputError):
        model.score("")


def test_the_benchmark_scores_perplexity_per_character_against_the_trigram(tiny_zh_gpt):
    from core import catalog
    from core.bench.run import run

    result = run("generation-zh", ["baseline:kneser-ney", "zh-char-gpt"], repeats=2)
    rows = {row.model: row for row in result.rows}
    card = catalog.read_metadata("zh-char-gpt")
    # one token per character (NFKC can make a few characters more than one), so the two nearly agree
    assert rows["zh-char-gpt"].value == pytest.approx(card.metrics["perplexity"]["value"], rel=0.02)
    assert rows["baseline:kneser-ney"].value == pytest.approx(card.metrics["ngram_perplexity"]["value"], rel=0.02)
    assert rows["zh-char-gpt"].n == 1880


def test_the_generate_page_switches_to_chinese(tiny_zh_gpt):
    at = open_page("pages/generate.py", lang="zh")
    assert at.segmented_control(key="generate-language").value == "zh"
    assert at.selectbox(key="generate-model").value == "zh-char-gpt"
    assert at.text_input(key="generate-prompt").value == "新华社北京"
    assert any("每字" in c.value for c in at.caption), "perplexity per character, said so"
    at.button(key="generate-run").click().run()
    assert not at.exception and not at.error
    assert any(m.value.startswith("> 新华社北京") for m in at.markdown)
    assert any(c.value.startswith("由 ONNX Runtime fp32 在服务器的 CPU 上计算") for c in at.caption), [c.value for c in at.caption]
    at.button(key="generate-compare-run").click().run()
    assert not at.exception and not at.error and len(at.dataframe) >= 1
    columns = list(at.dataframe[-1].value.columns)
    assert columns[:3] == ["句子", "文本", "词元"] and "三元语法困惑度" in columns, columns
    at.segmented_control(key="generate-language").set_value("en").run()
    assert at.text_input(key="generate-prompt").value == "The Prime Minister said"
    assert at.selectbox(key="generate-model").value == "lm-lee-gpt"


def test_batched_scoring_equals_scoring_one_document_at_a_time():
    import random

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from core.tasks.generate import document_nll, documents_nll

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=1, n_head=2)).eval()
    rng = random.Random(0)
    documents = [[rng.randrange(50) for _ in range(rng.randrange(1, 45))] for _ in range(12)]
    batched = documents_nll(model, documents, block=16, batch=5)
    for ids, (nll, count) in zip(documents, batched, strict=True):
        alone = document_nll(model, ids, 16)
        assert count == alone[1] == len(ids) - 1
        assert nll == pytest.approx(alone[0], abs=1e-4)


def test_the_trigram_is_saved_with_the_model_and_loaded_instead_of_refitted(tiny_zh_gpt):
    import numpy as np

    from core import catalog
    from core.tasks.generate import NGRAM_FILE, LanguageModel, fit_ngram, lm_corpus

    assert (tiny_zh_gpt / NGRAM_FILE).exists()
    model = LanguageModel(catalog.get_spec("zh-char-gpt"))
    refitted = fit_ngram(model.tokenizer, lm_corpus("peoples-daily").split()[0][:400])
    for text in ("中国", "新华社北京"):
        context = model._ids(text)
        assert np.allclose(model.ngram.distribution(context), refitted.distribution(context))
    (tiny_zh_gpt / NGRAM_FILE).write_bytes(b"not an npz")  # damaged: fitted again, never a crash
    again = LanguageModel(catalog.get_spec("zh-char-gpt"))
    assert np.allclose(again.ngram.distribution(context), refitted.distribution(context))
    model.ngram.save(tiny_zh_gpt / NGRAM_FILE)


def test_next_token_answers_are_read_back_for_every_session_until_the_model_changes(tiny_zh_gpt):
    from core import catalog
    from core.tasks.generate import LanguageModel

    lm = LanguageModel(catalog.get_spec("zh-char-gpt"))
    first = lm.next_tokens("国务院今天", k=4)
    again = lm.next_tokens("国务院今天", k=4)
    assert not first["cached"] and again["cached"]
    assert again["transformer"] == first["transformer"] and again["latency_ms"] == first["latency_ms"]
    assert not lm.next_tokens("国务院今天", k=5)["cached"]  # another k, another answer
    other = LanguageModel(catalog.get_spec("zh-char-gpt"))  # a reloaded (or retrained) model: computed afresh
    fresh = other.next_tokens("国务院今天", k=4)
    assert not fresh["cached"] and [t["id"] for t in fresh["transformer"]] == [t["id"] for t in first["transformer"]]
