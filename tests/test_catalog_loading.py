"""Catalog entries, name validation, and refusing weights whose sha256 does not match."""

import dataclasses
import json
import shutil

import pytest

from core import catalog, loading
from core.errors import CoreError, IntegrityError, ModelUnavailableError, UnknownModelError, UnsafeNameError
from core.messages import Message


def test_catalog_has_the_three_sentiment_sources():
    sources = {spec.source for spec in catalog.specs_for_task("sentiment")}
    assert sources == {catalog.PACKAGED, catalog.TRAINED, catalog.HUB}
    for spec in catalog.all_specs():
        assert spec.license and spec.description
        if spec.source == catalog.PACKAGED and spec.kind == "transformers":
            assert spec.sha256 and len(spec.sha256) == 64


@pytest.mark.parametrize("bad", ["../etc", "..", "/abs", "a/b", "Upper", "", "x" * 65, "name\x00", ".hidden"])
def test_unsafe_keys_are_refused(bad):
    with pytest.raises(UnsafeNameError):
        catalog.validate_key(bad)
    with pytest.raises(UnsafeNameError):
        catalog.cache_entry_dir(bad)


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "https://evil.example/x", "owner/../x", "/root/x", "a", "a/b/c"]
)
def test_unsafe_hub_ids_are_refused(bad):
    with pytest.raises(UnsafeNameError):
        catalog.validate_hub_id(bad)


def test_a_huge_refused_name_is_quoted_short_and_a_recipe_checks_its_hub_id():
    """A megabyte pasted as a run's name or Hub id: refused with its first 80 characters quoted, before any job."""
    from core.training.recipes import Recipe

    huge = "\u200b*" * 500_000
    for check in (catalog.validate_key, catalog.validate_hub_id):
        with pytest.raises(UnsafeNameError) as refused:
            check(huge)
        assert len(str(refused.value)) < 1000 and "…" in str(refused.value)  # 80 characters, escaped
    recipe = Recipe(key="mine", title="mine", task="sentiment", dataset="polarity", base="hub", hub_model=huge,
                    epochs=1, learning_rate=1e-4, batch_size=8)
    with pytest.raises(CoreError, match="is not of the form 'owner/name'") as refused:
        recipe.validated()
    assert len(str(refused.value)) < 1000 and refused.value.args[0].template.startswith("Hub model id {name}")
    assert dataclasses.replace(recipe, hub_model="owner/name").validated().hub_model == "owner/name"


def test_a_job_s_end_keeps_at_most_a_few_thousand_characters_of_what_failed(fresh_cache):
    from core.training import jobs
    writer = jobs.ProgressWriter("toy")
    writer.finish("failed", "Training failed." + "x" * 10**6, error="y" * 10**6,
                  said=jobs.said(CoreError(Message("Bad {name}.", name="z" * 10**6))))  # fmt: skip
    kept = json.loads((jobs.job_dir("toy") / "progress.json").read_text(encoding="utf-8"))
    assert len(kept["message"]) == len(kept["error"]) == len(kept["error_message"]["args"]["name"]) == 2000
    assert kept["state"] == "failed" and kept["message"].startswith("Training failed.")


def test_unknown_model_lists_choices():
    with pytest.raises(UnknownModelError, match="choose one of"):
        catalog.get_spec("../../etc/passwd")


def test_a_cache_entry_is_found_by_its_card_and_a_link_out_of_the_cache_is_refused(fresh_cache, tmp_path):
    from core import cards

    assert catalog.get_spec("sentiment-minilm") is catalog.get_spec("sentiment-minilm")  # built in: no cache read
    entry = catalog.cache_entry_dir("my-run")
    with pytest.raises(UnknownModelError, match="my-run"):
        catalog.get_spec("my-run")  # no folder yet
    entry.mkdir()
    cards.write(entry, {"task": "sentiment", "title": "My run", "labels": ["negative", "positive"]})
    assert catalog.get_spec("my-run").title == "My run"
    assert "my-run" in [spec.key for spec in catalog.all_specs()]  # the same entries either way
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (catalog.settings.models_dir() / "linked").symlink_to(outside)
    with pytest.raises(UnsafeNameError, match="outside the model cache"):
        catalog.cache_entry_dir("linked")


