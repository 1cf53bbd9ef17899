"""Sentiment predictors on real models: input rules, truncation, thread safety."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from core import catalog
from core.errors import EmptyInputError, InputTooLongError
from core.tasks.inputs import check_text, clean_text
from core.tasks.sentiment import PROBABILITY, TransformerSentiment, VaderSentiment, heldout_accuracy_vader


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return TransformerSentiment(catalog.get_spec("sentiment-tiny"))


def test_prediction_is_a_distribution(tiny):
    result = tiny.predict("A warm, funny and moving film.")
    assert result.label in ("negative", "positive")
    assert result.score_kind == PROBABILITY
    assert set(result.scores) == {"negative", "positive"}
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.scores[result.label] == max(result.scores.values())
    assert result.latency_ms > 0 and not result.truncated


def test_model_fits_its_training_sentences(tiny):
    """A real trained model: on the sentences it was trained on it does far better than chance."""
    from core.data import polarity

    train = polarity.split().train
    results = tiny.predict_batch([example.text for example in train])
    accuracy = sum(r.label == e.label for r, e in zip(results, train, strict=True)) / len(train)
    assert accuracy > 0.8


def test_long_text_is_truncated_with_a_note(tiny):
    result = tiny.predict("good " * 400)
    assert result.truncated
    assert result.n_tokens == result.max_tokens == 128  # the tiny model's position limit
    assert result.n_tokens_input > 400


@pytest.mark.parametrize("text", ["", "   \n\t ", "\u200b\u200b", "\x00\x01"])
def test_empty_text_is_refused(tiny, text):
    with pytest.raises(EmptyInputError, match="Please enter some text"):
        tiny.predict(text)


def test_huge_text_is_refused_before_tokenizing(tiny, monkeypatch):
    monkeypatch.setenv("LMLAB_MAX_CHARS", "100")
    with pytest.raises(InputTooLongError, match="limit is 100"):
        tiny.predict("x" * 101)


def test_odd_unicode_is_handled(tiny):
    assert clean_text("cafe\u0301\x07") == "caf\u00e9"  # NFC, control character dropped
    for text in ["😀 great movie 🎬", "電影很好看", "مرحبا film", "\u202egood\u202c", "a\ud800b"]:
        assert tiny.predict(text).label in ("negative", "positive")
    assert check_text("  fine  ") == "fine"


def test_sixteen_threads_agree_with_serial_calls(tiny):
    texts = [
        f"{adjective} film number {i}"
        for i, adjective in enumerate(["dull", "lovely", "awful", "superb"] * 12)
    ]
    serial = [tiny.predict(text) for text in texts]
    with ThreadPoolExecutor(max_workers=16) as pool:
        parallel = list(pool.map(tiny.predict, texts))
    for one, other in zip(serial, parallel, strict=True):
        assert one.label == other.label
        for label in one.scores:
            assert one.scores[label] == pytest.approx(other.scores[label], abs=1e-6)


def test_vader_baseline():
    vader = VaderSentiment()
    assert vader.predict("This movie is wonderful and I love it!").label == "positive"
    assert vader.predict("A terrible, boring waste of time.").label == "negative"
    result = vader.predict("The film is 90 minutes long.")
    assert result.label == "neutral" and result.details["compound"] == 0
    estimate = heldout_accuracy_vader()
    assert estimate.n == 50 and 0 <= estimate.low <= estimate.value <= estimate.high <= 1
