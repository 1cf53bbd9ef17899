"""One server, a class of sessions: what a student types cannot stall, overload or overwrite the others.

Each test reproduces a row of the classroom table (README "A class on one server") on real models.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core import catalog
from core.errors import InputError
from core.tasks import inputs, summarize
from core.tasks.attribution import MAX_TOKENS, explain
from core.tasks.classify import TransformerClassifier
from core.tasks.embeddings import SentenceEncoder
from core.tasks.inputs import Gate
from core.tasks.zero_shot import (
    MAX_LABELS_FIELD,
    ZeroShotClassifier,
    check_template,
    nli_hypothesis,
    parse_labels,
)

from conftest import run_together, start_in_order


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder()


# -- row 1: a summary of 1,249 tiny sentences ---------------------------------------------------------------


def test_summary_refuses_too_many_sentences_quickly(encoder):
    text = ("Go. " * 1250)[:5000]
    started = time.process_time()  # CPU time of this process: another process's load does not count
    with pytest.raises(InputError, match=f"at most {summarize.MAX_SENTENCES}"):
        summarize.extractive(encoder, text)
    assert time.process_time() - started < 1.0  # refused before any sentence is embedded


def test_mmr_selection_is_quadratic_not_cubic():
    rng = np.random.default_rng(0)
    n = 2000  # far beyond the cap: the selection alone must stay cheap
    vectors = rng.normal(size=(n, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    started = time.process_time()  # CPU time of this process: another process's load does not count
    chosen = summarize.mmr_select(similarity, rng.random(n), [1] * n, budget_words=n, diversity=0.5)
    assert time.process_time() - started < 5.0  # the old loop took minutes here
    assert sorted(chosen) == list(range(n))


def test_mmr_matches_the_definition_on_a_small_case():
    """The vectorised loop picks what λ·relevance − (1 − λ)·max-similarity picks, one at a time."""
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(12, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity, relevance, lengths = vectors @ vectors.T, rng.random(12), list(rng.integers(3, 12, 12))
    expected, used, left = [], 0, set(range(12))
    while left:
        best = max(left, key=lambda i: 0.7 * relevance[i] - 0.3 * max((similarity[i, j] for j in expected), default=0))
        left.discard(best)
        if expected and used + lengths[best] > 40:
            continue
        expected.append(best)
        used += lengths[best]
    assert summarize.mmr_select(similarity, relevance, lengths, 40, 0.3) == expected


def test_summary_sliders_reuse_the_embedding(encoder, monkeypatch):
    from core.data import lee

    embedded = summarize.embed(encoder, lee.articles()[0])
    calls = []
    monkeypatch.setattr(encoder, "encode", lambda *a, **k: calls.append(1))
    for budget in (20, 60, 120):
        for diversity in (0.0, 0.5, 1.0):
            result = summarize.select(embedded, budget, diversity)
            assert result.words_out <= budget or len([s for s in result.sentences if s.chosen]) == 1
    assert not calls  # moving a slider never runs the encoder again


# -- row 2: attributions of 430 tokens ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_classifier(tiny_model):
    return TransformerClassifier(catalog.get_spec("sentiment-tiny"))


def test_explanation_refuses_long_token_counts_and_unknown_classes(tiny_classifier):
    made_up = " ".join(["zq" * 40] * 12)  # 12 words of 80 letters: hundreds of word pieces
    with pytest.raises(InputError, match=f"at most {MAX_TOKENS} tokens"):
        explain(tiny_classifier, made_up)
    with pytest.raises(InputError, match="Unknown class"):
        explain(tiny_classifier, "a fine film", target="no-such-class")


def test_explanation_takes_a_gate_slot(tiny_classifier, monkeypatch):
    gate = Gate(1)
    monkeypatch.setattr(inputs, "_gate", gate)
    gate.acquire()  # every slot busy
    done = threading.Event()
    worker = threading.Thread(target=lambda: (explain(tiny_classifier, "a fine film"), done.set()))
    worker.start()
    assert not done.wait(0.5)  # waits for the slot
    gate.release()
    assert done.wait(30)
    worker.join()


# -- row 3: label templates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    ["{label} {label:>100000000}", "{label} {0}", "{label} {}", "no placeholder", "", "{label}" + "x" * 300,
     "{label!r}", "{{label}}"],
)  # fmt: skip
def test_bad_templates_are_refused_with_a_message(template):
    with pytest.raises(InputError):
        check_template(template)


def test_templates_are_filled_without_format(encoder):
    classifier = ZeroShotClassifier(encoder, template="这段文字讲的是{label}。")
    result = classifier.classify("NASA launched a rocket.", ["space", "cooking"])
    assert set(result.shares) == {"space", "cooking"}
    with pytest.raises(InputError):
        ZeroShotClassifier(encoder, template="{label} {label:>100000000}")


def test_label_box_has_a_cap_and_chinese_separators():
    assert parse_labels("体育，政治、科技；经济") == ["体育", "政治", "科技", "经济"]
    with pytest.raises(InputError, match="limit"):
        parse_labels("a," * MAX_LABELS_FIELD)


# -- row 12: the online NLI pipeline's template ------------------------------------------------------------


def test_nli_hypothesis_is_positional():
    hypothesis = nli_hypothesis("This text is about {label}.")
    assert hypothesis.format("sports") == "This text is about sports."  # what the pipeline does with it


# -- row 5: fair scheduling ---------------------------------------------------------------------------------


def test_gate_admits_first_come_first_served():
    gate, order = Gate(1), []
    gate.acquire()
    threads = start_in_order(5, lambda i: (gate.acquire(), order.append(i), gate.release()))  # arrive in order
    assert gate.waiting == 5 and gate.ahead() == 6
    gate.release()
    for thread in threads:
        thread.join(5)
    assert order == list(range(5)) and gate.running == 0 and gate.waiting == 0


def test_a_thread_that_holds_a_slot_enters_again_at_once_while_others_wait():
    """Two holders, a third caller waiting, then each holder starts a nested pass: were a nested pass to queue,
    each holder would wait for the other's slot, behind the waiter, for ever."""
    gate, entered, go_on = Gate(2), [], threading.Event()

    def holder(i):
        with gate:
            go_on.wait(5)
            with gate:  # nested: runs in the slot this thread holds
                entered.append(i)

    holders = start_in_order(2, holder)
    waiter = threading.Thread(target=lambda: (gate.acquire(), entered.append("waiter"), gate.release()))
    waiter.start()
    while gate.waiting < 1:
        time.sleep(0.01)
    assert gate.held_here() is False and gate.running == 2
    go_on.set()
    for thread in [*holders, waiter]:
        thread.join(5)
    assert sorted(map(str, entered)) == ["0", "1", "waiter"] and gate.running == 0 and gate.waiting == 0


