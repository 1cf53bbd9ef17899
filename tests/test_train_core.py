"""Training workflow pieces: CSV validation, augmentation, options, metrics, custom runs, export, the CLI."""

import dataclasses
import json
import os
import random
import subprocess
import sys
import zipfile
from io import BytesIO
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from core import catalog
from core.bench import metrics
from core.data import augment, uploads
from core.data.types import Example
from core.errors import CoreError, DataError
from core.stats import confusion, macro_f1, macro_f1_with_ci, per_class
from core.training import export, jobs
from core.training.evaluation import overfitting
from core.training.export import zip_bytes
from core.training.prepare import hold_out_validation
from core.training.recipes import Recipe, get_recipe
from core.viz import charts

from conftest import ROOT


def _csv(rows, header="text,label") -> bytes:
    return (header + "\n" + "\n".join(rows) + "\n").encode("utf-8")


GOOD = _csv(
    [f"a lovely charming film {i},good" if i % 2 else f"a dull tedious mess {i},bad" for i in range(40)]
)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "empty"),
        ("text,label\ncafé,x\n".encode("cp1252"), "not UTF-8"),
        (b"x" * (uploads.MAX_BYTES + 1), "limit is 5 MB"),
        (b"just one column\nvalue\n", "at least two columns"),
        (b'text,label\n"unclosed,quote\n', "Could not read"),
    ],
)
def test_bad_files_are_refused_on_upload(fresh_cache, raw, message):
    with pytest.raises(DataError, match=message):
        uploads.store(raw)


@pytest.mark.parametrize(
    "raw, columns, message",
    [
        (GOOD, ("review", "label"), "not found"),
        (GOOD, ("text", "text"), "two different columns"),
        (_csv([f"t{i},same" for i in range(30)]), ("text", "label"), "at least two classes"),
        (_csv([f"t{i},{i % 2}" for i in range(10)]), ("text", "label"), "at least 20 are needed"),
        (_csv([f"t{i},{i}" for i in range(30)]), ("text", "label"), "at most 20 classes"),
        (_csv([f"t{i},{'a' if i < 28 else 'b'}" for i in range(30)]), ("text", "label"), "fewer than 4 rows"),
        (_csv([f",{i % 2}" for i in range(30)]), ("text", "label"), "have both a text and a label"),
    ],
)
def test_bad_data_gets_a_clear_message(fresh_cache, raw, columns, message):
    stored = uploads.store(raw)
    with pytest.raises(DataError, match=message):
        uploads.load(stored.data_id, *columns)


def test_good_csv_and_split(fresh_cache):
    stored = uploads.store(GOOD)
    assert stored.columns == ["text", "label"] and stored.rows == 40
    examples, labels = uploads.load(stored.data_id, "text", "label")
    split = uploads.stratified_split(examples, labels, seed=1, name="toy")
    assert len(split.test) == 10 and {e.label for e in split.test} == {"bad", "good"}
    with pytest.raises(DataError, match="Unknown dataset id"):
        uploads.load("../../etc/passwd", "text", "label")


def test_augmentation_and_validation_hold_out():
    rng = random.Random(0)
    assert augment.word_dropout("a b c d e f g h", 0.5, rng) != "a b c d e f g h"
    swapped = augment.word_swap("one two three four", 0.25, random.Random(1))
    assert sorted(swapped.split()) == sorted(["one", "two", "three", "four"])
    examples = [Example(f"text {i}", "x" if i % 2 else "y") for i in range(40)]
    assert len(augment.augmented(examples, "word-swap", 0.1, 0)) == 80
    kept, held = hold_out_validation(examples, 0.15, 0)
    assert len(held) == 6 and {e.label for e in held} == {"x", "y"} and not set(kept) & set(held)


