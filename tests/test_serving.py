"""Serving a class: results shared across sessions, and the cheap drawing of 72 attention maps."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core import catalog
from core import memo as memo_module
from core.attention import AttentionModel
from core.memo import Memo
from core.tasks.classify import TransformerClassifier
from core.viz import heatmaps

from conftest import run_together, start_in_order
from conftest import slowed as _slowed


def test_memos_share_one_byte_budget_and_drop_the_oldest_entry_first():
    store = memo_module._Store(max_bytes=100_000)
    first, second = Memo(max_entry_bytes=30_000, store=store), Memo(max_entry_bytes=30_000, store=store)
    for i in range(6):
        first.put(i, np.zeros(5_000, dtype=np.float32))  # 20 kB each
    assert len(first) == 4 and store.bytes <= 100_000  # the two oldest went
    second.put("x", np.zeros(5_000, dtype=np.float32))
    assert len(first) == 3 and len(second) == 1  # one budget: the oldest of any memo goes first
    assert first.get(5, lambda: "recomputed") is not None and first.get(0, lambda: "recomputed") == "recomputed"
    second.put("big", np.zeros(10_000, dtype=np.float32))  # 40 kB: over the entry cap, never kept
    assert second.get("big", lambda: "computed") == "computed"


def test_sizes_count_keys_strings_and_containers():
    text = "a" + "\U000e0001" * 4999  # 5,000 characters of 4 bytes: 20 kB
    assert memo_module.nbytes(text) > 20_000
    assert memo_module.nbytes({"label": text}) > 20_000 and memo_module.nbytes((text, [text])) > 40_000
    assert len(memo_module.digest(text)) == 64 and memo_module.digest(text, None) != memo_module.digest(text, "")


def test_one_session_computes_and_the_others_wait_for_its_result():
    memo = Memo(max_entry_bytes=1_000_000, store=memo_module._Store(10_000_000))
    calls, results = [], []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return "answer"

    run_together(*[lambda: results.append(memo.get("k", slow))] * 8)
    assert calls == [1] and results == ["answer"] * 8


def test_waiters_take_a_result_too_big_to_keep_without_computing_it_again():
    memo = Memo(max_entry_bytes=100, store=memo_module._Store(10_000_000))
    calls, results = [], []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return np.zeros(1_000)  # 8 kB: over this memo's entry cap

    run_together(*[lambda: results.append(memo.get("k", slow))] * 6)
    assert calls == [1] and len(results) == 6 and len(memo) == 0


def test_attention_maps_and_small_results_have_separate_budgets():
    stores = {memo_module.ATTENTION: 0.75, memo_module.PREDICTIONS: 0.25, memo_module.DISTRIBUTIONS: 0.25,
              memo_module.MEANS: 0.125}  # shares of LMLAB_MEMO_MB, as the README says: 1.375 of it, 44 MB by default
    assert len({id(store) for store in stores}) == 4
    for store, share in stores.items():
        assert store.max_bytes == int(memo_module._budget_mb() * share * 2**20)


def test_a_failed_computation_is_not_kept_and_reaches_its_caller():
    memo = Memo(max_entry_bytes=1_000_000, store=memo_module._Store(10_000_000))
    with pytest.raises(RuntimeError):
        memo.get("k", lambda: (_ for _ in ()).throw(RuntimeError("model failed")))
    assert memo.get("k", lambda: "fine") == "fine"


@pytest.fixture(scope="module")
def minilm():
    return AttentionModel(catalog.MINILM)


def test_attention_is_computed_once_per_text_for_the_whole_class(minilm, monkeypatch):
    forwards = []
    original = minilm.model.forward
    monkeypatch.setattr(minilm.model, "forward", lambda *a, **k: forwards.append(1) or original(*a, **k))
    text = "A sentence only this test uses, 4711."
    results = []
    run_together(*[lambda: results.append(minilm.attend(text))] * 8)
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
    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")  # the batching path
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
    tokens = ["[CLS]", "the", "cat", "sat", "<&>", "the", "mat", ".", "[SEP]"]
    figure = heatmaps.layer_head_grid(weights, tokens, title="Every layer × head", offset=40)
    assert len(figure.data) == 1 and "xaxis2" not in figure.to_plotly_json()["layout"]  # one trace, no subplots
    trace = figure.data[0]
    z = np.asarray(trace.z, dtype=float)
    assert z.shape == (6 * 10 - 1, 12 * 10 - 1) and np.asarray(trace.z).dtype == np.float32
    assert np.allclose(z[2 * 10 : 2 * 10 + 9, 5 * 10 : 5 * 10 + 9], weights[2, 5], atol=1e-6)  # layer 2, head 5
    assert np.isnan(z[9]).all() and np.isnan(z[:, 9]).all()  # the gaps between tiles
    assert trace.y[2 * 10 + 3] == "L2 · query 43:sat" and trace.x[5 * 10 + 6] == "H5 · key 46:mat"  # from offset
    assert len(set(trace.x)) == len(trace.x) and len(set(trace.y)) == len(trace.y)  # no merged categories
    # ticks by category index, so escaping a token for display (the centre one is "<&>") cannot hide them
    assert list(figure.layout.xaxis.tickvals) == [h * 10 + 4 for h in range(12)]
    assert list(figure.layout.xaxis.ticktext) == [f"H{h}" for h in range(12)]
    assert list(figure.layout.yaxis.ticktext) == [f"L{layer}" for layer in range(6)]
    most = heatmaps.grid_tokens(6, 12)  # MiniLM's grid stays bounded, gaps included
    big = heatmaps.layer_head_grid(np.zeros((6, 12, most, most)), [str(i) for i in range(most)], title="t")
    assert np.asarray(big.data[0].z).size <= heatmaps.GRID_CELLS and most >= 60


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "eager"])
@pytest.mark.timed
def test_a_long_explanation_lets_other_requests_on_the_same_model_in_between(tiny_model, traced):
    """Integrated gradients take the model one chunk at a time: an "Analyse" waits for one chunk, not all."""
    from core.tasks.attribution import explain

    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")  # the batching path
    forward = classifier.traced_pass.get()  # traced and checked (the model taken step by step)
    assert forward.traced is not None, forward.why
    if traced:
        original = forward.traced

        def slow_on_the_path(*args):
            time.sleep(0.25)  # each chunk of the path takes a while, as on a loaded server
            return original(*args)

        forward.traced = slow_on_the_path
    else:
        forward.traced, original = None, classifier.model.forward

        def slow_on_the_path(*args, **kwargs):
            if kwargs.get("inputs_embeds") is not None:
                time.sleep(0.25)
            return original(*args, **kwargs)

        classifier.model.forward = slow_on_the_path
    finished = {}

    def long_explanation():
        explain(classifier, "the film was long but the actors were good and the music was fine")
        finished["explanation"] = time.perf_counter()

    worker = threading.Thread(target=long_explanation)
    worker.start()
    time.sleep(0.4)  # the explanation is on its path now
    started = time.perf_counter()
    classifier.predict("A short review.")
    finished["analyse"] = time.perf_counter()
    worker.join()
    assert finished["analyse"] - started < 0.5  # one chunk's wait at most (the path has five)
    assert finished["analyse"] < finished["explanation"]


def test_requests_from_many_sessions_share_forward_passes_and_get_their_own_answers(tiny_model):
    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")  # the batching path
    texts = [f"{word} film number {i}, {'truly ' * (i % 5)}worth seeing." for i, word in
             enumerate(["A great", "An awful", "A dull", "A lovely"] * 4)]  # fmt: skip
    alone = [classifier.predict_batch([text])[0] for text in texts]  # one at a time, unpadded
    passes = _slowed(classifier.model)
    answers: dict[int, object] = {}
    run_together(*[lambda i=i: answers.__setitem__(i, classifier.predict(texts[i])) for i in range(len(texts))])
    assert len(passes) < len(texts) and max(classifier.coalescer.batch_sizes) > 1  # batched
    for i in range(len(texts)):  # each session got the answer for its own text
        assert answers[i].label == alone[i].label
        assert all(abs(answers[i].scores[k] - alone[i].scores[k]) < 1e-4 for k in alone[i].scores)
    passes.clear()
    classifier.predict("A lone request.")
    assert passes == [1]  # alone: a batch of one, no waiting for company


def test_a_long_text_is_not_padded_together_with_short_ones(tiny_model, monkeypatch):
    from core.tasks import batching

    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")  # the batching path
    monkeypatch.setattr(batching, "PADDED_TOKENS", 120)
    passes = []
    original = classifier._forward_once
    monkeypatch.setattr(classifier, "_forward_once", lambda texts: passes.append(len(texts)) or original(texts))
    texts = ["Fine."] * 6 + ["A long review " * 8 + "that goes on."] + ["Bad."] * 3
    answers = classifier._run(texts, by_length=True)
    assert len(passes) >= 2 and sum(passes) == len(texts)  # the long text in a pass of its own size
    alone = [classifier.predict_batch([text])[0] for text in texts]
    assert [a.label for a in answers] == [b.label for b in alone]


def test_one_failing_request_does_not_fail_the_others_in_its_batch(tiny_model, monkeypatch):
    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")  # the batching path
    original = classifier._forward_once

    def fragile(texts):
        if "boom" in texts:
            raise RuntimeError("this one text breaks the model")
        return original(texts)

    monkeypatch.setattr(classifier, "_forward_once", fragile)
    with classifier._lock:  # hold the model while three requests queue up, so they form one batch
        results: dict[str, object] = {}

        def ask(text: str) -> None:
            try:
                results[text] = classifier.predict(text).label
            except RuntimeError as error:
                results[text] = error

        threads = [threading.Thread(target=ask, args=(text,)) for text in ("good", "boom", "fine")]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
    for thread in threads:
        thread.join()
    assert isinstance(results["boom"], RuntimeError)
    assert results["good"] in classifier.labels and results["fine"] in classifier.labels


def test_the_model_lock_is_first_come_first_served_and_only_its_holder_releases_it():
    from core.tasks.inputs import FairLock

    lock, order = FairLock(), []
    lock.acquire()
    threads = start_in_order(5, lambda n: (lock.acquire(), order.append(n), lock.release()))  # they ask in this order
    refused = []

    def stray_release():
        try:
            lock.release()
        except RuntimeError as error:
            refused.append(error)

    stranger = threading.Thread(target=stray_release)
    stranger.start()
    stranger.join()
    assert refused  # another thread cannot release it
    lock.release()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3, 4]


def test_the_warm_up_loads_the_learn_pages_model_once_in_the_background(monkeypatch):
    import threading

    import torch

    from core import loading, warmup

    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # more than a page's one, even where this process was given one (pytest -n)
    monkeypatch.setenv("LMLAB_WARMUP", "1")
    monkeypatch.setenv("LMLAB_SERVING_THREADS", "1")
    monkeypatch.setattr(warmup, "_started", None)
    try:
        thread = warmup.start()
        assert thread is not None and warmup.start() is thread  # once per process
        thread.join(timeout=120)
        assert warmup.seconds is not None and not thread.is_alive()
        seen = []
        page = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))  # as a page's script thread
        page.start()
        page.join()
        assert seen == [1]  # the server's pages run torch in threads of their own: one thread each
    finally:
        torch.set_num_threads(threads)  # the rest of the suite trains in this process
    weights = loading.model_source(catalog.MINILM)[0]
    assert any(str(weights) in marker[0] for marker in loading._verified)  # hashed: the first visit need not
    kept = next(iter(loading._HANDED.values()))
    _, first = loading.load_encoder(catalog.MINILM, eager_attention=True)
    assert first is kept and not loading._HANDED  # the first visit takes the warm-up's model: no second load
    _, second = loading.load_encoder(catalog.MINILM, eager_attention=True)
    assert second is not first
    monkeypatch.setenv("LMLAB_WARMUP", "0")
    monkeypatch.setattr(warmup, "_started", None)
    assert warmup.start() is None


@pytest.mark.parametrize("runtime", ["ONNX Runtime fp32", "PyTorch fp32"])
def test_translations_asked_at_once_share_a_generate_and_keep_their_outputs(translate_tiny_model, runtime, monkeypatch):
    from core.data import translation
    from core.tasks.translate import Translator

    if runtime.startswith("PyTorch"):
        monkeypatch.setenv("LMLAB_SERVING", "torch")
    translator = Translator(catalog.get_spec("translate-en-zh"))
    sources = [pair.english for pair in translation.corpus(train_size=0).test][:24]
    alone = [translator.translate(text) for text in sources]  # one after another: each a batch of one
    assert {one.runtime for one in alone} == {runtime}
    passes = []

    def slow(decode, size):  # slow enough that the others queue while one decodes
        passes.append(size)
        time.sleep(0.05)
        return decode()

    if translator._greedy is None:
        original = translator.model.generate
        translator.model.generate = lambda *a, **k: slow(lambda: original(*a, **k), len(k["input_ids"]))
    else:
        decoder = translator._greedy
        translator._greedy = lambda ids, mask, **k: slow(lambda: decoder(ids, mask, **k), len(ids))
    together: list = [None] * len(sources)
    run_together(*[lambda i=i: together.__setitem__(i, translator.translate(sources[i])) for i in range(len(sources))])
    assert max(passes) > 1 and len(passes) < len(sources)  # shared passes
    for one, other in zip(alone, together, strict=True):
        assert (one.text, one.target_tokens, one.source_tokens) == (other.text, other.target_tokens, other.source_tokens)
        assert np.allclose(one.alignment, other.alignment, atol=1e-5)  # the attention pass of the same output
    beam = translator.translate(sources[0], beams=2)  # beam search decodes alone, as before, on PyTorch
    assert beam.decoding == "beam search (2 beams)" and beam.text and beam.runtime == "PyTorch fp32"


def test_next_token_requests_from_many_sessions_share_a_padded_forward_pass(lm_tiny_model):
    """Prompts of different lengths in one right-padded pass: each session gets its own prompt's distribution."""
    import numpy as np

    from core.tasks.generate import LanguageModel

    model = LanguageModel(catalog.LM_LEE)
    model.traced_pass.stay_eager()  # the eager body, whose passes are counted (the traced one: test_serving_shared_passes)
    prompts = ["The government", "Police say the fire", "The Australian cricket team has", "Palestinian",
               "The Prime Minister said on Tuesday that the", "Officials"] * 2  # fmt: skip
    alone = [model._distribution(model._ids(prompt)) for prompt in prompts]  # one unpadded pass each
    passes = _slowed(model.model.base_model)  # the body: the output layer reads each window's last token only
    answers: dict[int, dict] = {}
    run_together(*[lambda i=i: answers.__setitem__(i, model.next_tokens(prompts[i], k=5)) for i in range(len(prompts))])
    assert len(passes) < len(prompts) and max(model.coalescer.batch_sizes) > 1  # batched
    for i, distribution in enumerate(alone):
        best = np.argsort(-distribution, kind="stable")[:5]
        assert [t["id"] for t in answers[i]["transformer"]] == best.tolist()
        assert all(abs(t["probability"] - distribution[t["id"]]) < 1e-5 for t in answers[i]["transformer"])
    assert passes and max(passes) > 1  # the slowed body ran, on several windows at once
    del model.model.base_model.forward  # the class's own forward again
    assert model.next_tokens("A lone request", k=3)["context_tokens"] > 0


