"""Attention extraction, statistics, rollout and model comparison on real models."""

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from core import catalog
from core.attention import AttentionModel, compare, jensen_shannon, rollout, statistics_by_layer
from core.errors import CoreError, EmptyInputError


@pytest.fixture(scope="module")
def minilm():
    return AttentionModel(catalog.MINILM)


def test_extraction_shapes_and_rows(minilm):
    result = minilm.attend("The cat sat on the mat.")
    layers, heads, t, t2 = result.weights.shape
    assert (layers, heads) == (6, 12) and t == t2 == len(result.tokens)
    assert np.allclose(result.weights.sum(-1), 1, atol=1e-5)
    assert result.sentence_b_start is None and not result.truncated


def test_the_maps_come_from_a_traced_pass_that_gives_the_eager_models_numbers(minilm):
    eager = AttentionModel(catalog.MINILM)
    eager.traced_pass.stay_eager()  # this instance keeps the eager model
    assert minilm.traced_pass.get().traced is not None, minilm.traced_pass.get().why
    for text, pair in (("The cat sat on the mat.", None), ("The movie was great.", "I loved it."), ("word " * 200, None)):
        found, expected = minilm._attend(text, pair, 512), eager._attend(text, pair, 512)
        assert found.tokens == expected.tokens and found.sentence_b_start == expected.sentence_b_start
        assert np.array_equal(found.weights, expected.weights)  # the same operations: the same numbers to the bit


def test_sentence_pair_and_window(minilm):
    result = minilm.attend("The movie was great.", "I loved it.")
    assert result.tokens[result.sentence_b_start - 1] == "[SEP]"
    assert result.tokens[result.sentence_b_start] == "i"
    part = result.window(4, 6)
    assert part.tokens == result.tokens[4:10] and part.weights.shape[2:] == (6, 6)
    assert part.sentence_b_start == result.sentence_b_start - 4
    assert result.window(0, 5).sentence_b_start is None  # the second sentence is outside that window
    with pytest.raises(EmptyInputError):
        minilm.attend("  ")


def test_long_text_is_truncated(minilm):
    result = minilm.attend("word " * 700)
    assert result.truncated and len(result.tokens) == 512


def test_inspect_reads_at_most_its_cap_and_keeps_the_maps_for_the_next_rerun(minilm):
    from core.attention import INSPECT_TOKENS

    first = minilm.attend("word " * 700, max_tokens=INSPECT_TOKENS)
    assert first.truncated and len(first.tokens) == INSPECT_TOKENS
    assert minilm.attend("word " * 700, max_tokens=INSPECT_TOKENS) is first  # under the memo's 5 MB: kept, not recomputed
    assert len(minilm.attend("word " * 700).tokens) == 512  # the model's own limit is a different entry


def test_rollout_properties():
    rng = np.random.default_rng(0)
    weights = rng.random((3, 2, 5, 5))
    weights /= weights.sum(-1, keepdims=True)
    flow = rollout(weights)
    assert np.allclose(flow.sum(-1), 1)
    assert np.allclose(rollout(weights, residual=1.0), np.eye(5))
    one_layer = rollout(weights[:1], residual=0.0)
    assert np.allclose(one_layer, weights[0].mean(0))


def test_jensen_shannon_matches_scipy():
    rng = np.random.default_rng(1)
    p, q = rng.random((4, 7)), rng.random((4, 7))
    p /= p.sum(-1, keepdims=True)
    q /= q.sum(-1, keepdims=True)
    ours = jensen_shannon(p, q)
    theirs = [jensenshannon(a, b, base=2) for a, b in zip(p, q, strict=True)]
    assert np.allclose(ours, theirs, atol=1e-6)
    assert np.allclose(jensen_shannon(p, p), 0, atol=1e-6)


def test_compare_same_model_is_zero_and_statistics_shape(minilm):
    result = minilm.attend("Heads look at different things.")
    assert np.allclose(compare(result, result), 0, atol=1e-6)
    stats = statistics_by_layer(result)
    assert all(table.shape == (6, 12) for table in stats.values())


def test_compare_refuses_different_architectures(minilm, tiny_model):
    tiny = AttentionModel(catalog.get_spec("sentiment-tiny"))
    text = "A fine film."
    with pytest.raises(CoreError, match="different shapes"):
        compare(minilm.attend(text), tiny.attend(text))