def test_a_run_spends_a_sample_of_the_labels_that_keeps_each_label_s_share_and_grows_by_adding():
    from core.training.prepare import sample_indices, training_part

    labels = ["pos"] * 700 + ["neg"] * 300
    random.Random(3).shuffle(labels)
    assert sample_indices(labels, 0, 42) == list(range(1000)) == sample_indices(labels, 5000, 42)
    smaller: set[int] = set()
    for n in (1, 2, 7, 10, 99, 250, 999):
        chosen = sample_indices(labels, n, 42)
        assert len(chosen) == len(set(chosen)) == n and chosen == sample_indices(labels, n, 42)
        positives = sum(labels[i] == "pos" for i in chosen)
        assert abs(positives - 0.7 * n) <= 1  # each label's share to within one example
        assert smaller <= set(chosen)  # a larger sample adds to a smaller one
        smaller = set(chosen)
    assert set(sample_indices(labels, 250, 7)) != set(sample_indices(labels, 250, 42))  # the seed draws it
    skewed = ["big"] * 375 + [f"small {k}" for k in range(19) for _ in range(3)]  # 20 classes, one of them large
    random.Random(5).shuffle(skewed)
    for n in (19, 50, 200, 369):
        chosen = sample_indices(skewed, n, 0)
        for label in set(skewed):  # every label within one example of its share, at every size
            assert abs(sum(skewed[i] == label for i in chosen) - n * skewed.count(label) / len(skewed)) < 1
    examples = [Example(f"text {i}", label) for i, label in enumerate(labels)]
    recipe = {"examples": 200, "validation_fraction": 0.15, "seed": 42}  # a model card's recipe
    positions, kept, held = training_part(examples, recipe)
    assert len(positions) == 200 and len(kept) == 170 and len(held) == 30
    assert {e.text for e in kept + held} == {examples[i].text for i in positions}


def test_runs_become_learning_curves_by_data_and_starting_point():
    from core.training.curve import by_labels

    def run(key, used, value, **recipe):
        recipe = {"dataset": "csv", "base": "scratch", "data_file": "a", **recipe}
        return {"key": key, "recipe": recipe, "data": {"labelled_examples_used": used},
                "metrics": {"accuracy": {"value": value, "low": value - 0.1, "high": value + 0.1}}}

    cards = [run("a-1000", 1000, 0.8), run("a-200", 200, 0.6), run("b-200", 200, 0.5, data_file="b"),
             run("b-900", 900, 0.7, data_file="b"), run("lone", 300, 0.9, base="minilm-l6"),
             {"key": "broken", "recipe": "not a recipe", "data": {}}]  # fmt: skip
    curves = by_labels(cards)
    # two uploads, each a line of its own named by base and dataset key (never the file's name), numbered apart;
    # a run alone on its data and base draws no line
    assert list(curves) == ["scratch · csv", "scratch · csv (2)"]
    assert [(size, run) for size, _, (run, *_) in curves["scratch · csv"]] == [(200, "a-200"), (1000, "a-1000")]
    # a run with other settings (the learning rate) is a line of its own, whatever the order of its recipe's keys
    other = [run("c-200", 200, 0.7, learning_rate=0.1), run("c-900", 900, 0.75, learning_rate=0.1)]
    same = [{**card, "recipe": dict(reversed(list(card["recipe"].items())))} for card in cards[:2]]
    assert len(by_labels(cards + other)) == 3 and list(by_labels(same)) == ["scratch · csv"]
    figure = charts.learning_curves({name: [(size, found, run) for size, found, (run, *_) in points]
                                     for name, points in curves.items()})  # fmt: skip
    assert [list(trace.x) for trace in figure.data if trace.mode == "markers"] == [[200, 1000], [200, 900]]
    assert figure.layout.xaxis.type == "log"
    # two runs of one size are two points, and the line runs through their mean rather than zigzagging between them
    again = by_labels(cards + [run("a-200-again", 200, 0.7)])["scratch · csv"]
    figure = charts.learning_curves({"a": [(size, found, run) for size, found, (run, *_) in again]})
    points, line = figure.data
    assert list(points.x) == [200, 200, 1000] and list(line.x) == [200, 1000]
    assert list(line.y) == pytest.approx([0.65, 0.8]) and points.legendgroup == line.legendgroup


def test_the_learning_curve_s_run_names_are_kept_for_its_own_runs():
    from core.errors import JobError
    from core.training import curve, ownership

    mine = curve.recipe_for("sentiment-zh-bert", 250, 250)
    assert ownership.custom_recipe(mine) == mine  # the curve's own run, under its name
    assert ownership.custom_recipe(curve.recipe_for("sentiment-zh-scratch", 1000, 600, 3e-4)).epochs == 20
    lookalike = Recipe(key="sentiment-zh-scratch-n250", title="mine", task="sentiment-zh", dataset="reviews-zh",
                       base="scratch", epochs=3, learning_rate=1e-3, batch_size=16)  # fmt: skip
    for recipe in (lookalike, dataclasses.replace(mine, learning_rate=0.1)):
        with pytest.raises(JobError, match="name of a built-in model"):
            ownership.custom_recipe(recipe)
    assert not curve.reserved("sentiment-zh-bert-n0") and curve.reserved("sentiment-zh-bert-n250-lr0.0003")
    odd_rate = curve.recipe_for("sentiment-zh-bert", 250, 250, 1.2345678e-4)  # a name that rounds its rate
    assert ownership.custom_recipe(odd_rate) == odd_rate
    assert ownership.builtin("sentiment-zh-bert") and not ownership.builtin("sentiment-zh-bert-n250")  # deletable


