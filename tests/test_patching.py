"""Activation patching (Inspect → Patch) on real models trained here: the checks every run makes, the cells whose
value is known from the architecture, an independent one-pass-per-cell computation (the page's own code snippet),
refusals in words, and the page in both languages."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core import catalog
from core.errors import InputError
from core.tasks import patching, snippets

from conftest import SESSION_CACHE, open_page

CLEAN, CORRUPTED = "the film was great in the city", "the film was awful in the city"


@pytest.fixture(scope="module")
def keyword_classifier():
    """The tiny BERT trained on sentences where one word ('great' / 'awful') decides the label."""
    import os

    from core.tasks.classify import TransformerClassifier
    from core.training import jobs

    os.environ["LMLAB_CACHE_HOME"] = str(SESSION_CACHE)
    if catalog.read_metadata("keyword-tiny") is None:
        jobs.run_here("keyword-tiny")
    return TransformerClassifier(catalog.get_spec("keyword-tiny"), runtime="torch")


@pytest.fixture(scope="module")
def language_model(lm_tiny_model):
    from core.tasks.base import get_task

    spec = catalog.get_spec("lm-lee-gpt")
    return get_task(spec.task).hook("predictor")(spec)


def _snippet_grid(spec, clean: str, corrupted: str) -> np.ndarray:
    """The page's code snippet run as a user would run it: one patched forward pass per cell."""
    namespace: dict = {}
    exec(compile(snippets.patching(spec, clean, corrupted), "snippet", "exec"), namespace)  # noqa: S102
    return namespace["grid"].numpy()


def test_a_classifier_grid_is_exact_where_the_architecture_says_so(keyword_classifier):
    found = patching.patch_classifier(keyword_classifier, CLEAN, CORRUPTED)
    assert (found.clean_answer, found.corrupted_answer) == ("positive", "negative")
    assert found.clean_metric > 0 > found.corrupted_metric
    # every position of any layer patched gives the clean run; nothing patched gives the corrupted run
    assert found.all_patched_difference < 1e-4 and found.none_patched_difference < 1e-4
    changed = found.clean_tokens.index("great")
    assert found.corrupted_tokens[changed] == "awful" and found.layers[0] == "embeddings"
    # before the first block only the changed word differs: patching it is the clean input, any other word nothing
    assert found.recovered[0, changed] == pytest.approx(1.0, abs=1e-4)
    assert np.abs(np.delete(found.recovered[0], changed)).max() < 1e-4
    # after the last block the classifier reads [CLS] alone (BERT's pooler): all of it there, nothing elsewhere
    assert found.recovered[-1, 0] == pytest.approx(1.0, abs=1e-4)
    assert np.abs(found.recovered[-1, 1:]).max() < 1e-4
    assert found.strongest(2)[0][2] == pytest.approx(1.0, abs=1e-4)
    spec = catalog.get_spec("keyword-tiny")
    assert np.abs(_snippet_grid(spec, CLEAN, CORRUPTED) - found.recovered).max() < 1e-4  # batched = one by one
    _one_head_by_hand(keyword_classifier, found)


def _one_head_by_hand(classifier, found) -> None:
    """The head grid's last cell recomputed alone: one head's slice of W_O's input taken from the clean run."""
    import torch

    from core.tasks.ablation import head_inputs, shape

    model, tokenizer = classifier.model, classifier.tokenizer
    layers, heads = shape(model)
    assert found.heads.shape == (layers, heads) and np.isfinite(found.heads).all()
    w_o = head_inputs(model)[-1]
    width = w_o.in_features // heads
    kept = []
    hook = w_o.register_forward_pre_hook(lambda _m, inputs: kept.append(inputs[0].clone()))
    with torch.no_grad():
        clean = model(**tokenizer(CLEAN, return_tensors="pt")).logits[0]
    hook.remove()

    def swap(_m, inputs):
        merged = inputs[0].clone()
        merged[..., (heads - 1) * width :] = kept[0][..., (heads - 1) * width :]
        return (merged, *inputs[1:])

    hook = w_o.register_forward_pre_hook(swap)
    with torch.no_grad():
        patched = model(**tokenizer(CORRUPTED, return_tensors="pt")).logits[0]
    hook.remove()
    with torch.no_grad():
        corrupted = model(**tokenizer(CORRUPTED, return_tensors="pt")).logits[0]
    good, bad = int(clean.argmax()), int(corrupted.argmax())
    share = ((patched[good] - patched[bad]) - (corrupted[good] - corrupted[bad])) / (
        (clean[good] - clean[bad]) - (corrupted[good] - corrupted[bad]))  # fmt: skip
    assert float(share) == pytest.approx(float(found.heads[-1, -1]), abs=1e-4)