def test_hub_model_greyed_out_offline():
    state = catalog.availability(catalog.SST2_DISTILBERT, online=False)
    assert not state.ready and "internet" in state.reason
    assert catalog.availability(catalog.SST2_DISTILBERT, online=True).ready
    with pytest.raises(ModelUnavailableError, match="needs internet"):
        loading.model_source(catalog.SST2_DISTILBERT)


def test_packaged_minilm_verifies_and_loads():
    path = loading.local_dir(catalog.MINILM)
    assert (path / "model.safetensors").stat().st_size == catalog.MINILM.size_bytes
    tokenizer, model = loading.load_encoder(catalog.MINILM)
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    assert loading.token_limit(tokenizer, model) == 512


def test_tampered_packaged_weights_are_refused(tmp_path, monkeypatch):
    original = catalog.package_path(catalog.MINILM.location)
    copy = tmp_path / "model"
    shutil.copytree(original, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte deep inside a tensor
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(catalog, "package_path", lambda location: copy)
    with pytest.raises(IntegrityError, match="Refusing to load"):
        loading.load_encoder(catalog.MINILM)


def test_tampered_trained_weights_are_refused(tiny_model):
    spec = catalog.get_spec("sentiment-tiny")
    loading.local_dir(spec)  # intact: passes
    weights = tiny_model / "model.safetensors"
    original = weights.read_bytes()
    try:
        weights.write_bytes(original[:-8] + b"tampered")
        with pytest.raises(IntegrityError):
            loading.load_classifier(spec)
    finally:
        weights.write_bytes(original)
    loading.local_dir(spec)


def test_a_damaged_tokenizer_or_config_is_said_in_words_on_the_page(tiny_model, fresh_cache, clear_streamlit_caches):
    """A cache entry whose tokenizer.json or config.json no longer parses (a hand edit, a disk error): the weights'
    hash still matches, but loading says what failed, and the page shows it as a message, not a traceback."""
    from conftest import open_page

    spec = catalog.get_spec("sentiment-tiny")
    copy = fresh_cache / "models" / "sentiment-tiny"
    shutil.copytree(tiny_model, copy)
    for name in ("tokenizer.json", "config.json"):
        original = (copy / name).read_text(encoding="utf-8")
        (copy / name).write_text('{"truncated": ', encoding="utf-8")
        with pytest.raises(ModelUnavailableError, match="Could not load"):
            loading.load_classifier(spec)
        (copy / name).write_text(original, encoding="utf-8")
    (copy / "tokenizer.json").write_text("{garbage", encoding="utf-8")
    page = open_page("pages/sentiment.py", model="sentiment-tiny")
    page.button(key="sentiment-run").click().run()
    assert not page.exception
    assert any("Could not load" in e.value and "tokenizer" in e.value for e in page.error)


def test_untrained_model_says_how_to_train(fresh_cache):
    with pytest.raises(ModelUnavailableError, match="python -m core.train --model sentiment-minilm"):
        loading.local_dir(catalog.SENTIMENT_MINILM)


def test_a_model_card_is_read_once_per_version_of_its_file_and_typed(tmp_path):
    from core import cards

    assert cards.read(tmp_path) is None  # no card, no model
    cards.write(tmp_path, {"task": "sentiment", "labels": ["negative", "positive"], "size_bytes": 1200,
                           "train_seconds": 3.5, "metrics": {"accuracy": {"value": 0.8}}, "sha256": "ab"})  # fmt: skip
    first = cards.read(tmp_path)
    assert first is cards.read(tmp_path)  # the same parsed card while the file is unchanged
    assert (first.task, first.labels, first.size_bytes, first.train_seconds, first.sha256) == (
        "sentiment", ("negative", "positive"), 1200, 3.5, "ab")  # fmt: skip
    assert first["metrics"]["accuracy"]["value"] == 0.8 and first.well_formed and first.recipe == {}
    cards.write(tmp_path, {**first.to_json(), "train_seconds": 4.0})  # a retrained model: a new file
    again = cards.read(tmp_path)
    assert again is not first and again.train_seconds == 4.0
    (tmp_path / cards.FILE).write_text('["not", "a", "card"]', encoding="utf-8")
    assert cards.read(tmp_path) is None
    odd = cards.ModelCard({"task": "sentiment", "labels": ["a", 3], "size_bytes": True, "train_seconds": "slow"})
    assert not odd.well_formed and odd.size_bytes is None and odd.train_seconds is None