def test_the_preview_and_the_privacy_page_read_the_sample_the_run_spends(fresh_cache):
    from core.training import privacy
    from core.training.preview import data_preview

    fields = {"dataset": "polarity", "max_length": 32, "validation_fraction": 0.1, "seed": 42}
    whole, sampled = data_preview(fields), data_preview({**fields, "examples": 60})
    assert sum(whole["balance"]["train"]) + sum(whole["balance"]["validation"]) == whole["available"]
    assert sum(sampled["balance"]["train"]) == 54 and sum(sampled["balance"]["validation"]) == 6
    assert len(sampled["lengths"]) == 60 and sampled["available"] == whole["available"] > 60
    assert sampled["balance"]["test"] == whole["balance"]["test"]  # the held-out split never changes
    recipe = get_recipe("sentiment-tiny").with_overrides({"examples": 60, "validation_fraction": 0.1})
    card = {"key": "tiny-60", "recipe": recipe.to_json(), "task": "sentiment"}
    catalog_dir = catalog.cache_entry_dir("tiny-60")
    catalog_dir.mkdir(parents=True)
    (catalog_dir / "metadata.json").write_text(json.dumps(card))
    members, _ = privacy.classifier_texts(SimpleNamespace(key="tiny-60", title="a run on 60 labels"))
    assert len(members) == 54  # the texts it trained on: the sample less its validation share


def test_a_large_training_set_is_encoded_a_chunk_at_a_time_and_padded_to_a_few_lengths(monkeypatch):
    from core.loading import load_tokenizer
    from core.training import prepare, runner, token_rows
    from core.training.token_rows import count_tokens

    monkeypatch.setattr(token_rows, "CHUNK", 7)
    tokenizer = load_tokenizer(catalog.MINILM)
    examples = [Example(text="good " * (i % 13) + f"film {i}", label="pos" if i % 2 else "neg") for i in range(30)]
    recipe = Recipe(key="t", title="t", task="sentiment", dataset="csv", base="minilm-l6", epochs=1, learning_rate=1e-4,
                    batch_size=4, max_length=12)  # fmt: skip
    whole = tokenizer([e.text for e in examples], truncation=True, max_length=12)
    rows = prepare.encode(tokenizer, examples, {"neg": 0, "pos": 1}, recipe)
    assert [r["input_ids"] for r in rows] == whole["input_ids"] and [r["labels"] for r in rows] == [i % 2 for i in range(30)]
    texts = [e.text for e in examples] * 2  # several chunks
    assert count_tokens(tokenizer, texts) == [len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]]
    assert runner.pad_multiple(150, 64) is None and runner.pad_multiple(15_358, 128) == runner.PAD_MULTIPLE
    assert runner.pad_multiple(15_358, 200) is None  # never past a length that is not a multiple


def test_recipe_options_are_typed_and_checked():
    recipe = get_recipe("sentiment-tiny").with_overrides(
        {"group_by_length": "false", "patience": "3", "dropout": "none"}
    )
    assert recipe.group_by_length is False and recipe.patience == 3 and recipe.dropout is None
    for bad in ({"epochs": "0"}, {"augment": "shuffle"}, {"learning_rate": "2"}, {"batch_size": "x"}):
        with pytest.raises(CoreError):
            get_recipe("sentiment-tiny").with_overrides(bad)
    assert Recipe.from_json(recipe.to_json()) == recipe