def _differing_pair(lm) -> tuple[str, str]:
    """Two prompts one token apart that the tiny GPT continues differently (it is trained for seconds, so the pair
    is searched for among many, not assumed)."""
    words = ["police", "government", "minister", "people", "company", "court", "army", "team", "president", "year",
             "world", "city", "Australia", "Israel", "week", "man", "children", "report", "water", "fire"]  # fmt: skip
    for template in ("the {} said", "the {} was", "the {}"):
        seen: dict[tuple, tuple[int, str]] = {}  # the prompt's ids with the word's position blanked → (next token, prompt)
        for word in words:
            prompt = template.format(word)
            ids = lm.token_ids(prompt)
            following = lm.next_tokens(prompt, k=1)["transformer"][0]["id"]
            for position in range(len(ids)):
                frame = (len(ids), position, *ids[:position], *ids[position + 1 :])
                if frame in seen and seen[frame][0] != following:
                    return seen[frame][1], prompt
                seen.setdefault(frame, (following, prompt))
    raise AssertionError("the tiny GPT continued every prompt the same way")


def test_a_language_model_grid_ends_at_the_last_position(language_model):
    clean, corrupted = _differing_pair(language_model)
    found = patching.patch_language_model(language_model, clean, corrupted)
    assert found.checks_pass and found.all_patched_difference < 1e-4 and found.none_patched_difference < 1e-4
    assert found.clean_tokens[0] == found.corrupted_tokens[0]  # the boundary token the model reads first
    # after the last block the next token is read from the last position alone
    assert found.recovered[-1, -1] == pytest.approx(1.0, abs=1e-4)
    assert np.abs(found.recovered[-1, :-1]).max() < 1e-4
    (changed,) = [i for i, (a, b) in enumerate(zip(found.clean_tokens, found.corrupted_tokens, strict=True)) if a != b]
    assert found.recovered[0, changed] == pytest.approx(1.0, abs=1e-4)  # before block 1: the clean input itself
    assert np.abs(np.delete(found.recovered[0], changed)).max() < 1e-4
    spec = catalog.get_spec("lm-lee-gpt")
    assert np.abs(_snippet_grid(spec, clean, corrupted) - found.recovered).max() < 1e-4


def test_distilbert_blocks_are_found_and_its_snippet_runs(tmp_path, keyword_classifier):
    """DistilBERT (the Hub's sentiment model) keeps its blocks elsewhere: a small random one, saved and patched."""
    import contextlib
    from types import SimpleNamespace

    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    config = DistilBertConfig(vocab_size=keyword_classifier.tokenizer.vocab_size, dim=32, n_layers=2, n_heads=2,
                              hidden_dim=64, num_labels=2, initializer_range=0.5, id2label={0: "NEGATIVE", 1: "POSITIVE"},
                              label2id={"NEGATIVE": 0, "POSITIVE": 1})  # fmt: skip
    torch.manual_seed(3)  # a fixed random model
    model = DistilBertForSequenceClassification(config).eval()
    words = ["great", "awful", "film", "city", "river", "music", "paper", "chair"]
    with torch.no_grad():  # centre the random head on these texts, so that some go either way
        texts = keyword_classifier.tokenizer([f"a {word} day" for word in words], return_tensors="pt")
        model.classifier.bias -= model(**texts).logits.mean(0)
    model.save_pretrained(tmp_path)
    keyword_classifier.tokenizer.save_pretrained(tmp_path)
    wrapper = SimpleNamespace(model=model, tokenizer=keyword_classifier.tokenizer, exclusive=contextlib.nullcontext)
    assert len(patching.streams_of(model)[1]) == 2
    for first in words:  # a random model: find two words it answers differently
        for second in words:
            try:
                found = patching.patch_classifier(wrapper, f"a {first} day", f"a {second} day")
            except InputError:
                continue
            assert found.checks_pass and found.recovered[-1, 0] == pytest.approx(1.0, abs=1e-4)  # [CLS] is read
            code = snippets.patching(catalog.get_spec("keyword-tiny"), f"a {first} day", f"a {second} day")
            namespace: dict = {}
            exec(compile(code.replace(repr(str(catalog.cache_entry_dir("keyword-tiny"))), repr(str(tmp_path))),
                         "snippet", "exec"), namespace)  # noqa: S102
            assert np.abs(namespace["grid"].numpy() - found.recovered).max() < 1e-4
            return
    pytest.fail("the random DistilBERT answered every pair the same way")