def test_only_the_request_that_runs_a_batch_takes_the_model_lock():
    """An answered request never queues for the model lock just to learn it was answered: the lock is taken once
    per batch, not once per request (which made every answer wait for the next batch's turn)."""
    import threading
    import time

    from core.tasks.batching import Coalescer
    from core.tasks.inputs import FairLock

    class CountingLock(FairLock):
        taken = 0

        def acquire(self) -> None:
            super().acquire()
            CountingLock.taken += 1

    coalescer = Coalescer(CountingLock(), lambda items: [item.upper() for item in items])
    coalescer.lock.acquire()  # eight requests arrive while the model is busy
    answers: dict[str, str] = {}
    threads = [threading.Thread(target=lambda item=item: answers.__setitem__(item, coalescer.submit(item)))
               for item in "abcdefgh"]  # fmt: skip
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    coalescer.lock.release()
    for thread in threads:
        thread.join(10)
    assert answers == {item: item.upper() for item in "abcdefgh"}
    assert coalescer.batch_sizes == [8]
    assert CountingLock.taken == 1 + 1  # the test's own hold, then one turn for the whole batch


def test_small_classifiers_keep_their_place_beside_three_large_ones(tiny_model, clear_streamlit_caches, monkeypatch):
    """A class on the Chinese and the English pages at once: the small models trained here are not evicted by
    three MiniLM-sized ones (nor do they evict them), so nobody waits for a reload."""
    import json
    import shutil

    from core.tasks import onnx_runtime
    from ui import models

    monkeypatch.setenv("LMLAB_SERVING", "torch")  # the caches are the point here, not the runtime
    copies = [tiny_model.parent / f"large-{name}" for name in "abc"]
    try:
        for folder in copies:  # the tiny model's weights, described as a MiniLM-sized model
            shutil.copytree(tiny_model, folder)
            meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
            meta.update(key=folder.name, size_bytes=91_600_000)
            (folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
        small = models.predictor(catalog.get_spec(tiny_model.name))
        large = [models.predictor(catalog.get_spec(folder.name)) for folder in copies]
        assert models.predictor(catalog.get_spec(tiny_model.name)) is small  # still loaded
        assert [models.predictor(catalog.get_spec(folder.name)) for folder in copies] == large
        assert len({id(model) for model in [small, *large]}) == 4
    finally:
        for folder in copies:
            shutil.rmtree(folder, ignore_errors=True)
            onnx_runtime.forget(folder.name)
