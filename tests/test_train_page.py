"""The Train page in AppTest: data, architecture, a real background training run, results, then the model elsewhere."""

import pytest
from streamlit.testing.v1 import AppTest

from core import catalog
from core.training import jobs

from conftest import ROOT, open_page

pytestmark = pytest.mark.usefixtures("clear_streamlit_caches")


def test_train_a_tiny_model_and_use_it_on_sentiment(fresh_cache):
    at = open_page("pages/train.py")
    assert [h.value for h in at.header][:3] == ["1 · Data", "2 · Architecture", "3 · Training"]
    assert at.get("plotly_chart"), "class balance and length histogram expected"
    assert any("and so cut" in c.value for c in at.caption)
    at.radio(key="train-base").set_value("scratch").run()
    at.slider(key="train-layers").set_value(1).run()
    at.select_slider(key="train-hidden").set_value(32).run()
    at.number_input(key="train-epochs").set_value(2).run()
    at.number_input(key="train-patience").set_value(0).run()
    at.number_input(key="train-examples").set_value(150).run()
    at.toggle(key="train-checkpointing").set_value(True).run()  # less memory, the same numbers
    at.text_input(key="train-name").input("www.ui-run.com").run()
    assert any(m.label == "Parameters" for m in at.metric)
    at.button(key="train-start").click().run()
    assert not at.exception and not at.error
    state = jobs.status("www.ui-run.com").state
    assert state in ("starting", "running", "done")
    if state != "done":
        assert at.get("progress"), "a live progress bar while the job runs"
    finished = jobs.wait("www.ui-run.com", timeout=300)
    assert finished.state == "done", finished
    at.run()
    assert "4 · Evaluation" in [h.value for h in at.header]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["accuracy"].endswith("%") and metrics["macro-F1"].endswith("%")
    perclass = next(frame.value for frame in at.dataframe if "support" in frame.value.columns)
    assert list(perclass.columns) == ["precision", "recall", "F1", "support"] and "positive" in perclass.index
    assert "www.ui-run.com" in set(at.dataframe[-1].value["run"])
    link = next(p.proto.label for p in at.get("page_link") if "on its page" in p.proto.label)
    assert "www\u200b.ui-run.com" in link  # escaped: a run's name never becomes a live link in the label
    assert any(b.label == "Download the model (zip)" for b in at.get("download_button"))
    assert any(b.label == "Download the script" for b in at.get("download_button"))  # the article's code, fixed
    assert any("held-out accuracy" in block.value for block in at.code)
    card = catalog.read_metadata("www.ui-run.com")
    assert card["task"] == "sentiment" and card["data"]["labelled_examples_used"] == 150
    assert card["hyperparameters"]["checkpointing"] is True and card["hyperparameters"]["freeze_word_embeddings"] is False
    assert card["hyperparameters"]["step_tokens"] == 2048  # a pass's memory capped, as the page says

    sentiment = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    sentiment.query_params["model"] = "www.ui-run.com"
    sentiment.switch_page("pages/sentiment.py").run()
    assert sentiment.selectbox(key="sentiment-model").value == "www.ui-run.com"
    sentiment.button(key="sentiment-run").click().run()
    assert not sentiment.exception and any(m.label == "Latency" for m in sentiment.metric)


def test_csv_upload_and_its_checks(fresh_cache):
    at = open_page("pages/train.py")
    at.radio(key="train-dataset").set_value("csv").run()
    assert any("Upload a CSV" in i.value for i in at.info)
    at.file_uploader(key="train-csv").set_value(
        ("bad.csv", "text,label\ncafé,x\n".encode("cp1252"), "text/csv")
    ).run()
    assert any("not UTF-8" in e.value for e in at.error)
    rows = "\n".join(
        f"sentence number {i} is {'great' if i % 2 else 'awful'},{'pos' if i % 2 else 'neg'}"
        for i in range(40)
    )
    at.file_uploader(key="train-csv").set_value(
        ("ok.csv", f"sentence,mood\n{rows}\n".encode(), "text/csv")
    ).run()
    assert not at.exception
    assert at.selectbox(key="train-text-column").options == ["sentence", "mood"]
    at.selectbox(key="train-label-column").set_value("sentence").run()
    at.selectbox(key="train-text-column").set_value("sentence").run()
    assert any("two different columns" in e.value for e in at.error)
    at.selectbox(key="train-label-column").set_value("mood").run()
    assert not at.error
    assert at.radio(key="train-task").value == "sentiment"


