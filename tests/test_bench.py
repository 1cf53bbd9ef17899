"""The benchmark: statistics against hand-computed and scipy values, a real run, the CLI."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from core.bench import run
from core.errors import CoreError
from core.stats import expected_calibration_error, mcnemar, paired_bootstrap_difference

from conftest import ROOT, TINY_KEY


def test_mcnemar_hand_computed_case():
    # 10 pairs: A right & B wrong 6 times, A wrong & B right once, 3 agreements.
    a = [1] * 6 + [0] + [1, 1, 0]
    b = [0] * 6 + [1] + [1, 1, 0]
    result = mcnemar(a, b)
    assert (result["only_a"], result["only_b"]) == (6, 1)
    # exact two-sided p = 2 · P(X ≤ 1), X ~ Binomial(7, 1/2) = 2 · (1 + 7) / 128 = 0.125
    assert result["p_value"] == pytest.approx(0.125)
    assert mcnemar([1, 0], [1, 0])["p_value"] == 1.0


def test_paired_bootstrap_against_scipy():
    rng = np.random.default_rng(5)
    a = (rng.random(300) < 0.8).astype(float)
    b = np.where(rng.random(300) < 0.85, a, 1 - a)
    ours = paired_bootstrap_difference(a, b, n_resamples=20_000, seed=1)
    theirs = scipy_stats.bootstrap((a, b), lambda x, y: np.mean(x - y), paired=True, vectorized=False,
                                   n_resamples=5_000, method="percentile", random_state=3).confidence_interval  # fmt: skip
    assert ours.value == pytest.approx((a - b).mean())
    assert ours.low == pytest.approx(theirs.low, abs=0.01) and ours.high == pytest.approx(
        theirs.high, abs=0.01
    )


def test_expected_calibration_error_by_hand():
    confidences = [0.9, 0.9, 0.9, 0.9, 0.6, 0.6]
    correct = [True, True, True, False, True, False]
    # bin (0.8, 0.9]: confidence 0.9, accuracy 0.75, weight 4/6; bin (0.5, 0.6]: 0.6 vs 0.5, weight 2/6
    expected = 4 / 6 * 0.15 + 2 / 6 * 0.1
    assert expected_calibration_error(confidences, correct)["ece"] == pytest.approx(expected)


def test_benchmark_of_two_models_and_baselines(tiny_model):
    result = run.run("sentiment", [TINY_KEY, f"{TINY_KEY}@int8", "vader", "baseline:majority", "baseline:tfidf-lr"],
                     baseline="baseline:majority", repeats=100)  # fmt: skip
    table = pd.DataFrame([dict(row) for row in result.rows])
    assert {row["metric"] for row in result.rows} == {"accuracy"} and {row["test"] for row in result.rows} == {"McNemar"}
    for column in ("value", "low", "high", "macro_f1", "diff_vs_baseline", "p_value", "p_holm",
                   "latency_p50_ms", "latency_p95_ms", "throughput_per_s", "load_s"):  # fmt: skip
        assert table[column].map(lambda v: isinstance(v, float) and math.isfinite(v)).all(), column
    assert (table["n"] == 50).all() and (table["low"] <= table["value"]).all()
    assert (table["latency_p50_ms"] <= table["latency_p95_ms"]).all()
    by_model = table.set_index("model")
    vader = next(row for row in result.rows if row["model"] == "vader")
    assert vader["ece"] is None and vader["scores"] == "not a probability"
    assert math.isfinite(by_model.loc[TINY_KEY, "ece"])
    assert (table["comparisons"] == 4).all()  # Holm over the four models compared with the baseline
    few = run.run("sentiment", ["baseline:majority"], repeats=20)
    assert few.rows[0]["latency_p95_ms"] is None  # 20 calls cannot estimate a 95th percentile
    majority = table.set_index("model").loc["baseline:majority"]
    assert majority["value"] == 0.5 and majority["tied_with_baseline"]
    assert table.set_index("model").loc[f"{TINY_KEY}@int8", "device / precision"] == "cpu / dynamic int8"
    assert len(result.predictions[TINY_KEY]) == 50
    run_id = run.save(result)
    assert run.load(run_id).rows == result.rows and run_id in run.saved_runs()
    with pytest.raises(CoreError, match="baseline"):
        run.run("sentiment", ["vader"], baseline="baseline:majority")
    with pytest.raises(CoreError, match="not a translation model"):
        run.run("translation", ["vader"])


def test_cli(tiny_model, tmp_path, capsys):
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "-m", "core.bench", "--task", "sentiment", "--models", f"{TINY_KEY},baseline:tfidf-lr",
         "--repeats", "3", "--out", str(out)],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert [r["model"] for r in rows] == [TINY_KEY, "baseline:tfidf-lr"]
    assert "saved as benchmark run" in result.stdout
    from core.bench.__main__ import main

    capsys.readouterr()
    assert main(["--models", "nope"]) == 2 and "Unknown model" in capsys.readouterr().err


def test_a_benchmark_child_that_dies_is_reported_with_its_exit_code_and_reaped(fresh_cache):
    """A child that exits without writing its progress file is failed with its exit code, and once it has exited
    the app keeps no handle on it (no zombie), whoever stopped watching."""
    import time

    from core.bench import background

    job = background._start("core.bench.attack", ["--model", "no-such-model"])  # argparse refuses: exit code 2
    deadline = time.monotonic() + 60
    while background.status(job)["state"] != "failed" and time.monotonic() < deadline:
        time.sleep(0.2)
    found = background.status(job)
    assert found["state"] == "failed" and "exited with code 2" in found["message"]
    assert job not in background._children and background._exit_codes[job] == 2
