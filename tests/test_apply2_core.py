"""Apply II in core: the generators, the n-gram model, sampling, and tiny models trained for real."""

from __future__ import annotations

import math
import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.data import conll2012, translation
from core.data import srl as srl_data
from core.errors import CoreError, InputError


# --- the translation grammar ------------------------------------------------------------------------
def test_translation_corpus_is_deterministic_for_a_seed():
    first, second = translation.corpus(300, 40, seed=4), translation.corpus(300, 40, seed=4)
    assert first.train == second.train and first.test == second.test
    assert translation.corpus(300, 40, seed=5).train != first.train


def test_held_out_translations_are_unseen_sentences_and_unseen_combinations():
    data = translation.corpus(3000, 200)
    train_sentences = {p.english for p in data.train}
    assert not train_sentences & {p.english for p in data.test}
    held = translation.held_out_combinations()
    assert all((p.verb, p.noun) in held for p in data.test)
    assert not any((p.verb, p.noun) in held for p in data.train)
    # every word of a held-out verb and noun still occurs in training, in other combinations
    assert {p.verb for p in data.test} <= {p.verb for p in data.train}
    assert {p.noun for p in data.test} <= {p.noun for p in data.train}
    assert translation.lexicon_size() >= 250


@pytest.mark.parametrize(
    ("verb", "noun", "form", "expect_en", "expect_zh"),
    [
        ("buy", "car", "negation", "not", "没有|不|不会"),
        ("eat", "apple", "yes-no question", "?", "吗？"),
        ("sell", "box", "what question", "What", "什么？"),
    ],
)
def test_translation_pairs_show_the_phenomena(verb, noun, form, expect_en, expect_zh):
    import re

    rng = random.Random(0)
    found = [translation.make_pair(rng, verb, noun) for _ in range(400)]
    chosen = [p for p in found if p.form == form]
    assert chosen, form
    for pair in chosen:
        assert pair.english[0].isupper() and pair.english[-1] in ".?"
        assert pair.chinese[-1] in "。？"
        if expect_en:
            assert expect_en in pair.english
        assert re.search(expect_zh, pair.chinese), pair


def test_measure_words_plural_and_negation_in_object_phrases():
    rng = random.Random(4)
    book = next(noun for noun in translation._NOUNS if noun[0] == "book")
    numbers = dict(translation._NUMBERS)
    for _ in range(200):
        english, chinese = translation._object(rng, book, "past", negated=False)
        first = english.split()[0]
        if first in ("a", "an"):
            assert chinese.startswith("一本") and not english.endswith("s")
        elif first in numbers:
            assert english.endswith("books") and chinese[:2] == numbers[first] + "本"
        elif first in ("these", "those"):
            assert "本" not in chinese and english.endswith("books")
        english, chinese = translation._object(rng, book, "past", negated=True)
        if english.split()[0] in ("a", "an"):
            assert not chinese.startswith("一"), "Chinese drops 'a' under negation"


def test_time_and_place_move_before_the_verb_in_chinese():
    rng = random.Random(1)
    for _ in range(300):
        pair = translation.make_pair(rng, "read", "book")
        if pair.form == "statement" and "in the library" in pair.english and "yesterday" in pair.english:
            assert pair.english.index("library") > pair.english.index("read")
            assert pair.chinese.index("昨天") < pair.chinese.index("在图书馆") < pair.chinese.index("看")
            return
    pytest.fail("no sentence with both a time and a place was drawn")


# --- the SRL generator -----------------------------------------------------------------------------
def test_srl_gold_spans_are_consistent_with_the_sentence():
    data = srl_data.corpus(400, 80)
    for sentence in data.train + data.test:
        assert sentence.words[-1] == "."
        for frame in sentence.frames:
            assert len(frame.tags) == len(sentence.words)
            assert frame.tags[frame.predicate] == "B-V"
            assert all(tag in srl_data.LABELS for tag in frame.tags)
            spans = frame.spans()
            covered = [i for _, start, end in spans for i in range(start, end + 1)]
            assert len(covered) == len(set(covered)), "spans of one frame overlap"
            for index, tag in enumerate(frame.tags):  # an I- tag always continues its own role
                if tag.startswith("I-"):
                    assert frame.tags[index - 1][2:] == tag[2:]
            assert sum(role == "V" for role, *_ in spans) == 1
            assert sentence.words[frame.predicate].lower() in srl_data.VERB_FORMS