def test_a_student_deletes_an_upload_and_its_masked_copy_from_the_server(fresh_cache):
    from core import settings

    rows = "\n".join(f"write to student{i}@example.com: it was {'great' if i % 2 else 'awful'},{i % 2}" for i in range(30))
    at = open_page("pages/train.py")
    at.radio(key="train-dataset").set_value("csv").run()
    at.file_uploader(key="train-csv").set_value(("mine.csv", f"text,label\n{rows}\n".encode(), "text/csv")).run()
    assert not at.exception and any("personal data" in w.value for w in at.warning)
    folder = settings.cache_home() / "datasets"
    assert len(list(folder.glob("*.csv"))) == 2  # the upload and its masked copy
    classmate = open_page("pages/train.py")  # another session uploads the same bytes (a file the teacher handed out)
    classmate.radio(key="train-dataset").set_value("csv").run()
    classmate.file_uploader(key="train-csv").set_value(("copy.csv", f"text,label\n{rows}\n".encode(), "text/csv")).run()
    at.button(key="train-csv-delete").click().run()
    assert not at.exception and len(list(folder.glob("*.csv"))) == 2  # the classmate still holds both
    assert any("other sessions uploaded the same file" in i.value for i in at.info)
    classmate.button(key="train-csv-delete").click().run()
    assert not classmate.exception and not list(folder.glob("*.csv"))  # the last holder's delete removes them
    assert any("Deleted 2 files from the server" in s.value for s in classmate.success)
    assert any("Upload a CSV" in i.value for i in classmate.info)  # a fresh uploader: the browser's copy is gone too
    classmate.run()
    assert not classmate.success  # said once
    from core.data import uploads
    from core.errors import DataError

    with pytest.raises(DataError):
        uploads.release("../../../etc/pass", "anyone")  # only ids the server wrote


def test_personal_data_the_student_asked_to_mask_is_never_trained_on_as_it_is(fresh_cache, monkeypatch):
    """When no masked copy can be made, nothing can start: before, the run quietly trained on the unmasked file."""
    from core.data import uploads
    from core.errors import DataError

    def refused(*args, **kwargs):
        raise DataError("the disk is full")

    monkeypatch.setattr(uploads, "rewritten", refused)
    rows = "\n".join(f"mail me at me{i}@example.com: it was {'great' if i % 2 else 'awful'},{i % 2}" for i in range(30))
    at = open_page("pages/train.py")
    at.radio(key="train-dataset").set_value("csv").run()
    at.file_uploader(key="train-csv").set_value(("mine.csv", f"text,label\n{rows}\n".encode(), "text/csv")).run()
    assert not at.exception and any("cannot be masked" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "train-start" and not b.disabled]  # nothing starts on the raw file
    at.checkbox(key="train-mask-pii").uncheck().run()  # the student's own choice: train on it as it is
    assert not at.error and not at.button(key="train-start").disabled


def test_the_page_says_how_a_batch_too_big_for_one_pass_runs():
    at = open_page("pages/train.py")
    assert not [c for c in at.caption if "gradient accumulation" in c.value]  # 16 × 64: one pass
    at.select_slider(key="train-batch").set_value(64).run()
    at.select_slider(key="train-maxlen").set_value(512).run()
    note = [c.value for c in at.caption if "gradient accumulation" in c.value]
    assert not at.exception and note and "64 × 512 runs as 16 passes of 4 texts" in note[0], note


