"""Challenges → Bias: the statistics against scipy, the probes on a real trained classifier, WEAT on MiniLM, the
training sets' shortcut words, and the page in both languages."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
from scipy import stats

from core import catalog
from core.errors import InputError
from core.tasks import bias

from conftest import open_page


def test_the_probe_permutation_test_is_scipys_exact_test_on_the_terms():
    rng = np.random.default_rng(3)
    probabilities = rng.uniform(0.3, 0.9, size=(8, 6))  # 8 templates, 3 terms a side
    ours = bias.permutation_gap(probabilities, 3)
    means = probabilities.mean(axis=0)
    theirs = stats.permutation_test((means[:3], means[3:]), lambda a, b: np.mean(a) - np.mean(b),
                                    permutation_type="independent", alternative="two-sided",
                                    n_resamples=np.inf).pvalue  # exact: all 20 splits of the terms
    assert ours == pytest.approx(theirs)
    assert bias.fewest_p(3, 6) == pytest.approx(2 / 20) and bias.fewest_p(2, 4) == pytest.approx(2 / 6)
    many = rng.uniform(size=(4, 24))  # C(24, 12) splits: sampled
    assert 0 < bias.permutation_gap(many, 12, permutations=2000) <= 1


def test_a_gap_carried_by_one_term_is_not_called_a_group_difference():
    """Each term has an effect of its own that repeats in every template; the groups differ only by chance."""
    probabilities = np.tile([0.50, 0.52, 0.48, 0.51, 0.49, 0.90], (8, 1))  # one term in B is far off
    probabilities += np.random.default_rng(0).normal(0, 0.01, probabilities.shape)
    low, high = bias.bootstrap_gap(probabilities, 3)
    assert low < 0 < high or high - low > 0.1  # resampling terms shows how much rests on that one term
    assert bias.permutation_gap(probabilities, 3) >= 0.1


def test_weats_exact_p_value_is_scipys_and_its_effect_size_is_cohens_d():
    s = np.array([0.31, 0.22, 0.27, 0.05, 0.12, -0.02, 0.08, 0.10])
    theirs = stats.permutation_test((s[:4], s[4:]), lambda a, b: np.sum(a), permutation_type="independent",
                                    alternative="greater", n_resamples=np.inf).pvalue  # fmt: skip
    assert bias.weat_p_value(s, 4) == pytest.approx(theirs)
    assert bias._effect(s, 4) == pytest.approx((s[:4].mean() - s[4:].mean()) / s.std(ddof=1))
    rng = np.random.default_rng(1)
    many = rng.normal(size=40)  # C(40, 20) splits: sampled, and a sample is close to the exact answer
    sampled = bias.weat_p_value(many, 20)
    assert 0 < sampled <= 1


def test_weat_on_vectors_built_to_associate_finds_a_large_effect():
    basis = np.eye(4)

    def embed(words):  # X words lean to A's direction, Y words to B's
        table = {"x1": basis[0] + 0.9 * basis[2], "x2": basis[0] + 0.8 * basis[2], "y1": basis[1] + 0.9 * basis[3],
                 "y2": basis[1] + 0.8 * basis[3], "a1": basis[2], "a2": basis[2] + 0.1 * basis[0],
                 "b1": basis[3], "b2": basis[3] + 0.1 * basis[1]}  # fmt: skip
        rows = np.array([table[w] for w in words])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    found = bias.weat(embed, ["x1", "x2"], ["y1", "y2"], ["a1", "a2"], ["b1", "b2"])
    assert found.effect_size > 1.0 and found.p_value == pytest.approx(1 / 6)  # the best of C(4, 2) = 6 splits
    assert found.effect_low <= found.effect_size <= found.effect_high


def test_weats_interval_resamples_the_words_and_narrows_with_more_of_them():
    rng = np.random.default_rng(3)

    def sets(count, lean):  # X leans to A and Y to B by ``lean``, every word with its own noise
        a_dir, b_dir = np.eye(16)[0], np.eye(16)[1]
        x = rng.normal(size=(count, 16)) + lean * a_dir
        y = rng.normal(size=(count, 16)) + lean * b_dir
        a = rng.normal(size=(count, 16)) + 2 * a_dir
        b = rng.normal(size=(count, 16)) + 2 * b_dir
        table = {f"w{i}": v / np.linalg.norm(v) for i, v in enumerate(np.concatenate([x, y, a, b]))}
        words = list(table)
        return (lambda chosen: np.array([table[w] for w in chosen])), [words[i * count : (i + 1) * count] for i in range(4)]

    embed, (x, y, a, b) = sets(30, 1.5)
    strong = bias.weat(embed, x, y, a, b)
    assert 0 < strong.effect_low <= strong.effect_size <= strong.effect_high  # a real association: CI above 0
    embed, (x, y, a, b) = sets(30, 0.0)
    none = bias.weat(embed, x, y, a, b)
    assert none.effect_low < 0 < none.effect_high  # no association: the interval spans 0
    embed, (x, y, a, b) = sets(6, 0.0)
    few = bias.weat(embed, x, y, a, b)
    assert few.effect_high - few.effect_low > none.effect_high - none.effect_low  # fewer words, a wider interval
    with pytest.raises(InputError):
        bias.weat(embed, ["x1", "x2"], ["y1"], ["a1", "a2"], ["b1", "b2"])


def test_probes_on_a_trained_classifier_compare_every_term_in_every_template(tiny_model):
    from core.tasks.classify import TransformerClassifier

    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")
    templates = ("{term} wrote this review.", "I watched the film with {term}.", "This is a story about {term}.")
    found = bias.probe(classifier.predict_batch, templates, ("he", "my father"), ("she", "my mother"), "positive")
    assert found.probabilities.shape == (3, 4) and found.flip_pairs == 3 * 2 * 2
    alone = classifier.predict_batch(["He wrote this review."])[0]  # a term opening a sentence is capitalised
    assert found.probabilities[0, 0] == pytest.approx(alone.scores["positive"], abs=1e-4)
    assert found.per_term()["he"] == pytest.approx(found.probabilities[:, 0].mean())
    expected = (found.probabilities[:, :2].mean(axis=1) - found.probabilities[:, 2:].mean(axis=1)).mean()
    assert found.gap == pytest.approx(expected) and found.gap_low <= found.gap <= found.gap_high
    same = bias.probe(classifier.predict_batch, templates, ("my friend",), ("my friend ",), "positive")
    assert same.gap == 0 and same.flip_share == 0 and same.p_value == 1.0  # identical groups: nothing to find
    assert bias.filled(["{term} wrote it."], ["he"]) == ["He wrote it."]


def test_the_probes_compare_the_runtimes_and_the_baselines_on_the_same_sentences(tiny_model):
    from core import settings
    from core.bench import attack, bias_compare
    from core.bench.adapters import TfidfAdapter
    from core.errors import CoreError
    from core.tasks.base import dataset_split
    from core.tasks.classify import TransformerClassifier

    spec = catalog.get_spec("sentiment-tiny")
    request = bias_compare.Request(("{term} wrote this review.", "This is a story about {term}."), ("he", "my father"),
                                   ("she", "my mother"), "positive")  # fmt: skip
    shares = []
    found = bias_compare.compare(spec, "polarity", bias_compare.Request.from_json(request.to_json()), shares.append)
    assert list(found) == attack.compared(spec, "polarity") and shares[-1] == 1.0 and shares == sorted(shares)
    sentences = bias.filled(request.templates, (*request.group_a, *request.group_b))
    pytorch = TransformerClassifier(spec, runtime="torch").predict_batch(sentences)
    fp32 = found["sentiment-tiny@fp32"]
    assert fp32.probabilities.ravel() == pytest.approx([r.scores["positive"] for r in pytorch], abs=1e-4)
    if settings.onnx_available():  # ONNX fp32 computes PyTorch's answers
        assert found["sentiment-tiny@onnx"].probabilities == pytest.approx(fp32.probabilities, abs=1e-4)
    split, labels = dataset_split("polarity")  # the baseline is scikit-learn's own model of the training split
    tfidf = TfidfAdapter(labels, [e.text for e in split.train], [e.label for e in split.train])
    expected = tfidf.pipe.predict_proba(sentences)[:, list(tfidf.pipe.classes_).index("positive")]
    assert found["baseline:tfidf-lr"].probabilities.ravel() == pytest.approx(expected)
    # VADER's lexicon lists none of these words: every sentence gets the same score, so no gap and no flip
    assert found["vader"].gap == 0 and found["vader"].flip_share == 0
    again = bias_compare.from_json(bias_compare.to_json(found))  # what the child process writes reads back the same
    assert all(again[row].gap == found[row].gap and again[row].flip_high == found[row].flip_high for row in found)
    assert all((again[row].probabilities == found[row].probabilities).all() for row in found)
    # a class a row lacks is that row's reason, not a failure of the others
    missing = bias_compare.compare(spec, "polarity", dataclasses.replace(request, label="neutral"))
    assert list(missing) == list(found) and all("neutral" in reason for reason in missing.values())
    too_many = bias_compare.Request(request.templates, tuple(f"term {i}" for i in range(bias.MAX_TERMS + 1)),
                                    request.group_b, "positive")  # fmt: skip
    with pytest.raises(CoreError):  # the child process checks the page's caps again
        bias_compare.Request.from_json(too_many.to_json())


def test_bad_templates_and_lists_are_refused_in_words():
    with pytest.raises(InputError):
        bias.parse_lines("no placeholder here", 20, "templates", need=bias.PLACEHOLDER)
    with pytest.raises(InputError):
        bias.parse_lines("\n".join(f"t{i}" for i in range(30)), 20, "terms")
    with pytest.raises(InputError):
        bias.parse_lines("  \n ", 20, "terms")
    assert bias.parse_lines("a\n a \nb", 5, "terms") == ("a", "b")
    with pytest.raises(InputError):  # a placeholder repeated would multiply the sentence's length by the term's
        bias.parse_lines("{term} and {term}", 20, "templates", need=bias.PLACEHOLDER)
    with pytest.raises(InputError):
        bias.parse_lines("x" * (bias.MAX_LINE_CHARS + 1), 20, "terms")
    with pytest.raises(InputError):  # refused before splitting
        bias.parse_lines("ab\n" * bias.MAX_BOX_CHARS, 20, "terms")
    assert bias.parse_lines("a\n\u200b\n\x00b", 5, "terms") == ("a", "b")  # a line of invisible characters is no term


def test_shortcut_words_find_what_only_one_class_says():
    texts = ["pizza was great", "great pizza night", "pizza and a film", "dull film", "dull and slow", "slow film"]
    labels = ["positive"] * 3 + ["negative"] * 3
    found = bias.shortcut_words(texts, labels, min_count=2)
    assert found["positive"][0][0] == "pizza" and found["negative"][0][0] in {"dull", "slow"}
    chinese = bias.shortcut_words(["好看好看", "好电影", "好的"], ["positive", "positive", "negative"], min_count=1)
    assert all(len(word) == 1 for word, *_ in chinese["positive"])  # Chinese by character


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_probes_a_classifier_and_tests_minilm_in_both_languages(tiny_model, clear_streamlit_caches, lang):
    at = open_page("pages/bias.py", lang=lang)
    at.selectbox(key="bias-model").set_value("sentiment-tiny").run()
    assert "{term}" in at.text_area(key="bias-templates").value
    at.button(key="bias-run").click().run()
    assert not at.exception
    assert at.metric[0].label and at.metric[2].value.endswith("%")
    per_term = next(chart["data"][0] for chart in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
                    if chart["data"][0].get("error_y"))  # fmt: skip
    assert per_term["textposition"] == "inside"  # the numbers sit in the bars, clear of the whiskers
    if lang == "en":  # the page's code, run with plain transformers, prints the page's gap
        import contextlib
        import io

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(next(c.value for c in at.code if "permutation test" in c.value), {})  # noqa: S102 - our own snippet
        gap = float(re.search(r"mean gap A - B: ([+-][0-9.]+) points", printed.getvalue()).group(1))
        assert gap == pytest.approx(float(at.metric[0].value), abs=0.02)
        # the same exact test; the pipeline reads one text at a time, the page pads batches: probabilities differ
        # in the last digits, which can move a few of the 924 splits past a gap this small
        p_value = float(re.search(r"permutation p: ([0-9.]+)", printed.getvalue()).group(1))
        assert p_value == pytest.approx(float(at.metric[1].value), abs=0.02)
        at.button(key="bias-compare").click().run(timeout=300)  # the same probes, every runtime and the baselines
        assert not at.exception and not at.error
        table = next(frame.value for frame in at.dataframe if "computed by" in frame.value.columns)
        assert list(table["computed by"])[-2:] == ["TF-IDF + logistic regression (baseline)", "VADER lexicon (baseline)"]
        assert all(re.fullmatch(r"[+-][0-9.]+ \[[+-][0-9.]+, [+-][0-9.]+\]", cell) for cell in table["Mean gap, A − B (points)"])
    at.button(key="bias-weat-run").click().run()
    assert not at.exception
    assert any(metric.value.startswith(("+", "-")) for metric in at.metric)
    at.text_area(key="bias-templates").set_value("no placeholder").run()
    at.button(key="bias-run").click().run()
    assert at.error and not at.exception  # refused in words, nothing lost


def test_the_skewed_sample_keeps_every_positive_sentence_and_the_held_out_part():
    from collections import Counter

    from core.data import polarity

    full, skewed = polarity.split(), polarity.skewed_split()
    counts = Counter(e.label for e in skewed.train)
    assert counts["positive"] == 75 and counts["positive"] / sum(counts.values()) == pytest.approx(0.75)
    assert set(skewed.train) <= set(full.train) and skewed.test == full.test and skewed.fingerprint == full.fingerprint


def test_the_answer_shift_counts_shares_accuracy_and_recall():
    truth = ["positive", "negative"] * 5
    rows = bias.answer_shift({"always": ["positive"] * 10, "right": list(truth)}, truth, "positive")
    always, right = rows
    assert always["share"].value == 1.0 and always["accuracy"].value == 0.5 and always["true_share"] == 0.5
    assert always["recall"] == {"negative": 0.0, "positive": 1.0}
    assert right["share"].value == 0.5 and right["accuracy"].value == 1.0 and 0 < right["share"].low < 0.5


def test_the_page_compares_a_model_trained_on_a_skewed_sample(fresh_cache, clear_streamlit_caches, monkeypatch):
    from core.training import jobs

    # served by PyTorch: int8's export and check of two fresh MiniLMs (17 s of this test's 28) are other tests' subject
    monkeypatch.setenv("LMLAB_SERVING", "torch")
    for key in ("sentiment-minilm", "sentiment-minilm-skewed"):
        jobs.run_here(key, {"epochs": 0.3})  # a few steps: the page's comparison is under test, not the models
    at = open_page("pages/bias.py")
    assert not any("answered positive" in frame.value.to_string() for frame in at.dataframe)  # only when asked
    at.button(key="bias-skew-run").click().run()
    assert not at.exception
    tables = [frame.value.to_string() for frame in at.dataframe]
    assert any("sentiment-minilm-skewed" in table and "answered positive" in table for table in tables)


def test_the_flip_share_and_each_terms_mean_have_bootstrap_intervals():
    # one A term flips the label in every template, the others never: the share is 1/3, and resampling the terms
    # gives an interval from 0 (that term left out) to well above the share
    flips = np.zeros((6, 3, 3), dtype=bool)
    flips[:, 0, :] = True
    low, high = bias.bootstrap_flips(flips)
    assert low == 0.0 and 0.6 <= high <= 1.0 and low <= flips.mean() <= high
    assert bias.bootstrap_flips(np.ones((4, 2, 2), dtype=bool)) == (1.0, 1.0)
    probabilities = np.array([[0.2, 0.8], [0.4, 0.8], [0.6, 0.8]])
    found = bias.ProbeResult(("a {x}", "b {x}", "c {x}"), ("p",), ("q",), "positive", probabilities, [], 0, 0, 0, 1, 0, 0)
    intervals = found.per_term_ci()
    assert intervals["q"] == pytest.approx((0.8, 0.8))  # the same in every template: no spread
    assert 0.2 <= intervals["p"][0] < 0.4 < intervals["p"][1] <= 0.6
