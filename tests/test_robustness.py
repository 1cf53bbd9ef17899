"""Challenges → Robustness: the typing mistakes, the greedy attack on a real trained classifier, and the page."""

from __future__ import annotations

import pytest

from core import catalog
from core.errors import InputError
from core.tasks import robustness

from conftest import open_page


def test_each_edit_is_one_typing_mistake():
    assert robustness.edit_word("terrible") == "terirble"  # two inner letters swapped
    assert robustness.edit_word("book") == "boo"  # the swap would change nothing: the last letter goes
    assert robustness.edit_word("bad") == "ba"
    assert robustness.edit_word("喜欢") == "欢喜"  # two Chinese characters swapped, none deleted
    assert robustness.edit_word("好") == "好"  # a lone character is left alone (no edit is counted)


def test_the_attack_on_a_trained_classifier_reports_what_it_did(tiny_model):
    from core.tasks.base import get_task
    from core.tasks.classify import TransformerClassifier

    classifier = TransformerClassifier(catalog.get_spec("sentiment-tiny"), runtime="torch")
    split, _ = get_task("sentiment").held_out()
    examples = list(split.test)[:12]
    found = robustness.measure(classifier.predict_batch, [e.text for e in examples], [e.label for e in examples],
                               max_edits=3)  # fmt: skip
    assert len(found.attacked) + found.skipped == 12
    for attacked in found.attacked:
        assert 0 <= attacked.edits <= 3
        again = classifier.predict_batch([attacked.edited])[0].label
        assert again == attacked.new_label and attacked.flipped == (again != attacked.label)
        if attacked.edits:
            assert attacked.edited != attacked.text
    assert 0 <= found.flip_low <= found.flip_share <= found.flip_high <= 1
    with pytest.raises(InputError):
        robustness.measure(classifier.predict_batch, ["a"] * 51, ["positive"] * 51)


def test_the_page_attacks_a_classifier(tiny_model, clear_streamlit_caches):
    at = open_page("pages/robustness.py")
    at.selectbox(key="robust-model").set_value("sentiment-tiny").run()
    at.slider(key="robust-texts").set_value(10).run()
    at.button(key="robust-run").click().run()
    assert not at.exception
    assert at.metric[0].value.endswith("%")