def test_a_new_seed_or_length_cap_does_not_tokenize_the_data_again(monkeypatch):
    """The slow half of the data preview (every training text tokenized) depends on the texts only: a student
    clicking the seed or the length cap up and down costs the server a lookup, not a pass over the data."""
    from core.training import preview

    calls, reads = [], []
    original, read = preview.token_lengths, preview.source_split
    monkeypatch.setattr(preview, "token_lengths", lambda recipe, split: calls.append(1) or original(recipe, split))
    monkeypatch.setattr(preview, "source_split", lambda recipe: reads.append(1) or read(recipe))
    at = open_page("pages/train.py")
    assert len(calls) == 1 and any("and so cut" in c.value for c in at.caption)
    for seed in (1, 2, 3):
        at.number_input(key="train-seed").set_value(seed).run()
    assert not at.exception and len(calls) == 1 and len(reads) == 1  # the data is read once too (an upload: parsed)
    at.number_input(key="train-examples").set_value(100).run()  # a sample of the labels: nothing read again either
    assert not at.exception and len(calls) == 1 and len(reads) == 1
    assert any(c.value.startswith("A sample of 100 of the ") for c in at.caption)
    assert any("stopped after 15 minutes" in c.value for c in at.caption)  # the cap a student's run works under


def test_an_upload_a_queued_or_running_job_reads_is_not_deleted(fresh_cache):
    import os
    import time

    import psutil

    from core.io import write_json_atomic

    folder = jobs.job_dir("student-run")
    write_json_atomic(folder / "recipe.json", {"key": "student-run", "data_file": "0123456789abcdef"})
    write_json_atomic(folder / "progress.json", {"state": "running", "phase": "training", "pid": os.getpid(),
                                                 "pid_created": psutil.Process().create_time(),
                                                 "started_at": time.time(), "updated_at": time.time()})  # fmt: skip
    assert jobs.status("student-run").active
    assert jobs.reading("0123456789abcdef") and not jobs.reading("fedcba9876543210")


def test_a_student_who_reloaded_takes_their_runs_back_with_their_key(fresh_cache):
    """A reload is a new session; the key shown on the page (and only there) makes the new one the runs' owner again,
    so the student can cancel or delete them. A wrong or made-up key takes nothing."""
    from core.training import ownership

    before = open_page("pages/train.py")
    key = before.session_state["_lmlab_owner"]
    assert not any(code.value == key for code in before.code)  # hidden until asked for (a projected screen)
    before.toggle(key="train-show-key").set_value(True).run()
    assert any(code.value == key for code in before.code)  # shown to its own session, to copy
    (jobs.job_dir("my-run") / "owner").write_text(key, encoding="utf-8")
    (jobs.job_dir("their-run") / "owner").write_text("f" * 32, encoding="utf-8")
    after = open_page("pages/train.py")  # the reload
    assert after.session_state["_lmlab_owner"] != key
    for wrong in ("0" * 32, key[:-1], "../" + key):
        after.text_input(key="train-claim").set_value(wrong).run()
        after.button(key="train-claim-run").click().run()
        assert any("No run on the server belongs" in e.value for e in after.error)
    after.text_input(key="train-claim").set_value(f"  {key.upper()} ").run()
    after.button(key="train-claim-run").click().run()
    assert after.session_state["_lmlab_owner"] == key and any("my-run" in s.value for s in after.success)
    assert "their-run" not in after.success[0].value and ownership.may_change("my-run", key)


