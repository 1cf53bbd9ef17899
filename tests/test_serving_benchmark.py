"""benchmarks/serving.py, the script behind the README's serving tables, run for real on tiny models: its translation
and next-token blocks print one row per way, and shared passes give the same outputs as one pass per request."""

from __future__ import annotations

import argparse
import importlib.util

from conftest import ROOT, SESSION_CACHE


def _script():
    spec = importlib.util.spec_from_file_location("serving_benchmark", ROOT / "benchmarks" / "serving.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(printed: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in printed.splitlines()
            if line.startswith("| ") and not line.startswith("| way")]  # fmt: skip


def test_the_translation_and_next_token_tables(translate_tiny_model, lm_tiny_model, capsys):
    serving = _script()
    args = argparse.Namespace(cache=SESSION_CACHE, texts=12, sessions="1,3")
    serving._translation(args)  # trains nothing: the tiny models sit under the default keys
    serving._generation(args)
    translation_part, bars_part = capsys.readouterr().out.split("next-token bars")
    translation, bars = _rows(translation_part), _rows(bars_part)
    assert [row[0].split(",")[0] for row in translation] == ["one generate per sentence"] + [
        "LM Lab page requests (with attention) on ONNX Runtime"] * 2 + ["LM Lab page requests (with attention) on PyTorch"] * 2
    assert all(row[-1] == "100.0 %" for row in translation)  # batched greedy gives each sentence its own output
    assert len(bars) == 4 and all(float(row[1]) > 0 for row in bars)  # two rows per number of sessions
    assert all(row[-1] == "100.0 %" for row in bars if "shared passes" in row[0])


def test_the_int8_check_counts_labels_unlike_fp32s_on_held_out_texts(tiny_model):
    spec = importlib.util.spec_from_file_location("int8_check", ROOT / "benchmarks" / "int8_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = [cell.strip() for cell in module.check("sentiment-tiny").strip("|").split("|")]
    key, texts, threshold, alone, served, again = row[:6]
    assert (key, texts) == ("sentiment-tiny", "50") and float(threshold) > 0
    assert int(served) == 0  # as served (close calls computed again in fp32), no label differs from fp32's
    # int8 alone, counted here from the raw int8 logits (some labels on one CPU, none on another: its int8 kernels)
    from core import catalog, settings
    from core.tasks.base import get_task, own_dataset
    from core.tasks.classify import TransformerClassifier

    spec = catalog.get_spec("sentiment-tiny")
    int8, fp32 = TransformerClassifier(spec, runtime="onnx-int8"), TransformerClassifier(spec, runtime="torch")
    assert int8.runtime == "onnx-int8"  # the raw logits below are int8's
    held_out = [e.text for e in get_task(spec.task).held_out(own_dataset(spec))[0].test
                if len(e.text) <= settings.limits().max_chars]  # fmt: skip
    raw = [int8.labels[int(int8.onnx.logits(int8.preprocess([text])[0])[0].argmax())] for text in held_out]
    assert int(alone) == sum(a != b.label for a, b in zip(raw, fp32.predict_batch(held_out), strict=True))
    assert 0 < float(again.rstrip(" %")) < 100


def test_beside_other_work_each_request_keeps_its_own_place(tiny_model):
    """The serving script's row of int8 answers beside a session looping PyTorch passes: both kinds of work go on
    (the loop is not shut out by the single-pass threads, nor the answers by the loop)."""
    from core import catalog
    from core.tasks.batching import at_the_gate
    from core.tasks.classify import TransformerClassifier

    serving = _script()
    predictor = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="onnx-int8")
    answers, passes = serving.beside_pytorch(predictor, ["a fine film", "a dull one", "not bad at all"] * 20)
    assert answers > 0 and passes > 0
    assert at_the_gate.count == 0  # every answer that waited at the gate or held a slot has left it