def test_srl_passive_puts_the_agent_in_a_by_phrase():
    rng = random.Random(2)
    for _ in range(50):
        sentence = srl_data.construct(rng, "give", "passive")
        frame = sentence.frames[0]
        roles = {role: " ".join(sentence.words[s : e + 1]) for role, s, e in frame.spans()}
        if "ARG0" in roles:
            assert roles["ARG0"].startswith("by ")
            assert roles["ARG2"].startswith("to ")
            return
    pytest.fail("no passive with an agent was drawn")


def test_srl_two_predicates_share_the_subject_in_control_sentences():
    sentence = srl_data.construct(random.Random(3), "want", "control")
    assert len(sentence.frames) == 2
    outer, inner = sentence.frames
    arg0_outer = [(s, e) for role, s, e in outer.spans() if role == "ARG0"]
    arg0_inner = [(s, e) for role, s, e in inner.spans() if role == "ARG0"]
    assert arg0_outer == arg0_inner
    arg1_outer = next((s, e) for role, s, e in outer.spans() if role == "ARG1")
    assert arg1_outer[0] <= inner.predicate <= arg1_outer[1], "the infinitive clause is the outer ARG1"


def test_srl_held_out_split_has_no_sentence_overlap_and_three_kinds_of_novelty():
    data = srl_data.corpus(600, 90)
    assert not {s.text for s in data.train} & {s.text for s in data.test}
    held = srl_data.held_out_constructions()
    for sentence in data.train:
        assert sentence.kind == "" and "," not in sentence.words
        for frame in sentence.frames:
            assert (frame.verb, srl_data._construction_key(frame)) not in held
            assert frame.verb not in srl_data.NEW_VERBS
    kinds = {s.kind for s in data.test}
    assert kinds == set(srl_data.HELD_OUT_KINDS)
    for sentence in data.test:
        verbs = {f.verb for f in sentence.frames}
        if sentence.kind == "unseen verb":
            assert verbs & set(srl_data.NEW_VERBS)
        elif sentence.kind == "fronted time phrase":
            assert sentence.words[sentence.frames[0].spans()[0][2] + 1] == ","
            assert sentence.frames[0].spans()[0][0] == "ARGM-TMP"


def test_span_f1_matches_seqeval_and_counts_by_hand():
    from seqeval.metrics import f1_score

    from core.tasks.srl import span_scores

    gold = [["B-ARG0", "I-ARG0", "B-V", "B-ARG1", "O"], ["B-ARG1", "B-V", "B-ARGM-TMP", "O"]]
    pred = [["B-ARG0", "I-ARG0", "B-V", "B-ARG2", "O"], ["B-ARG1", "B-V", "O", "O"]]
    scores = span_scores(gold, pred, n_resamples=200)
    # gold arguments: ARG0, ARG1, ARG1, TMP (4); predicted: ARG0, ARG2, ARG1 (3); correct: ARG0, ARG1 (2)
    assert scores["span_f1"]["value"] == pytest.approx(2 * 2 / (3 + 4))
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 4)
    no_v = [[t if not t.endswith("-V") else "O" for t in s] for s in gold], [[t if not t.endswith("-V") else "O" for t in s] for s in pred]  # fmt: skip
    assert scores["span_f1"]["value"] == pytest.approx(f1_score(*no_v))
    assert scores["span_f1"]["low"] <= scores["span_f1"]["value"] <= scores["span_f1"]["high"]
    assert scores["per_role"]["ARGM-TMP"]["recall"] == 0.0