def test_a_hub_dataset_is_read_when_asked_not_while_its_id_is_typed(monkeypatch):
    """Online, choosing a Hub dataset reads nothing until the student asks (each read streams up to 4,000 rows);
    training waits for that read, no later rerun reads it again (a new length cap is recut from the kept preview), a
    new seed waits for its own read, and a read that fails is not retried behind the student's back."""
    from core import settings
    from core.data import uploads
    from core.data.types import Example
    from core.errors import DataError
    from core.training import preview

    reads = []
    texts = [("a fine film " * 10, "positive"), ("a dull film " * 10, "negative")] * 30  # 32 tokens each

    def from_the_hub(name, text_column, label_column, limit=4000):  # the network's side: no Hub here
        reads.append(name)
        if name == "someone/broken":
            raise DataError("The Hub dataset someone/broken has no column 'sentence'.")
        return [Example(text, label) for text, label in texts], ("negative", "positive")

    monkeypatch.setattr(settings, "_mode", settings.Mode(online=True, reason="test", seconds=0.0))
    monkeypatch.setattr(uploads, "hub_examples", from_the_hub)
    tokenized, count = [], preview.token_lengths
    monkeypatch.setattr(preview, "token_lengths", lambda recipe, split: tokenized.append(recipe["hub_dataset"]) or count(recipe, split))
    at = open_page("pages/train.py")
    at.radio(key="train-dataset").set_value("hub").run()
    at.text_input(key="train-hub-dataset").input("someone/reviews").run()
    assert not at.exception and reads == []
    assert at.button(key="train-start").disabled and any("up to 4,000 rows" in c.value for c in at.caption)
    at.button(key="train-hub-read").click().run()
    assert not at.exception and reads == ["someone/reviews"] and at.get("plotly_chart")  # once for lengths and preview
    assert next(frame.value for frame in at.dataframe if "token" in frame.value.index).shape[1] == 32
    assert not at.button(key="train-start").disabled
    at.number_input(key="train-epochs").set_value(2).run()
    at.text_input(key="train-name").input("hub-run").run()
    assert reads == ["someone/reviews"] and not at.button(key="train-start").disabled  # the preview stays
    at.select_slider(key="train-maxlen").set_value(16).run()  # a new length cap is recut from the kept preview
    assert reads == ["someone/reviews"] and not at.button(key="train-start").disabled
    tokens = next(frame.value for frame in at.dataframe if "token" in frame.value.index)
    assert tokens.shape[1] == 16 and tokens.iloc[0, -1] == "[SEP]"  # the example recut at 16 tokens (32 at 64)
    assert any("max length 16" in c.value and "and so cut" in c.value for c in at.caption)  # every text: 32 > 16
    at.number_input(key="train-seed").set_value(7).run()
    assert reads == ["someone/reviews"] and at.button(key="train-start").disabled  # a new seed: asked anew
    at.button(key="train-hub-read").click().run()
    assert reads == ["someone/reviews"] * 2 and not at.button(key="train-start").disabled
    assert tokenized.count("someone/reviews") == 1  # the same texts' lengths, shared by the class: tokenized once
    at.text_input(key="train-hub-dataset").input("someone/broken").run()
    at.button(key="train-hub-read").click().run()
    assert reads[-1] == "someone/broken" and any("no column" in e.value for e in at.error)
    at.number_input(key="train-epochs").set_value(3).run()
    assert reads.count("someone/broken") == 1 and at.button(key="train-hub-read")  # not read again; the button stays
    assert at.button(key="train-start").disabled


