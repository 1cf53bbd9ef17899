"""Chinese word segmentation: B/M/E/S tags, word F1 checked by hand and against seqeval, Viterbi, windows, a
character tagger trained for real on People's Daily next to jieba, its benchmark row and its page."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from conftest import TINY_SEGMENTER, _train_once, open_page, run_together, slowed


@pytest.fixture(scope="module")
def tiny_segmenter():
    """A tiny tagger on 2,000 paragraphs for one pass: seconds of training, scored on every held-out paragraph."""
    return _train_once("segment-zh", TINY_SEGMENTER)


def test_tags_words_and_spans_round_trip():
    from core.tasks.segment import chunks, spans, tags_of, words_of

    words = ["中国", "人民", "站起来", "了"]
    assert tags_of(words) == ["B", "E", "B", "E", "B", "M", "E", "S"]
    assert words_of(list("中国人民站起来了"), tags_of(words)) == words
    assert spans(words) == {(0, 2), (2, 4), (4, 7), (7, 8)}
    assert list(chunks(words, 4)) == [["中国", "人民"], ["站起来", "了"]]
    assert list(chunks(["一二三四五六"], 4)) == [["一二三四五六"]]  # a longer word stays whole


def test_word_f1_by_hand_and_as_seqeval_counts_spans():
    from seqeval.metrics.sequence_labeling import get_entities

    from core.tasks.segment import f1_of, spans, tags_of, word_counts, word_scores

    gold, guess = ["中国", "人民", "站起来", "了"], ["中国人民", "站起来", "了"]
    counts = word_counts(gold, guess, known={"中国", "站起来", "了"})
    # right: 站起来 and 了; predicted 3, gold 4; 人民 is the one unseen gold word, and it was missed
    assert counts == [2, 3, 4, 0, 1]
    assert f1_of(np.array([counts])) == pytest.approx(2 * 2 / (3 + 4))
    as_entities = [{(start, end + 1) for _, start, end in get_entities([f"{'I' if t == 'M' else t}-W" for t in tags_of(words)])}
                   for words in (gold, guess)]  # fmt: skip
    assert as_entities[0] == spans(gold) and as_entities[1] == spans(guess)  # seqeval reads B/M/E/S (as B/I/E/S) alike
    assert len(as_entities[0] & as_entities[1]) == counts[0]
    scores = word_scores(np.array([counts, [3, 3, 3, 1, 1]]), seed=0)
    assert scores["word_f1"]["value"] == pytest.approx(2 * 5 / (6 + 7))
    assert scores["oov_recall"]["value"] == pytest.approx(1 / 2) and scores["oov_recall"]["n"] == 2
    assert scores["word_f1"]["low"] <= scores["word_f1"]["value"] <= scores["word_f1"]["high"]


def test_viterbi_only_returns_valid_segmentations():
    from core.tasks.segment import viterbi

    greedy_wants = np.log(np.array([[0.1, 0.6, 0.2, 0.1], [0.1, 0.1, 0.1, 0.7], [0.7, 0.1, 0.1, 0.1]]))  # M S B
    tags = viterbi(greedy_wants)
    assert tags[0] in "BS" and tags[-1] in "ES"
    assert all(b in ("ME" if a in "BM" else "BS") for a, b in zip(tags, tags[1:], strict=False))
    assert viterbi(np.log(np.full((1, 4), 0.25))) == ["S"]  # one character alone is a word


def test_windows_cut_after_punctuation_and_keep_every_character():
    from core.tasks.segment import WINDOW, windows

    text = ("我们今天学习分词。" * 20) + "长" * 150
    pieces = windows(text)
    assert "".join(pieces) == text and all(0 < len(p) <= WINDOW for p in pieces)
    assert all(p.endswith("。") for p in pieces[:2])  # a full stop in the window's second half ends it


def test_the_taggers_training_rows_are_held_compactly_and_read_back_as_lists():
    from core.training.token_rows import TaggedRows

    rows = TaggedRows()
    plain = [([2, 50, 51, 3], [-100, 0, 3, -100]), ([2, 7, 3], [-100, 3, -100]), ([2, 3], [-100, -100])]
    for ids, labels in plain:
        rows.append(ids, labels)
    assert len(rows) == 3 and [rows[i] for i in range(3)] == [
        {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels} for ids, labels in plain]  # fmt: skip
    assert rows[-1] == rows[2] and [row["input_ids"] for row in rows] == [ids for ids, _ in plain]  # iterates, stops
    with pytest.raises(IndexError):
        rows[3]
    with pytest.raises(ValueError, match="3 tokens but 2 labels"):
        rows.append([1, 2, 3], [0, 1])


def test_jieba_is_the_baseline_and_runs_offline():
    from core.tasks.segment import jieba_words

    assert jieba_words("我爱北京天安门") == ["我", "爱", "北京", "天安门"]
    assert jieba_words("你好  世界") == ["你好", "世界"]  # white space is no word


def test_the_tagger_trains_for_real_and_beats_one_word_per_character(tiny_segmenter):
    from core import catalog
    from core.data import peoples_daily
    from core.tasks.segment import Segmenter, held_out_counts, word_scores

    card = catalog.read_metadata("segment-zh")
    train, test = peoples_daily.split()
    held = {"".join(words) for words in test}
    assert not held & {"".join(words) for words in train}  # no held-out paragraph is also a training one
    assert card["data"]["test_size"] == len(test) == card.metrics["word_f1"]["n"] and card["data"]["train_size"] == 2000
    single = word_scores(held_out_counts(test, [list("".join(words)) for words in test]))["word_f1"]["value"]
    assert card.metrics["word_f1"]["value"] > single + 0.05  # it learnt where words end, not just "every character"
    assert card["jieba"]["word_f1"]["value"] > 0.75 and "p_value" in card["vs_jieba"]
    assert card["architecture"]["class"] == "RoFormerForTokenClassification"
    result = Segmenter(catalog.get_spec("segment-zh")).segment("研究 生命的起源")
    assert "".join(result.words) == "研究生命的起源" and len(result.confidence) == len(result.words)
    assert all(0 < c <= 1 for c in result.confidence)


def test_bad_input_gets_a_clear_message(tiny_segmenter):
    from core import catalog
    from core.errors import InputError
    from core.tasks.segment import MAX_CHARS, Segmenter

    segmenter = Segmenter(catalog.get_spec("segment-zh"))
    for text in ("", "   ", "hello world", "好" * (MAX_CHARS + 1)):
        with pytest.raises(InputError):
            segmenter.segment(text)
    long = segmenter.segment("分词" * 900)  # 1,800 characters: 30 windows in one batch
    assert "".join(long.words) == "分词" * 900
    dotted = "他说" + "…" * 18 + "今天下午同学们在教室里讨论人工智能的发展自然语言处理是人工智能的一个重要方面"
    rows = [row for part in segmenter.scores([dotted])[0] for row in part]  # "…" is three tokens after NFKC
    assert len(rows) == len(dotted) and not any(np.allclose(row, np.log(0.25)) for row in rows)  # none cut off
    assert "".join(segmenter.segment("研究\u200b生命").words) == "研究\u200b生命"  # a zero-width space is kept


def test_texts_from_many_sessions_share_passes_and_each_gets_its_own_words(tiny_segmenter):
    from core import catalog
    from core.tasks.segment import Segmenter

    segmenter = Segmenter(catalog.get_spec("segment-zh"))
    segmenter.traced_pass.stay_eager()  # the eager pass, whose calls the test counts
    texts = ["研究生命的起源。", "今天下午，同学们在教室里讨论人工智能的发展。", "好",
             "自然语言处理是人工智能的一个重要方向，分词是中文处理的第一步。" * 4] * 3  # fmt: skip
    alone = [segmenter.segment(text) for text in texts]
    passes = slowed(segmenter.model)
    try:
        together: dict[int, object] = {}
        run_together(*[lambda i=i: together.__setitem__(i, segmenter.segment(texts[i])) for i in range(len(texts))])
        assert len(passes) < len(texts) and max(segmenter.coalescer.batch_sizes) > 1  # shared passes
        for i, expected in enumerate(alone):  # padded next to other sessions' windows: the same words
            assert together[i].words == expected.words
            assert np.allclose(together[i].confidence, expected.confidence, atol=1e-5)
            assert together[i].latency_ms > 0
        passes.clear()
        segmenter.segment("南京市长江大桥")
        assert passes == [1]  # a lone request: one window, one pass, no waiting for company
    finally:
        del segmenter.model.forward


def test_a_page_segments_on_a_traced_pass_with_the_eager_models_numbers(tiny_segmenter):
    from core import catalog
    from core.tasks.segment import Segmenter

    traced, eager = Segmenter(catalog.get_spec("segment-zh")), Segmenter(catalog.get_spec("segment-zh"))
    eager.traced_pass.stay_eager()
    for text in ("研究生命的起源。", "自然语言处理是人工智能的一个重要方向，分词是中文处理的第一步。" * 6, "好"):
        found, expected = traced.segment(text), eager.segment(text)
        assert (found.words, found.confidence) == (expected.words, expected.confidence)
    assert traced.traced_pass.get().traced is not None, traced.traced_pass.get().why


def test_the_copyable_code_gives_the_page_s_segmentation(tiny_segmenter):
    from core import catalog
    from core.tasks import snippets
    from core.tasks.segment import Segmenter, jieba_words

    spec = catalog.get_spec("segment-zh")
    text = "同学们在教室里讨论人工智能的发展。"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(snippets.segmentation(spec, text), {})  # noqa: S102 - the snippet LM Lab shows, run as a user would
    mine, theirs = printed.getvalue().splitlines()
    assert mine == " / ".join(Segmenter(spec).segment(text).words) and theirs == " / ".join(jieba_words(text))
    for odd in ("研究\u200b生命的起源", "中" + "…" * 61):  # a character with no token; more tokens than a window
        with contextlib.redirect_stdout(io.StringIO()):
            exec(snippets.segmentation(spec, odd), {})  # noqa: S102


def test_word_chips_escape_and_show_invisible_words():
    from core.viz.spans import word_chips

    drawn = word_chips(["<b>x</b>", "\u200b", "好"], {2}, ['"quoted"', "b", "c"])
    assert "<b>x</b>" not in drawn and "&lt;b&gt;" in drawn and "U+200B" in drawn and "&quot;quoted&quot;" in drawn
    assert drawn.count("lmlab-d") == 2  # the style rule and the one highlighted chip


def test_the_benchmark_pairs_the_tagger_with_jieba(tiny_segmenter):
    from core import catalog
    from core.bench.run import run

    result = run("segmentation", ["baseline:jieba", "segment-zh"], repeats=3)
    rows = {row.model: row for row in result.rows}
    card = catalog.read_metadata("segment-zh")
    assert rows["segment-zh"].value == pytest.approx(card.metrics["word_f1"]["value"])  # the card's paragraphs
    assert rows["baseline:jieba"].value == pytest.approx(card["jieba"]["word_f1"]["value"])
    assert rows["segment-zh"].diff_vs_baseline == pytest.approx(card["vs_jieba"]["value"])
    assert rows["segment-zh"].extras["secondary_metric"] == "OOV recall"


def test_the_page_shows_both_segmentations_and_where_they_differ(tiny_segmenter):
    at = open_page("pages/segment.py", lang="zh")
    at.text_area(key="segment-text").set_value("南京市长江大桥横跨长江。").run()
    at.button(key="segment-run").click().run()
    assert not at.exception and not at.error
    assert any("jieba" in m.value for m in at.markdown)
    assert len(at.dataframe) >= 1  # the held-out table (and the differences, when there are any)
    # the two segmentations as chips; a word the other segmenter does not have is highlighted in both rows
    drawn = [str(element.proto) for element in at.get("html")]
    rows = [html for html in drawn if "lmlab-w" in html]
    assert len(rows) == 2
    result = at.session_state["segment-result"]["result"]
    if result.model is not None and result.model.words != result.jieba:
        assert all("lmlab-d" in html for html in rows)
    else:
        assert not any("lmlab-d" in html for html in rows)
    at.text_area(key="segment-text").set_value("only English here").run()
    at.button(key="segment-run").click().run()
    assert at.error and "中文" in at.error[0].value
