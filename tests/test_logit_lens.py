"""Inspect → Layers: the logit lens reads each block's residual stream with the model's own final norm and output
matrix; the last row is the model's output, ranks agree with the top predictions, and the page's code prints
what the page drew."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from conftest import TINY_BERT_ZH, _train_once, open_page


def _tiny_gpt(layers: int = 3):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=40, n_positions=64, n_embd=16, n_layer=layers, n_head=2)).eval()


class _Digits:
    """A tokenizer stand-in for the lens's labels: token i is written as the number i."""

    def decode(self, ids):
        return " ".join(str(i) for i in ids)


def test_the_last_row_is_the_models_output_and_ranks_agree_with_the_top_tokens():
    import torch

    from core.tasks.lens import read_lens

    model = _tiny_gpt()
    ids = [3, 17, 5, 5, 22, 39, 0, 8]
    lens = read_lens(model, _Digits(), ids)
    assert lens.layers == ["embeddings", "block 1", "block 2", "block 3"]
    assert lens.top_probs.shape == (4, 8) and lens.true_ranks.shape == (4, 7)
    assert lens.final_difference < 1e-5
    with torch.no_grad():
        own = torch.softmax(model(torch.tensor([ids])).logits[0], dim=-1)
    assert np.allclose(lens.top_probs[-1], own.max(dim=-1).values.numpy(), atol=1e-6)
    assert np.allclose(lens.true_probs[-1], own[torch.arange(7), torch.tensor(ids[1:])].numpy(), atol=1e-6)
    for layer in range(4):
        for position in range(7):
            is_top = lens.top_tokens[layer][position] == str(ids[position + 1])
            assert (lens.true_ranks[layer, position] == 1) == is_top
    summary = lens.summary()
    assert ((summary["top1"] >= 0) & (summary["top1"] <= 1)).all() and (summary["mean_logprob"] <= 0).all()
    # each block's promoted and suppressed tokens: the largest rises and falls of the lens's distribution
    assert len(lens.movers) == 3 and all(len(block) == 8 for block in lens.movers)
    with torch.no_grad():
        streams = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
        before, after = (torch.softmax(model.lm_head(model.transformer.ln_f(streams[i][0])), dim=-1) for i in (1, 2))
    change = (after - before)[4]  # block 2, after the fifth token
    promoted, suppressed = lens.movers[1][4]
    assert [int(t) for t, _ in promoted] == change.topk(3).indices.tolist()
    assert [int(t) for t, _ in suppressed] == (-change).topk(3).indices.tolist()
    assert promoted[0][1] == pytest.approx(float(change.max()), abs=1e-6) and suppressed[0][1] < 0


def test_the_lens_refuses_what_it_cannot_read():
    from transformers import BertConfig, BertModel

    from core.errors import CoreError
    from core.tasks.lens import MAX_TOKENS, read_lens

    with pytest.raises(CoreError, match="GPT-2-class"):
        read_lens(BertModel(BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=32)), _Digits(), [1, 2, 3])  # fmt: skip
    with pytest.raises(CoreError, match="at least one token"):
        read_lens(_tiny_gpt(), _Digits(), [1])
    long = read_lens(_tiny_gpt(1), _Digits(), list(range(30)) * 3)
    assert len(long.tokens) == MAX_TOKENS


def test_the_code_on_the_page_prints_the_lens_the_page_drew(tiny_zh_gpt):
    from core import catalog
    from core.tasks import snippets
    from core.tasks.generate import LanguageModel

    spec = catalog.get_spec("zh-char-gpt")
    text = "中国人民银行今天宣布"
    lens = LanguageModel(spec).lens(text)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(snippets.logit_lens(spec, text), {})  # noqa: S102 — the page's own snippet
    rows = printed.getvalue().splitlines()
    assert len(rows) == len(lens.layers) == 2  # the embeddings and one block
    for row, name, tokens in zip(rows, lens.layers, lens.top_tokens, strict=True):
        assert row.strip() == f"{name} {' '.join(tokens)}"


