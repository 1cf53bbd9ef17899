"""The article, corrected: its training code's mistakes, and the script that trains one of LM Lab's runs again."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from core import catalog
from core.tasks import article_code
from core.training.recipes import RECIPES

from conftest import ROOT


def test_every_mistake_is_marked_in_the_article_code_and_the_article_code_does_not_run():
    for marker, _explanation in article_code.MISTAKES:
        assert article_code.ARTICLE_CODE.count(marker) == 1
    with pytest.raises(SyntaxError):  # ① pip install … inside Python
        compile(article_code.ARTICLE_CODE, "article.py", "exec")
    without_pip = article_code.ARTICLE_CODE.split("\n", 1)[1]
    with pytest.raises(NameError, match="train_dataset"):  # ④ never defined (stop before anything downloads)
        exec(compile(without_pip.replace('.from_pretrained("bert-base-uncased")', ".__name__"), "a.py", "exec"), {})


@pytest.mark.parametrize("key", [key for key, recipe in RECIPES.items() if recipe.task in ("sentiment", "topic",
                                                                                           "sentiment-zh")])
def test_a_script_is_valid_python_for_every_built_in_classifier(key):
    recipe = RECIPES[key].to_json()
    script = article_code.training_script(recipe, "bf16", "cuda")  # a run trained on a GPU in bf16
    compile(script, f"train_{key}.py", "exec")
    assert "bf16=torch.cuda.is_available()" in script and f'"{key}-model"' in script
    early = recipe["patience"] > 0 and recipe["validation_fraction"] > 0
    assert ("EarlyStoppingCallback(early_stopping_patience" in script) == early


def test_the_script_trains_the_same_model_again_offline(tiny_model, tmp_path):
    card = catalog.read_metadata("sentiment-tiny")
    script = tmp_path / "train_sentiment_tiny.py"
    script.write_text(article_code.training_script(card.recipe, card.get("precision", "fp32"), card.get("device", "cpu")), encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    accuracy = float(re.search(r"held-out accuracy: ([0-9.]+)", done.stdout).group(1))
    assert accuracy == pytest.approx(card.metrics["accuracy"]["value"], abs=1e-9)  # the same run, step for step
    last = done.stdout.strip().splitlines()[-1]
    assert any(f"'label': '{label}'" in last for label in card.labels)  # ⑤ the saved model answered with its labels
    assert (tmp_path / "sentiment-tiny-model" / "model.safetensors").exists()


@pytest.mark.parametrize(("page", "keys"), [("pages/encoder_decoder.py", ("decoder", "polarization")),
                                            ("pages/generate.py", ("polarization", "bert-generates")),
                                            ("pages/srl.py", ("srl",)), ("pages/train.py", ("pretraining",))])
def test_each_erratum_is_on_its_page_in_both_languages(page, keys, clear_streamlit_caches):
    from core.errata import ERRATA
    from ui.i18n import catalog as messages

    from conftest import open_page

    for lang in ("en", "zh"):
        at = open_page(page, lang=lang)
        shown = "\n".join(block.value for block in at.markdown)
        for key in keys:
            entry = ERRATA[key]
            assert entry.quote in shown  # the article's own words, as printed
            assert messages(lang).get(entry.right, entry.right) in shown


def test_a_hub_run_keeps_the_hub_models_own_dropout_as_lm_lab_did():
    recipe = {**RECIPES["sentiment-minilm"].to_json(), "base": "hub", "hub_model": "distilbert/distilbert-base-uncased",
              "dropout": 0.1}  # fmt: skip
    script = article_code.training_script(recipe)
    compile(script, "hub.py", "exec")
    assert "'distilbert/distilbert-base-uncased'" in script and "hidden_dropout_prob" not in script
    assert "print(classifier(data.split.test[0].text, truncation=True, max_length=" in script  # a held-out text in the data's own language
