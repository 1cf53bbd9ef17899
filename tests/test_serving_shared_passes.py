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
    """The eager pass, whose calls the tests count (the traced one gives the same numbers: test_apply_core)."""
    from core.tasks.embeddings import SentenceEncoder

    found = SentenceEncoder()
    found.traced_pass.stay_eager()
    return found


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
    labeler.traced_pass.stay_eager()  # the eager pass, whose calls are counted (the traced one: the test below)
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


def test_a_long_generation_lets_other_requests_in_between_its_tokens(lm_tiny_model, monkeypatch):
    """Generation on PyTorch takes the model for at most HOLD_S at a time and at least one token: another session's
    request waits for one step of a slow model, not for the whole continuation (GPT-2 online, which is not exported,
    takes most of a second per step on 2 cores)."""
    from core.tasks.generate import LanguageModel

    monkeypatch.setenv("LMLAB_SERVING", "torch")  # the PyTorch path, whose steps are slowed below

    model = LanguageModel(catalog.LM_LEE)
    model.traced_pass.stay_eager()  # the eager body, which is slowed
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


def test_a_generation_keeps_a_slot_for_a_slice_of_tokens_and_writes_the_same_text(lm_tiny_model, monkeypatch):
    """Taking an inference slot (and the model) once per token, a generation queued once per token behind a class's
    requests (Generate was the classroom test's slowest page); it now keeps them for up to HOLD_S of tokens at a time,
    and on ONNX Runtime it takes a slot only, never the model's lock. The same seed gives the same text as when it
    let go after every token, on either runtime; a step slower than the slice still lets go after each token (the
    test above)."""
    from core.tasks import generate as module

    model = module.LanguageModel(catalog.LM_LEE)
    model.generate("The government", max_new_tokens=1)  # the export opened (with the model held, once)
    settings = {"max_new_tokens": 30, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 5}
    gate, slots, locks = module.inference_gate, [], []
    monkeypatch.setattr(module, "inference_gate", lambda: slots.append(1) or gate())
    lock = model._lock

    class Counting:
        def __enter__(self):
            locks.append(1)
            return lock.__enter__()

        def __exit__(self, *exc):
            return lock.__exit__(*exc)

    model._lock = Counting()
    texts = {}
    for runtime in ("ONNX Runtime fp32", "PyTorch fp32"):
        if runtime == "PyTorch fp32":
            model._next_token = None  # the same model on PyTorch (the export was opened by the first generation)
        for hold in (0.0, 10.0):  # let go after every token, as before; a slice for the whole continuation
            monkeypatch.setattr(module, "HOLD_S", hold)
            slots.clear(), locks.clear()
            made = model.generate("The government", **settings)
            assert made.runtime == runtime and len(made.steps) >= 10, [s["token"] for s in made.steps]
            assert len(slots) == (len(made.steps) if hold == 0.0 else 1)
            assert len(locks) == (0 if runtime.startswith("ONNX") else len(slots))
            texts[runtime, hold] = (made.text, [s["probability"] for s in made.steps])
    assert len({text for text, _probabilities in texts.values()}) == 1
    assert texts["ONNX Runtime fp32", 0.0] == texts["ONNX Runtime fp32", 10.0]


@pytest.mark.timed
def test_srl_frames_come_from_a_traced_pass_with_the_eager_numbers_and_stay_fast_beside_busy_threads(srl_tiny_model):
    import torch

    from core.tasks.srl import SrlLabeler

    from conftest import beside_busy_python

    traced, eager = SrlLabeler(catalog.SRL_MINILM), SrlLabeler(catalog.SRL_MINILM)
    eager.traced_pass.stay_eager()
    sentences = ["The teacher gave the student a book yesterday.", "Tom read the letter and wrote an answer.",
                 " ".join(["The old man who lived by the river sold the house"] * 5) + "."]  # fmt: skip
    for sentence in sentences:  # a predicate's word pieces have token type 1: the trace reads them
        found, expected = traced.label(sentence), eager.label(sentence)
        assert [(f.predicate, f.tags, f.confidence) for f in found.frames] == \
            [(f.predicate, f.tags, f.confidence) for f in expected.frames]  # fmt: skip
    assert traced.traced_pass.get().traced is not None, traced.traced_pass.get().why
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the server runs a page's passes (core.device.threads_for_serving)
    try:
        _found, traced_seconds = beside_busy_python(lambda: [traced.label(s + " Then it rained.") for s in sentences])
        _found, eager_seconds = beside_busy_python(lambda: [eager.label(s + " Then it rained.") for s in sentences])
    finally:
        torch.set_num_threads(before)
    assert traced_seconds < eager_seconds / 2, (traced_seconds, eager_seconds)


def test_next_token_bars_scores_and_pytorch_generation_run_on_the_traced_body_with_the_eager_numbers(
        lm_tiny_model, monkeypatch):  # fmt: skip
    from core.tasks.generate import LanguageModel

    traced, eager = LanguageModel(catalog.LM_LEE), LanguageModel(catalog.LM_LEE)
    eager.traced_pass.stay_eager()
    prompts = ["The government", "Police say the fire", "The Prime Minister said on Tuesday that the"]
    for prompt in prompts:
        found, expected = traced.next_tokens(prompt, k=8, fresh=True), eager.next_tokens(prompt, k=8, fresh=True)
        assert found["transformer"] == expected["transformer"] and found["entropy_bits"] == expected["entropy_bits"]
    assert traced.traced_pass.get().traced is not None, traced.traced_pass.get().why
    windows = [tuple(traced.prompt_ids(prompt)) for prompt in prompts]  # right-padded together: no mask needed
    with traced._lock, eager._lock:
        together = zip(traced._distributions(windows), eager._distributions(windows), strict=True)
        assert all(np.array_equal(mine, theirs) for (mine, _ms), (theirs, _ms2) in together)
    found, expected = traced.score(prompts[2]), eager.score(prompts[2])
    assert (found.logprob, [t.logprob for t in found.tokens]) == (expected.logprob, [t.logprob for t in expected.tokens])
    monkeypatch.setenv("LMLAB_SERVING", "torch")  # PyTorch generates, through the trace where it serves
    torch_traced, torch_eager = LanguageModel(catalog.LM_LEE), LanguageModel(catalog.LM_LEE)
    torch_eager.traced_pass.stay_eager()
    settings = {"max_new_tokens": 12, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 2}
    made, plain = torch_traced.generate(prompts[0], **settings), torch_eager.generate(prompts[0], **settings)
    assert made.runtime == plain.runtime == "PyTorch fp32" and torch_traced.traced_pass.get().traced is not None
    assert (made.text, made.steps) == (plain.text, plain.steps)
