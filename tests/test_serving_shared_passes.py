"""Serving a class, continued: the sentence encoder (zero-shot topics, summaries) and the SRL tagger answer
requests from many sessions in shared forward passes, and each session still gets its own answer."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core import catalog

from conftest import run_together
from conftest import slowed as _slowed


@pytest.fixture(scope="module")
def encoder():
    from core.tasks.embeddings import SentenceEncoder

    return SentenceEncoder()


def _unsorted(encoder, texts: list[str]) -> np.ndarray:
    """The embeddings computed the plain way: the texts in their own order, one padded pass."""
    return encoder._pooled(texts)


def test_sentence_requests_from_many_sessions_share_passes(encoder):
    requests = [["A short one."], ["The space shuttle reached orbit after a long delay.", "God is a question."],
                ["Atheism " * 30, "Orbit.", "NASA launched a probe to study the outer planets last year."],
                ["This text is about space.", "This text is about atheism."]] * 3  # fmt: skip
    alone = [_unsorted(encoder, texts) for texts in requests]
    passes = _slowed(encoder.model)
    try:
        answers: dict[int, np.ndarray] = {}
        run_together(*[lambda i=i: answers.__setitem__(i, encoder.encode(requests[i])) for i in range(len(requests))])
        assert len(passes) < len(requests) and max(encoder.coalescer.batch_sizes) > 1  # shared passes
        for i, expected in enumerate(alone):  # each session its own rows, in its own order
            assert answers[i].shape == expected.shape
            assert np.allclose(answers[i], expected, atol=1e-5)
        passes.clear()
        one = encoder.encode(["A lone request."])
        assert passes == [1] and np.isclose(np.linalg.norm(one), 1, atol=1e-5)
    finally:
        del encoder.model.forward
    assert encoder.encode([]).shape == (0, encoder.model.config.hidden_size)


def test_a_long_request_is_sorted_by_length_and_keeps_its_order(encoder):
    texts = [("word " * n).strip() + "." for n in (40, 1, 25, 3, 60, 2, 9)]
    got = encoder.encode(texts, batch_size=2)  # four passes of neighbours in length, not in position
    assert np.allclose(got, _unsorted(encoder, texts), atol=1e-5)


def test_srl_frames_from_many_sessions_share_passes(srl_tiny_model):
    from core.tasks.srl import SrlLabeler

    labeler = SrlLabeler(catalog.SRL_MINILM)
    sentences = ["The teacher gave the student a book yesterday.", "Mary bought two red cars last week.",
                 "Tom read the letter and wrote an answer.", "The old man sold the house."] * 3  # fmt: skip
    alone = [labeler.label(sentence) for sentence in sentences]
    passes = _slowed(labeler.model)
    try:
        together: dict[int, object] = {}
        run_together(*[lambda i=i: together.__setitem__(i, labeler.label(sentences[i])) for i in range(len(sentences))])
        assert len(passes) < len(sentences) and max(labeler.coalescer.batch_sizes) > 1
        for i, expected in enumerate(alone):
            got = together[i]
            assert got.words == expected.words
            assert [(f.predicate, f.tags) for f in got.frames] == [(f.predicate, f.tags) for f in expected.frames]
            for mine, theirs in zip(got.frames, expected.frames, strict=True):
                assert np.allclose(mine.confidence, theirs.confidence, atol=1e-5)
        # one sentence with two predicates: one padded pass, the same frames as asked one at a time
        passes.clear()
        words = alone[2].words
        both, _ = labeler.label_words(words, [f.predicate for f in alone[2].frames])
        assert len(passes) == 1
        for frame in both:
            (single,), _ = labeler.label_words(words, [frame.predicate])
            assert single.tags == frame.tags and np.allclose(single.confidence, frame.confidence, atol=1e-5)
    finally:
        del labeler.model.forward


def test_the_benchmark_times_a_fresh_next_token_pass_not_the_shared_answer(lm_tiny_model):
    """The page reads back an answer any session already got; the benchmark's latency must time the model."""
    from core.tasks.generate import LanguageModel

    model = LanguageModel(catalog.LM_LEE)
    first = model.next_tokens("The government said", k=3)
    assert model.next_tokens("The government said", k=3)["cached"]  # the page: shared
    passes = len(model.coalescer.batch_sizes)
    again = model.next_tokens("The government said", k=3, fresh=True)
    assert not again["cached"] and len(model.coalescer.batch_sizes) == passes + 1  # a real forward pass
    assert [t["id"] for t in again["transformer"]] == [t["id"] for t in first["transformer"]]


def test_a_long_generation_lets_other_requests_in_between_its_tokens(lm_tiny_model):
    """Generation takes the model one token at a time: another session's request waits for one step, not for the
    whole continuation (GPT-2 online takes most of a second per step on 2 cores)."""
    from core.tasks.generate import LanguageModel

    model = LanguageModel(catalog.LM_LEE)
    _slowed(model.model.base_model)
    finished: dict[str, float] = {}
    made: list = []

    def generate() -> None:
        made.append(model.generate("The government", max_new_tokens=20, temperature=1.0, seed=3))
        finished["generate"] = time.monotonic()

    def ask() -> None:
        time.sleep(0.35)  # a few steps into the generation
        model.next_tokens("Police said", k=3, fresh=True)
        finished["ask"] = time.monotonic()

    try:
        run_together(generate, ask)
    finally:
        del model.model.base_model.forward
    assert len(made[0].steps) >= 10, [step["token"] for step in made[0].steps]  # long enough to interleave with
    assert finished["ask"] < finished["generate"]
