"""The from-scratch Transformer: properties, and agreement with PyTorch and Hugging Face."""

import numpy as np
import pytest
import torch

from core import catalog, loading
from core.transformer import bert_weights, checks, explain, positional, walkthrough
from core.transformer.attention import causal_mask, scaled_dot_product_attention
from core.transformer.bert_layer import against_transformers, layer_from_files


def test_attention_rows_sum_to_one_and_causal_is_lower_triangular():
    q, k, v = (torch.randn(2, 3, 6, 8) for _ in range(3))
    _, weights = scaled_dot_product_attention(q, k, v, causal=True)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 6), atol=1e-6)
    upper = torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)
    assert weights[..., upper].abs().max() == 0
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]


def test_fully_masked_query_gives_zeros_not_nan():
    q, k, v = (torch.randn(1, 2, 4) for _ in range(3))
    output, weights = scaled_dot_product_attention(q, k, v, mask=torch.zeros(1, 2, 2, dtype=torch.bool))
    assert not torch.isnan(output).any() and weights.abs().max() == 0


@pytest.mark.parametrize(
    "results",
    [checks.attention_vs_torch, checks.multihead_vs_torch, checks.layers_vs_torch],
    ids=lambda f: f.__name__,
)
def test_agreement_with_pytorch(results):
    for case, diff in results().items():
        assert diff < 1e-5, f"{case}: {diff}"


@pytest.fixture(scope="module")
def minilm():
    return loading.load_encoder(catalog.MINILM, eager_attention=True)


@pytest.mark.parametrize("layer", [0, 3, 5])
def test_real_minilm_layer_is_reproduced(minilm, layer):
    tokenizer, model = minilm
    text = "The keys to the cabinet are on the table."
    report = layer_from_files(loading.local_dir(catalog.MINILM), text, layer)
    agreement = against_transformers(report, model, tokenizer, text)
    assert agreement.weights_diff <= 1e-5 and agreement.output_diff <= 1e-5 and agreement.precision == "float32"
    assert report.ours.shape == (12, len(report.tokens), len(report.tokens))
    assert report.head_outputs.shape == (12, len(report.tokens), 32)
    assert report.tokens[0] == "[CLS]" and report.tokens[-1] == "[SEP]"
    assert np.allclose(report.stats["share to [CLS]"] + 0, report.ours[..., 0].mean(-1), atol=1e-6)


def test_a_tokenizer_that_cuts_differently_is_not_compared(minilm):
    tokenizer, model = minilm
    report = layer_from_files(loading.local_dir(catalog.MINILM), "a cat sat", 0)
    with pytest.raises(ValueError, match="cut the text differently"):
        against_transformers(report, model, tokenizer, "a dog sat")


def test_minilm_head_steps_match_torch(minilm):
    tokenizer, model = minilm
    steps = explain.encoder_head(loading.local_dir(catalog.MINILM), "it was too tired", layer=1, head=4, causal=True)
    assert steps.d_k == 32 and steps.diff_vs_torch < 1e-5
    # the head's queries are those of the model's own layer 1, applied to what transformers feeds it
    batch = tokenizer("it was too tired", return_tensors="pt")
    with torch.no_grad():
        entering = model(**batch, output_hidden_states=True).hidden_states[1][0]
        query = model.encoder.layer[1].attention.self.query(entering)[:, 4 * 32 : 5 * 32]
    assert np.abs(steps.q - query.numpy()).max() < 1e-5
    assert np.allclose(steps.weights.sum(1), 1, atol=1e-5)
    assert np.isneginf(steps.scores[0, 1])


def test_scaling_keeps_entropy_and_unscaled_saturates():
    demo = explain.scaling_demo([1, 16, 256], n_keys=32, trials=300)
    assert demo["entropy unscaled"][-1] < 0.5 * demo["entropy scaled"][-1]
    assert abs(demo["entropy scaled"][0] - demo["entropy scaled"][-1]) < 0.3
    assert demo["score std unscaled"][-1] == pytest.approx(16, rel=0.1)


def test_sinusoidal_equals_the_formula_at_sample_points():
    table = positional.sinusoidal(50, 16, base=10_000)
    for pos, i in [(0, 0), (7, 3), (49, 7), (13, 5)]:
        angle = pos / 10_000 ** (2 * i / 16)
        assert table[pos, 2 * i] == pytest.approx(np.sin(angle))
        assert table[pos, 2 * i + 1] == pytest.approx(np.cos(angle))
    variant = positional.article_variant(50, 16)
    assert variant[7, 3] == pytest.approx(np.sin(7 / 10_000 ** (6 / 16)) + np.cos(7 / 10_000 ** (6 / 16)))


