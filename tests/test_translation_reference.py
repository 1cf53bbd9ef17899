"""The grammar's own translation beside a model's on the Translate page: looked up in LM Lab's generated pairs
(held-out, training, the grammar table), compared piece by piece, shown on the page."""

from __future__ import annotations

import pytest

from core.data import translation
from core.data.translation_reference import HELD_OUT, LOOKUP_PAIRS, difference, reference


def test_every_held_out_pair_is_found_as_held_out_and_training_pairs_only_for_the_model_that_saw_them():
    data = translation.corpus(train_size=300, test_size=HELD_OUT)
    for pair in data.test:
        found = reference(pair.english, "en-zh", train_size=300)
        assert found is not None and found.where == "held-out" and found.text == pair.chinese
        assert not found.source_seen and found.others == 0  # English → Chinese is a function of the grammar
        back = reference(pair.chinese, "zh-en", train_size=LOOKUP_PAIRS, output=pair.english)
        assert back is not None and back.text == pair.english and back.where == "held-out" and not back.source_seen
    for pair in data.train[:50]:
        seen = reference(pair.english, "en-zh", train_size=300)
        assert seen is not None and seen.where == "training" and seen.text == pair.chinese and seen.source_seen
        unseen = reference(pair.english, "en-zh", train_size=0)  # the same pair for a model trained on none
        assert unseen.where in ("generated", "table") and not unseen.source_seen
    assert reference(data.test[0].english, "en-zh", train_size=LOOKUP_PAIRS + 1) is None  # beyond what it knows


def test_a_sentence_is_found_as_a_student_types_it_and_nothing_outside_the_data_is():
    typed = reference("  tom READ a book in the   library yesterday ", "en-zh")  # case, spaces, no stop
    assert typed is not None and typed.text == "汤姆昨天在图书馆看了一本书。" and typed.where == "table"
    wide = reference("汤姆昨天在图书馆看了一本书", "zh-en")  # no full stop
    assert wide is not None and wide.text == "Tom read a book in the library yesterday."
    assert reference("The weather in Sydney was lovely this afternoon.", "en-zh") is None
    assert reference("", "en-zh") is None
    with pytest.raises(ValueError):
        reference("Tom read a book.", "fr-en")


def test_where_chinese_says_less_the_english_closest_to_the_model_s_is_the_reference_and_its_place_is_its_own():
    data = translation.corpus(train_size=LOOKUP_PAIRS, test_size=HELD_OUT)
    position = {pair.english: index for index, pair in enumerate(data.train)}
    by_chinese: dict[str, list[str]] = {}
    for pair in data.train:
        by_chinese.setdefault(pair.chinese, []).append(pair.english)
    chinese, englishes = next((zh, en) for zh, en in by_chinese.items() if len(en) > 1)
    for english in englishes:
        found = reference(chinese, "zh-en", train_size=LOOKUP_PAIRS, output=english)
        assert found.text == english and found.others == len(englishes) - 1 and found.where == "training"
    near = reference(chinese, "zh-en", train_size=LOOKUP_PAIRS, output=englishes[1][:-1] + "!")
    assert near.text == englishes[1]
    # a model trained only up to the later pair saw the sentence with the earlier translation, not with this one
    first, later = sorted(englishes, key=position.get)[:2]
    found = reference(chinese, "zh-en", train_size=position[later], output=later)
    assert found.text == later and found.where == "generated" and found.source_seen


def test_the_difference_names_what_is_missing_and_what_is_added():
    assert difference("汤姆昨天在图书馆看一本书。", "汤姆昨天在图书馆看了一本书。", chinese=True) == (["了"], [])
    assert difference("汤姆看一本书。", "汤姆现在正在看一本书。", chinese=True) == (["现在正在"], [])
    assert difference("Tom read the book.", "Tom read a book.", chinese=False) == (["a"], ["the"])
    assert difference("same", "same", chinese=False) == ([], [])


def test_every_example_of_the_page_but_the_last_has_a_reference():
    from ui.translate import EXAMPLES, EXAMPLES_ZH

    for examples, direction in ((EXAMPLES, "en-zh"), (EXAMPLES_ZH, "zh-en")):
        assert all(reference(text, direction) is not None for text in examples[:-1]), direction
        assert reference(examples[-1], direction) is None  # the one from outside the grammar
    held_out = [text for text in EXAMPLES[:-1] if reference(text, "en-zh").where == "held-out"]
    assert len(held_out) >= 3  # most of them are sentences the models never saw