def test_single_passes_run_on_their_own_threads_and_report_failures():
    from core.tasks.batching import run_single

    assert run_single(threading.current_thread) is not threading.current_thread()
    assert run_single(threading.current_thread).name.startswith("lmlab-pass")
    with pytest.raises(InputError, match="refused"):
        run_single(lambda: (_ for _ in ()).throw(InputError("refused")))
    assert run_single(sum, [1, 2, 3]) == 6  # the threads still serve after a failure
    inner = run_single(lambda: run_single(threading.current_thread))  # asked again from one of them: answered there
    assert inner.name.startswith("lmlab-pass")
    if hasattr(os, "fork"):  # a forked child has none of the threads: it starts its own instead of waiting for ever
        child = os.fork()
        if child == 0:
            signal.alarm(10)
            os._exit(0 if run_single(sum, [4, 5]) == 9 else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.timed
def test_a_busy_model_does_not_hold_up_another(tiny_model, monkeypatch):
    """A slow call on model A, a second request for A, then a request for B: B answers at once."""
    gate = Gate(2)
    monkeypatch.setattr(inputs, "_gate", gate)
    spec = catalog.get_spec("sentiment-tiny")
    first, second = TransformerClassifier(spec), TransformerClassifier(spec)
    second.predict("warm up")
    release = threading.Event()

    def slow_call_on_first():
        with first._lock, inputs.inference_gate():
            release.wait(10)

    slow = threading.Thread(target=slow_call_on_first)
    slow.start()
    time.sleep(0.1)
    queued = threading.Thread(target=lambda: first.predict("queued behind the slow call"))
    queued.start()
    time.sleep(0.1)
    started = time.perf_counter()
    second.predict("an unrelated model")
    waited = time.perf_counter() - started
    release.set()
    slow.join()
    queued.join()
    assert waited < 2.0, f"the other model waited {waited:.1f} s"


def test_inspect_takes_a_gate_slot(monkeypatch):
    from core.attention import AttentionModel

    model = AttentionModel(catalog.MINILM)
    gate = Gate(1)
    monkeypatch.setattr(inputs, "_gate", gate)
    gate.acquire()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (model.attend("The cat sat."), done.set()))
    worker.start()
    assert not done.wait(0.5)
    gate.release()
    assert done.wait(30)
    worker.join()


