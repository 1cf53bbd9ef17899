"""Serving a class: results shared across sessions, and the cheap drawing of 72 attention maps."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core import catalog
from core.attention import AttentionModel
from core.memo import Memo
from core.tasks.classify import TransformerClassifier
from core.viz import heatmaps


def test_memo_keeps_the_newest_entries_within_its_item_and_byte_bounds():
    memo = Memo(max_items=3, max_bytes=10_000)
    calls = []
    for key in ["a", "b", "c", "a", "d"]:  # "a" used again: "b" is now the oldest
        memo.get(key, lambda key=key: calls.append(key) or key.upper())
    assert calls == ["a", "b", "c", "d"] and memo.hits == 1 and len(memo) == 3
    assert memo.get("b", lambda: "again") == "again"  # "b" was dropped
    big = Memo(max_items=100, max_bytes=50_000)
    for i in range(10):
        big.put(i, (np.zeros(2_000, dtype=np.float32),))  # 8 kB each
    assert 4 <= len(big) <= 6 and big.get(9, lambda: None) is not None and big.get(0, lambda: "gone") == "gone"
    big.put("huge", (np.zeros(100_000),))  # over the whole budget: never stored
    assert big.get("huge", lambda: "computed") == "computed"


@pytest.fixture(scope="module")
def minilm():
    return AttentionModel(catalog.MINILM)


def test_attention_is_computed_once_per_text_for_the_whole_class(minilm, monkeypatch):
    forwards = []
    original = minilm.model.forward
    monkeypatch.setattr(minilm.model, "forward", lambda *a, **k: forwards.append(1) or original(*a, **k))
    text = "A sentence only this test uses, 4711."
    results = []
    threads = [threading.Thread(target=lambda: results.append(minilm.attend(text))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = minilm.attend(text)
    assert len(results) == 8 and 1 <= len(forwards) <= 8  # concurrent first asks may each compute
    assert all(np.array_equal(r.weights, again.weights) and r.tokens == again.tokens for r in results)
    before = len(forwards)
    for _ in range(20):  # twenty students on the same default text: no more forward passes
        minilm.attend(text)
    assert len(forwards) == before
    with pytest.raises(ValueError):  # the shared maps cannot be changed by one page
        again.weights[0, 0, 0, 0] = 0.5
    assert minilm.attend(text + " More.").tokens != again.tokens  # another text is another entry


def test_what_if_predictions_reuse_the_answer_any_session_got(tiny_model):
    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"))
    text = "A film I will remember."
    answer = classifier.predict(text)
    forwards = []
    original = classifier.model.forward
    classifier.model.forward = lambda *a, **k: forwards.append(1) or original(*a, **k)
    assert classifier.predict_cached(text) == answer and forwards == []
    assert classifier.predict_cached("  " + text + " ") == answer  # the same text once cleaned
    fresh = classifier.predict_cached("Another film entirely.")
    assert forwards == [1] and fresh.label in classifier.labels
    assert classifier.predict(text).latency_ms >= 0 and forwards == [1, 1]  # "Analyse" always runs the model


def test_the_layer_by_head_grid_is_one_trace_with_every_cell_named():
    rng = np.random.default_rng(0)
    weights = rng.random((6, 12, 9, 9))
    tokens = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
    started = time.perf_counter()
    figure = heatmaps.layer_head_grid(weights, tokens, title="Every layer × head")
    took = time.perf_counter() - started
    assert len(figure.data) == 1 and took < 0.1  # the 72-subplot version took ~0.17 s
    trace = figure.data[0]
    z = np.asarray(trace.z, dtype=float)
    assert z.shape == (6 * 10 - 1, 12 * 10 - 1)
    assert np.array_equal(z[2 * 10 : 2 * 10 + 9, 5 * 10 : 5 * 10 + 9], weights[2, 5])  # layer 2, head 5
    assert np.isnan(z[9]).all() and np.isnan(z[:, 9]).all()  # the gaps between tiles
    assert trace.y[2 * 10 + 3] == "L2 · query 3:sat" and trace.x[5 * 10 + 6] == "H5 · key 6:mat"
    assert len(set(trace.x)) == len(trace.x) and len(set(trace.y)) == len(trace.y)  # no merged categories
    assert list(figure.layout.xaxis.ticktext) == [f"H{h}" for h in range(12)]
    assert list(figure.layout.yaxis.ticktext) == [f"L{layer}" for layer in range(6)]