def test_bio_repair_and_predicate_suggestions():
    from core.tasks.srl import repair_bio, split_words, suggest_predicates

    assert repair_bio(["I-ARG0", "I-ARG0", "B-V", "I-ARG1"]) == ["B-ARG0", "I-ARG0", "B-V", "B-ARG1"]
    words = split_words("The teacher gave the student a book, and Maria smiled.")
    assert words[-1] == "." and "," in words
    assert [words[i] for i in suggest_predicates(words)] == ["gave", "smiled"]


# --- n-gram model and sampling ------------------------------------------------------------------------
def test_kneser_ney_distribution_sums_to_one_and_matches_pointwise():
    from core.tasks.ngram import KneserNey

    rng = random.Random(0)
    sequences = [[rng.randrange(30) for _ in range(300)] for _ in range(4)] + [[1, 2, 3, 4] * 40]
    model = KneserNey(order=3).fit(sequences, vocab_size=40)
    for context in [(1, 2), (2,), (), (39, 39), (7, 8)]:
        distribution = model.distribution(context)
        assert distribution.sum() == pytest.approx(1.0)
        assert (distribution > 0).all(), "unseen tokens keep some probability"
        for token in (3, 17, 39):
            assert distribution[token] == pytest.approx(model.probability(context, token))
    assert model.perplexity([[1, 2, 3, 4] * 5]) < model.perplexity([[4, 3, 2, 1] * 5])


def _reference_kneser_ney(sequences, vocab_size, order, context, token, discount=0.75):
    """Interpolated Kneser–Ney written the plain way (dictionaries of counts), to check the array version."""
    from collections import Counter, defaultdict

    levels = [defaultdict(Counter)]
    for sequence in sequences:
        for i in range(order - 1, len(sequence)):
            levels[0][tuple(sequence[i - order + 1 : i])][sequence[i]] += 1
    for _ in range(order - 1):
        lower = defaultdict(Counter)
        for seen, following in levels[-1].items():
            for item in following:
                lower[seen[1:]][item] += 1
        levels.append(lower)
    levels = levels[::-1]

    def probability(level, seen):
        if level < 0:
            return 1 / vocab_size
        seen = seen[len(seen) - level :] if level else ()
        lower = probability(level - 1, seen[1:] if level else ())
        following = levels[level].get(seen)
        if not following:
            return lower
        total = sum(following.values())
        return max(following[token] - discount, 0) / total + discount * len(following) / total * lower

    context = tuple(context)[-(order - 1) :]
    return probability(len(context), context)


def test_kneser_ney_arrays_agree_with_the_plain_definition():
    from core.tasks.ngram import KneserNey

    rng = random.Random(1)
    sequences = [[rng.randrange(12) for _ in range(rng.randrange(1, 80))] for _ in range(15)] + [[5]]
    for order in (2, 3, 4):
        model = KneserNey(order=order).fit(sequences, vocab_size=15)
        for context in [(), (3,), (1, 2), (4, 4, 4), (14, 13)]:
            for token in (0, 3, 11, 14):
                expected = _reference_kneser_ney(sequences, 15, order, context, token)
                assert model.probability(context, token) == pytest.approx(expected, rel=1e-12)
        # a whole sequence's log-probabilities, computed for every position at once, are the pointwise ones
        for sequence in [[rng.randrange(15) for _ in range(rng.randrange(0, 40))] for _ in range(20)] + [[], [7]]:
            pointwise = [math.log(_reference_kneser_ney(sequences, 15, order, sequence[max(0, i - order + 1) : i],
                                                        sequence[i])) for i in range(1, len(sequence))]  # fmt: skip
            assert model.token_logprobs(sequence) == pytest.approx(pointwise, rel=1e-12)
        for outside in ([1, 15], [-1, 2]):  # an id outside the vocabulary would read another n-gram's count
            with pytest.raises(InputError, match="Token ids"):
                model.token_logprobs(outside)
            with pytest.raises(InputError, match="Token ids"):
                model.probability(outside[:1], outside[1])
            with pytest.raises(InputError, match="Token ids"):
                model.distribution([min(outside)] if min(outside) < 0 else [max(outside)])