# -- row 6: CSV files with an unquoted comma, thousands of columns, concurrent uploads ------------------------


def _csv(rows: int = 40, extra: str = "") -> bytes:
    body = "\n".join(f"sentence {i} is {'great' if i % 2 else 'awful'},{'pos' if i % 2 else 'neg'}" for i in range(rows))
    return f"text,label\n{body}\n{extra}".encode()


def test_an_unquoted_comma_is_refused_not_shifted(fresh_cache):
    from core.data import uploads
    from core.errors import DataError

    with pytest.raises(DataError, match="Line 42 has 3 fields but the header has 2"):
        uploads.store(_csv(extra="I did not like the ending, but the cast was fine,pos\n"))
    stored = uploads.store(_csv(extra='"I did not like the ending, but the cast was fine",pos\n'))
    examples, labels = uploads.load(stored.data_id, "text", "label")
    assert examples[-1].text == "I did not like the ending, but the cast was fine" and labels == ("neg", "pos")


def test_a_file_with_thousands_of_columns_is_refused_at_once(fresh_cache):
    from core.data import uploads
    from core.errors import DataError

    wide = (",".join(f"c{i}" for i in range(450_000)) + "\n" + ",".join("x" * 450_000) + "\n").encode()[:5_000_000]
    started = time.process_time()  # CPU time of this process: another process's load does not count
    with pytest.raises(DataError, match="columns"):
        uploads.store(wide)
    assert time.process_time() - started < 1.0


