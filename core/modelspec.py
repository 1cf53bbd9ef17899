"""What a model is: ``ModelSpec``, the sources a model comes from, and the builders of the two kinds of
spec LM Lab lists (trained here, from the Hub). Plain data; cheap to import."""

from __future__ import annotations

from dataclasses import dataclass, field

PACKAGED = "packaged"
TRAINED = "trained"
HUB = "hub"
SOURCES = (PACKAGED, TRAINED, HUB)

SOURCE_LABELS = {PACKAGED: "packaged", TRAINED: "trained here", HUB: "Hugging Face Hub"}


@dataclass(frozen=True)
class ModelSpec:
    key: str
    title: str
    task: str  # "encoder" (no task head) or a scenario such as "sentiment"
    source: str  # one of SOURCES
    kind: str  # "transformers" for neural models, "vader" for the lexicon baseline
    location: str  # packaged: "package:<module>/<subdir>"; hub: repository id; trained: cache key
    license: str
    size_bytes: int | None
    description: str
    sha256: str | None = None  # pinned for packaged weights; trained weights carry theirs in metadata
    labels: tuple[str, ...] = field(default_factory=tuple)
    # the languages of the text it reads (a translation model: its source language); every model LM Lab has
    # today reads English — its vocabulary, its training data or its lexicon is English
    languages: tuple[str, ...] = ("en",)
    # a trained model's transformers model_type, where an earlier LM Lab built another architecture under the same
    # key: a cached copy whose card records another (or none) is out of date (``catalog.read_metadata``)
    model_type: str = ""

    @property
    def trained_here(self) -> bool:
        return self.source == TRAINED


def trained_spec(
    key: str, title: str, task: str, *, license: str, description: str, labels: tuple[str, ...] = (),
    languages: tuple[str, ...] = ("en",), model_type: str = "",
):
    """A model LM Lab trains itself: cached under its key, made by the recipe of the same name."""
    return ModelSpec(key=key, title=title, task=task, source=TRAINED, kind="transformers", location=key,
                     license=license, size_bytes=None, labels=labels, description=description,
                     languages=languages, model_type=model_type)  # fmt: skip


def hub_spec(key: str, title: str, task: str, repo: str, size: int | None, description: str, *,
         license: str = "Apache-2.0", labels: tuple[str, ...] = ()):  # fmt: skip
    """A model downloaded from the Hugging Face Hub (offered only when the Hub is reachable)."""
    return ModelSpec(key=key, title=title, task=task, source=HUB, kind="transformers", location=repo,
                     license=license, size_bytes=size, labels=labels, description=description)  # fmt: skip