def test_the_layers_page_reads_the_chinese_gpt(tiny_zh_gpt):
    at = open_page("pages/logit_lens.py", model="zh-char-gpt")
    assert at.text_input(key="lens-text").value == "国务院今天召开会议，研究明年的经济工作。"
    at.button(key="lens-run").click().run()
    assert not at.exception and not at.error
    difference = [m for m in at.metric if m.label.startswith("Last row vs the model's own output")]
    assert difference and float(difference[0].value) < 1e-4
    assert any("output_hidden_states" in c.value for c in at.code)
    drawn = {chart["layout"]["title"]["text"]: chart for chart in
             (json.loads(element.proto.spec) for element in at.get("plotly_chart"))}  # fmt: skip
    forming = drawn["How the prediction forms, layer by layer"]  # x: the layers' names, so a category axis
    assert forming["layout"]["xaxis"]["type"] == "category" and forming["data"][0]["x"][0] == "embeddings"
    top = drawn["Top prediction after each block (colour: its probability)"]["data"][0]
    assert top["textfont"]["size"] >= 10 and top["texttemplate"] == "%{text}"  # a heatmap's cells draw only text
    assert all(len(cell) <= 7 for row in top["text"] for cell in row) and "%{customdata}" in top["hovertemplate"]
    assert top["customdata"] == at.session_state["lens-result"][2].top_tokens  # the whole token, on hover
    ranks = drawn["Rank of the token that really comes next (1 = top prediction)"]["data"][0]["colorbar"]
    assert ranks["ticktext"][:2] == ["1", "10"] and ranks["tickvals"][:2] == [0, 1]  # the colour is log10 of the rank
    movers = next(frame.value for frame in at.dataframe if "promoted (points of probability)" in frame.value.columns)
    assert list(movers["block"])[0] == "block 1" and len(movers) == len(at.session_state["lens-result"][2].movers)
    at.select_slider(key="lens-mover-position").set_value(3).run()
    assert not at.exception
    at.text_input(key="lens-text").input("").run()
    at.button(key="lens-run").click().run()
    assert at.error, "empty text gets a clear message"


def test_the_masked_lm_lens_ends_at_the_model_s_own_output_and_the_page_draws_it():
    from core import catalog
    from core.tasks.fill_mask import FillMask

    _train_once("zh-bert-mlm", {"examples": 400, "max_length": 32, "scratch": TINY_BERT_ZH})
    found = FillMask(catalog.get_spec("zh-bert-mlm")).lens("国务院今天召开＿议。")
    assert found.final_difference < 1e-4 and found.layers == ["embeddings", "block 1"]
    assert found.top_probs.shape == found.input_probs.shape == (2, len(found.tokens))
    masked = found.tokens.index("[MASK]")
    assert np.isnan(found.input_probs[:, masked]).all() and np.isnan(found.input_probs[:, 0]).all()  # nothing there
    assert np.isfinite(found.input_probs[:, 1]).all()
    assert ((found.input_probs[:, 1] >= 0) & (found.input_probs[:, 1] <= 1)).all()
    from core.errors import InputError

    with pytest.raises(InputError, match="reads at most 48"):  # cut, it would lose its [SEP]: refused instead
        FillMask(catalog.get_spec("zh-bert-mlm")).lens("国" * 60)
    page = open_page("pages/logit_lens.py", model="zh-bert-mlm")
    assert "[MASK]" in page.text_input(key="lens-text").value
    page.button(key="lens-run").click().run()
    assert not page.exception and not page.error
    assert len(page.get("plotly_chart")) == 2 and len(page.get("download_button")) == 4  # HTML and JSON each


def test_every_chart_of_the_lens_and_ablate_pages_downloads_its_numbers(tiny_zh_gpt, clear_streamlit_caches,
                                                                         monkeypatch):  # fmt: skip
    """Each inspection chart comes with its HTML and JSON downloads, and its numbers are plain JSON (built only when
    a student clicks, so an error there would show only then)."""
    import json

    from ui import render

    drawn, figure = {}, render.figure

    def recording(fig, *, key, numbers=None, stem=""):
        drawn[key] = numbers
        return figure(fig, key=key, numbers=numbers, stem=stem)

    monkeypatch.setattr(render, "figure", recording)
    lens = open_page("pages/logit_lens.py", model="zh-char-gpt")
    lens.button(key="lens-run").click().run()
    ablate = open_page("pages/ablate.py", model="zh-char-gpt")
    ablate.multiselect(key="ablate-heads-zh-char-gpt").set_value([(0, 0)]).run()
    ablate.button(key="ablate-run").click().run()
    assert not lens.exception and not ablate.exception
    assert {"lens-top", "lens-rank", "lens-lines", "ablate-tokens"} <= set(drawn)
    assert all(numbers is not None for numbers in drawn.values()), [k for k, v in drawn.items() if v is None]
    for numbers in drawn.values():
        json.loads(json.dumps(render.plain(numbers)))