@pytest.mark.parametrize(("raw", "message"), [
    (b"t,l\n" + b"\n" * 4_999_000, "more than 200,000 lines"),  # 5 MB of line breaks
    (b"t,l\n" + b"\r" * 4_999_000, "more than 200,000 lines"),  # line ends the first count does not see
    (b"t,l\n" + b"a,b\n" * 60_000, "more than 50,000 rows"),
    ((",".join(f"c{i}" for i in range(40)) + "\n" + ("x," * 39 + "x\n") * 13_000).encode(), "more than 500,000 cells"),
])  # fmt: skip
def test_a_file_past_a_cap_is_refused_while_it_is_read_not_after(fresh_cache, raw, message):
    import tracemalloc

    from core.data import uploads
    from core.errors import DataError

    assert len(raw) <= uploads.MAX_BYTES
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=message):
            uploads.store(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 150_000_000, peak  # before: every row of the file in memory first (a 5 MB file took 470 MB)


def test_concurrent_uploads_of_one_file_never_expose_half_a_file(fresh_cache):
    from core import settings
    from core.data import uploads

    raw = _csv(rows=4000)
    data_id = uploads.store(raw).data_id
    path = settings.cache_home() / "datasets" / f"{data_id}.csv"
    path.unlink()
    failures, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            if path.is_file() and path.read_bytes() != raw:
                failures.append(1)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    writers = [threading.Thread(target=uploads.store, args=(raw,)) for _ in range(12)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    for reader in readers:
        reader.join()
    assert not failures and path.read_bytes() == raw


def test_uploads_are_capped_oldest_first(fresh_cache, monkeypatch):
    from core import settings
    from core.data import uploads

    monkeypatch.setenv("LMLAB_MAX_UPLOADS", "3")
    ids = [uploads.store(_csv(rows=30 + i)).data_id for i in range(5)]
    kept = {path.stem for path in (settings.cache_home() / "datasets").glob("*.csv")}
    assert kept == set(ids[-3:])


def test_a_classmates_held_upload_is_pushed_out_last_and_one_session_holds_at_most_a_few(fresh_cache, monkeypatch):
    """A student uploading file after file cannot push out the upload a classmate is working with (only past twice
    the cap, which bounds the disk), and past ``PER_OWNER`` files must delete their own before uploading more."""
    from core import settings
    from core.data import claims, uploads
    from core.errors import DataError

    monkeypatch.setenv("LMLAB_MAX_UPLOADS", "3")
    monkeypatch.setattr(claims, "HOLDERS", {})
    monkeypatch.setattr(claims, "_SEEN", {})
    classmate = uploads.store(_csv(rows=20), owner="classmate").data_id
    spam = [uploads.store(_csv(rows=21 + i), owner=f"tab {i}").data_id for i in range(4)]
    stored = lambda: {path.stem for path in (settings.cache_home() / "datasets").glob("*.csv")}  # noqa: E731
    assert classmate in stored() and len(stored()) == 5  # every file is someone's: kept up to twice the cap
    uploads.store(_csv(rows=40), owner="tab 8")
    assert classmate in stored() and len(stored()) == 6
    uploads.store(_csv(rows=41), owner="tab 9")
    assert classmate not in stored() and len(stored()) == 6  # past twice the cap the oldest goes, held or not
    mine = [uploads.store(_csv(rows=50 + i), owner="greedy").data_id for i in range(claims.PER_OWNER)]
    with pytest.raises(DataError, match="files on the server already"):
        uploads.store(_csv(rows=70), owner="greedy")
    assert uploads.store(_csv(rows=50), owner="greedy").data_id == mine[0]  # the same bytes again: no new file
    with pytest.raises(DataError, match="files on the server already"):  # a masked copy is held the same way
        uploads.hold(classmate if classmate in stored() else spam[-1], "greedy")
    uploads.release(mine[0], "greedy")
    newest = uploads.store(_csv(rows=70), owner="greedy").data_id
    claims.hand_over("greedy", "greedy after a reload")  # the files go with the runs a student takes back
    assert claims.held_by("greedy after a reload") == {*mine[1:], newest} and not claims.held_by("greedy")


def test_the_claims_of_a_session_not_seen_for_a_school_day_lapse_and_its_files_leave_in_turn(fresh_cache, monkeypatch):
    """A tab closed in the morning says nothing: its claim lapses after CLAIM_SECONDS without a sign of it (an upload,
    a hold, the Train page opened with files of its own), deleting nothing, and its file then leaves the cache like
    anyone's; a session still seen keeps its claim."""
    import time

    from core import settings
    from core.data import claims, uploads

    monkeypatch.setenv("LMLAB_MAX_UPLOADS", "3")
    monkeypatch.setattr(claims, "HOLDERS", {})
    monkeypatch.setattr(claims, "_SEEN", {})
    clock = [time.monotonic()]
    monkeypatch.setattr(claims, "_clock", lambda: clock[0])
    stored = lambda: {path.stem for path in (settings.cache_home() / "datasets").glob("*.csv")}  # noqa: E731
    closed = uploads.store(_csv(rows=20), owner="closed tab").data_id
    here = uploads.store(_csv(rows=21), owner="still here").data_id
    clock[0] += claims.CLAIM_SECONDS - 60
    claims.renew("still here", {here})  # the Train page opened again
    claims.renew("never held", set())  # a session without files is not tracked
    clock[0] += 120  # the closed tab unseen for longer than CLAIM_SECONDS, the other for two minutes
    uploads.store(_csv(rows=22), owner="newcomer")
    assert claims.held_by("closed tab") == set() and claims.held_by("still here") == {here}
    assert closed in stored()  # lapsing deletes nothing
    uploads.store(_csv(rows=23), owner="another newcomer")
    assert closed not in stored() and here in stored()  # unheld now, it left first; the held file stayed
    assert "never held" not in claims._SEEN
    clock[0] += claims.CLAIM_SECONDS + 1  # "still here" away for a day, its tab left open: its claim lapses …
    assert claims.held_by("still here") == set()
    claims.renew("still here", {here})  # … and comes back when it opens the Train page again
    uploads.store(_csv(rows=24), owner="third newcomer")
    uploads.store(_csv(rows=25), owner="fourth newcomer")
    assert here in stored() and claims.held_by("still here") == {here}


# -- row 8: labels that differ only in case ---------------------------------------------------------------------


def test_labels_differing_only_in_case_are_refused(fresh_cache):
    from core.data import uploads
    from core.errors import DataError

    body = "\n".join(f"sentence {i},{'A' if i % 3 == 0 else 'a' if i % 3 == 1 else 'b'}" for i in range(60))
    stored = uploads.store(f"text,label\n{body}\n".encode())
    with pytest.raises(DataError, match="differ only in upper/lower case"):
        uploads.load(stored.data_id, "text", "label")


# -- row 9: Hub dataset ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["..", "../secrets", "/etc/passwd", "a/b/c/d", "https://evil.example/x", "a b",
                                  "", "owner/..", "./local", "C:\\data", "csv", "text", "json", "imdb"])  # fmt: skip
def test_hub_dataset_ids_that_are_paths_are_refused(name):
    from core.catalog import split_hub_dataset
    from core.errors import UnsafeNameError

    with pytest.raises(UnsafeNameError):
        split_hub_dataset(name)


