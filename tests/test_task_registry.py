"""One task registry: a new classification task is one module, and everything else finds it there.

The toy task "length parity" (is the number of words even or odd?) is written in a module of its own,
outside the project, and named in LMLAB_TASKS. With no other edit it trains from the command line,
benchmarks in the classifier table, and appears in the Train page's datasets, the Evaluate page's
tasks and its model choices.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from core.tasks import base

from conftest import ROOT, open_page

TOY_MODULE = textwrap.dedent(
    '''
    """Length parity: is the number of words even or odd? A toy task in one module."""
    import random

    from core.data.types import Example, stratified
    from core.tasks.base import ACCURACY, CLASSIFICATION, Task, register

    WORDS = "red green blue cat dog bird runs sleeps sings under over near".split()


    def split():
        rng = random.Random(5)
        examples = []
        for _ in range(160):
            words = [rng.choice(WORDS) for _ in range(rng.randint(3, 12))]
            examples.append(Example(" ".join(words), "even" if len(words) % 2 == 0 else "odd"))
        return stratified(examples, ("even", "odd"), test_size=40, seed=7, dataset="length parity"), ["even", "odd"]


    register(Task("length-parity", "length parity", CLASSIFICATION, ACCURACY,
                  datasets={"length-parity": "Generated word strings: even or odd length"},
                  splits={"length-parity": split}))
    '''
)


@pytest.fixture
def toy_task(tmp_path, monkeypatch):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "lmlab_length_parity.py").write_text(TOY_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("LMLAB_TASKS", "lmlab_length_parity")
    monkeypatch.setenv("LMLAB_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), str(ROOT)]))
    yield folder
    base._registered.pop("length-parity", None)


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, LMLAB_OFFLINE="1"))  # fmt: skip


def test_a_task_in_one_module_trains_benchmarks_and_is_offered_everywhere(toy_task):
    assert "length-parity" in base.tasks() and base.task_for_dataset("length-parity").name == "length-parity"

    trained = _run("core.train", "--name", "parity-run", "--dataset", "length-parity", "--base", "scratch",
                   "--set", "epochs=2", "--set", "patience=0")  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    summary = json.loads(trained.stdout[trained.stdout.index("{") :])
    assert summary["task"] == "length-parity" and 0 <= summary["accuracy"]["value"] <= 1
    assert summary["accuracy"]["n"] == 40 and "accuracy" in summary["held_out"]

    benched = _run("core.bench", "--task", "length-parity", "--models", "parity-run,baseline:majority",
                   "--baseline", "baseline:majority", "--repeats", "5")  # fmt: skip
    assert benched.returncode == 0, benched.stderr[-2000:]
    assert "parity-run" in benched.stdout and "baseline:majority" in benched.stdout
    assert "accuracy" in benched.stdout.splitlines()[0]  # the classifier table's columns

    train_page = open_page("pages/train.py")
    assert "Generated word strings: even or odd length" in train_page.radio(key="train-dataset").options
    evaluate_page = open_page("pages/evaluate.py")
    task_box = evaluate_page.selectbox(key="bench-task")
    assert "length parity" in task_box.options  # shown by its title
    task_box.set_value("length-parity").run()
    assert not evaluate_page.exception
    assert "parity-run" in evaluate_page.multiselect(key="bench-models-length-parity").options


def test_a_task_module_that_fails_is_named_and_the_rest_carries_on(tmp_path, monkeypatch):
    (tmp_path / "lmlab_broken_task.py").write_text("raise RuntimeError('typo in the plug-in')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LMLAB_TASKS", "no_such_task_module, lmlab_broken_task")
    assert "sentiment" in base.tasks()  # LM Lab's own tasks still work: one bad plug-in takes no page down
    errors = base.load_errors()
    assert len(errors) == 2 and "no_such_task_module" in errors[0] and "typo in the plug-in" in errors[1]
    home = open_page("pages/home.py")
    assert any("typo in the plug-in" in e.value for e in home.error)
    monkeypatch.setenv("LMLAB_TASKS", "")
    assert base.load_errors() == []


def test_every_task_the_app_knows_is_registered_with_what_its_pages_need():
    found = base.tasks()
    assert list(found)[:5] == ["sentiment", "topic", "translation", "srl", "generation"]
    for task in found.values():
        assert task.metric.key and task.family in (base.CLASSIFICATION, base.SEQUENCE)
        if task.family == base.CLASSIFICATION:
            split, labels = task.held_out()
            assert split.test and set(labels) >= {example.label for example in split.test}
    assert base.get_task("translation").headline({"chrf": {"value": 96.6, "low": 95.5, "high": 97.7, "n": 400},
                                                  "bleu": {"value": 97.1}}).startswith("chrF 96.6 (95 % CI 95.5–97.7)")  # fmt: skip
    assert base.get_task("sentiment").headline({}) == ""  # no measurement, no words
    with pytest.raises(base.CoreError, match="Unknown task"):
        base.get_task("astrology")


def test_every_task_names_the_code_that_trains_scores_and_serves_it():
    from core.bench.scoring import Scoring
    from core.training.recipes import Recipe

    for task in base.tasks().values():
        assert callable(task.hook("trainer"))
        assert isinstance(task.hook("scorer"), Scoring)  # every task: one benchmark loop
        if task.family == base.SEQUENCE:
            assert isinstance(task.hook("predictor"), type)
        if task.hub_recipe:
            recipe = task.hook("hub_recipe")(key="from-the-hub")
            assert isinstance(recipe, Recipe) and recipe.task == task.name and recipe.dataset == "hub"
    assert base.get_task("topic").baselines == base.CLASSIFIER_BASELINES  # the family's default
    assert "baseline:zero-shot" in base.get_task("sentiment").baselines  # its template speaks of reviews
    with pytest.raises(base.CoreError, match="names no hub_recipe"):
        base.get_task("sentiment").hook("hub_recipe")
    with pytest.raises(base.CoreError, match="names nothing"):
        base.resolve("core.tasks.base:no_such_thing")
    with pytest.raises(base.CoreError, match="names its trainer, scorer and predictor"):
        base.register(base.Task("half-done", "half done", base.SEQUENCE, base.ACCURACY))


def test_no_code_outside_the_registry_dispatches_on_a_task_name():
    """A task's name compared as a bare string is a place the next task would have to edit."""
    import re

    own = "|".join(base.names()[:5])
    pattern = re.compile(rf"""[=!]=\s*["']({own})["']|["']({own})["']\s*[=!]=|["']({own})["']\s*:\s*_""")
    found = []
    for folder in ("core", "ui", "pages"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "base.py" and path.parent.name == "tasks":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_one_table_for_every_task_disagreements_for_outputs_and_old_runs_still_load(fresh_cache):
    from core.bench.run import BenchResult, load, save

    translated = BenchResult("translation", "generated", [], ["a", "b"], ["甲", "乙"], [],
                             predictions={"x": ["甲", "丙"], "y": ["甲", "乙"]})  # fmt: skip
    assert translated.disagreements() == [{"index": 1, "text": "b", "truth": "乙", "x": "丙", "y": "乙"}]
    per_frame = BenchResult("srl", "generated", [], ["one sentence"], ["B-ARG0 O", "O B-ARG1"], [],
                            predictions={"x": ["B-ARG0 O", "O O"], "y": ["O O", "O B-ARG1"]})  # fmt: skip
    assert per_frame.disagreements() == []  # outputs per frame, not per text: nothing to line up
    named_like_a_column = BenchResult("translation", "generated", [], ["a"], ["甲"], [],
                                      predictions={"truth": ["乙"], "y": ["甲"]})  # fmt: skip
    assert named_like_a_column.disagreements() == [{"index": 0, "text": "a", "truth": "甲", "truth (model)": "乙",
                                                    "y": "甲"}]  # fmt: skip

    old_row = {"model": "vader", "accuracy": 0.5, "accuracy_low": 0.4, "accuracy_high": 0.6, "n": 50}
    run_id = save(BenchResult("sentiment", "polarity", ["negative", "positive"], ["t"], [0], [old_row]))
    row = load(run_id).rows[0]
    assert (row["metric"], row["value"], row["low"], row["high"]) == ("accuracy", 0.5, 0.4, 0.6)
    assert row == dict(row) and "extras" not in row  # a typed Row reads like the JSON it was saved as
    (fresh_cache / "bench" / "broken.json").write_text('{"task": "x", "rows": [], "created_at": 5}', encoding="utf-8")
    with pytest.raises(base.CoreError, match="damaged"):
        load("broken")
    from core.bench.run import run

    with pytest.raises(base.CoreError, match="once"):
        run("sentiment", ["vader", "vader"])


def test_the_command_line_names_the_datasets_it_knows(fresh_cache, capsys):
    from core import train

    assert train.main(["--name", "typo-run", "--dataset", "polarty"]) == 2
    error = capsys.readouterr().err
    assert "Unknown dataset 'polarty'" in error and "polarity" in error and "newsgroups" in error


def test_an_option_a_task_does_not_use_is_refused_not_ignored():
    from core.training.recipes import get_recipe

    translation = get_recipe("translate-en-zh")
    with pytest.raises(base.CoreError, match="does not use"):
        translation.with_overrides({"patience": 2})  # no validation share, no early stopping for seq2seq
    assert "patience" not in translation.hyperparameters()  # and its model card does not claim one
    assert translation.with_overrides({"examples": 500}).examples == 500
    tiny = get_recipe("sentiment-tiny").with_overrides({"examples": 10})  # a classifier spends 10 of its labels
    assert tiny.examples == 10 and tiny.hyperparameters()["examples"] == 10
