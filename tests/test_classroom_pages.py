"""The classroom rows as a student meets them, in AppTest: what runs only on a click, what is capped, and what a
student's strings look like on another student's page."""

from __future__ import annotations

import json

import pytest

from core import io, settings

from conftest import open_page

pytestmark = pytest.mark.usefixtures("clear_streamlit_caches")

PROBES = [
    "**[claim your grade](https://evil.example)**",
    "<img src=x onerror=alert(1)></script>",
    ":red[alarm] :material/warning: www.evil.example a@b.example",
    "# heading\n- list\n1. item\n===",
    "![image](https://evil.example/x.png) `code` $x^2$ ~~gone~~ | a | b |",
]


def _inline_tokens(markdown: str):
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").enable("strikethrough").parse(markdown)
    return tokens, [child for token in tokens for child in (token.children or [])]


@pytest.mark.parametrize("probe", PROBES)
def test_markdown_escaping_shows_the_string_itself(probe):
    """``safe.md`` output parses to one paragraph of plain text that reads exactly as the input."""
    from ui import safe

    tokens, inline = _inline_tokens(safe.md(probe))
    assert [t.type for t in tokens if t.nesting == 1] == ["paragraph_open"], [t.type for t in tokens]
    assert {t.type for t in inline} <= {"text", "softbreak", "hardbreak"}
    shown = "".join(t.content if t.type == "text" else "\n" for t in inline)
    assert shown.replace(safe.ZERO_WIDTH, "") == probe  # zero-width spaces break GitHub-style autolinks
    for autolink in ("https://", "www.", "a@b"):
        assert autolink not in shown


@pytest.mark.parametrize("probe", PROBES)
def test_plotly_labels_are_escaped(probe):
    import plotly.graph_objects as go

    from core.viz import charts
    from ui import safe

    figure = safe.figure(charts.class_scores({probe: 0.6, "other": 0.4}, score_kind="probability", title=probe))
    drawn = [*figure.data[0].x, *figure.data[0].y, figure.layout.title.text or ""]
    assert all("<" not in str(value) for value in drawn)
    bar = safe.figure(go.Figure(go.Bar(x=[probe], y=[1], name=probe, text=[probe])))
    assert "<" not in bar.data[0].name and "<" not in bar.data[0].x[0] and "<" not in bar.data[0].text[0]
    grid = safe.figure(go.Figure(go.Heatmap(z=[[1, 2]], text=[[probe, "ok"]], texttemplate="%{text}")))
    assert all("<" not in str(cell) for row in grid.data[0].text for cell in row)  # a grid of cell texts too


@pytest.mark.parametrize("probe", PROBES)
def test_next_token_panels_are_laid_out_as_subplots_and_their_tokens_escaped(probe):
    """The Generate page's bars: one panel per model, side by side, titled, best first; a token a user could
    type is drawn as text."""
    from core.viz import charts
    from ui import safe

    rows = [{"token": probe, "probability": 0.6}, {"token": " the", "probability": 0.3}]
    figure = safe.figure(charts.next_token_bars({"Transformer": rows, "Kneser–Ney trigram": rows[:1]}))
    first, second = figure.layout.xaxis.domain, figure.layout.xaxis2.domain
    assert first[0] == 0 and second[1] == 1 and first[1] < second[0]  # side by side, a gap between
    assert [bar.xaxis for bar in figure.data] == ["x", "x2"] and [bar.yaxis for bar in figure.data] == ["y", "y2"]
    assert figure.layout.yaxis.autorange == figure.layout.yaxis2.autorange == "reversed"  # the most likely on top
    assert [note.text for note in figure.layout.annotations] == ["Transformer", "Kneser–Ney trigram"]
    assert figure.layout.yaxis.anchor == "x" and figure.layout.yaxis2.anchor == "x2"
    assert all("<" not in str(token) for token in figure.data[0].y) and figure.data[0].y[1] == "␣the"