def test_f1_module_confusion_and_bootstrap_against_references():
    rng = np.random.default_rng(3)
    references = rng.integers(0, 3, 200).tolist()
    predictions = [r if rng.random() < 0.7 else int(rng.integers(0, 3)) for r in references]
    ours = metrics.load("f1").compute(predictions=predictions, references=references)["f1"]
    assert ours == pytest.approx(f1_score(references, predictions, average="macro"))
    assert macro_f1(predictions, references, 3) == pytest.approx(ours)
    matrix = confusion(predictions, references, 3)
    assert (matrix == confusion_matrix(references, predictions, labels=[0, 1, 2])).all()
    precision, recall, f1, support = precision_recall_fscore_support(
        references, predictions, labels=[0, 1, 2]
    )
    rows = per_class(matrix)
    assert [r["precision"] for r in rows] == pytest.approx(precision.tolist())
    assert [r["recall"] for r in rows] == pytest.approx(recall.tolist())
    estimate = macro_f1_with_ci(predictions, references, 3, n_resamples=4000, seed=1)
    theirs = scipy_stats.bootstrap(
        (np.array(predictions), np.array(references)),
        lambda p, r: f1_score(r, p, average="macro"),
        paired=True, vectorized=False, n_resamples=1000, method="percentile", random_state=2,
    ).confidence_interval  # fmt: skip
    assert estimate.low == pytest.approx(theirs.low, abs=0.02) and estimate.high == pytest.approx(
        theirs.high, abs=0.02
    )


def test_overfitting_flag():
    rising = [{"epoch": e, "eval_loss": loss} for e, loss in [(1, 0.6), (2, 0.5), (3, 0.55), (4, 0.7)]]
    assert overfitting(rising) == {"best_epoch": 2, "best_eval_loss": 0.5, "last_eval_loss": 0.7}
    falling = [{"epoch": e, "eval_loss": 1 / e} for e in (1, 2, 3, 4)]
    assert overfitting(falling) is None


# Labels that do not depend on the text: the model can only memorise, so validation loss must rise.
NOISE = _csv([f"{' '.join(random.Random(i).choices(['red', 'blue', 'cat', 'dog', 'sun', 'rain'], k=6))},"
              f"{'good' if random.Random(1000 + i).random() < 0.5 else 'bad'}" for i in range(40)])  # fmt: skip


def test_custom_run_with_early_stopping_and_export(fresh_cache, monkeypatch):
    stored = uploads.store(NOISE)
    recipe = Recipe(key="toy-csv", title="toy", task="sentiment", dataset="csv", base="scratch", epochs=30,
                    learning_rate=2e-3, batch_size=8, data_file=stored.data_id, patience=1, validation_fraction=0.2,
                    augment="word-dropout", scratch={"hidden_size": 32, "num_hidden_layers": 1,
                                                     "num_attention_heads": 2, "intermediate_size": 64})  # fmt: skip
    jobs.run_here("toy-csv", recipe=recipe)
    meta = catalog.read_metadata("toy-csv")
    assert meta["stopped_early"] and meta["epochs_run"] < 30
    assert {"accuracy", "macro_f1"} <= set(meta["metrics"]) and len(meta["confusion"]) == 2
    assert meta["eval_curve"] and meta["data"]["validation_size"] >= 5
    assert meta["data"]["train_size_after_augmentation"] == 2 * (40 - 10 - meta["data"]["validation_size"])
    assert catalog.get_spec("toy-csv").task == "sentiment"  # offered on the Sentiment page
    archive = zipfile.ZipFile(BytesIO(zip_bytes("toy-csv")))
    names = archive.namelist()
    assert "toy-csv/model.safetensors" in names and "toy-csv/README.md" in names
    assert "macro_f1" in archive.read("toy-csv/README.md").decode()
    weights = archive.getinfo("toy-csv/model.safetensors")  # stored as it is, dated 1980: the same model, same bytes
    assert weights.compress_type == zipfile.ZIP_STORED and weights.date_time == (1980, 1, 1, 0, 0, 0)
    assert archive.read(weights) == (catalog.cache_entry_dir("toy-csv") / "model.safetensors").read_bytes()
    assert archive.getinfo("toy-csv/config.json").compress_type == zipfile.ZIP_DEFLATED
    assert zip_bytes("toy-csv") is zip_bytes("toy-csv")  # a second click builds nothing
    card = catalog.cache_entry_dir("toy-csv") / "metadata.json"
    card.write_text(card.read_text(encoding="utf-8").replace('"title": "', '"title": "Renamed '), encoding="utf-8")
    again = zipfile.ZipFile(BytesIO(zip_bytes("toy-csv")))  # a changed model is zipped again
    assert again.read("toy-csv/README.md").decode().startswith("# Renamed")
    monkeypatch.setattr(export, "KEEP_BYTES", 1000)  # a zip over the cap is built for each click, never kept
    export._LAST.clear()
    big = zip_bytes("toy-csv")
    assert big == zip_bytes("toy-csv") and big is not zip_bytes("toy-csv") and not export._LAST
    with pytest.raises(CoreError, match="built-in model"):
        jobs.start("vader", recipe=Recipe(key="vader", title="x", task="sentiment", dataset="polarity",
                                          base="scratch", epochs=1, learning_rate=1e-3, batch_size=8))  # fmt: skip


