"""Training in less memory: activation checkpointing (the same numbers), a frozen word table (left as it started),
and a training process that hands freed memory back to the system."""

import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

from core import settings
from core.data import uploads
from core.errors import CoreError
from core.training import jobs
from core.training.recipes import Recipe, get_recipe

from conftest import ROOT

ROWS = [f"a lovely charming film {i},good" if i % 2 else f"a dull tedious mess {i},bad" for i in range(40)]
WORDS = "bert.embeddings.word_embeddings.weight"


def _trained(key: str, data_file: str, **options) -> dict:
    recipe = Recipe(key=key, title=key, task="sentiment", dataset="csv", base="scratch", epochs=2, learning_rate=2e-3,
                    batch_size=8, data_file=data_file, validation_fraction=0.0, dropout=0.1, seed=7,
                    scratch={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                             "intermediate_size": 64}, **options)  # fmt: skip
    jobs.run_here(key, recipe=recipe)
    return load_file(settings.models_dir() / key / "model.safetensors")


def test_checkpointing_changes_no_number_and_a_frozen_word_table_stays_as_it_started(fresh_cache, monkeypatch):
    import transformers.modeling_utils as modeling

    from core import catalog
    from core.training.prepare import base_model

    stored = uploads.store(("text,label\n" + "\n".join(ROWS) + "\n").encode())
    recomputed = []  # a layer run under checkpoint: its forward pass runs again in the backward pass
    checkpoint = modeling.checkpoint
    monkeypatch.setattr(modeling, "checkpoint", lambda *a, **k: recomputed.append(1) or checkpoint(*a, **k))
    plain = _trained("plain", stored.data_id)
    assert not recomputed
    checkpointed = _trained("checkpointed", stored.data_id, checkpointing=True)
    assert len(recomputed) >= 2 * 2 * 3  # both layers, in every step of two epochs of at least 3 batches
    # dropout draws the same masks when a layer is computed again, so every weight comes out the same
    assert plain.keys() == checkpointed.keys()
    for name, weights in plain.items():
        torch.testing.assert_close(checkpointed[name], weights, rtol=1e-5, atol=1e-6, msg=name)
    assert catalog.read_metadata("checkpointed")["hyperparameters"]["checkpointing"] is True

    frozen = _trained("frozen", stored.data_id, freeze_word_embeddings=True)
    recipe = Recipe.from_json(catalog.read_metadata("frozen")["recipe"])
    torch.manual_seed(recipe.seed)  # as the run built its random starting point
    _, start = base_model(recipe, ["bad", "good"])
    assert torch.equal(frozen[WORDS], start.state_dict()[WORDS])  # not one step taken on the word table
    assert not torch.equal(frozen[WORDS], plain[WORDS])  # which the plain run did train
    layer = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(frozen[layer], start.state_dict()[layer])  # every other weight trained
    assert catalog.read_metadata("frozen")["hyperparameters"]["freeze_word_embeddings"] is True


def test_a_sequence_model_s_word_table_cannot_be_frozen():
    # a translation model's or a GPT's word table is also its output layer: refused, not silently ignored
    for key in ("translate-en-zh", "lm-lee-gpt"):
        with pytest.raises(CoreError, match="does not use"):
            get_recipe(key).with_overrides({"freeze_word_embeddings": "true"})
    assert get_recipe("translate-en-zh").with_overrides({"checkpointing": "true"}).checkpointing is True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_training_process_hands_a_freed_block_back_to_the_system():
    """glibc by default keeps a freed 8 MB block in its heap once a 16 MB one was freed before it (its mmap threshold
    rises); a run that saves memory, in a training process of its own (``core.training.trainer.return_freed_memory``),
    hands it back, so the next step's activations do not land beside the last step's."""
    script = textwrap.dedent("""
        import ctypes, sys
        from core.training.trainer import return_freed_memory
        if sys.argv[1] == "fixed":
            assert return_freed_memory()
        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        def resident():
            return int(open("/proc/self/statm").read().split()[1]) * 4096
        def touched(size):
            block = libc.malloc(size)
            ctypes.memset(block, 1, size)
            return block
        libc.free(touched(16 << 20))  # raises glibc's default threshold to 16 MB
        block = touched(8 << 20)
        keeper = touched(1 << 10)  # a small block above it keeps the heap from shrinking back
        before = resident()
        libc.free(block)
        print(before - resident())
    """)  # fmt: skip
    handed_back = {}
    for mode in ("default", "fixed"):
        result = subprocess.run([sys.executable, "-c", script, mode], cwd=ROOT, capture_output=True, text=True,
                                timeout=60)  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        handed_back[mode] = int(result.stdout.split()[-1])
    assert handed_back["default"] < 1 << 20  # the 8 MB stay resident
    assert handed_back["fixed"] >= 7 << 20  # they go back to the system


def test_runs_from_before_the_options_existed_still_join_their_curves_and_stored_options_are_checked():
    from core.training.curve import by_labels

    def card(key, used, **extra):
        recipe = {"dataset": "csv", "base": "scratch", "data_file": "a", "epochs": 3.0, **extra}
        return {"key": key, "recipe": recipe, "data": {"labelled_examples_used": used},
                "metrics": {"accuracy": {"value": 0.7, "low": 0.6, "high": 0.8}}}  # fmt: skip

    # a card written before the options existed has no such keys; one written after has them off (or checkpointing
    # on, which changes no number): one learning curve
    older = card("old-200", 200)
    newer = card("new-1000", 1000, checkpointing=True, freeze_word_embeddings=False)
    assert [len(points) for points in by_labels([older, newer]).values()] == [2]
    # a frozen word table is another experiment: no line joins the two
    assert by_labels([older, card("frozen-1000", 1000, freeze_word_embeddings=True)]) == {}
    stored = get_recipe("sentiment-tiny").to_json()
    for name in ("checkpointing", "freeze_word_embeddings", "group_by_length"):
        with pytest.raises(CoreError, match=f"{name} must be true or false"):
            Recipe.from_json({**stored, name: "false"})  # a hand-edited recipe.json: "false" would read as true


def test_the_copyable_training_script_saves_memory_as_the_run_did():
    from core.tasks.article_code import training_script

    script = training_script(get_recipe("sentiment-zh-minilm").to_json())
    compile(script, "train.py", "exec")
    assert "model.get_input_embeddings().weight.requires_grad_(False)" in script
    assert "    activation_checkpointing=True,\n" in script
    plain = training_script(get_recipe("sentiment-minilm").to_json())
    assert "requires_grad_" not in plain and "checkpointing=True" not in plain
