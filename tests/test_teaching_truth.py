"""What LM Lab says must be true: each test would have caught one of the statements a teacher found wrong."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest

from core import catalog

from conftest import open_page

# -- the generated Chinese follows Chinese grammar --------------------------------------------------------------

STATIVE_OR_RESULTATIVE = "喜欢|想要|找到|看见|丢"
RULES = {
    "正在 takes the place without a second 在 (正在在)": lambda p: "正在在" in p.chinese,
    "durative 着 never takes 了 (拿着了)": lambda p: "着了" in p.chinese,
    "stative verbs are negated with 不, not 没有": lambda p: re.search("没有(喜欢|想要)", p.chinese),
    "no 正在 with stative or resultative verbs": lambda p: re.search(f"正在({STATIVE_OR_RESULTATIVE})", p.chinese),
    "no English progressive of like / want / see / find / lose": lambda p: re.search(
        r"\b(liking|wanting|seeing|finding|losing)\b", p.english
    ),
    "stative verbs take no 了": lambda p: re.search("(喜欢|想要)了", p.chinese),
    "outcome verbs are not negated with 不 (不看见, 不找到)": lambda p: re.search(r"不(在\S*)?(看见|找到)", p.chinese),
    "no 'now' with see / find / lose": lambda p: p.verb in ("see", "find", "lose") and re.search(r"\bnow\b", p.english),
}


@pytest.fixture(scope="module")
def default_corpus():
    from core.data import translation

    return translation.corpus(10_000, 400)  # the sizes the default translation recipe trains and tests on


@pytest.mark.parametrize("rule", list(RULES))
def test_every_generated_pair_follows_the_rule(default_corpus, rule):
    broken = [p for p in default_corpus.train + default_corpus.test if RULES[rule](p)]
    assert broken == [], f"{len(broken)} pairs, e.g. {broken[0].english} → {broken[0].chinese}"


def test_the_lexicon_size_in_the_docstring_is_right():
    from core.data import translation

    assert 280 <= translation.lexicon_size() <= 320  # "about 300 English words"
    assert "about 300" in translation.__doc__


def test_the_rule_table_examples_follow_the_rules():
    from core.data.translation import GRAMMAR_COVERS, Pair

    for _, english, chinese in GRAMMAR_COVERS:
        pair = Pair(english=english, chinese=chinese, verb="", noun="", form="", tense="")
        assert not any(check(pair) for check in RULES.values()), (english, chinese)


# -- "tied" is one rule, corrected for several comparisons ------------------------------------------------------


def test_holm_adjustment():
    from core.stats import holm

    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5] and holm([]) == []
    assert holm([0.2, 0.9, 0.9]) == pytest.approx([0.6, 1.0, 1.0])  # 0.9 × 2 capped at 1, then monotone


def test_tied_follows_mcnemar_with_holm_not_the_uncorrected_interval():
    """50 items, 7 discordant one way and 1 the other: the uncorrected CI excludes 0, McNemar p = 0.070."""
    import numpy as np

    from core.bench.classification import SCORING
    from core.bench.run import _compare

    baseline = [1] * 42 + [0] * 8  # right or wrong on each of 50 items
    better = [1] * 42 + [1] * 7 + [0]  # right on 7 the baseline misses
    better[0] = 0  # wrong on 1 the baseline gets
    as_items = {"base": np.array(baseline, dtype=float)[:, None], "new": np.array(better, dtype=float)[:, None]}
    new = _compare(SCORING, as_items, "base", seed=0)["new"]
    assert new["diff_low"] > 0  # the uncorrected bootstrap CI alone would have said "not tied"
    assert new["p_value"] == pytest.approx(0.0703, abs=1e-3)
    assert new["tied_with_baseline"] and new["p_holm"] == new["p_value"]  # one comparison: Holm changes nothing


# -- Generate ranks sentences by total log-probability ---------------------------------------------------------


def test_more_likely_means_higher_total_log_probability():
    from ui.generate import more_likely

    rows = [{"sentence": "A", "tokens": 4, "Transformer log P": -20.0, "Transformer perplexity": 148.4},
            {"sentence": "B", "tokens": 8, "Transformer log P": -24.0, "Transformer perplexity": 20.1}]  # fmt: skip
    text = more_likely(rows, "Transformer")
    assert "sentence **A** more likely" in text and "token counts differ" in text


# -- positional encoding -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("d_model, shown, k, base", [(16, 8, 1, 10_000), (512, 100, 3, 10_000), (64, 100, 3, 10),
                                                     (8, 512, 50, 100_000)])  # fmt: skip
def test_one_matrix_shifts_the_papers_encoding_and_none_the_articles(d_model, shown, k, base):
    from core.transformer import positional as pe

    n = pe.fit_positions(d_model, shown)
    assert n >= 2 * d_model  # never fewer positions than unknowns: a trivial exact fit proves nothing
    _, paper = pe.best_linear_shift(pe.sinusoidal(n + k, d_model, base), k)
    _, article = pe.best_linear_shift(pe.article_variant(n + k, d_model, base), k)
    assert paper < 1e-9 and article > 0.1
    # the trap the page avoids: with fewer positions than dimensions even the article's formula "fits"
    _, trivial = pe.best_linear_shift(pe.article_variant(8, 16, base), 3)  # 5 positions, 16 dimensions
    assert trivial < 1e-6


def test_rope_depends_on_the_signed_offset_and_the_base():
    from core.transformer import positional as pe

    scores, spread = pe.rope_scores(64, 16)
    assert spread < 1e-9
    assert abs(scores[10, 3] - scores[3, 10]) > 0.1  # m − n = 7 and −7 differ
    other, _ = pe.rope_scores(64, 16, base=100.0)
    assert not np.allclose(scores, other)


# -- Generate: the code shown reproduces the page ----------------------------------------------------------------


def test_the_generation_snippet_prints_what_the_page_generated(lm_tiny_model):
    from core.tasks import snippets
    from core.tasks.generate import LanguageModel

    spec = catalog.get_spec("lm-lee-gpt")
    model = LanguageModel(spec)
    for options in ({"max_new_tokens": 25, "temperature": 0.9, "top_k": 20, "top_p": 0.8, "seed": 3},
                    {"max_new_tokens": 12, "temperature": 0.0, "top_k": 50, "top_p": 0.95, "seed": 0}):  # fmt: skip
        for prompt in ("The government said", "The government said  "):  # a trailing space changes GPT-2's ids
            page = model.generate(prompt, **options)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(snippets.generation(spec, prompt, options), {})  # noqa: S102 - our own snippet
            assert printed.getvalue().removesuffix("\n") == page.text


def test_sampling_cuts_top_k_first_then_top_p_of_what_is_left():
    from core.tasks.sampling import sample_next

    probs = np.array([0.4, 0.3, 0.2, 0.1])
    _, shaped = sample_next(probs, temperature=1, top_k=2, top_p=0.5, rng=np.random.default_rng(0))
    # top-2 renormalised: 0.571, 0.429; the nucleus reaching 0.5 is the first token alone
    assert np.count_nonzero(shaped) == 1 and shaped[0] == pytest.approx(1.0)
    _, shaped = sample_next(probs, temperature=1, top_k=3, top_p=0.6, rng=np.random.default_rng(0))
    # top-3 renormalised: 0.444, 0.333, 0.222; cumulative 0.444, 0.778: two tokens
    assert np.count_nonzero(shaped) == 2


def test_the_top_k_without_sorting_the_vocabulary_keeps_the_whole_sort_s_tokens_and_order():
    """A generation cuts the top-k once per token; the partial selection must give the first k of a stable sort of
    every token, equal probabilities in id order, exactly (a seed draws the same text)."""
    from core.tasks.sampling import most_likely

    rng = np.random.default_rng(3)
    for trial in range(500):
        size = int(rng.integers(2, 200))
        probs = rng.dirichlet(np.full(size, 0.3))
        if trial % 2:
            probs = np.round(probs, 2)  # many equal probabilities, zeros among them
        for k in {1, 2, 7, size - 1, size}:
            assert np.array_equal(most_likely(probs, k), np.argsort(-probs, kind="stable")[:k]), (trial, k)


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), [(0.7, 0, 1.0), (1.3, 5, 1.0), (0.8, 50, 0.9), (1.0, 3, 0.6)])
def test_the_reshaped_bars_are_the_distribution_transformers_generate_samples_from(temperature, top_k, top_p):
    """The Next-token tab's 'as sampled' bars against Hugging Face's own warpers, applied in generate's order."""
    import torch
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    from core.tasks.sampling import reshape

    probs = np.random.default_rng(1).dirichlet(np.full(40, 0.3))
    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature),
                                   *([TopKLogitsWarper(top_k)] if top_k else []),
                                   *([TopPLogitsWarper(top_p)] if top_p < 1 else [])])  # fmt: skip
    scores = warpers(torch.zeros(1, 1, dtype=torch.long), torch.log(torch.tensor(probs))[None])
    theirs = torch.softmax(scores, dim=-1)[0].numpy()
    ours = reshape(probs, temperature=temperature, top_k=top_k, top_p=top_p)
    assert np.count_nonzero(ours) == np.count_nonzero(theirs)
    assert ours == pytest.approx(theirs, abs=1e-6)


def test_the_next_token_tab_reshapes_its_bars_as_the_sliders_move(lm_tiny_model):
    import json

    page = open_page("pages/generate.py")
    bars = json.loads(next(c for c in page.get("plotly_chart") if "as sampled" in c.proto.spec).proto.spec)
    assert len(bars["data"][0]["y"]) == 10  # the top 10 of what sampling can draw
    page.slider(key="generate-temperature").set_value(0.0).run()
    greedy = json.loads(next(c for c in page.get("plotly_chart") if "as sampled" in c.proto.spec).proto.spec)
    assert greedy["data"][0]["x"] == [1.0]  # temperature 0: the most likely token, always
    assert any("Temperature 0 is greedy decoding" in c.value for c in page.caption)
    assert "temperature 0, top-k 50" in " ".join(c.value for c in page.caption)  # the Generate tab reads them