def test_sampling_respects_temperature_top_k_and_top_p():
    from core.tasks.sampling import sample_next

    probs = np.array([0.5, 0.3, 0.15, 0.05])
    rng = np.random.default_rng(0)
    assert sample_next(probs, temperature=0, top_k=0, top_p=1, rng=rng)[0] == 0
    _, kept = sample_next(probs, temperature=1, top_k=2, top_p=1, rng=rng)
    assert (kept > 0).sum() == 2 and kept[:2].sum() == pytest.approx(1)
    _, kept = sample_next(probs, temperature=1, top_k=0, top_p=0.75, rng=rng)
    assert (kept > 0).sum() == 2  # 0.5 + 0.3 reaches 0.75
    _, sharp = sample_next(probs, temperature=0.5, top_k=0, top_p=1, rng=rng)
    _, flat = sample_next(probs, temperature=2.0, top_k=0, top_p=1, rng=rng)
    assert sharp[0] > probs[0] > flat[0]
    draws = [
        sample_next(probs, temperature=1, top_k=0, top_p=1, rng=np.random.default_rng(s))[0] for s in range(5)
    ]
    assert draws == [sample_next(probs, temperature=1, top_k=0, top_p=1, rng=np.random.default_rng(s))[0] for s in range(5)]  # fmt: skip


def test_perplexity_ci_resamples_documents():
    from core.tasks.generate import perplexity_with_ci

    estimate = perplexity_with_ci([10.0, 20.0, 30.0], [10, 10, 10], n_resamples=500)
    assert estimate["value"] == pytest.approx(math.exp(2.0))
    assert estimate["low"] <= estimate["value"] <= estimate["high"] and estimate["n"] == 3


# --- tiny models trained for real ------------------------------------------------------------------------
def test_tiny_translator_translates_held_out_sentences(translate_tiny_model):
    from core import catalog
    from core.tasks.translate import Translator

    meta = catalog.read_metadata("translate-en-zh")
    assert meta["task"] == "translation" and meta["train_seconds"] > 0
    assert (
        0
        <= meta["metrics"]["chrf"]["low"]
        <= meta["metrics"]["chrf"]["value"]
        <= meta["metrics"]["chrf"]["high"]
    )
    translator = Translator(catalog.TRANSLATE_EN_ZH)
    held_out = translation.corpus(train_size=0, test_size=3).test[0].english
    result = translator.translate(held_out, beams=2)
    assert result.text.strip(), "the tiny model produced no translation"
    layers, heads, target, source = result.cross_attentions.shape
    assert source == len(result.source_tokens) and target == len(result.target_tokens)
    assert np.allclose(result.cross_attentions.sum(axis=-1), 1, atol=1e-4)
    assert translator.unseen_words("Tom read a xylophone") == ["xylophone"]
    with pytest.raises(CoreError):
        translator.translate("   ")


def test_tiny_srl_model_labels_frames(srl_tiny_model):
    from core import catalog
    from core.tasks.srl import SrlLabeler

    meta = catalog.read_metadata("srl-minilm")
    assert 0 <= meta["metrics"]["span_f1"]["value"] <= 1
    labeler = SrlLabeler(catalog.SRL_MINILM)
    result = labeler.label("The teacher gave the student a book yesterday.")
    assert [result.words[f.predicate] for f in result.frames] == ["gave"]
    frame = result.frames[0]
    assert frame.tags[frame.predicate] == "B-V" and len(frame.tags) == len(result.words)
    with pytest.raises(InputError):
        labeler.label("The teacher gave a book.", predicates=[99])
    with pytest.raises(InputError):
        labeler.label("Blue green red.")  # no verb found, none chosen