@pytest.mark.parametrize("k", [1, 5, 17])
def test_shift_is_a_rotation_for_the_paper_and_not_for_the_variant(k):
    paper = positional.sinusoidal(120, 32)
    rotation = positional.shift_matrix(32, k)
    assert np.abs(paper[k:] - paper[:-k] @ rotation.T).max() < 1e-6
    assert np.allclose(rotation @ rotation.T, np.eye(32), atol=1e-12)
    assert positional.best_linear_shift(paper, k)[1] < 1e-6
    assert positional.best_linear_shift(positional.article_variant(120, 32), k)[1] > 1e-2


def test_rope_depends_on_relative_position_only():
    _, spread = positional.rope_scores(16, 24)
    assert spread < 1e-9
    x = np.random.default_rng(0).standard_normal((5, 8))
    rotated = positional.rope_rotate(x, np.arange(5.0))
    assert np.allclose(np.linalg.norm(rotated, axis=1), np.linalg.norm(x, axis=1))


def test_rope_pair_moves_on_a_circle():
    path = positional.rope_pair_path(16, 2, 8)
    radii = np.linalg.norm(path, axis=1)
    assert np.allclose(radii, radii[0])
    omega = positional.frequencies(16)[2]
    angles = np.unwrap(np.arctan2(path[:, 1], path[:, 0]))
    assert np.allclose(np.diff(angles), omega)


def test_the_walkthrough_draws_its_seed_s_weights_whatever_other_threads_draw():
    """A server's sessions build toy layers (and the Train page's preview its model) at the same moment: each seed
    still gives its own weights, and the global generator is left as it was."""
    import threading

    from core.training.preview import architecture
    from core.training.recipes import get_recipe

    alone = {seed: walkthrough.run(["a", "b", "c"], ["x", "y"], n_pad=1, seed=seed) for seed in range(6)}
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    together: dict[int, object] = {}
    threads = [threading.Thread(target=lambda s=seed: together.__setitem__(s, walkthrough.run(
        ["a", "b", "c"], ["x", "y"], n_pad=1, seed=s))) for seed in range(6) for _ in range(3)]  # fmt: skip
    built = []
    threads[3:3] = [threading.Thread(target=lambda: built.append(architecture(get_recipe("sentiment-tiny"), 2)))
                    for _ in range(2)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed, walk in alone.items():
        assert np.array_equal(together[seed].cross_weights, walk.cross_weights)
        assert np.array_equal(together[seed].encoder_weights, walk.encoder_weights)
    assert torch.equal(torch.rand(3), expected)  # the walkthroughs and previews drew nothing from it
    assert len(built) == 2 and built[0]["parameters"] > 0
    assert not np.array_equal(alone[0].encoder_weights, alone[1].encoder_weights)


def test_learned_positions_and_walkthrough(minilm):
    _, model = minilm
    table = bert_weights.positions(loading.local_dir(catalog.MINILM), 10)
    assert torch.equal(table, model.embeddings.position_embeddings.weight[:10])
    walk = walkthrough.run(["a", "b", "c"], ["x", "y"], d_model=16, n_heads=2, n_pad=1)
    assert walk.source_tokens[-1] == "<pad>" and walk.target_tokens == ["<bos>", "x"]
    assert walk.cross_weights.shape == (2, 2, 4) and np.all(walk.cross_weights[..., -1] == 0)
    assert np.all(walk.decoder_weights[:, 0, 1] == 0)
    assert [name for name, _ in walk.trace][0] == "encoder input"


def test_the_first_rise_the_page_names_is_one_the_chart_shows():
    """The caption names the first offset after which the curve rises by a visible step (0.5 % of its range): a
    rise of a few thousandths on a range of twenty is drawn flat and must not be the one named."""
    import numpy as np

    from core.transformer import positional as pe

    offsets, similarity = pe.similarity_by_offset(pe.sinusoidal(100, 64, 10_000))  # the page's defaults
    rises = np.diff(similarity)
    assert 0 < rises[5] < 0.005 * np.ptp(similarity)  # 5 → 6 rises, invisibly
    first = pe.first_visible_rise(offsets, similarity)
    assert first == 10 and rises[first] > 0.005 * np.ptp(similarity)
    assert pe.first_visible_rise(np.arange(5), np.array([5.0, 4, 3, 2, 1])) is None  # falls all the way
