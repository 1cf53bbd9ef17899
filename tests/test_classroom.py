"""One server, a class of sessions: what a student types cannot stall, overload or overwrite the others.

Each test reproduces a row of the classroom table (README "A class on one server") on real models.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core import catalog
from core.errors import InputError
from core.tasks import inputs, summarize
from core.tasks.attribution import MAX_TOKENS, explain
from core.tasks.classify import TransformerClassifier
from core.tasks.embeddings import SentenceEncoder
from core.tasks.inputs import Gate
from core.tasks.zero_shot import (
    MAX_LABELS_FIELD,
    ZeroShotClassifier,
    check_template,
    nli_hypothesis,
    parse_labels,
)


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder()


# -- row 1: a summary of 1,249 tiny sentences ---------------------------------------------------------------


def test_summary_refuses_too_many_sentences_quickly(encoder):
    text = ("Go. " * 1250)[:5000]
    started = time.perf_counter()
    with pytest.raises(InputError, match=f"at most {summarize.MAX_SENTENCES}"):
        summarize.extractive(encoder, text)
    assert time.perf_counter() - started < 1.0  # refused before any sentence is embedded


def test_mmr_selection_is_quadratic_not_cubic():
    rng = np.random.default_rng(0)
    n = 2000  # far beyond the cap: the selection alone must stay cheap
    vectors = rng.normal(size=(n, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    started = time.perf_counter()
    chosen = summarize.mmr_select(similarity, rng.random(n), [1] * n, budget_words=n, diversity=0.5)
    assert time.perf_counter() - started < 5.0  # the old loop took minutes here
    assert sorted(chosen) == list(range(n))


def test_mmr_matches_the_definition_on_a_small_case():
    """The vectorised loop picks what λ·relevance − (1 − λ)·max-similarity picks, one at a time."""
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(12, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity, relevance, lengths = vectors @ vectors.T, rng.random(12), list(rng.integers(3, 12, 12))
    expected, used, left = [], 0, set(range(12))
    while left:
        best = max(left, key=lambda i: 0.7 * relevance[i] - 0.3 * max((similarity[i, j] for j in expected), default=0))
        left.discard(best)
        if expected and used + lengths[best] > 40:
            continue
        expected.append(best)
        used += lengths[best]
    assert summarize.mmr_select(similarity, relevance, lengths, 40, 0.3) == expected


def test_summary_sliders_reuse_the_embedding(encoder, monkeypatch):
    from core.data import lee

    embedded = summarize.embed(encoder, lee.articles()[0])
    calls = []
    monkeypatch.setattr(encoder, "encode", lambda *a, **k: calls.append(1))
    for budget in (20, 60, 120):
        for diversity in (0.0, 0.5, 1.0):
            result = summarize.select(embedded, budget, diversity)
            assert result.words_out <= budget or len([s for s in result.sentences if s.chosen]) == 1
    assert not calls  # moving a slider never runs the encoder again


# -- row 2: attributions of 430 tokens ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_classifier(tiny_model):
    return TransformerClassifier(catalog.get_spec("sentiment-tiny"))


def test_explanation_refuses_long_token_counts_and_unknown_classes(tiny_classifier):
    made_up = " ".join(["zq" * 40] * 12)  # 12 words of 80 letters: hundreds of word pieces
    with pytest.raises(InputError, match=f"at most {MAX_TOKENS} tokens"):
        explain(tiny_classifier, made_up)
    with pytest.raises(InputError, match="Unknown class"):
        explain(tiny_classifier, "a fine film", target="no-such-class")


def test_explanation_takes_a_gate_slot(tiny_classifier, monkeypatch):
    gate = Gate(1)
    monkeypatch.setattr(inputs, "_gate", gate)
    gate.acquire()  # every slot busy
    done = threading.Event()
    worker = threading.Thread(target=lambda: (explain(tiny_classifier, "a fine film"), done.set()))
    worker.start()
    assert not done.wait(0.5)  # waits for the slot
    gate.release()
    assert done.wait(30)
    worker.join()


# -- row 3: label templates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    ["{label} {label:>100000000}", "{label} {0}", "{label} {}", "no placeholder", "", "{label}" + "x" * 300,
     "{label!r}", "{{label}}"],
)  # fmt: skip
def test_bad_templates_are_refused_with_a_message(template):
    with pytest.raises(InputError):
        check_template(template)


def test_templates_are_filled_without_format(encoder):
    classifier = ZeroShotClassifier(encoder, template="这段文字讲的是{label}。")
    result = classifier.classify("NASA launched a rocket.", ["space", "cooking"])
    assert set(result.shares) == {"space", "cooking"}
    with pytest.raises(InputError):
        ZeroShotClassifier(encoder, template="{label} {label:>100000000}")


def test_label_box_has_a_cap_and_chinese_separators():
    assert parse_labels("体育，政治、科技；经济") == ["体育", "政治", "科技", "经济"]
    with pytest.raises(InputError, match="limit"):
        parse_labels("a," * MAX_LABELS_FIELD)


# -- row 12: the online NLI pipeline's template ------------------------------------------------------------


def test_nli_hypothesis_is_positional():
    hypothesis = nli_hypothesis("This text is about {label}.")
    assert hypothesis.format("sports") == "This text is about sports."  # what the pipeline does with it


# -- row 5: fair scheduling ---------------------------------------------------------------------------------


def test_gate_admits_first_come_first_served():
    gate, order = Gate(1), []
    gate.acquire()
    threads = []
    for i in range(5):
        thread = threading.Thread(target=lambda i=i: (gate.acquire(), order.append(i), gate.release()))
        thread.start()
        threads.append(thread)
        time.sleep(0.05)  # arrive in order
    assert gate.waiting == 5 and gate.ahead() == 6
    gate.release()
    for thread in threads:
        thread.join(5)
    assert order == list(range(5)) and gate.running == 0 and gate.waiting == 0


def test_a_busy_model_does_not_hold_up_another(tiny_model, monkeypatch):
    """A slow call on model A, a second request for A, then a request for B: B answers at once."""
    gate = Gate(2)
    monkeypatch.setattr(inputs, "_gate", gate)
    spec = catalog.get_spec("sentiment-tiny")
    first, second = TransformerClassifier(spec), TransformerClassifier(spec)
    second.predict("warm up")
    release = threading.Event()

    def slow_call_on_first():
        with first._lock, inputs.inference_gate():
            release.wait(10)

    slow = threading.Thread(target=slow_call_on_first)
    slow.start()
    time.sleep(0.1)
    queued = threading.Thread(target=lambda: first.predict("queued behind the slow call"))
    queued.start()
    time.sleep(0.1)
    started = time.perf_counter()
    second.predict("an unrelated model")
    waited = time.perf_counter() - started
    release.set()
    slow.join()
    queued.join()
    assert waited < 2.0, f"the other model waited {waited:.1f} s"


def test_inspect_takes_a_gate_slot(monkeypatch):
    from core.attention import AttentionModel

    model = AttentionModel(catalog.MINILM)
    gate = Gate(1)
    monkeypatch.setattr(inputs, "_gate", gate)
    gate.acquire()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (model.attend("The cat sat."), done.set()))
    worker.start()
    assert not done.wait(0.5)
    gate.release()
    assert done.wait(30)
    worker.join()
