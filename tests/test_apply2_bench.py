"""Benchmarks of translation, SRL and language models: core runs on tiny trained models, and the page."""

import math
import shutil
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.bench import background, run, scoring, sequence
from core.errors import CoreError

from conftest import ROOT


def _finite(rows, *columns):
    for row in rows:
        for column in columns:
            assert row[column] is not None and math.isfinite(float(row[column])), (row["model"], column)


def test_translation_benchmark_with_variants(translate_tiny_model):
    assert "translate-en-zh@beam4" in scoring.choices("translation")
    result = run.run("translation", ["translate-en-zh", "translate-en-zh@int8", "translate-en-zh@onnx"], repeats=3)
    assert [r["model"] for r in result.rows] == ["translate-en-zh", "translate-en-zh@int8", "translate-en-zh@onnx"]
    _finite(
        result.rows, "value", "low", "high", "secondary", "latency_p50_ms", "throughput_per_s", "diff_low"
    )
    base, int8, onnx = result.rows
    assert base["device / precision"] == "cpu / fp32" and onnx["device / precision"] == "cpu / ONNX Runtime fp32"
    assert result.predictions["translate-en-zh@onnx"] == result.predictions["translate-en-zh"]  # PyTorch's outputs
    assert onnx["value"] == base["value"] and onnx["diff_vs_baseline"] == 0
    assert base["low"] <= base["value"] <= base["high"] and base["n"] == len(result.texts) == 400
    assert base["diff_vs_baseline"] == 0 and base["tied_with_baseline"]
    assert int8["device / precision"] == "cpu / dynamic int8" and int8["parameters"] is not None
    assert len(result.predictions["translate-en-zh"]) == 400
    with pytest.raises(CoreError, match="variant"):
        run.run("translation", ["translate-en-zh@bf16"], repeats=1)
    with pytest.raises(CoreError, match="not a translation model"):
        run.run("translation", ["minilm-l6"], repeats=1)


def test_srl_and_language_model_benchmarks(srl_tiny_model, lm_tiny_model):
    result = run.run("srl", ["srl-minilm"], repeats=2)
    _finite(result.rows, "value", "low", "high", "latency_p50_ms")
    assert 0 <= result.rows[0]["value"] <= 1 and result.rows[0]["metric"] == "span_f1"
    # one item per frame, its roles in brackets: the table of disagreements lines them up
    assert len(result.predictions["srl-minilm"]) == len(result.texts) == len(result.references)
    assert result.references[0].count("[") >= 2 and "[V " in result.references[0]
    assert sequence.KNESER_NEY in scoring.choices("generation")
    result = run.run(
        "generation", ["lm-lee-gpt", sequence.KNESER_NEY], baseline=sequence.KNESER_NEY, repeats=2
    )
    gpt, trigram = result.rows
    _finite(result.rows, "value", "low", "high", "secondary", "latency_p50_ms", "diff_vs_baseline")
    assert gpt["value"] > 1 and trigram["value"] > 1 and trigram["parameters"] is None
    # per word is larger than per token when words are split into several tokens
    assert gpt["value"] > gpt["secondary"]
    assert gpt["diff_vs_baseline"] == pytest.approx(gpt["value"] - trigram["value"])


def test_translation_benchmark_from_the_page(translate_tiny_model, fresh_cache):
    shutil.copytree(translate_tiny_model, fresh_cache / "models" / "translate-en-zh")
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    at.switch_page("pages/evaluate.py").run()
    at.selectbox(key="bench-task").set_value("translation").run()
    models = at.multiselect(key="bench-models-translation")
    assert models.value == ["translate-en-zh"]
    models.set_value(["translate-en-zh", "translate-en-zh@beam4"]).run()
    at.slider(key="bench-repeats").set_value(5).run()
    at.button(key="bench-run-button").click().run()
    job = at.session_state["bench-job"]
    deadline = time.monotonic() + 240
    while background.status(job)["state"] in ("starting", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert background.status(job)["state"] == "done", background.status(job)
    at.run()
    at.run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["model"]) == ["translate-en-zh", "translate-en-zh@beam4"]
    assert "chrF [95 % CI]" in table.columns and "Δ vs translate-en-zh [CI]" in table.columns
    assert table.set_index("model").loc["translate-en-zh@beam4", "decoding"] == "beam search, 4 beams"
    assert at.get("plotly_chart"), "quality against latency"
    assert at.selectbox(key="bench-shown").options[0].endswith("· translation (chrF) · 2 models")
    at.selectbox(key="bench-task").set_value("srl").run()
    assert any("No model for this task is ready" in i.value for i in at.info)
