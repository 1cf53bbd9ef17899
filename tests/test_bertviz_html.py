"""The offline bertviz views: no CDN, libraries inline, tokens cannot break out, weights survive the trip."""

import base64
import json
import re

import numpy as np
import pytest
import torch

from core.errors import CoreError
from core.viz import bertviz_html

EVIL = "</script><img src=x onerror=alert(1)>"


def _weights(layers=2, heads=3, rows=6, columns=None, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.random((layers, heads, rows, columns or rows))
    return w / w.sum(-1, keepdims=True)


def _params(html: str) -> dict:
    match = re.search(r"const params = window.__lmlabInflate\((.*)\); // set by LM Lab", html)
    assert match, "params line missing"
    return json.loads(match.group(1))


@pytest.mark.parametrize("view", [bertviz_html.head_view, bertviz_html.model_view])
def test_offline_and_safe(view):
    tokens = ["[CLS]", "a", EVIL, "b", "c", "[SEP]"]
    html = view(_weights(), tokens)
    assert "cdnjs" not in html and "require.config" not in html
    assert not re.search(r"<script[^>]+src=", html), "no script may load from anywhere"
    assert not re.search(r"(src|href)=[\"']?https?:", html)
    assert "d3.v5" in html or "d3js.org" in html  # d3 v5 is inlined
    assert "jQuery" in html
    assert EVIL not in html and "<img" not in html
    assert html.count("</script") == 4  # d3, jQuery, LM Lab's stand-in, bertviz's code
    params = _params(html)
    assert params["attention"][0]["left_text"][2] == EVIL  # the browser still reads the real token


def test_weights_round_trip_to_one_255th():
    weights = _weights(2, 3, 4)
    entry = _params(bertviz_html.head_view(weights, list("wxyz")))["attention"][0]
    packed = np.frombuffer(base64.b64decode(entry["attn"]["q8"]), dtype=np.uint8).reshape(
        entry["attn"]["shape"]
    )
    assert np.abs(packed / 255 - weights).max() <= 0.5 / 255 + 1e-12


def test_sentence_pair_gets_bertviz_filters():
    tokens = ["[CLS]", "a", "[SEP]", "b", "c", "[SEP]"]
    params = _params(bertviz_html.head_view(_weights(), tokens, sentence_b_start=3))
    names = [entry["name"] for entry in params["attention"]]
    assert names[0] == "All" and "Sentence A -> Sentence B" in names
    a_to_b = next(e for e in params["attention"] if e["name"] == "Sentence A -> Sentence B")
    assert a_to_b["left_text"] == tokens[:3] and a_to_b["right_text"] == tokens[3:]
    assert a_to_b["attn"]["shape"] == [2, 3, 3, 3]


def test_bertviz_labels_are_shown_in_the_readers_language_and_stay_safe():
    from ui.i18n import catalog

    zh = catalog("zh")
    labels = {"Layer:": zh["Layer:"], "Attention:": zh["Attention:"], "Layers": "层", "Heads": "头",
              "Layer {layer}, head {head}": zh["Layer {layer}, head {head}"], "All": zh["All"],
              "Sentence A -> Sentence B": zh["Sentence A → Sentence B"], "Encoder": EVIL}  # fmt: skip
    tokens = ["[CLS]", "a", "[SEP]", "b", "c", "[SEP]"]
    pair = bertviz_html.head_view(_weights(), tokens, sentence_b_start=3, labels=labels)
    assert '层： <select id="layer">' in pair and '注意力： <select id="filter">' in pair
    assert '<option value="0">全部</option>' in pair and ">句子 A → 句子 B</option>" in pair
    assert "Layer: <select" not in pair and "Attention: <select" not in pair
    assert ">Sentence B -&gt; Sentence A</option>" in pair  # no translation given: bertviz's own name, escaped
    assert [e["name"] for e in _params(pair)["attention"]][0] == "All"  # the menu picks by index, names unchanged
    grid = bertviz_html.model_view(_weights(), tokens, labels=labels)
    js = json.dumps  # JavaScript strings written as JSON: 头 as \u5934
    assert f".text({js('头')})" in grid and f".text({js('层')})" in grid
    heading = f"{js('第 ')} + config.layers[layerIndex] + {js(' 层，第 ')} + config.heads[headIndex] + {js(' 个头')}"
    assert heading in grid and "'Layer ' + config.layers" not in grid and '.text("Heads")' not in grid
    english = bertviz_html.model_view(_weights(), tokens)
    assert '.text("Heads")' in english and "'Layer ' + config.layers" in english
    hostile = bertviz_html.encoder_decoder_view(_weights(1, 2, 3), _weights(1, 2, 2), _weights(1, 2, 2, 3), list("abc"),
                                                list("xy"), labels=labels)  # fmt: skip
    assert EVIL not in hostile and "<img" not in hostile and hostile.count("</script") == 4
    broken = bertviz_html.model_view(_weights(), tokens, labels={"Layer {layer}, head {head}": "{layer} only"})
    assert "'Layer ' + config.layers" in broken  # a template without both places keeps bertviz's heading


def test_encoder_decoder_views_from_a_real_seq2seq_model():
    from transformers import BartConfig, BartForConditionalGeneration

    config = BartConfig(vocab_size=50, d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=32,
                        attn_implementation="eager")  # fmt: skip
    model = BartForConditionalGeneration(config).eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor([[0, 5, 6, 7, 2]]), decoder_input_ids=torch.tensor([[2, 0, 9]]),
                    output_attentions=True)  # fmt: skip
    encoder = torch.stack([a[0] for a in out.encoder_attentions]).numpy()
    decoder = torch.stack([a[0] for a in out.decoder_attentions]).numpy()
    cross = torch.stack([a[0] for a in out.cross_attentions]).numpy()
    source, target = ["<s>", "x", "y", EVIL, "</s>"], ["</s>", "<s>", "z"]
    for kind in ("head", "model"):
        html = bertviz_html.encoder_decoder_view(encoder, decoder, cross, source, target, kind=kind)
        names = [entry["name"] for entry in _params(html)["attention"]]
        assert names == ["Encoder", "Decoder", "Cross"] and EVIL not in html
    with pytest.raises(CoreError, match="does not match"):
        bertviz_html.encoder_decoder_view(encoder, decoder, cross[:, :, :, :2], source, target)


def test_128_token_views_stay_small():
    tokens = [f"t{i}" for i in range(128)]
    weights = _weights(6, 12, 128)
    for view in (bertviz_html.head_view, bertviz_html.model_view):
        assert len(view(weights, tokens)) < 3_000_000