def test_cli_new_run_from_a_csv(fresh_cache, tmp_path, capsys):
    path = tmp_path / "reviews.csv"
    path.write_bytes(GOOD.replace(b"text,label", b"review,stars"))
    result = subprocess.run(
        [sys.executable, "-m", "core.train", "--name", "cli-reviews", "--dataset", "csv", "--csv", str(path),
         "--text-column", "review", "--label-column", "stars", "--task", "sentiment", "--base", "scratch",
         "--set", "epochs=2", "--set", "validation_fraction=0.2", "--set", "examples=20"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["model"] == "cli-reviews"
    meta = catalog.read_metadata("cli-reviews")
    assert meta["data"]["dataset"].startswith("uploaded CSV") and meta["hyperparameters"]["epochs"] == 2
    # 20 of the training split's labelled rows spent, 4 of them (20 %) held back for validation
    assert meta["data"]["train_size"] > 20 and meta["data"]["labelled_examples_used"] == 20
    assert meta["data"]["validation_size"] == 4 and meta["hyperparameters"]["examples"] == 20
    from core import train

    capsys.readouterr()
    assert train.main(["--name", "x-run", "--dataset", "csv"]) == 2 and "--csv FILE" in capsys.readouterr().err


def test_torchrun_two_processes_publish_one_model(fresh_cache):
    """The multi-GPU path, on the CPU: two ranks (gloo) train together; only rank 0 writes the cache entry."""
    import shutil

    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    result = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "-m", "core.train", "--name", "ddp-run", "--dataset", "polarity",
         "--base", "scratch", "--set", "epochs=1", "--set", "validation_fraction=0.1"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count('"model": "ddp-run"') == 1  # one report, from rank 0
    meta = catalog.read_metadata("ddp-run")
    assert meta is not None and meta["data"]["validation_size"] > 0


def test_a_batch_too_big_for_one_pass_on_the_cpu_runs_as_parts_whose_gradients_add_up(fresh_cache):
    """A student's 64 × 512 tokens in one pass took MiniLM past 11 GB (32 × 512 did); a new run's batch goes in parts of
    at most ``step_tokens`` tokens, and gradient accumulation keeps the training the same: the same steps and, with
    no dropout and the texts in the same order, the same losses."""
    from core.training.trainer import passes

    def parts(batch, length, tokens=2048, on_cpu=True):
        recipe = Recipe("k", "t", "sentiment", "polarity", "scratch", 1, 1e-3, batch, max_length=length, step_tokens=tokens)
        return passes(recipe, on_cpu)

    assert parts(16, 128) == (16, 1, 64)  # the default batch at the longest default length: one pass
    assert parts(64, 512) == (4, 16, 16) and parts(48, 512) == (4, 12, 16) and parts(7, 512) == (1, 7, 16)
    assert parts(64, 512, on_cpu=False) == (64, 1, 64) and parts(64, 512, tokens=0) == (64, 1, 64)
    assert get_recipe("topic-minilm").step_tokens == 0  # the built-in recipes train as measured
    curves = []
    for tokens in (0, 128):  # one pass of 8 × 64, then four passes of 2 × 64 per step
        jobs.run_here("sentiment-tiny", {"batch_size": 8, "max_length": 64, "step_tokens": tokens, "dropout": 0.0,
                                         "group_by_length": False, "epochs": 1, "examples": 120})  # fmt: skip
        card = catalog.read_metadata("sentiment-tiny")
        assert card["recipe"]["step_tokens"] == tokens
        curves.append([(point["step"], point["loss"]) for point in card["loss_curve"]])
    (steps, losses), (parted_steps, parted_losses) = (list(zip(*curve, strict=True)) for curve in curves)
    assert steps == parted_steps and len(steps) >= 10
    assert np.allclose(losses, parted_losses, rtol=1e-3), (losses, parted_losses)
    from core.tasks.article_code import training_script

    script = fresh_cache / "train_again.py"  # the page's copyable code trains it in parts too, step for step
    script.write_text(training_script(card.recipe, card.get("precision", "fp32"), card.get("device", "cpu")), encoding="utf-8")
    assert "gradient_accumulation_steps=accumulate" in script.read_text(encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=fresh_cache, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    accuracy = float(done.stdout.split("held-out accuracy:")[1].split()[0])
    assert accuracy == pytest.approx(card.metrics["accuracy"]["value"], abs=1e-9)