def test_tiny_language_model_prefers_real_text_to_scrambled(lm_tiny_model):
    from core import catalog
    from core.data.lee import lm_split
    from core.tasks.generate import LanguageModel, scramble

    meta = catalog.read_metadata("lm-lee-gpt")
    assert meta["metrics"]["perplexity"]["value"] > 1 and meta["metrics"]["ngram_perplexity"]["value"] > 1
    model = LanguageModel(catalog.LM_LEE)
    training_text = " ".join(lm_split()[0][0].split()[:25])  # within the 64-token context: longer is refused
    real, shuffled = model.score(training_text), model.score(scramble(training_text, seed=1))
    assert real.perplexity < shuffled.perplexity
    assert real.ngram_perplexity < shuffled.ngram_perplexity
    top = model.next_tokens("The government", k=5)
    assert len(top["transformer"]) == 5 and sum(t["probability"] for t in top["transformer"]) <= 1 + 1e-6
    first = model.generate("The government", max_new_tokens=8, temperature=1.0, seed=3)
    again = model.generate("The government", max_new_tokens=8, temperature=1.0, seed=3)
    assert first.text == again.text and first.text.startswith("The government")
    assert model.generate("Police", max_new_tokens=5, use_ngram=True, seed=1).steps
    with pytest.raises(InputError):
        model.generate("x", max_new_tokens=0)
    with pytest.raises(CoreError):
        model.score("")


def test_conll2012_rows_become_frames_and_malformed_frames_are_skipped():
    documents = [
        {
            "sentences": [
                {
                    "words": ["The", "cat", "sat", "on", "the", "mat", "."],
                    "srl_frames": [
                        {
                            "verb": "sat",
                            "frames": [
                                "B-ARG1",
                                "I-ARG1",
                                "B-V",
                                "B-ARGM-LOC",
                                "I-ARGM-LOC",
                                "I-ARGM-LOC",
                                "O",
                            ],
                        },  # fmt: skip
                        {"verb": "bad", "frames": ["O", "B-V"]},  # wrong length
                    ],
                },
                {"words": ["Hello", "."], "srl_frames": []},
            ]
        }
    ]
    sentences = conll2012.from_conll2012(documents, limit=10)
    assert len(sentences) == 1 and len(sentences[0].frames) == 1
    frame = sentences[0].frames[0]
    assert frame.predicate == 2 and frame.spans() == [("ARG1", 0, 1), ("V", 2, 2), ("ARGM-LOC", 3, 5)]


def test_conll2012_needs_the_hub_and_the_cli_says_how(capsys):
    from core import train

    with pytest.raises(CoreError, match="offline"):
        conll2012.hub_corpus("ontonotes/conll2012_ontonotesv5/english_v4")
    assert train.main(["--name", "srl-x", "--task", "srl", "--dataset", "polarity"]) == 2
    assert "--dataset hub" in capsys.readouterr().err


def test_cli_all_builds_every_missing_default_once(fresh_cache, monkeypatch, capsys):
    """`python -m core.train --all` trains what is missing and skips what is cached (here: one recipe kept)."""
    from core import train
    from core.catalog import read_metadata
    from core.training import recipes

    for key in [k for k in recipes.RECIPES if k != "keyword-tiny"]:
        monkeypatch.delitem(recipes.RECIPES, key)
    assert train.main(["--all"]) == 0
    assert read_metadata("keyword-tiny")["task"] == "sentiment"
    assert "keyword-tiny" in capsys.readouterr().out
    assert train.main(["--all"]) == 0
    assert "cached" in capsys.readouterr().out