@pytest.mark.parametrize("name", ["core/x", "pages/x", "tests/data"])
def test_a_hub_dataset_id_that_names_a_folder_of_the_server_is_refused(name, monkeypatch):
    """``datasets`` reads a local folder of that name before it asks the Hub: its files would become training rows."""
    from core.catalog import split_hub_dataset
    from core.errors import UnsafeNameError
    from core.settings import PROJECT_ROOT

    monkeypatch.chdir(PROJECT_ROOT)  # where the server runs

    with pytest.raises(UnsafeNameError, match="folder on the server"):
        split_hub_dataset(name)


def test_hub_dataset_ids_are_split_into_repository_and_configuration():
    from core.catalog import split_hub_dataset

    assert split_hub_dataset("stanfordnlp/sst2") == ("stanfordnlp/sst2", None)  # not mangled into ("stanfordnlp", "sst2")
    assert split_hub_dataset("nyu-mll/glue/sst2") == ("nyu-mll/glue", "sst2")


def test_a_recipe_with_a_bad_hub_dataset_is_refused():
    import dataclasses

    from core.errors import CoreError
    from core.training.recipes import get_recipe

    with pytest.raises(CoreError, match="Hub dataset"):
        dataclasses.replace(get_recipe("sentiment-tiny"), key="x", dataset="hub", hub_dataset="..").validated()


def test_hub_rows_without_the_chosen_columns_are_refused_in_words_and_class_numbers_are_named():
    from datasets import ClassLabel, Features, Value

    from core.data.uploads import hub_rows_to_examples
    from core.errors import DataError

    rows = [{"text": "a fine film", "label": 1}, {"text": "a dull film", "label": 0}]
    with pytest.raises(DataError, match="no column 'sentence'; its columns: text, label"):
        hub_rows_to_examples(rows, None, "sentence", "label")  # the box's default column on stanfordnlp/imdb
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    examples, labels = hub_rows_to_examples(rows * 10, features, "text", "label")
    assert [e.label for e in examples[:2]] == ["pos", "neg"] and labels == ("neg", "pos")
    with pytest.raises(DataError, match="at least 20 are needed"):  # the checks an upload gets
        hub_rows_to_examples(rows, features, "text", "label")
    many = [{"text": f"post {i}", "label": f"post {i}"} for i in range(4000)]  # the text column chosen as labels
    with pytest.raises(DataError, match="4000 different values; at most 20"):
        hub_rows_to_examples(many, None, "text", "label")
    with pytest.raises(DataError, match="no class number"):
        hub_rows_to_examples([{"text": "x", "label": 7}], features, "text", "label")
    with pytest.raises(DataError, match="unlabelled rows"):  # -1 would have read as the last class
        hub_rows_to_examples([*rows, {"text": "no label", "label": -1}], features, "text", "label")


def test_a_streamed_dataset_gives_its_first_rows_of_the_chosen_columns_only():
    from datasets import Dataset, IterableDataset

    from core.data.uploads import HUB_CHARACTERS, MAX_HUB_LABEL, MAX_HUB_TEXT, first_rows
    from core.errors import DataError

    stream = Dataset.from_dict({"text": ["short", "x" * (MAX_HUB_TEXT + 50), "third"], "label": [0, 1, 0],
                                "image": [b"\x00" * 1000] * 3}).to_iterable_dataset()  # fmt: skip
    rows = first_rows(stream, "text", "label", limit=2)
    assert [sorted(row) for row in rows] == [["label", "text"]] * 2  # the image column is never held
    assert rows[0]["text"] == "short" and len(rows[1]["text"]) == MAX_HUB_TEXT
    with pytest.raises(DataError, match="no column 'sentence'; its columns: text, label, image"):
        first_rows(stream, "sentence", "label", limit=2)
    # a text column of lists and a text column chosen as the label are cut as they arrive
    odd = Dataset.from_dict({"words": [["w"] * 10_000], "review": ["y" * 5000]}).to_iterable_dataset()
    row = first_rows(odd, "words", "review", limit=1)[0]  # the list's text (50,000 characters) cut, not the list
    assert isinstance(row["words"], str) and row["words"].startswith("['w', ") and len(row["words"]) == MAX_HUB_TEXT
    assert row["review"] == "y" * MAX_HUB_LABEL
    with pytest.raises(DataError, match="two different columns"):
        first_rows(stream, "text", "text", limit=1)
    long = Dataset.from_dict({"text": ["z" * MAX_HUB_TEXT] * 400, "label": [0, 1] * 200}).to_iterable_dataset()
    read = first_rows(long, "text", "label", limit=4000)  # long documents: rows only until 5 M characters
    assert len(read) == HUB_CHARACTERS // MAX_HUB_TEXT and sum(len(row["text"]) for row in read) == HUB_CHARACTERS

    def unknown():  # a stream whose columns nobody declared: a later row lacks the label
        yield {"text": "fine", "label": 1}
        yield {"text": None, "label": 0}
        yield {"text": "fine", "stars": 5}

    undeclared = IterableDataset.from_generator(unknown)
    assert first_rows(undeclared, "text", "label", limit=2) == [{"text": "fine", "label": 1}, {"text": "", "label": 0}]
    with pytest.raises(DataError, match="no column 'label'; its columns: text, stars"):
        first_rows(undeclared, "text", "label", limit=3)


