"""The faster CPU runtime: a trained classifier exported to ONNX and served by ONNX Runtime.

Real exports of a model trained here with Trainer, run by the real ONNX Runtime, compared with PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import catalog, settings
from core.data import polarity
from core.tasks import onnx_agreement
from core.tasks.classify import TransformerClassifier

from conftest import TINY_KEY, open_page

TEXTS = [e.text for e in polarity.split().test][:40] + [
    "Good.",
    "not bad at all , really",
    "an utterly " + "long " * 600 + "film",  # longer than the model reads: truncated the same way
    "表演很好，但故事太长了。",
]


def _probabilities(results) -> np.ndarray:
    return np.array([list(result.scores.values()) for result in results])


def test_onnx_serves_pytorchs_answers_one_at_a_time_and_in_batches(tiny_model):
    spec = catalog.get_spec(TINY_KEY)
    torch_model = TransformerClassifier(spec, runtime="torch")
    served = TransformerClassifier(spec, runtime="onnx")
    assert (served.runtime, served.runtime_note, torch_model.runtime) == ("onnx", "", "torch")
    expected = _probabilities(torch_model.predict_batch(TEXTS))
    assert np.abs(_probabilities(served.predict_batch(TEXTS)) - expected).max() < 1e-4  # padded to the longest
    alone = [served.predict(text) for text in TEXTS[-4:]]  # one text, no padding
    assert np.abs(_probabilities(alone) - expected[-4:]).max() < 1e-4
    assert alone[2].truncated and alone[0].runtime == "ONNX Runtime fp32"
    assert [r.label for r in served.predict_batch(TEXTS)] == [r.label for r in torch_model.predict_batch(TEXTS)]


def test_the_export_is_traced_with_attention_in_plain_operations_and_the_model_keeps_its_own(tiny_model):
    from core.tasks import onnx_runtime

    spec = catalog.get_spec(TINY_KEY)
    onnx_runtime.forget(TINY_KEY)  # exported afresh here
    seen = []
    served = TransformerClassifier(spec, runtime="torch")
    assert served.model.config._attn_implementation == "sdpa"  # what transformers picks for BERT on this torch
    hook = served.model.register_forward_pre_hook(lambda module, args: seen.append(module.config._attn_implementation))
    found = onnx_runtime.load(served.model, served.tokenizer, key=TINY_KEY, runtime="onnx", threads=1,
                              fingerprint=catalog.weights_sha256(spec))  # fmt: skip
    hook.remove()
    assert seen and seen[0] == "eager" and found.path.name.endswith("-eager.onnx")  # the trace; the checks after it
    assert served.model.config._attn_implementation == "sdpa"  # switched back: PyTorch's own passes keep SDPA
    assert {node.op_type for node in __import__("onnx").load(str(found.path)).graph.node}.isdisjoint({"IsNaN"})


def test_int8_serves_only_where_it_gives_pytorchs_labels_on_held_out_texts(tiny_model, monkeypatch):
    spec = catalog.get_spec(TINY_KEY)
    fp32 = TransformerClassifier(spec, runtime="onnx")
    int8 = TransformerClassifier(spec, runtime="onnx-int8")
    assert int8.runtime == "onnx-int8" and int8.onnx.path.stat().st_size < fp32.onnx.path.stat().st_size / 2
    same, of = (int(n) for n in int8.runtime_note.split("held-out")[0].split() if n.isdigit())
    assert of == 50 and same >= 0.98 * of  # the polarity split's test sentences, measured at load
    a, b = fp32.predict_batch(TEXTS), int8.predict_batch(TEXTS)
    assert np.mean([x.label == y.label for x, y in zip(a, b, strict=True)]) >= 0.9
    plain = [r for r in b if r.runtime == "ONNX Runtime dynamic int8"]
    assert plain and "computed again in fp32" in plain[0].runtime_note


    monkeypatch.setattr(onnx_agreement, "MIN_INT8_AGREEMENT", 1.01)  # a model int8 would change: fp32 serves it
    strict = TransformerClassifier(spec, runtime="onnx-int8")
    assert strict.runtime == "onnx" and strict.runtime_note.startswith(f"int8 gave PyTorch's label on {same} of 50")
    assert np.abs(_probabilities(strict.predict_batch(TEXTS)) - _probabilities(a)).max() < 1e-4


def test_int8s_close_calls_are_answered_in_fp32(tiny_model):
    spec = catalog.get_spec(TINY_KEY)
    torch_model, int8 = TransformerClassifier(spec, runtime="torch"), TransformerClassifier(spec, runtime="onnx-int8")
    held_out, training = onnx_agreement.check_texts(spec)
    assert held_out and training and not set(held_out) & set(training)  # the threshold is set on texts never scored
    # the threshold: twice the most int8 moved a gap between its top class and another, on the training texts
    moved = 0.0
    for text in training:
        batch = int8.preprocess([text])[0]
        served, expected = int8.onnx.logits(batch)[0], torch_model.forward(batch)[0].numpy()
        top = int(served.argmax())
        moved = max(moved, float(np.abs((served - served[top]) - (expected - expected[top])).max()))
    assert int8.recheck_below == pytest.approx(2 * moved, rel=1e-4) and moved > 0
    expected = torch_model.predict_batch(held_out)
    served = [int8.predict(text) for text in held_out]
    raw = [int8.onnx.logits(int8.preprocess([text])[0])[0] for text in held_out]  # int8 alone, without the check
    checked = [i for i, row in enumerate(raw) if onnx_agreement.top_gap(row) < int8.recheck_below]
    assert 0 < len(checked) == int8.rechecked < len(held_out) and int8.answered == len(held_out)
    for i, (result, truth) in enumerate(zip(served, expected, strict=True)):
        if i in checked:  # the fp32 export's answer (PyTorch's to 1e-5), which says why it computed it
            assert result.runtime == "ONNX Runtime fp32" and "computed again in fp32" in result.runtime_note
            assert np.abs(np.array(list(result.scores.values())) - list(truth.scores.values())).max() < 1e-5
        else:  # int8's, which keeps fp32's label whenever the gap is over twice the largest move
            assert result.runtime == "ONNX Runtime dynamic int8" and result.label == int8.labels[int(raw[i].argmax())]
    flipped = [i for i, row in enumerate(raw) if int8.labels[int(row.argmax())] != expected[i].label]
    # each label int8 alone changes was a close call (how many it changes depends on the CPU's int8 kernels: some on
    # one machine, none on another, for this same tiny model)
    assert set(flipped) <= set(checked)
    assert [r.label for r in served] == [e.label for e in expected]
    batched = int8.predict_batch(held_out)  # a batch computes its close calls again the same way: the same answers
    assert [(r.label, r.runtime) for r in batched] == [(r.label, r.runtime) for r in served]
    int8.exact = None  # no fp32 export open: PyTorch computes them (several together in passes sorted by length)
    for answers in ([int8.predict(held_out[i]) for i in checked], int8.predict_batch([held_out[i] for i in checked])):
        assert all(answer.runtime == "PyTorch fp32" and "computed again in fp32" in answer.runtime_note for answer in answers)
        assert [answer.label for answer in answers] == [expected[i].label for i in checked]


def test_sessions_asking_at_once_get_the_answers_each_would_get_alone(tiny_model, monkeypatch):
    """int8's passes run on the shared single-pass threads: sixteen sessions at once get, text for text, the answer a
    session alone gets (close calls computed again included); a caller already holding an inference slot computes in
    its own slot, so it never waits for a thread that would need that slot."""
    import threading

    from core.tasks import inputs

    int8 = TransformerClassifier(catalog.get_spec(TINY_KEY), runtime="onnx-int8")
    alone = [int8.predict(text) for text in TEXTS]
    together: dict[int, object] = {}

    def session(first: int) -> None:
        for i in range(first, len(TEXTS), 16):
            together[i] = int8.predict(TEXTS[i])

    threads = [threading.Thread(target=session, args=(first,)) for first in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for i, result in enumerate(alone):
        assert (together[i].label, together[i].runtime, together[i].scores) == (result.label, result.runtime, result.scores)
    assert any(thread.name.startswith("lmlab-pass") for thread in threading.enumerate())
    monkeypatch.setattr(inputs, "_gate", inputs.Gate(1))
    answered = []

    def holding_the_only_slot() -> None:
        with inputs.inference_gate():
            answered.append(int8.predict(TEXTS[0]))

    holder = threading.Thread(target=holding_the_only_slot, daemon=True)
    holder.start()
    holder.join(10)
    assert answered and answered[0].scores == alone[0].scores  # the slot it holds is the only one: it computed here


def test_a_close_call_keeps_int8s_answer_when_fp32_fails_and_int8_that_calls_too_many_close_is_not_used(
        tiny_model, monkeypatch):  # fmt: skip
    spec = catalog.get_spec(TINY_KEY)
    int8 = TransformerClassifier(spec, runtime="onnx-int8")
    text = next(t for t in onnx_agreement.check_texts(spec)[0]
                if onnx_agreement.top_gap(int8.onnx.logits(int8.preprocess([t])[0])[0]) < int8.recheck_below)  # fmt: skip

    def fail(*_args, **_kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(int8.exact, "logits", fail)  # the fp32 export's pass fails: PyTorch computes it …
    for answer in (int8.predict(text), *int8.predict_batch([text])):
        assert answer.runtime == "PyTorch fp32" and "computed again in fp32" in answer.runtime_note
    monkeypatch.setattr(int8, "_run", fail)  # … and where PyTorch's fails too, int8's answer stands, and says so
    for answer in (int8.predict(text), *int8.predict_batch([text])):
        assert answer.runtime == "ONNX Runtime dynamic int8" and "could not be computed again" in answer.runtime_note
    monkeypatch.setattr(onnx_agreement, "MOST_CLOSE", 0.0)  # a model int8 leaves too close to call: fp32 serves it
    strict = TransformerClassifier(spec, runtime="onnx-int8")
    assert strict.runtime == "onnx" and "too close to call; fp32 serves" in strict.runtime_note


def test_a_damaged_or_too_large_fp32_export_leaves_int8_serving_and_its_close_calls_to_pytorch(tiny_model, monkeypatch):
    from core.tasks import onnx_runtime

    spec = catalog.get_spec(TINY_KEY)
    int8 = TransformerClassifier(spec, runtime="onnx-int8")
    fp32_file, int8_file = int8.exact.path, int8.onnx.path
    kept = fp32_file.read_bytes()
    try:
        fp32_file.write_bytes(b"not an ONNX model")
        damaged = TransformerClassifier(spec, runtime="onnx-int8")
        assert damaged.runtime == "onnx-int8" and damaged.exact is None  # int8 serves; PyTorch computes close calls
        assert int8_file.is_file() and fp32_file.read_bytes() == b"not an ONNX model"  # nothing removed or rebuilt
        assert not list(fp32_file.parent.glob("*.failed"))
    finally:
        fp32_file.write_bytes(kept)
    monkeypatch.setattr(onnx_runtime, "MAX_PARAMETERS_EXACT", 0)
    assert TransformerClassifier(spec, runtime="onnx-int8").exact is None
    assert TransformerClassifier(spec, runtime="onnx-int8").runtime == "onnx-int8"


def test_a_damaged_agreement_record_is_measured_again_and_so_are_other_texts(tiny_model):
    import json
    import math

    first = TransformerClassifier(catalog.get_spec(TINY_KEY), runtime="onnx-int8")
    record = first.onnx.path.with_suffix(".agreement.json")
    kept = json.loads(record.read_text())
    for bad in (math.nan, -1.0):  # NaN would make every comparison false; a negative threshold checks nothing
        record.write_text(json.dumps({**kept, "margin_error": bad}))
        again = TransformerClassifier(catalog.get_spec(TINY_KEY), runtime="onnx-int8")
        assert again.recheck_below == pytest.approx(first.recheck_below)
        assert json.loads(record.read_text())["margin_error"] == pytest.approx(kept["margin_error"])
    held_out, training = onnx_agreement.check_texts(first.spec)
    other = onnx_agreement.agreement(first.onnx, first.model, first.tokenizer, (held_out, training[::-1][:-1] + ["Fine."]),
                                   first.max_tokens)  # the same counts, other texts: measured on them  # fmt: skip
    assert json.loads(record.read_text())["texts"][2] != kept["texts"][2] and other.of == len(held_out)
    # a logit that is not a number is a close call wherever it is compared as ``not gap >= threshold``
    assert math.isnan(onnx_agreement.top_gap([2.0, 1.0, math.nan])) and onnx_agreement.top_gap([2.0, 1.5, -1.0]) == 0.5
    # a model without a split to be checked on: nothing measured, so int8 does not serve, and says why
    none = onnx_agreement.agreement(first.onnx, first.model, first.tokenizer, ([], []), first.max_tokens)
    assert (none.of, none.serves, math.isinf(none.margin_error)) == (0, False, True) and "no held-out" in str(none.refusal)


def test_an_export_is_made_once_and_a_damaged_one_is_replaced(tiny_model):
    spec = catalog.get_spec(TINY_KEY)
    first = TransformerClassifier(spec, runtime="onnx")
    made = first.onnx.path.stat().st_mtime_ns
    assert TransformerClassifier(spec, runtime="onnx").onnx.path.stat().st_mtime_ns == made  # reused
    first.onnx.path.write_bytes(b"not an onnx graph")
    damaged = TransformerClassifier(spec, runtime="onnx")
    assert damaged.runtime == "torch" and "could not open" in damaged.runtime_note  # served, and says why
    assert damaged.predict("Good.").runtime_note == damaged.runtime_note
    again = TransformerClassifier(spec, runtime="onnx")  # exported afresh
    assert again.runtime == "onnx" and again.predict("Good.").label == damaged.predict("Good.").label


def test_serving_runtime_is_chosen_by_environment(monkeypatch):
    monkeypatch.setenv("LMLAB_SERVING", "onnx-int8")
    assert settings.serving_runtime() == "onnx-int8"
    monkeypatch.setenv("LMLAB_SERVING", "quantum")
    assert settings.serving_runtime() == "onnx-int8"  # unknown: the default
    from ui.runtime import _served_by

    cpu = {"device": "cpu", "infer_dtype": "fp32"}
    assert _served_by(cpu) == "ONNX Runtime dynamic int8, close calls in fp32"  # what the sidebar's device line says
    monkeypatch.setenv("LMLAB_SERVING", "onnx")
    assert _served_by(cpu) == "ONNX Runtime fp32" and _served_by({"device": "cuda", "infer_dtype": "bf16"}) == "PyTorch bf16"
    monkeypatch.setenv("LMLAB_SERVING", "torch")
    assert settings.serving_runtime() == "torch"
    monkeypatch.setattr(settings, "onnx_available", lambda: False)
    monkeypatch.setenv("LMLAB_SERVING", "onnx")
    assert settings.serving_runtime() == "torch"  # without onnxruntime installed


def test_the_benchmark_compares_the_runtimes_on_the_held_out_split(tiny_model):
    from core.bench import run as bench

    models = [TINY_KEY, f"{TINY_KEY}@onnx", f"{TINY_KEY}@onnx-int8"]
    result = bench.run("sentiment", models, repeats=3)
    rows = {row["model"]: row for row in result.rows}
    assert rows[f"{TINY_KEY}@onnx"]["device / precision"] == "cpu / ONNX Runtime fp32"
    assert rows[f"{TINY_KEY}@onnx-int8"]["device / precision"] == "cpu / ONNX Runtime dynamic int8, close calls in fp32"
    assert result.predictions[f"{TINY_KEY}@onnx-int8"] == result.predictions[TINY_KEY]  # its close calls in fp32
    assert result.predictions[f"{TINY_KEY}@onnx"] == result.predictions[TINY_KEY]  # identical labels
    assert rows[f"{TINY_KEY}@onnx"]["value"] == rows[TINY_KEY]["value"]
    assert rows[f"{TINY_KEY}@onnx"]["tied_with_baseline"]
    served = TransformerClassifier(catalog.get_spec(TINY_KEY), runtime="onnx-int8")
    probabilities = result.confidences[f"{TINY_KEY}@onnx-int8"]
    answers = [served.predict(text) for text in result.texts]  # the row scores what the pages serve
    assert [result.labels.index(a.label) for a in answers] == result.predictions[f"{TINY_KEY}@onnx-int8"]
    assert np.abs(np.array([max(a.scores.values()) for a in answers]) - probabilities).max() < 1e-5


def test_the_sentiment_page_says_what_computed_the_answer(tiny_model, clear_streamlit_caches):
    page = open_page("pages/sentiment.py", model=TINY_KEY)
    page.text_area(key="sentiment-text").input("A warm, funny and clever film.").run()
    page.button(key="sentiment-run").click().run(timeout=180)
    assert not page.exception and not page.error
    said = " ".join(caption.value for caption in page.caption)
    assert "Computed by ONNX Runtime dynamic int8" in said and "held-out texts" in said  # the default, checked


@pytest.mark.parametrize("variant", ["onnx", "onnx-int8"])
def test_hub_models_are_not_exported(variant):
    from core.bench import adapters
    from core.errors import CoreError

    hub = next(spec for spec in catalog.specs_for_task("sentiment") if spec.source == catalog.HUB)
    with pytest.raises(CoreError, match="no fixed version"):
        adapters.make(f"{hub.key}@{variant}", ["negative", "positive"], [], [])


def test_exports_go_with_their_model_and_other_models_keep_theirs(fresh_cache):
    from core import cards, housekeeping
    from core.tasks import onnx_runtime

    for key in ("run", "run-2", "gone"):
        (onnx_runtime.folder_of(key) / "0123456789abcdef.onnx").write_bytes(b"x")
    (fresh_cache / "models" / "run-2").mkdir(parents=True)
    cards.write(fresh_cache / "models" / "run-2", {"task": "sentiment", "labels": ["negative", "positive"]})
    assert onnx_runtime.forget("run") and not onnx_runtime.forget("run")  # "run" only, not "run-2"
    assert housekeeping.sweep()["model exports"] == 1  # "gone" has no model any more; "run-2" has
    assert sorted(path.name for path in (fresh_cache / "onnx").iterdir()) == ["run-2"]


def test_a_failed_export_is_noted_and_not_tried_again_and_large_models_stay_on_pytorch(tiny_model, monkeypatch):
    from core import loading
    from core.errors import CoreError
    from core.tasks import onnx_runtime

    tokenizer, model = loading.load_classifier(catalog.get_spec(TINY_KEY))
    attempts = []

    def broken(*args):
        attempts.append(1)
        raise RuntimeError("an operator the exporter does not know")

    monkeypatch.setattr(onnx_runtime, "_export", broken)
    for _ in range(2):
        with pytest.raises(CoreError, match="does not know"):
            onnx_runtime.load(model, tokenizer, key="export-probe", fingerprint="feedfacefeedface", runtime="onnx",
                              threads=1)  # fmt: skip
    assert attempts == [1]  # the note answers the second time
    monkeypatch.setattr(onnx_runtime, "MAX_PARAMETERS", 1000)
    with pytest.raises(CoreError, match="served by PyTorch"):
        onnx_runtime.load(model, tokenizer, key="export-probe", fingerprint="0" * 16, runtime="onnx", threads=1)
    assert onnx_runtime.forget("export-probe")


def test_int8_is_checked_on_the_split_a_model_was_trained_on_and_measured_on_texts_never_scored(fresh_cache):
    import json

    from core.data import keyword
    from core.tasks.base import own_dataset

    def plant(key: str, recipe: dict):
        folder = catalog.cache_entry_dir(key)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metadata.json").write_text(json.dumps({"key": key, "title": key, "task": "sentiment", "recipe": recipe,
                                                          "labels": ["negative", "positive"]}))  # fmt: skip
        return catalog.get_spec(key)

    cues, odd = plant("cue-run", {"dataset": "keyword"}), plant("odd-run", {"dataset": ["keyword"]})
    held_out, training = onnx_agreement.check_texts(cues)
    split, _ = keyword.split()
    assert held_out == [e.text for e in split.test][:onnx_agreement.MOST_TEXTS]  # its own sentences, not polarity's
    polarity_train = {e.text for e in polarity.split().train}
    assert set(training) & {e.text for e in split.train} and set(training) & polarity_train  # both, never scored
    assert not set(training) & set(held_out)
    assert own_dataset(odd) is None  # a card whose dataset is not a name: its task's split, no crash
    assert onnx_agreement.check_texts(odd)[0] == [e.text for e in polarity.split().test]


@pytest.mark.parametrize("runtime", ["torch", "onnx-int8"])
def test_a_classifier_dropped_from_the_caches_is_freed_at_once(tiny_model, runtime):
    """Nothing a predictor builds points back at it (its coalescer holds it weakly): dropped, its weights and exported
    sessions go at once, not at some later garbage-collection pass."""
    import gc
    import weakref

    from core.tasks.attribution import explain

    TransformerClassifier(catalog.get_spec(TINY_KEY), runtime=runtime).predict("warm up")  # first-load imports done
    gc.collect()
    gc.disable()
    try:
        predictor = TransformerClassifier(catalog.get_spec(TINY_KEY), runtime=runtime)
        predictor.predict("a fine film")
        predictor.predict_batch(["a fine film", "a dull one"])
        explain(predictor, "a fine film")  # its traced pass holds the model's lock, not the predictor
        assert predictor.traced_pass.get().traced is not None
        dropped = weakref.ref(predictor)
        del predictor
        assert dropped() is None
    finally:
        gc.enable()


def test_while_other_work_is_at_the_gate_a_request_keeps_its_own_place_in_the_queue(tiny_model, monkeypatch):
    """The single-pass threads hold as many places in the gate's queue as there are threads; while other passes hold
    or wait for a slot, a request queues in its own thread instead, one place per request as before; once they are
    gone, requests go to the threads again."""
    import threading

    from core.tasks import inputs

    int8 = TransformerClassifier(catalog.get_spec(TINY_KEY), runtime="onnx-int8")
    ran_on, checked = [], int8._checked
    monkeypatch.setattr(int8, "_checked", lambda text: ran_on.append(threading.current_thread().name) or checked(text))
    int8.predict("nobody else is waiting")
    assert ran_on[-1].startswith("lmlab-pass")
    gate = inputs.Gate(1)
    monkeypatch.setattr(inputs, "_gate", gate)
    gate.acquire()  # a long pass holds the only slot, and another waits behind it
    other = threading.Thread(target=lambda: (gate.acquire(), gate.release()))
    other.start()
    while gate.waiting < 1:
        threading.Event().wait(0.01)
    answered = []
    asking = threading.Thread(target=lambda: answered.append(int8.predict("a fine film")), name="a session")
    asking.start()
    while gate.waiting < 2:  # in the queue itself, behind the other pass
        threading.Event().wait(0.01)
    gate.release()
    for thread in (other, asking):
        thread.join(10)
    assert answered and ran_on[-1] == "a session"
    int8.predict("the others are gone")
    from core.tasks.batching import at_the_gate

    assert ran_on[-1].startswith("lmlab-pass") and gate.running == gate.waiting == at_the_gate.count == 0

    def refused():
        raise RuntimeError("interrupted while waiting for a slot")

    monkeypatch.setattr(gate, "acquire", refused)
    with pytest.raises(RuntimeError, match="interrupted"):
        int8.predict("a request that never gets a slot")
    assert at_the_gate.count == 0  # it left the count as it left the queue