def test_texts_that_cannot_be_compared_are_refused_in_words(keyword_classifier):
    with pytest.raises(InputError, match="the same number of tokens: the clean one has 9"):
        patching.patch_classifier(keyword_classifier, CLEAN, "the film was not great in the city")
    with pytest.raises(InputError, match="Both texts get the same answer \\(positive\\)"):
        patching.patch_classifier(keyword_classifier, CLEAN, "the book was great in the city")
    with pytest.raises(InputError, match="at most 32"):
        long = " ".join(["film"] * 40)
        patching.patch_classifier(keyword_classifier, long + " great", long + " awful")
    with pytest.raises(InputError):
        patching.patch_classifier(keyword_classifier, "", "")


def test_the_patch_page_in_both_languages(keyword_classifier, lm_tiny_model):
    page = open_page("pages/patch.py", model="keyword-tiny")
    page.text_input(key="patch-clean").set_value(CLEAN)
    page.text_input(key="patch-corrupted").set_value(CORRUPTED).run()
    page.button(key="patch-run").click().run()
    assert not page.exception and not page.error
    assert [m.value for m in page.metric][:2] == ["positive", "negative"]
    assert page.dataframe[0].value.iloc[0, 2] == pytest.approx(1.0, abs=1e-3)
    assert "register_forward_hook" in page.code[0].value
    assert len(page.get("download_button")) == 4  # both grids (positions, heads) as offline HTML and as JSON
    chinese = open_page("pages/patch.py", lang="zh", model="keyword-tiny")
    chinese.text_input(key="patch-clean").set_value(CLEAN)
    chinese.text_input(key="patch-corrupted").set_value(CORRUPTED).run()
    chinese.button(key="patch-run").click().run()
    assert [m.value for m in chinese.metric][:2] == ["正面", "负面"]  # the answers in the page's language


def test_an_inspection_view_exports_offline_html_and_plain_json():
    import json

    from core.viz import heatmaps
    from ui.render import plain

    figure = heatmaps.heatmap(np.array([[0.5, np.nan]]), title="t", x_labels=["a", "b"], y_labels=["l"])
    html = figure.to_html(include_plotlyjs=True, full_html=True)
    assert not re.search(r"<script[^>]+src=", html) and "Plotly.newPlot" in html  # no script fetched from a server:
    assert len(html) > 1_000_000  # plotly.js is inside the file
    numbers = plain({"grid": np.array([[0.5, np.nan]]), "tokens": ("a", "b"), "n": np.int64(3)})
    assert json.loads(json.dumps(numbers)) == {"grid": [[0.5, None]], "tokens": ["a", "b"], "n": 3}
    chinese = open_page("pages/patch.py", lang="zh", model="lm-lee-gpt")
    assert chinese.title[0].value.startswith("激活修补")
    chinese.text_input(key="patch-corrupted").set_value("the").run()
    chinese.button(key="patch-run").click().run()
    assert not chinese.exception and "词元" in chinese.error[0].value  # refused, in Chinese


def test_a_matrix_of_counts_prints_whole_numbers_and_a_matrix_of_shares_two_decimals():
    from core.viz import heatmaps

    counts = heatmaps.heatmap(np.array([[7.0, 1200.0], [0.0, np.nan]]), title="t", text_values=True)
    shares = heatmaps.heatmap(np.array([[0.5, 1.0]]), title="t", text_values=True)
    assert counts.data[0].texttemplate == "%{z:,.0f}"  # a confusion matrix reads 7 and 1,200, not 7.00
    assert shares.data[0].texttemplate == "%{z:.2f}"


def test_the_head_grid_hooks_the_shared_model_only_once_it_holds_it(language_model, monkeypatch):
    """A hook put on the class's shared model before its lock is taken runs inside other sessions' passes while the
    request waits (their next-token bars, or a first export of the model, would read a patched model)."""
    model = language_model.model

    def hooks() -> int:
        return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules())

    before, asked = hooks(), []
    real = language_model.exclusive

    def watched():  # the hooks on the model at every moment the grid asks for it
        asked.append(hooks())
        return real()

    monkeypatch.setattr(language_model, "exclusive", watched)
    clean, corrupted = _differing_pair(language_model)
    found = patching.patch_language_model(language_model, clean, corrupted)
    assert found.heads is not None and len(asked) > 3 and set(asked) == {before} and hooks() == before