@pytest.mark.timed
def test_a_hub_read_that_takes_too_long_stops_with_a_message(monkeypatch):
    """A Hub that trickles rows (each request within its own timeout) cannot hold a student's page for ever: the
    whole read stops after ``HUB_READ_SECONDS``, saying how far it got."""
    import time

    from datasets import IterableDataset

    from core.data import uploads
    from core.errors import DataError

    def slow():
        for i in range(100):
            time.sleep(0.05)
            yield {"text": f"row {i}", "label": i % 2}

    monkeypatch.setattr(uploads, "HUB_READ_SECONDS", 0.3)
    started = time.monotonic()
    with pytest.raises(DataError, match=r"stopped after 0.3 s with \d+ of its first 100 rows read"):
        uploads.first_rows(IterableDataset.from_generator(slow), "text", "label", limit=100)
    assert time.monotonic() - started < 2  # not the 5 s the 100 rows would take
    assert len(uploads.first_rows(IterableDataset.from_generator(slow), "text", "label", limit=3)) == 3  # done
    # in time, or finished as the limit passes (its last row late), a read is kept
    monkeypatch.setattr(uploads, "HUB_READ_SECONDS", 0.12)
    assert len(uploads.first_rows(IterableDataset.from_generator(slow), "text", "label", limit=3)) == 3


def test_a_hub_checkpoint_over_the_size_cap_is_refused_before_any_download(monkeypatch):
    from transformers import AutoModelForSequenceClassification, BertConfig

    from core.errors import CoreError
    from core.training.prepare import refuse_a_full_disk, refuse_too_big

    big = BertConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
    with pytest.raises(CoreError, match="335 M parameters"):  # BERT-large's size, counted on an empty copy
        refuse_too_big(AutoModelForSequenceClassification, big, "google-bert/bert-large-uncased")
    refuse_too_big(AutoModelForSequenceClassification, BertConfig(), "google-bert/bert-base-uncased")  # 110 M: fine
    with pytest.raises(CoreError, match="far larger"):  # refused before ten million layers are built, even on meta
        refuse_too_big(AutoModelForSequenceClassification, BertConfig(num_hidden_layers=10**7), "crafted/config")
    monkeypatch.setenv("LMLAB_DISK_RESERVE_MB", str(10**12))  # a petabyte kept free: no disk has room for BERT-base
    with pytest.raises(CoreError, match=r"Downloading lmlab-test/never-downloaded \(about 0.4 GB\) would leave"):
        refuse_a_full_disk("lmlab-test/never-downloaded", 440_000_000)  # BERT-base's weights, as the Hub lists them


def test_a_checkpoint_already_downloaded_at_the_revision_loaded_skips_the_disk_check(tmp_path, monkeypatch):
    """A run pins the revision it checked; Hugging Face's cache then holds that snapshot and no "main" pointer."""
    import huggingface_hub

    from core.errors import CoreError
    from core.training.prepare import refuse_a_full_disk

    sha = "a" * 40
    snapshot = tmp_path / "models--lmlab-test--tiny" / "snapshots" / sha
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(b"")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("LMLAB_DISK_RESERVE_MB", str(10**12))
    refuse_a_full_disk("lmlab-test/tiny", 10**9, sha)  # held already: nothing to download
    with pytest.raises(CoreError, match="would leave less than"):
        refuse_a_full_disk("lmlab-test/tiny", 10**9, "b" * 40)  # another revision would be downloaded