def test_cli_all_trains_side_by_side_and_a_model_waits_for_the_one_it_starts_from(fresh_cache, monkeypatch, capsys):
    """Two at a time in processes of their own; a model whose base is still to come starts after it is cached."""
    from core import io, settings, train
    from core.catalog import read_metadata
    from core.training import prepare, recipes

    for key in [k for k in recipes.RECIPES if k not in ("keyword-tiny", "sentiment-tiny")]:
        monkeypatch.delitem(recipes.RECIPES, key)
    tiny = recipes.RECIPES["sentiment-tiny"]
    monkeypatch.delitem(recipes.RECIPES, "sentiment-tiny")  # undone last: the recipe is back for the other tests
    monkeypatch.setitem(recipes.RECIPES, "sentiment-tiny", tiny)  # listed last
    # here sentiment-tiny "starts from" keyword-tiny (as the Chinese classifiers start from their pretraining)
    monkeypatch.setattr(prepare, "prerequisite", lambda key: "keyword-tiny" if key == "sentiment-tiny"
                        and read_metadata("keyword-tiny") is None else None)  # fmt: skip
    started, spawn, threads = {}, io.spawn_module, (os.environ.get("OMP_NUM_THREADS"), os.environ.get("LMLAB_THREADS"))

    def spawn_and_note(module, *args, **kwargs):
        started[args[1]] = read_metadata("keyword-tiny") is not None  # was the base cached when this one began?
        share = str(max(1, settings.cores() // 2))  # each child: its half of the cores
        assert kwargs["extra_env"] == {"OMP_NUM_THREADS": share, "LMLAB_THREADS": share}
        return spawn(module, *args, "--set", "epochs=0.3", **kwargs)  # what is tested is the order, not the fit

    monkeypatch.setattr(io, "spawn_module", spawn_and_note)
    assert train.main(["--all", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert f"2 at a time on {max(1, settings.cores() // 2)} thread(s) each" in out
    assert (os.environ.get("OMP_NUM_THREADS"), os.environ.get("LMLAB_THREADS")) == threads  # this process keeps its own
    logs = Path(re.search(r"logs in (\S+) \(kept if one fails\)", out).group(1))
    assert logs.name.startswith("lmlab-train-all-") and not logs.exists()  # both trained: no folder left behind
    assert started == {"keyword-tiny": False, "sentiment-tiny": True}
    assert read_metadata("keyword-tiny") and read_metadata("sentiment-tiny")


def test_cli_all_side_by_side_keeps_its_logs_and_names_them_when_a_model_fails(fresh_cache, monkeypatch, capsys):
    """A failed training's log stays where the run said, for the teacher to read (here the child is asked for a
    recipe that does not exist: a real process that fails)."""
    from core import io, train
    from core.training import recipes

    for key in [k for k in recipes.RECIPES if k != "keyword-tiny"]:
        monkeypatch.delitem(recipes.RECIPES, key)
    spawn = io.spawn_module
    monkeypatch.setattr(io, "spawn_module", lambda module, *args, **kwargs: spawn(module, "--model", "no-such-recipe",
                                                                               *args[2:], **kwargs))  # fmt: skip
    assert train.main(["--all", "--jobs", "2"]) == 1
    out = capsys.readouterr().out
    log = Path(re.search(r"failed \(exit \d+, (\S+)\)", out).group(1))
    assert log.name == "keyword-tiny.log" and log.exists() and "no-such-recipe" in log.read_text(encoding="utf-8")
    shutil.rmtree(log.parent)


def test_conll_recipe_fails_cleanly_offline_and_publishes_nothing(fresh_cache):
    from core.catalog import read_metadata
    from core.training import jobs
    from core.training.recipes import conll_srl_recipe

    recipe = conll_srl_recipe(examples=100)
    assert recipe.task == "srl" and recipe.dataset == "hub" and recipe.base == "minilm-l6"
    with pytest.raises(CoreError, match="offline"):
        jobs.run_here(recipe.key, recipe=recipe)
    assert read_metadata(recipe.key) is None
    failed = jobs.status(recipe.key)
    assert failed.state == "failed"
    # the failure's words kept as a Message, so the Train page says them in the reader's language
    from core.messages import Message
    from ui.i18n import catalog

    assert isinstance(failed.error, Message) and "offline" in failed.error and catalog("zh").get(failed.error.template)
