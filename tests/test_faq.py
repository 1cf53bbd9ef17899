"""Challenges → FAQ: the imbalanced-prior arithmetic against scikit-learn, and the page in both languages."""

from __future__ import annotations

import re

import pytest

from core import faq

from conftest import open_page


def test_scores_under_another_class_prior_match_scikit_learn_on_the_expanded_test_set():
    from sklearn.metrics import accuracy_score, f1_score

    confusion = [[21, 4], [4, 21]]
    found = faq.under_prior(confusion, [80, 20])
    # the same recalls on a test set of 2,000 + 500 texts
    truth = [0] * 2000 + [1] * 500
    predicted = [0] * 1680 + [1] * 320 + [1] * 420 + [0] * 80
    assert found["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert found["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert found["majority_accuracy"] == pytest.approx(0.8)
    assert found["majority_macro_f1"] == pytest.approx(f1_score(truth, [0] * 2500, average="macro", zero_division=0))
    assert faq.under_prior(confusion, [1, 1])["macro_f1"] == pytest.approx(0.84)


def test_the_scores_under_another_prior_get_intervals_from_resampling_each_class():
    confusion, prior = [[21, 4], [4, 21]], [80, 20]
    found, ci = faq.under_prior(confusion, prior), faq.under_prior_ci(confusion, prior)
    for name in ("accuracy", "macro_f1"):
        assert ci[name][0] <= found[name] <= ci[name][1]
    tenfold = faq.under_prior_ci([[210, 40], [40, 210]], prior)  # ten times the texts: about a third as wide
    assert tenfold["accuracy"][1] - tenfold["accuracy"][0] < 0.5 * (ci["accuracy"][1] - ci["accuracy"][0])
    perfect = faq.under_prior_ci([[25, 0], [0, 25]], prior)  # no error in 25 + 25 texts is no proof of none
    assert 0.85 < perfect["accuracy"][0] < 0.99 and perfect["accuracy"][1] == pytest.approx(1.0, abs=1e-3)


def test_every_question_quotes_the_article_and_links_a_page():
    assert len(faq.QUESTIONS) == 5
    for question in faq.QUESTIONS:
        assert question.asked.endswith("？") and question.answer.endswith("。")
        assert question.page.startswith("pages/")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_answers_from_the_models_trained_here(tiny_model, lang, clear_streamlit_caches):
    at = open_page("pages/faq.py", lang=lang)
    assert not at.exception
    assert len(at.subheader) == 5
    shown = "\n".join(block.value for block in at.markdown)
    assert all(question.answer in shown for question in faq.QUESTIONS)
    tables = [frame.value for frame in at.dataframe]
    assert any("sentiment-tiny" in table.to_string() for table in tables)  # the run's cost and its scores
    assert not any(table.isna().to_numpy().any() or "None" in table.to_string() for table in tables), "no empty cell"
    before = tables[1].to_string()
    at.slider(key="faq-prior").set_value(50).run()
    assert not at.exception and [frame.value for frame in at.dataframe][1].to_string() != before
    assert re.fullmatch(r"[0-9.]+ % \[[0-9.]+, [0-9.]+\]", str(at.dataframe[1].value.iloc[0, 1]))


def test_an_odd_model_card_is_read_as_far_as_it_makes_sense(fresh_cache):
    import json

    folder = fresh_cache / "models" / "sentiment-minilm"
    folder.mkdir(parents=True)
    odd = {"key": "sentiment-minilm", "task": "sentiment", "metrics": ["not", "a", "dict"], "size_bytes": "big",
           "confusion": [[1, 2], [3]], "labels": {"a": 1}, "created_at": None, "overfitting": True,
           "eval_curve": [{"epoch": 1}], "sha256": "0" * 64}  # fmt: skip
    (folder / "metadata.json").write_text(json.dumps(odd), encoding="utf-8")
    cards = faq.trained_cards()
    found = [card for card in cards if card["key"] == "sentiment-minilm"]
    assert found  # the card is read: every odd field is left out instead of breaking the page
    card = found[0]
    assert card["accuracy"] is None and card["confusion"] is None and card["overfitting"] is None
    assert card["eval_curve"] == [] and card["created_at"] == ""


def test_a_student_s_class_name_is_shown_as_text_in_the_slider(tiny_model, fresh_cache, clear_streamlit_caches):
    """Where a student's CSV run is the newest usable model, its first class names the slider: as text, not a link."""
    import json
    import shutil

    folder = fresh_cache / "models" / "student-csv"
    shutil.copytree(tiny_model, folder)
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    meta.update(key="student-csv", labels=["[Quiz answers](http://example.com)", "other"])
    (folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    at = open_page("pages/faq.py")
    assert not at.exception
    label = at.slider(key="faq-prior").label
    assert "\\[Quiz answers\\]\\(http" in label and "](http" not in label, label


def test_the_pareto_front_keeps_the_models_nothing_beats_on_both_counts():
    from core.viz.faq import pareto_front

    def row(key, size, accuracy):
        return {"key": key, "parameters": size, "accuracy": {"value": accuracy}}

    rows = [row("tiny", 10, 0.70), row("small", 100, 0.80), row("bloated", 1000, 0.78), row("same-size", 100, 0.75),
            row("big", 1000, 0.90)]
    assert [r["key"] for r in pareto_front(rows)] == ["tiny", "small", "big"]


def test_two_runs_on_the_same_data_with_different_remedies_make_a_before_and_after_pair():
    from core.faq import _setup, remedy_pairs

    def card(key, created, patience, seed=42, dataset="polarity"):
        found = {"task": "sentiment", "base": "scratch", "data": {"dataset": dataset, "test_fingerprint": dataset},
                 "hyperparameters": {"max_length": 64, "seed": seed, "validation_fraction": 0.15, "epochs": 20,
                                     "patience": patience, "dropout": 0.1}}  # fmt: skip
        return {"key": key, "created_at": created, "accuracy": {"value": 0.7}, "eval_curve": [{"epoch": 1}],
                "demonstration": False, **_setup(found)}

    cards = [card("with-stopping", "2026-12-05", 2), card("other-seed", "2026-12-04", 0, seed=1),
             card("no-stopping", "2026-12-03", 0), card("other-data", "2026-12-02", 0, dataset="keywords")]
    pairs = remedy_pairs(cards)
    assert [(a["key"], b["key"], changed) for a, b, changed in pairs] == [("no-stopping", "with-stopping", ["patience"])]
    other_rate = card("other-rate", "2026-12-06", 2)
    other_rate["setup"] = _setup({"task": "sentiment", "base": "scratch", "data": {"dataset": "polarity",
                                                                                  "test_fingerprint": "polarity"},
                                  "hyperparameters": {"max_length": 64, "seed": 42, "validation_fraction": 0.15,
                                                      "learning_rate": 1e-3, "patience": 0}})["setup"]  # fmt: skip
    assert all("other-rate" not in (a["key"], b["key"]) for a, b, _ in remedy_pairs([other_rate, *cards]))


def test_the_page_shows_a_real_before_and_after_pair(tiny_model, clear_streamlit_caches):
    import json
    import shutil

    from core import io, settings

    folder = settings.models_dir() / "student-stopping"
    shutil.copytree(tiny_model, folder, dirs_exist_ok=True)
    try:
        meta = json.loads((folder / "metadata.json").read_text())
        meta["hyperparameters"] = {**meta.get("hyperparameters", {}),
                                   "patience": (meta.get("hyperparameters", {}).get("patience") or 0) + 3}
        meta.update(key="student-stopping", title="Student run with early stopping", created_at="2099-01-01T00:00:00")
        io.write_json_atomic(folder / "metadata.json", meta)
        at = open_page("pages/faq.py")
        assert not at.exception
        assert any("Before and after" in c.value and "patience" in c.value for c in at.caption)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_models_scored_on_different_held_out_texts_share_no_front(tiny_model, clear_streamlit_caches):
    """The keyword model's 100 % is on generated one-cue sentences: it is drawn apart from the film-review models,
    and only each front's models are named on the chart (every point on hover)."""
    import json
    import os

    from core import catalog
    from core.training import jobs

    from conftest import SESSION_CACHE

    os.environ["LMLAB_CACHE_HOME"] = str(SESSION_CACHE)
    if catalog.read_metadata("keyword-tiny") is None:
        jobs.run_here("keyword-tiny")
    at = open_page("pages/faq.py")
    chart = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                 if "against model size" in json.loads(c.proto.spec)["layout"]["title"]["text"])  # fmt: skip
    points = {trace["name"]: trace for trace in chart["data"] if trace.get("mode") == "markers+text"}
    of = {key: name for name, trace in points.items() for key in trace["customdata"]}
    assert of["keyword-tiny"] == "sentiment · keyword cue (generated)"
    assert of["sentiment-tiny"] == "sentiment · pang-lee-polarity (gensim test data)"
    for trace in points.values():
        assert all(shown in ("", key) for shown, key in zip(trace["text"], trace["customdata"], strict=True))
        assert any(trace["text"])  # a front has at least one model, named
    caption = next(c.value for c in at.caption if c.value.startswith("Each point is a classifier trained here"))
    assert "sentiment · keyword cue \\(generated\\): `keyword-tiny`" in caption  # each front under its group's name
    from ui.faq import _short

    assert _short("uploaded CSV 1a2b (\u202ereview → label)" + "x" * 80) == "uploaded CSV 1a2b (review → label)xxxxx…"
