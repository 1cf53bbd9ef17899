"""Lesson mode: every question's answer recomputed independently from the same real models, the options honest
(the answer among them, never first by construction alone), and the panel walked in AppTest in both languages."""

from __future__ import annotations

import numpy as np
import pytest

from core import catalog, lesson
from core.errors import CoreError

from conftest import ROOT, open_page


@pytest.fixture(scope="module")
def minilm():
    from core.attention import AttentionModel

    return AttentionModel(catalog.MINILM)


def test_the_toggle_knows_how_many_steps_there_are():
    from ui.lesson import STEP_COUNT

    assert len(lesson.STEPS) == STEP_COUNT
    assert len({step.page for step in lesson.STEPS}) == len(lesson.STEPS)  # one page per step, each a real page
    router = (ROOT / "streamlit_app.py").read_text(encoding="utf-8")
    assert all(f'"{step.page}"' in router for step in lesson.STEPS)


def test_the_unknown_tokens_are_counted_from_the_ids(minilm):
    question = lesson.tokens_question(minilm.tokenizer)
    ids = minilm.tokenizer(lesson.TOKENS_TEXT, add_special_tokens=False)["input_ids"]
    unknown = sum(i == minilm.tokenizer.unk_token_id for i in ids)
    assert question.answer == str(unknown) and 0 < unknown < len(ids)
    assert question.answer in question.options and len(set(question.options)) == 4


def test_the_attention_and_head_questions_read_minilm_s_weights(minilm):
    found = minilm.attend(lesson.ATTENTION_TEXT)
    question = lesson.attention_question(found.tokens, found.weights)
    row = found.weights[-1, -1][list(found.tokens).index("it")]  # the last head of the last layer
    assert question.answer == found.tokens[int(row.argmax())] and question.answer in question.options
    order = [list(found.tokens).index(option) for option in question.options]
    assert order == sorted(order)  # options in the sentence's order, not the answer first
    weights = minilm.attend(lesson.HEADS_TEXT).weights  # (L, h, T, T)
    heads = lesson.heads_question(weights)
    back = np.array([[np.mean([weights[layer, head, i, i - 1] for i in range(1, weights.shape[-1])])
                      for head in range(weights.shape[1])] for layer in range(weights.shape[0])])  # fmt: skip
    layer = int(back.max(axis=1).argmax())
    assert heads.answer == str(int(back[layer].argmax())) and f"layer {layer} of MiniLM (counted from 0" in heads.text


def test_the_position_question_follows_the_encoding_it_is_given():
    from core.transformer.positional import sinusoidal

    tied = lesson.positions_question(sinusoidal(64, 128))
    assert tied.answer == "both the same" and tied.worded  # the dot product depends on the distance only
    rng = np.random.default_rng(0)
    random = rng.normal(size=(20, 8))
    found = lesson.positions_question(random)
    scores = random @ random[10]
    scores[10] = -np.inf
    assert found.answer == str(int(np.argmax(scores))) and found.answer in found.options


@pytest.mark.parametrize(("value", "band", "place"), [(0.84, "80 % ≤ a < 90 %", 2), (0.80, "80 % ≤ a < 90 %", 2),
                                                      (0.31, "30 % ≤ a < 40 %", 3), (0.5, "50 % ≤ a < 60 %", 1),
                                                      (1.0, "90 % ≤ a ≤ 100 %", 3)])  # fmt: skip
def test_the_accuracy_band_comes_from_the_card(value, band, place):
    card = {"metrics": {"accuracy": {"value": value, "low": value - 0.1, "high": min(1, value + 0.1), "n": 50}}}
    question = lesson.training_question(card)
    assert question.options.index(question.answer) == place and question.answer == band  # bands do not overlap
    assert len(question.options) == 4


def test_the_patching_question_finds_where_the_changed_word_alone_stops_being_enough():
    recovered = np.array([[0.0, 1.0], [0.2, 0.8], [0.3, 0.45], [1.0, 0.0]])  # column 1: the changed word
    question = lesson.patching_question(["embeddings", "block 1", "block 2", "block 3"], recovered, changed=1)
    assert question.answer == "block 2" and question.options == ("block 1", "block 2", "block 3")
    assert "1.00, 0.80, 0.45, 0.00" in question.why
    with pytest.raises(Exception, match="after every block"):
        lesson.patching_question(["embeddings", "block 1"], np.array([[0.0, 1.0], [0.0, 0.9]]), changed=1)


