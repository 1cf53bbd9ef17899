"""Our bootstrap against scipy, our evaluate module against scikit-learn."""

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import accuracy_score

from core.bench import metrics
from core.stats import accuracy_with_ci, bootstrap_mean


def test_bootstrap_matches_scipy_percentile():
    rng = np.random.default_rng(7)
    values = (rng.random(200) < 0.73).astype(float)
    ours = bootstrap_mean(values, n_resamples=20_000, seed=1)
    theirs = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=20_000, method="percentile", confidence_level=0.95, random_state=2
    ).confidence_interval
    assert ours.value == pytest.approx(values.mean())
    assert ours.low == pytest.approx(theirs.low, abs=0.01)
    assert ours.high == pytest.approx(theirs.high, abs=0.01)
    assert ours.low < ours.value < ours.high


def test_bootstrap_is_reproducible_and_validates():
    assert bootstrap_mean([1, 0, 1, 1], seed=3) == bootstrap_mean([1, 0, 1, 1], seed=3)
    with pytest.raises(ValueError):
        bootstrap_mean([])


def test_accuracy_module_matches_sklearn():
    rng = np.random.default_rng(0)
    references = rng.integers(0, 3, 500).tolist()
    predictions = [r if rng.random() < 0.6 else int(rng.integers(0, 3)) for r in references]
    module = metrics.load("accuracy")
    ours = module.compute(predictions=predictions, references=references)["accuracy"]
    assert ours == pytest.approx(accuracy_score(references, predictions))
    assert accuracy_with_ci(predictions, references).value == pytest.approx(ours)


def test_only_project_metrics_can_be_loaded():
    assert "accuracy" in metrics.available()
    with pytest.raises(Exception, match="Unknown metric"):
        metrics.load("../../somewhere")


def test_wilson_interval_matches_the_textbook_and_does_not_collapse_at_the_edges():
    from core.stats import wilson

    seven = wilson(7, 20)
    assert (round(seven.low, 4), round(seven.high, 4)) == (0.1812, 0.5671)  # Wilson (1927); Newcombe (1998) table
    none, every = wilson(0, 20), wilson(20, 20)
    assert none.low == 0.0 and 0.16 < none.high < 0.17  # a bootstrap gives [0, 0] here
    assert every.high == 1.0 and abs(every.low - (1 - none.high)) < 1e-12
