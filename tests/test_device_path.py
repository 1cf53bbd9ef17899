"""The serving device path: every predictor, the Learn and Inspect recomputations and the benchmark on the device and
in the precision LM Lab places its models in (``core.device.place``).

Here that is the CPU in bf16 (``LMLAB_PRECISION=bf16``): numpy has no bf16, so any answer that reaches the page
without coming back through ``to_cpu`` fails, and the bf16 answers are checked against fp32. Where an NVIDIA GPU
is, the same checks run on it in fp32 and bf16, after the tiny models were trained there (``Trainer`` on the GPU,
evaluated by the same predictors).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import catalog, device

PLACEMENTS = [("cpu", "bf16")] + ([("cuda", "fp32"), ("cuda", "bf16")] if torch.cuda.is_available() else [])
IDS = [f"{where}-{precision}" for where, precision in PLACEMENTS]
TEXTS = ["A warm, funny and moving film.", "Dull, slow and far too long.", "I expected more from the cast.",
         "The best thing I saw this year.", "Not bad at all.", "A waste of two hours."]  # fmt: skip


@pytest.fixture(params=PLACEMENTS, ids=IDS)
def placed(request, monkeypatch):
    where, precision = request.param
    monkeypatch.setenv("LMLAB_DEVICE", where)
    monkeypatch.setenv("LMLAB_PRECISION", precision)
    return where, precision


def _where(model) -> tuple[str, torch.dtype]:
    weight = next(model.parameters())
    return weight.device.type, weight.dtype


def test_the_placement_is_read_from_the_settings(monkeypatch):
    monkeypatch.setenv("LMLAB_DEVICE", "cpu")
    for wanted, found in (("", "fp32"), ("fp32", "fp32"), ("BF16", "bf16"), ("fp16", "bf16"), ("int4", "fp32")):
        monkeypatch.setenv("LMLAB_PRECISION", wanted)
        assert device.inference_placement() == ("cpu", found)  # CPUs have no fast fp16: bf16 instead
    assert device.placement_title(("cuda", "bf16")) == "PyTorch bf16 on cuda"
    assert device.describe().infer_dtype == "fp32"  # what the sidebar shows follows the same setting


def test_the_classifier_answers_on_its_device_and_says_so(tiny_model, placed):
    from core.tasks.attribution import explain
    from core.tasks.classify import TransformerClassifier

    where, precision = placed
    spec = catalog.get_spec("sentiment-tiny")
    classifier = TransformerClassifier(spec)  # the serving default: on this placement PyTorch serves
    assert _where(classifier.model) == (where, device.PRECISIONS[precision])
    assert classifier.runtime == "torch" and classifier.runtime_title == f"PyTorch {precision}"
    if where == "cpu":  # ONNX Runtime computes on the CPU in fp32 only: the answer says why PyTorch serves
        assert "PyTorch serves on cpu in bf16" in str(classifier.runtime_note)
    answers = classifier.predict_batch(TEXTS)
    assert {a.device for a in answers} == {where} and all(a.label in classifier.labels for a in answers)
    assert all(abs(sum(a.scores.values()) - 1) < 1e-3 for a in answers)
    with pytest.MonkeyPatch.context() as fp32:
        fp32.setenv("LMLAB_PRECISION", "fp32")
        reference = TransformerClassifier(spec, runtime="torch").predict_batch(TEXTS)
    for mine, theirs in zip(answers, reference, strict=True):  # halving moves probabilities a little, not labels
        assert max(abs(mine.scores[k] - theirs.scores[k]) for k in mine.scores) < 0.05
    assert classifier.predict(TEXTS[0]).label == answers[0].label  # a single request goes through the coalescer
    explained = explain(classifier, TEXTS[0])  # gradients on the device, sums in fp32
    assert len(explained.words) >= 5 and all(np.isfinite(w.integrated_gradients) for w in explained.words)


def test_attention_and_the_learn_recomputations_come_back_to_the_cpu_to_be_drawn(tiny_model, placed):
    from core.attention import AttentionModel
    from core.transformer import explain
    from core.transformer.bert_layer import against_transformers, layer_from_files

    where, precision = placed
    shared = AttentionModel(catalog.get_spec("sentiment-tiny"))
    assert _where(shared.model)[0] == where
    found = shared.attend("A warm and funny film.")
    assert found.weights.dtype == np.float32 and np.allclose(found.weights.sum(-1), 1, atol=2e-2)
    report = layer_from_files(tiny_model, "A warm and funny film.", 0)  # ours, from the files, in fp32 on the CPU
    agreement = against_transformers(report, shared.model, shared.tokenizer, "A warm and funny film.")
    assert report.ours.dtype == np.float32 and agreement.precision == str(device.PRECISIONS[precision])[6:]
    # Hugging Face's side runs as served: bf16 rounds its activations (about 3 significant digits)
    assert agreement.weights_diff < (1e-4 if precision == "fp32" else 3e-2)
    steps = explain.encoder_head(tiny_model, "A warm film.", 0, 0, causal=True)  # read from its files, on the CPU
    assert steps.weights.dtype == np.float32 and steps.diff_vs_torch < 1e-4


def test_translation_decodes_on_its_device_with_the_same_words(translate_tiny_model, placed):
    from core.data import translation
    from core.tasks.translate import Translator

    where, precision = placed
    translator = Translator(catalog.get_spec("translate-en-zh"))
    assert _where(translator.model)[0] == where
    sources = [pair.english for pair in translation.corpus(train_size=0).test][:8]
    one = translator.translate(sources[0])
    assert one.text and one.cross_attentions is not None and one.alignment.dtype == np.float32
    assert translator.translate(sources[1], beams=2).text
    batch = translator.translate_batch(sources)
    with pytest.MonkeyPatch.context() as fp32:
        fp32.setenv("LMLAB_PRECISION", "fp32")
        fp32.setenv("LMLAB_DEVICE", "cpu")
        reference = Translator(catalog.get_spec("translate-en-zh")).translate_batch(sources)
    same = sum(a == b for a, b in zip(batch, reference, strict=True))
    assert same == len(sources) if precision == "fp32" else same >= len(sources) // 2


def test_the_language_model_and_its_inspections_run_on_its_device(lm_tiny_model, placed):
    from core.tasks import ablation
    from core.tasks.generate import LanguageModel

    where, precision = placed
    lm = LanguageModel(catalog.LM_LEE)
    assert _where(lm.model)[0] == where
    top = lm.next_tokens("The government said", k=5)["transformer"]
    assert len(top) == 5 and abs(sum(t["probability"] for t in top)) <= 1.0
    scored = lm.score("The government said on Tuesday.")
    assert np.isfinite(scored.perplexity)
    assert lm.generate("The government", max_new_tokens=8, seed=1)
    lens = lm.lens("The government said on Tuesday.")
    assert lens.top_probs.dtype == np.float32 and lens.top_probs.shape[0] == 3  # embeddings and two blocks
    changed = ablation.effect_on(lm, "The government said on Tuesday.", heads=[(0, 0)])
    assert len(changed.before) == len(changed.after) and np.isfinite(changed.perplexity_after)


def test_the_benchmark_names_the_device_and_how_often_a_variant_agrees_with_fp32(tiny_model, monkeypatch):
    from core.bench import run, scoring

    monkeypatch.setenv("LMLAB_DEVICE", "cpu")  # the GPU kept out: no GPU rows offered
    assert not any(v.endswith("@cuda") for v in scoring.choices("sentiment"))
    monkeypatch.delenv("LMLAB_DEVICE")
    variants = ["@bf16"] + (["@cuda", "@cuda-bf16"] if torch.cuda.is_available() else [])
    assert any(v.endswith("@cuda") for v in scoring.choices("sentiment")) == torch.cuda.is_available()
    models = ["sentiment-tiny", *[f"sentiment-tiny{v}" for v in variants]]
    result = run.run("sentiment", models, repeats=3)
    rows = {row["model"]: row for row in result.rows}
    assert rows["sentiment-tiny"]["device / precision"] == "cpu / fp32" and "same_as_plain" not in rows["sentiment-tiny"]
    assert rows["sentiment-tiny@bf16"]["device / precision"] == "cpu / bf16"
    if torch.cuda.is_available():
        assert rows["sentiment-tiny@cuda"]["device / precision"] == "cuda / fp32"
        assert rows["sentiment-tiny@cuda-bf16"]["device / precision"] == "cuda / bf16"
        assert rows["sentiment-tiny@cuda"]["same_as_plain"] >= 0.99
        assert rows["sentiment-tiny@cuda"]["gpu_peak_memory_mb"] > 0  # the weights at least, torch's own count
    else:
        assert all(row["gpu_peak_memory_mb"] is None for row in result.rows)  # no GPU: no GPU column, not a 0
    for name in models[1:]:
        assert 0.9 <= rows[name]["same_as_plain"] <= 1.0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_variant_is_refused_in_words_without_a_gpu(tiny_model):
    from core.bench import adapters
    from core.errors import CoreError

    with pytest.raises(CoreError, match="needs an NVIDIA GPU"):
        adapters.make("sentiment-tiny@cuda", ["negative", "positive"], [], [])


def test_an_overflow_in_half_precision_is_refused_in_words():
    from core.errors import CoreError
    from core.tasks.inputs import to_cpu

    assert to_cpu(torch.tensor([1.0, 2.0], dtype=torch.bfloat16)).dtype == torch.float32
    with pytest.raises(CoreError, match="overflowed in fp16"):
        to_cpu(torch.tensor([60000.0], dtype=torch.float16) * 2)  # beyond fp16's 65,504: inf


def test_a_gpu_out_of_memory_inside_the_gate_becomes_words_and_frees_the_slot():
    """The gate every forward runs in turns torch's out-of-memory error into a CoreError the page shows, and the
    slot is given back. Without a GPU the error torch's CUDA allocator raises is raised by hand; with one, a real
    allocation beyond what this process may use raises it."""
    from core.errors import OutOfMemoryError, out_of_memory
    from core.tasks.inputs import Gate

    gate = Gate(1)

    def too_big():
        if not torch.cuda.is_available():
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        free, _ = torch.cuda.mem_get_info()
        torch.empty(int(free) * 2, dtype=torch.uint8, device="cuda")  # twice what is free: refused

    with pytest.raises(OutOfMemoryError, match="The GPU ran out of memory \\(CUDA\\)"), gate:
        too_big()
    assert gate.running == 0 and gate.ahead() == 0  # the next request is served
    with gate:
        assert torch.ones(3).sum().item() == 3
    assert out_of_memory(ValueError("no")) is None and out_of_memory(RuntimeError("shape mismatch")) is None
    assert isinstance(out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)")), OutOfMemoryError)


def test_the_gpu_peak_memory_is_torch_s_own_count_where_there_is_cuda():
    from core.bench.run import PeakMemory

    with PeakMemory() as memory:
        block = torch.zeros(50_000_000, dtype=torch.uint8, device="cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        assert 50 <= memory.gpu_peak_mb < 60  # 50 MB asked for, rounded up to the allocator's blocks
    else:
        assert memory.gpu_peak_mb is None
    del block


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU to run out of")
def test_a_training_run_out_of_gpu_memory_fails_in_words(fresh_cache):
    from core.errors import OutOfMemoryError
    from core.training import jobs

    torch.cuda.set_per_process_memory_fraction(1e-6)  # a real allocation refused by torch's allocator
    try:
        with pytest.raises(OutOfMemoryError):
            jobs.run_here("sentiment-tiny", {"epochs": 1})
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    finished = jobs.status("sentiment-tiny")
    assert finished.state == "failed" and "The GPU ran out of memory (CUDA)" in finished.error
