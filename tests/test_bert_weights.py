"""The Self-attention page's encoder, read from the model's files and run by LM Lab's own code, against
transformers: the same tokens, and the same vectors entering every layer."""

import json

import pytest
import torch

from core import catalog, loading
from core.transformer import bert_weights, explain

TEXTS = [
    "The animal didn't cross the street because it was too tired.",
    "这只动物没有过马路，因为它太累了。",  # MiniLM knows few Chinese characters: [UNK]s, as transformers gives them
    "Café naïve ÉCOLE 🙂 x\u200by\u0301",  # accents, an emoji, a zero-width space, a combining mark
    "word " * 80,  # longer than the cap: cut to 32 tokens, [SEP] kept
]


@pytest.fixture(scope="module")
def minilm():
    return loading.load_encoder(catalog.MINILM, eager_attention=True)


def _entering(tokenizer, model, text: str) -> tuple[list[int], tuple]:
    batch = tokenizer(text, return_tensors="pt", truncation=True, max_length=32)
    with torch.no_grad():
        hidden = model(**batch, output_hidden_states=True).hidden_states
    return batch["input_ids"][0].tolist(), hidden


@pytest.mark.parametrize("text", TEXTS, ids=["english", "chinese", "odd-unicode", "long"])
def test_minilm_from_its_files_matches_transformers_at_every_layer(minilm, text):
    tokenizer, model = minilm
    folder = loading.local_dir(catalog.MINILM)
    ids, hidden = _entering(tokenizer, model, text)
    tokens, our_ids = bert_weights.tokenize(folder, text, 32)
    assert our_ids == ids and tokens == tokenizer.convert_ids_to_tokens(ids)
    assert len(ids) <= 32 and tokens[-1] == "[SEP]"
    for layer in range(model.config.num_hidden_layers):
        found = bert_weights.head_inputs(folder, text, layer, head=layer)
        assert (found.x - hidden[layer][0]).abs().max() < 1e-4, layer
        query = model.encoder.layer[layer].attention.self.query
        rows = slice(layer * 32, (layer + 1) * 32)
        assert torch.equal(found.projections[0], query.weight[rows]) and torch.equal(found.projections[1], query.bias[rows])


def test_every_hidden_state_of_minilm_the_last_included(minilm):
    tokenizer, model = minilm
    text = TEXTS[0]
    ids, theirs = _entering(tokenizer, model, text)
    tokens, ours = bert_weights.hidden_states(loading.local_dir(catalog.MINILM), text, max_tokens=32)
    assert len(ours) == len(theirs) == 7 and tokens == tokenizer.convert_ids_to_tokens(ids)
    assert max(float((a - b[0]).abs().max()) for a, b in zip(ours, theirs, strict=True)) < 1e-4


def test_damaged_files_give_a_clear_message(tmp_path):
    import shutil

    from core.errors import ModelUnavailableError

    folder = loading.local_dir(catalog.MINILM)
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(folder / name, tmp_path / name)
    (tmp_path / "model.safetensors").write_bytes(b"not a weight file")
    with pytest.raises(ModelUnavailableError, match="could not be read"):
        bert_weights.head_inputs(tmp_path, "a cat", 0, 0)
    (tmp_path / "tokenizer.json").write_text("{", encoding="utf-8")
    with pytest.raises(ModelUnavailableError, match="could not be read"):
        bert_weights.tokenize(tmp_path, "a cat", 32)


def test_an_encoder_under_a_task_head_is_read_under_its_prefix(tiny_model):
    """A classifier's folder names its encoder ``bert.…``: the same computation, the same vectors."""
    spec = catalog.get_spec("sentiment-tiny")
    tokenizer, model = loading.load_encoder(spec, eager_attention=True)
    text = "A warm and funny film."
    ids, hidden = _entering(tokenizer, model, text)
    shape = bert_weights.read_shape(tiny_model)
    assert (shape.layers, shape.heads) == (model.config.num_hidden_layers, model.config.num_attention_heads)
    for layer in range(shape.layers):
        found = bert_weights.head_inputs(tiny_model, text, layer, 0)
        assert bert_weights.tokenize(tiny_model, text, 32)[1] == ids
        assert (found.x - hidden[layer][0]).abs().max() < 1e-4


def test_out_of_range_and_foreign_models_are_refused(tmp_path):
    folder = loading.local_dir(catalog.MINILM)
    with pytest.raises(ValueError, match="layer must be between 0 and 5"):
        explain.encoder_head(folder, "a cat", 6, 0, causal=False)
    with pytest.raises(ValueError, match="head must be between 0 and 11"):
        explain.encoder_head(folder, "a cat", 0, 12, causal=False)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    for change in ({"hidden_act": "relu"}, {"position_embedding_type": "relative_key"}, {"model_type": "gpt2"},
                   {"model_type": "roformer", "rotary_value": True}, {"model_type": "roformer", "embedding_size": 64},
                   {"model_type": "roformer", "num_attention_heads": 128},  # heads of 3 coordinates: no pairs to turn
                   {"is_decoder": True}, {"num_attention_heads": 0}, {"num_attention_heads": 5}, {"hidden_size": "x"}):
        (tmp_path / "config.json").write_text(json.dumps({**config, **change}), encoding="utf-8")
        with pytest.raises(ValueError):
            bert_weights.read_shape(tmp_path)


def test_our_rotary_turn_is_the_positional_pages_rope():
    """The RoFormer's queries and keys are turned by ``rope_heads`` (torch, any leading axes); the Positional encoding
    page draws ``positional.rope_rotate`` (numpy): the same turn."""
    import numpy as np

    from core.transformer import positional

    heads = torch.randn(3, 7, 16, generator=torch.Generator().manual_seed(0))
    ours = positional.rope_heads(heads)
    for head in range(3):
        page = positional.rope_rotate(heads[head].double().numpy(), np.arange(7, dtype=float))
        assert np.abs(ours[head].double().numpy() - page).max() < 1e-5
    assert torch.equal(ours[:, 0], heads[:, 0]), "position 0 is not turned"
    assert torch.allclose(ours.norm(dim=-1), heads.norm(dim=-1), atol=1e-5), "a turn keeps each vector's length"


def test_rope_turns_self_attention_only():
    """A RoFormer's block turns queries and keys in self-attention; cross-attention (which RoFormer's encoder never
    runs) is left as it is."""
    from core.transformer.multihead import MultiHeadAttention

    torch.manual_seed(0)
    plain, turned = MultiHeadAttention(16, 2).eval(), MultiHeadAttention(16, 2).eval()
    turned.load_state_dict(plain.state_dict())
    turned.rotary = True
    x, memory = torch.randn(1, 5, 16), torch.randn(1, 7, 16)
    with torch.no_grad():
        assert torch.equal(plain(x, memory)[1], turned(x, memory)[1])
        assert not torch.allclose(plain(x)[1], turned(x)[1])
        assert torch.allclose(plain(x[:, :1])[1], turned(x[:, :1])[1])  # one token at position 0: nothing turns