def test_a_hub_repository_is_sized_by_the_files_a_load_fetches_before_any_download(monkeypatch):
    from core.errors import CoreError
    from core.training.prepare import fetched_bytes, refuse_big_files

    files = [("model.safetensors", 20_000_000_000), ("config.json", 600), ("tokenizer.json", 700_000),
             ("vocab.txt", 230_000), ("README.md", 9_000), ("onnx/model.onnx", 400_000_000),
             ("pytorch_model.bin", 440_000_000), ("sub/model.safetensors", 5), ("notes.txt", None)]  # fmt: skip
    assert fetched_bytes(files) == (20_000_000_000, 930_600)  # top-level weights, configs and vocabularies only
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # this machine cannot reach the Hub: refused in words, nothing read
    with pytest.raises(CoreError, match="Could not read google-bert/bert-base-uncased's list of files"):
        refuse_big_files("google-bert/bert-base-uncased")


# -- row 13: one malformed model card ---------------------------------------------------------------------------


@pytest.mark.parametrize("content", ['[1, 2]', '{"task": "sentiment", "labels": 5}', '{"task": 7}', "not json",
                                     '{"task": "sentiment", "labels": ["a", {"b": 1}]}', '"text"'])  # fmt: skip
def test_a_malformed_model_card_is_skipped(fresh_cache, content):
    from core import settings

    folder = settings.models_dir() / "broken-run"
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(content)
    assert "broken-run" not in {spec.key for spec in catalog.all_specs()}
    assert catalog.specs_for_task("sentiment")  # the built-in ones are still there


# -- row 14: leftovers, result ids ------------------------------------------------------------------------------


def test_start_up_sweep_removes_what_killed_processes_left(fresh_cache):
    import os

    from core import housekeeping, settings
    from core.training import jobs

    models = settings.models_dir()
    dead = models / ".tmp-some-run-999999999-abcd1234"
    trash = models / ".trash-some-run-abcd1234"
    live = models / f".tmp-other-run-{os.getpid()}-abcd1234"  # this process is alive: still being built
    for folder in (dead, trash, live):
        folder.mkdir(parents=True)
        (folder / "weights").write_bytes(b"x")
        os.utime(folder, (time.time() - 7200, time.time() - 7200))
    old_job = jobs.job_dir("finished-long-ago")
    (old_job / "progress.json").write_text('{"state": "failed"}')
    stray = jobs.job_dir("recent") / ".progress.json.1234.tmp"
    stray.write_text("{")
    for path in (old_job / "progress.json", old_job, stray):
        os.utime(path, (time.time() - 30 * 86400, time.time() - 30 * 86400))
    removed = housekeeping.sweep()
    assert not dead.exists() and not trash.exists() and live.exists()
    assert not old_job.exists() and not stray.exists()
    assert removed["temporary models"] == 2 and removed["job records"] == 1


def test_two_benchmark_runs_in_one_second_keep_both(fresh_cache, monkeypatch):
    from core.bench import run as bench

    result = bench.BenchResult(task="sentiment", dataset="d", labels=["neg", "pos"], texts=["a"], references=[0],
                               rows=[], created_at="2026-11-30T10:00:00+00:00")  # fmt: skip
    first, second = bench.save(result), bench.save(result)
    assert first != second and {first, second} <= set(bench.saved_runs())
    monkeypatch.setenv("LMLAB_MAX_RESULTS", "2")
    third = bench.save(result)
    assert len(bench.saved_runs()) == 2 and third in bench.saved_runs()
    assert bench.load(third).task == "sentiment"


# -- found by the load test: two sessions loading two models at the same moment ---------------------------------


def test_models_load_one_at_a_time(tiny_model, lm_tiny_model, monkeypatch):
    """Concurrent loads are serialised (the load test saw two at once leave weights on the meta device)."""
    from transformers import AutoModelForCausalLM

    from core import loading

    inside, most = [0], [0]
    original = AutoModelForCausalLM.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.2)
        try:
            return original(cls, *args, **kwargs)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", classmethod(counting))
    spec = catalog.get_spec("lm-lee-gpt")
    results: list = []
    run_together(*[lambda: results.append(loading.load_causal_lm(spec))] * 4)
    assert len(results) == 4 and most[0] == 1
    weights = [next(model.parameters()) for _, model in results]
    assert all(w.device.type == "cpu" and bool(w.isfinite().all()) for w in weights)