def test_default_run_names_differ_between_sessions(fresh_cache):
    first, second = open_page("pages/train.py"), open_page("pages/train.py")
    name_a, name_b = first.text_input(key="train-name").value, second.text_input(key="train-name").value
    assert name_a != name_b and name_a.startswith("polarity-")
    first.text_input(key="train-name").input("sentiment-minilm").run()
    first.button(key="train-start").click().run()
    assert any("built-in" in e.value for e in first.error)


def test_the_model_is_zipped_only_when_downloaded(tiny_model, monkeypatch):
    from core.training import export

    calls = []
    original = export.zip_bytes
    monkeypatch.setattr(export, "zip_bytes", lambda key: calls.append(key) or original(key))
    at = open_page("pages/train.py")
    assert "5 · Deployment" in [h.value for h in at.header]
    for _ in range(3):
        at.run()
    assert not at.exception and calls == []  # reruns build no zip


def test_compare_is_capped(tiny_model):
    from ui.sentiment import MAX_COMPARE

    for index in range(5):  # five more students' runs, all ready
        folder = settings.models_dir() / f"student-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"):
            source = tiny_model / name
            if source.is_file():
                (folder / name).write_bytes(source.read_bytes())
        meta = dict(json.loads((tiny_model / "metadata.json").read_text()))
        meta.update(key=f"student-{index}", title=f"Student run {index}")
        io.write_json_atomic(folder / "metadata.json", meta)
    try:
        at = open_page("pages/sentiment.py")
        at.toggle(key="sentiment-compare").set_value(True).run()
        at.button(key="sentiment-run").click().run()
        assert not at.exception
        results = at.session_state["sentiment-results"]
        assert len([spec for spec, _result in results if spec.kind != "baseline"]) == MAX_COMPARE
        assert [spec.key for spec, _result in results][MAX_COMPARE:] == ["baseline:majority", "baseline:tfidf-lr"]
        assert any(f"at most {MAX_COMPARE} per click" in i.value for i in at.info)
    finally:
        import shutil

        for index in range(5):
            shutil.rmtree(settings.models_dir() / f"student-{index}", ignore_errors=True)


def test_explanations_wait_for_the_button(tiny_model, monkeypatch):
    from core.tasks import attribution

    calls = []
    original = attribution.explain
    monkeypatch.setattr(attribution, "explain", lambda *a, **k: calls.append(1) or original(*a, **k))
    at = open_page("pages/sentiment.py", model="sentiment-tiny")
    at.button(key="sentiment-run").click().run()
    assert not at.exception and calls == []
    at.button(key="sentiment-explain-run").click().run()
    assert not at.exception and not at.error and len(calls) == 1
    assert at.get("plotly_chart")
    at.run()
    at.run()
    assert len(calls) == 1  # reruns show the stored result


@pytest.mark.parametrize("page", ["pages/home.py", "pages/sentiment.py", "pages/train.py", "pages/evaluate.py"])
def test_one_malformed_model_card_breaks_no_page(fresh_cache, page):
    folder = settings.models_dir() / "broken-run"
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text('{"task": "sentiment", "labels": 5}')
    other = settings.models_dir() / "listed-run"
    other.mkdir()
    (other / "metadata.json").write_text("[1, 2, 3]")
    open_page(page)  # runs without an exception


def test_the_zero_shot_answer_survives_reruns_until_the_input_changes():
    at = open_page("pages/topic.py")
    at.segmented_control(key="topic-mode").set_value("Zero-shot (your labels)").run()
    at.button(key="topic-zs-run").click().run()
    assert any("Zero-shot:" in m.value for m in at.markdown)
    at.run()
    assert any("Zero-shot:" in m.value for m in at.markdown)  # a rerun without a click keeps the answer
    at.text_area(key="topic-text").input("A different text about rockets.").run()
    assert not any("Zero-shot:" in m.value for m in at.markdown)  # an answer never shows beside other input


def test_script_runs_are_timed_for_the_load_test(tmp_path, monkeypatch):
    log = tmp_path / "runs.jsonl"
    monkeypatch.setenv("LMLAB_TIMING_LOG", str(log))
    open_page("pages/home.py")
    import json

    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records and all(record["s"] >= 0 for record in records)