def test_the_pretraining_erratum_reads_the_chinese_pair_and_the_learning_curve_from_their_cards(fresh_cache):
    """The box under Architecture states what pretraining bought here, read from the model cards in the cache: the two
    Chinese classifiers on every review, then each learning-curve pair (benchmarks/pretraining_curve.py) trained as
    the curve trains it — never a lookalike."""
    import json

    from core.training import curve

    def plant(key: str, value: float, recipe: dict, **extra) -> None:
        folder = catalog.cache_entry_dir(key)
        folder.mkdir(parents=True, exist_ok=True)
        card = {"key": key, "title": key, "task": "sentiment-zh", "model_type": "roformer", "recipe": recipe,
                "labels": ["negative", "positive"], "data": {"labelled_examples_used": recipe.get("examples") or 15358},
                "base": recipe.get("base"), **extra,
                "metrics": {"accuracy": {"value": value, "low": value - 0.02, "high": value + 0.02, "n": 2000}}}
        (folder / "metadata.json").write_text(json.dumps(card))

    plant("zh-bert-mlm", 0.118, {}, sha256="a" * 64)
    plant("sentiment-zh-bert", 0.806, {})
    plant("sentiment-zh-scratch", 0.815, {})
    for size, first, second in ((250, 0.642, 0.711), (1000, 0.734, 0.753), (4000, 0.735, 0.766)):
        plant(f"sentiment-zh-bert-n{size}", first, curve.recipe_for("sentiment-zh-bert", size, 250).to_json(),
              base_sha256="a" * 64)  # fmt: skip
        plant(f"sentiment-zh-scratch-n{size}", second, curve.recipe_for("sentiment-zh-scratch", size, 250).to_json())
    # three lookalikes: a student's run on random weights under a pair's name (the Train page's bases are MiniLM,
    # random weights and the Hub), a half trained for other epochs, a half from an earlier pretraining
    plant("sentiment-zh-scratch-n1000", 0.99, {**curve.recipe_for("sentiment-zh-scratch", 1000, 250).to_json(),
                                               "base": "scratch"})  # fmt: skip
    plant("sentiment-zh-scratch-n4000", 0.99, curve.recipe_for("sentiment-zh-scratch", 4000, 500).to_json())
    plant("sentiment-zh-bert-n500", 0.70, curve.recipe_for("sentiment-zh-bert", 500, 250).to_json(),
          base_sha256="b" * 64)  # fmt: skip
    plant("sentiment-zh-scratch-n500", 0.71, curve.recipe_for("sentiment-zh-scratch", 500, 250).to_json())
    at = open_page("pages/train.py")
    caption = next(c.value for c in at.caption if c.value.startswith("Step 2 lets you"))
    assert "pretrained first 80.6 % [78.6, 82.6], from random weights 81.5 % [79.5, 83.5]" in caption
    assert "250 reviews: 64.2 % [62.2, 66.2] against 71.1 % [69.1, 73.1]" in caption
    assert "1,000 reviews" not in caption and "4,000 reviews" not in caption and "500 reviews" not in caption
    assert [size for size, *_ in curve.pairs_in_cache()] == [250]
    # the runs as learning curves under Compare runs: one line per data and starting point, a point per run
    chart = next(c for c in at.get("plotly_chart") if "labelled examples" in c.proto.spec)
    lines = {trace["name"]: trace for trace in json.loads(chart.proto.spec)["data"] if trace["mode"] == "markers"}
    assert set(lines) == {"zh-bert · reviews-zh", "zh-scratch · reviews-zh"}  # the lookalike on random weights: one
    # size of its own, so no line
    # (the pretrained half from another pretraining is not a point of this pretraining's line)
    assert lines["zh-bert · reviews-zh"]["x"] == [250, 1000, 4000] and lines["zh-scratch · reviews-zh"]["x"] == [
        250, 500, 4000]
    assert lines["zh-scratch · reviews-zh"]["customdata"][0] == (
        "sentiment-zh-scratch-n250 · learning rate 0.0003 · 32 epochs")


def test_the_page_s_largest_random_bert_is_the_largest_the_server_accepts():
    from core.training.recipe import NEW_RUN_BASES, SCRATCH_LIMITS

    at = open_page("pages/train.py")
    assert len(at.radio(key="train-base").options) == len(NEW_RUN_BASES)
    at.radio(key="train-base").set_value("scratch").run()
    assert at.slider(key="train-layers").max == SCRATCH_LIMITS["num_hidden_layers"]
    assert max(int(v) for v in at.select_slider(key="train-hidden").options) == SCRATCH_LIMITS["hidden_size"]
    assert max(int(v) for v in at.select_slider(key="train-heads").options) == SCRATCH_LIMITS["num_attention_heads"]
    assert 2 * SCRATCH_LIMITS["hidden_size"] <= SCRATCH_LIMITS["intermediate_size"]  # the page's feed-forward width


def test_the_data_preview_names_the_classes_and_the_dataset_in_chinese():
    import json

    at = open_page("pages/train.py", lang="zh")
    assert not at.exception
    balance = next(chart for chart in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
                   if chart["data"][0]["type"] == "bar")  # fmt: skip
    assert set(balance["data"][0]["x"]) == {"负面", "正面"}  # as the confusion matrix and the tables name them
    assert any("gensim 自带的测试数据" in c.value for c in at.caption)
    assert any(c.value.endswith("→ 负面") or c.value.endswith("→ 正面") for c in at.caption)  # the first example