def test_the_next_token_question_is_the_model_s_own_ranking(lm_tiny_model):
    from core.tasks.base import get_task

    spec = catalog.get_spec("lm-lee-gpt")
    top = get_task(spec.task).hook("predictor")(spec).next_tokens(lesson.NEXT_PROMPT, k=8)["transformer"]
    question = lesson.next_token_question(top)
    assert question.answer == top[0]["token"].replace(" ", "␣") and question.answer in question.options
    assert list(question.options) == sorted(question.options, key=lambda t: t.strip("␣").lower())
    assert len(set(question.options)) == 4
    twice = [top[0], {**top[1], "token": top[0]["token"]}, *top[2:]]  # two ids written alike: one option
    assert lesson.next_token_question(twice).options.count(question.answer) == 1


def _answer(page, key: str) -> None:
    page.button(key=f"lesson-ask-{key}").click().run()
    question = page.session_state[f"lesson-question-{key}"]
    page.radio(key=f"lesson-answer-{key}").set_value(question.answer).run()
    page.button(key=f"lesson-check-{key}").click().run()


def test_a_teacher_link_opens_the_class_at_a_step_and_progress_is_kept():
    page = open_page("pages/home.py", lesson="3")
    assert any("Lesson · step 3 of 10" in m.value for m in page.markdown)
    _answer(page, "heads")
    assert not page.exception and any(s.value.startswith("Right.") for s in page.success)
    page.button(key="lesson-back").click().run()
    page.button(key="lesson-ask-attention").click().run()
    question = page.session_state["lesson-question-attention"]
    page.radio(key="lesson-answer-attention").set_value(next(o for o in question.options if o != question.answer)).run()
    page.button(key="lesson-check-attention").click().run()
    assert any("Not quite" in w.value for w in page.warning)
    assert page.session_state["lesson-done"] == {"heads"}  # a wrong answer does not count
    for _ in range(3):  # from step 2 to step 5: the encoder and decoder, asked from LM Lab's own layers
        page.button(key="lesson-next").click().run()
    _answer(page, "encoder-decoder")
    assert page.session_state["lesson-done"] == {"heads", "encoder-decoder"}
    chinese = open_page("pages/home.py", lesson="1", lang="zh")
    assert any("第 1 步" in m.value for m in chinese.markdown)
    chinese.button(key="lesson-ask-tokens").click().run()
    assert "UNK" in chinese.radio(key="lesson-answer-tokens").label and "个词元" in chinese.radio(
        key="lesson-answer-tokens").label  # fmt: skip


def test_a_step_whose_model_is_not_trained_says_so(fresh_cache):
    page = open_page("pages/home.py", lesson="6")
    assert any("not trained yet" in i.value for i in page.info)


def test_the_guessing_game_scores_against_the_model_s_own_first_choice(lm_tiny_model):
    from core.tasks.base import get_task
    from ui import safe  # a token is shown as text: "*" or "_" never turn the labels into emphasis

    spec = catalog.get_spec("lm-lee-gpt")
    model = get_task(spec.task).hook("predictor")(spec)
    page = open_page("pages/generate.py")
    text = page.session_state["guess"]["text"]
    top = model.next_tokens(text, k=4)["transformer"]
    choice = page.radio(key="guess-choice-1")
    assert sorted(choice.options) == sorted(safe.md(e["token"].replace(" ", "␣")) for e in top) and choice.value is None
    choice.set_value(top[0]["id"]).run()  # the options are token ids: two tokens written alike stay apart
    page.button(key="guess-reveal").click().run()
    assert any(s.value.startswith("Right") for s in page.success)
    assert any(m.label == "Your score" and m.value == "1 / 1" for m in page.metric)
    assert page.radio(key="guess-choice-1").value == top[0]["id"]  # the pick stays on screen after the reveal
    page.button(key="guess-next").click().run()
    assert page.session_state["guess"]["text"] == text + top[0]["token"]  # the model's choice appended
    following = model.next_tokens(text + top[0]["token"], k=4)["transformer"]
    page.radio(key="guess-choice-2").set_value(following[-1]["id"]).run()
    page.button(key="guess-reveal").click().run()
    assert any("first choice" in w.value for w in page.warning)
    assert any(m.label == "Your score" and m.value == "1 / 2" for m in page.metric)
    page.button(key="guess-restart").click().run()
    assert page.session_state["guess"]["text"] == text and not page.exception