ROOT = Path(__file__).resolve().parent.parent
LAZY_NAMES = ["AutoModel", "AutoModelForSequenceClassification", "AutoModelForSeq2SeqLM", "AutoModelForCausalLM",
              "AutoTokenizer", "AutoModelForTokenClassification", "pipeline"]  # fmt: skip


def test_first_imports_of_transformers_from_many_sessions_at_once_all_succeed():
    """A fresh server, many students opening pages at once: transformers' lazy names resolve one thread at a time.

    Without the lock, `from transformers import AutoModel` in 14 threads of a fresh interpreter failed in 7 to
    10 of them with ImportError (the classroom load test's first five sessions all got an exception box).
    """
    script = (
        "import threading\n"
        "from core.loading import from_transformers\n"
        f"names = {LAZY_NAMES!r} * 2\n"
        "failed = []\n"
        "def get(name):\n"
        "    try:\n"
        "        assert from_transformers(name) is not None\n"
        "    except Exception as error:\n"
        "        failed.append(repr(error))\n"
        "threads = [threading.Thread(target=get, args=(name,)) for name in names]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print(len(failed), failed[:2])\n"
    )  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("0 "), done.stdout


# Modules that run only in a training child process (one thread at a time) may import transformers directly.
CHILD_PROCESS_ONLY = {"core/loading.py", "core/training/runner.py", "core/training/sequence.py",
                      "core/training/trainer.py", "core/training/tokenizers.py", "core/training/pretrain.py",
                      "core/training/segment.py"}  # fmt: skip


def test_the_server_imports_transformers_only_through_the_lock():
    """Every module a page's thread can reach takes transformers' names through loading.from_transformers (import
    statements, read from the syntax tree: code quoted in a string, like the article's sample, imports nothing)."""
    import ast

    offenders = []
    for folder in ("core", "ui", "pages"):
        for path in (ROOT / folder).rglob("*.py"):
            name = path.relative_to(ROOT).as_posix()
            if name in CHILD_PROCESS_ONLY:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                if any(module == "transformers" or module.startswith("transformers.") for module in modules):
                    offenders.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []


def test_vader_refuses_a_text_whose_emoji_expand_past_its_word_cap():
    """VADER turns each emoji into the words of its name and rereads words around each one: 5,000 emoji took most of a
    minute of the server's CPU. The cap counts those words."""
    from core.errors import InputError
    from core.tasks.sentiment import MAX_VADER_WORDS, VaderSentiment

    vader = VaderSentiment()
    started = time.process_time()  # CPU time of this process: another process's load does not count
    with pytest.raises(InputError, match="at most 1000 words"):
        vader.predict("😸" * 5000)
    assert time.process_time() - started < 1
    assert vader.predict("😸" * (MAX_VADER_WORDS // 6)).label == "positive"
    assert vader.predict("good " * 900).label == "positive"


def test_a_pile_of_combining_marks_is_cut_before_normalising():
    """NFC sorts a run of combining marks, in time quadratic in its length: 20,000 marks took half a second before
    the length check could refuse the text; runs are cut to a few marks first (real scripts stack three or four)."""
    from core.tasks.inputs import MAX_MARKS, clean_text

    started = time.thread_time()  # this thread's own CPU time: another process's load does not count
    cleaned = clean_text("a" + "\u0301" * 10_000 + "\u0316" * 9_999)
    assert time.thread_time() - started < 0.1 and len(cleaned) <= MAX_MARKS + 1
    assert clean_text("Zoe\u0308 and pho\u031b\u0309") == "Zoë and phở"  # ordinary accents compose as before


def test_the_nli_zero_shot_reads_a_capped_text_with_few_labels():
    """The Hub's NLI model (online) runs once per label over the text: at most six labels and 256 tokens."""
    from core import catalog, loading
    from core.errors import InputError
    from core.tasks.zero_shot import NLI_MAX_LABELS, NLI_MAX_TOKENS, nli_text

    tokenizer = loading.load_tokenizer(catalog.MINILM)
    long = "The space shuttle reached orbit. " * 200
    cut = nli_text(tokenizer, long, ["space", "atheism"])
    assert len(tokenizer(cut, add_special_tokens=False)["input_ids"]) <= NLI_MAX_TOKENS + 2 and len(cut) < len(long) / 4
    assert nli_text(tokenizer, "A short text.", ["a", "b"]) == "A short text."
    with pytest.raises(InputError, match="at most 6 labels"):
        nli_text(tokenizer, "A short text.", [f"label {i}" for i in range(NLI_MAX_LABELS + 1)])