def test_the_padding_question_reads_the_walkthrough_s_cross_attention():
    from core.transformer import walkthrough

    source, target, padding = lesson.WALK
    walk = walkthrough.run(source.split(), target.split(), n_pad=padding)
    question = lesson.padding_question(walk)
    assert question.answer == "0 %" and question.right("0 %") and len(question.options) == 4
    assert "25 %" in question.options  # two of eight source tokens: an even spread's share
    with pytest.raises(CoreError):
        lesson.padding_question(walkthrough.run(source.split(), target.split(), n_pad=0))


def test_the_translation_question_is_the_cross_attention_s_own_maximum(translate_tiny_model):
    from core.tasks.translate import Translator

    result = Translator(catalog.get_spec("translate-en-zh")).translate(lesson.TRANSLATE_TEXT)
    question = lesson.translation_question(result)
    assert question.answer == result.source_tokens[int(result.alignment[0].argmax())]
    assert question.answer in question.options and 2 <= len(question.options) <= 4


def test_the_evaluation_question_is_mcnemars_exact_test_on_the_disagreements():
    from scipy.stats import binomtest

    truth = ["positive", "negative"] * 25
    model = list(truth)
    baseline = list(truth)
    for i in range(0, 12):  # the baseline wrong on 12 texts the model gets right, the model wrong on 2 others
        baseline[i] = "negative" if truth[i] == "positive" else "positive"
    for i in (40, 41):
        model[i] = "negative" if truth[i] == "positive" else "positive"
    question = lesson.evaluation_question(truth, model, baseline)
    p = binomtest(2, 14, 0.5).pvalue  # the two-sided exact test on the 14 discordant texts
    assert p < 0.05 and question.answer == lesson.BETTER_MODEL and question.worded
    assert f"p = {p:.4f}" in question.why and "gets 48 right" in question.text
    near = lesson.evaluation_question(truth, model, [*baseline[:10], *truth[10:]])  # 10 against 2: p = 0.039
    assert near.answer == lesson.BETTER_MODEL
    assert lesson.evaluation_question(truth, truth, [*baseline[:4], *truth[4:]]).answer == lesson.NO_DIFFERENCE  # p 0.125
    flipped = lesson.evaluation_question(truth, baseline, model)
    assert flipped.answer == lesson.BETTER_BASELINE and set(flipped.options) == set(question.options)


def test_the_train_and_evaluate_steps_read_the_models_the_pages_show(fresh_cache, clear_streamlit_caches):
    """The fine-tuning step opens the Train page on the default run; the evaluation step's answer is the Benchmark
    page's own computation: PyTorch fp32 and TF-IDF fitted on the training split, compared on the held-out split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from core.stats import mcnemar
    from core.tasks.base import dataset_split
    from core.tasks.classify import TransformerClassifier
    from core.training import jobs

    jobs.run_here("sentiment-minilm", {"epochs": 1})
    jobs.run_here("sentiment-tiny", {"epochs": 1})
    train = open_page("pages/train.py", run="sentiment-minilm")
    assert train.selectbox(key="train-shown").value == "sentiment-minilm" and not train.exception
    page = open_page("pages/home.py", lesson="10")
    assert any("Lesson · step 10 of 10" in m.value for m in page.markdown)
    _answer(page, "evaluating")
    assert not page.exception and any(s.value.startswith("Right.") for s in page.success)
    split, _labels = dataset_split("polarity")
    texts, truth = [e.text for e in split.test], [e.label for e in split.test]
    model = [r.label for r in TransformerClassifier(catalog.get_spec("sentiment-minilm"), runtime="torch").predict_batch(texts)]
    baseline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=1000, C=10.0))
    baseline.fit([e.text for e in split.train], [e.label for e in split.train])
    test = mcnemar([a == t for a, t in zip(model, truth, strict=True)],
                   [a == t for a, t in zip(baseline.predict(texts), truth, strict=True)])  # fmt: skip
    question = page.session_state["lesson-question-evaluating"]
    assert f"p = {test['p_value']:.4f}" in question.why
