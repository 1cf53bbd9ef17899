"""Every model LM Lab knows, in one place: the built-in ones (``core.specs``) and those trained here.

A ``ModelSpec`` says what a model does (task), where it comes from (source), where it lives,
how big it is, its license and, for packaged weights, the sha256 that must match before
anything is loaded. Models trained on this machine are catalogued from the cache by their
metadata; Hub models are offered only when the Hub is reachable.

Cheap to import: no torch, no transformers.
"""

from __future__ import annotations

import importlib.util
import re
import time
from dataclasses import dataclass
from pathlib import Path

from core import cards, settings
from core.cards import ModelCard
from core.errors import ModelUnavailableError, UnknownModelError, UnsafeNameError
from core.messages import Message
from core.specs import (  # noqa: F401 — re-exported: callers use catalog.MINILM, catalog.HUB, …
    AG_NEWS_HUB,
    BART_MNLI,
    DISTILBART_CNN,
    DISTILGPT2,
    GPT2,
    HUB,
    LM_LEE,
    MINILM,
    OPUS_EN_DE,
    OPUS_EN_FR,
    OPUS_EN_ZH,
    PACKAGED,
    SENTIMENT_MINILM,
    SENTIMENT_TINY,
    SOURCE_LABELS,
    SOURCES,
    SRL_MINILM,
    SST2_DISTILBERT,
    STATIC_SPECS,
    T5_SMALL,
    TOPIC_MINILM,
    TOPIC_TINY,
    TRAINED,
    TRANSLATE_EN_ZH,
    VADER,
    ZH_CHAR_GPT,
    ModelSpec,
)

# built-in models whose architecture changed under the same key: the model_type a current copy has
_EXPECTED_TYPES = {spec.key: spec.model_type for spec in STATIC_SPECS if spec.trained_here and spec.model_type}
# built-in models whose recipe changed under the same key because the old one failed: a setting of the old recipe
# and the day it was changed; a copy made before that day with that setting is out of date (MiniLM on the Chinese
# reviews learnt nothing at 2e-4: the majority class). A run asked for with that setting since is left alone.
_RETIRED_RECIPES = {"sentiment-zh-minilm": ("learning_rate", 2e-4, "2026-12-07")}

# Keys of models stored in the cache: a plain lowercase name, so a key can never be a path.
_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# Hub repository ids: "owner/name" and nothing else (no "..", no leading slash, no URL).
_HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


def quoted(name: object, most: int = 80) -> str:
    """``name`` quoted for a message, cut to its first ``most`` characters: a refused name can be megabytes long."""
    text = name if isinstance(name, str) else str(name)
    return repr(text[:most]) + ("…" if len(text) > most else "")


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe cache name, else raise ``UnsafeNameError``."""
    if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
        raise UnsafeNameError(
            Message("Model name {name} is not allowed: use 1-64 lowercase letters, digits, '.', '_' or '-', "
                    "starting with a letter or digit.", name=quoted(key))
        )
    return key


def validate_hub_id(repo_id: str) -> str:
    if not isinstance(repo_id, str) or not _HUB_ID_PATTERN.fullmatch(repo_id) or ".." in repo_id:
        raise UnsafeNameError(Message("Hub model id {name} is not of the form 'owner/name'.", name=quoted(repo_id)))
    return repo_id


_HUB_PART = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}"
# owner/name, never a bare name: datasets reads a bare "csv", "json", "text" … from the server's own folder
_HUB_DATASET_PATTERN = re.compile(rf"^{_HUB_PART}/{_HUB_PART}(?:/[A-Za-z0-9][A-Za-z0-9_.-]{{0,63}})?$")


def split_hub_dataset(name: str) -> tuple[str, str | None]:
    """A Hub dataset given as ``owner/name`` or ``owner/name/configuration``: (repository, configuration).

    Anything else (a bare name, ``..``, a path, a URL, spaces) is refused before it reaches ``datasets``, which
    would otherwise read a local folder of that name, or, for a bare "csv", "json", "text" or "parquet", the
    server's own files.
    """
    name = name.strip() if isinstance(name, str) else ""
    if not _HUB_DATASET_PATTERN.fullmatch(name) or ".." in name:
        raise UnsafeNameError(Message("Hub dataset {name} is not of the form 'owner/name' or "
                                      "'owner/name/configuration' (e.g. stanfordnlp/sst2, nyu-mll/glue/sst2).",
                                      name=quoted(name, 100)))  # fmt: skip
    parts = name.split("/")
    repository, configuration = "/".join(parts[:2]), (parts[2] if len(parts) == 3 else None)
    if Path(parts[0]).exists():  # datasets would read that folder (or one inside it), not the Hub's
        raise UnsafeNameError(Message("Hub dataset {name} is also the name of a folder on the server; LM Lab reads "
                                      "only the Hub's datasets. Give the dataset as owner/name.",
                                      name=quoted(name, 100)))  # fmt: skip
    return repository, configuration


def cache_entry_dir(key: str) -> Path:
    """The folder of a trained model in the cache; never outside the cache."""
    root = settings.models_dir()  # the cache home is resolved: the key's own folder is the link to look for
    path = root / validate_key(key)
    if path.is_symlink():
        path = path.resolve()
        if path.parent != root:
            raise UnsafeNameError(f"Model name {key!r} points outside the model cache.")
    return path


def read_metadata(key: str) -> ModelCard | None:
    """The model card of a finished cache entry, or None when there is no complete entry — or when a built-in model
    was trained by an earlier LM Lab with another architecture (its spec's ``model_type``) or by a recipe retired
    because it failed: out of date, it counts as not trained, so the next job or ``--all`` trains it again and the
    pages never describe one model and run another."""
    card = cards.read(cache_entry_dir(key))
    expected = _EXPECTED_TYPES.get(key)
    if card is not None and expected and card.get("model_type") != expected:
        return None
    retired = _RETIRED_RECIPES.get(key)
    if card is not None and retired:
        setting, value, changed = retired
        if card.recipe.get(setting) == value and str(card.get("created_at", ""))[:10] < changed:
            return None
    return card


def weights_sha256(spec: ModelSpec) -> str:
    """The sha256 of the weights ``spec`` names now: a trained model's card, a packaged model's pin ('' for the Hub)."""
    if spec.trained_here:
        card = read_metadata(spec.key)
        return card.sha256 if card else ""
    return spec.sha256 or ""


def _spec_from_metadata(name: str, card: ModelCard) -> ModelSpec | None:
    """A cache entry's spec, or None when its card is malformed (one bad file never breaks a page)."""
    if not card.well_formed:
        return None
    return ModelSpec(
        key=name,
        title=card.title or name,
        task=card.task,
        source=TRAINED,
        kind="transformers",
        location=name,
        license=str(card.get("license", "trained here"))[:200],
        size_bytes=card.size_bytes,
        labels=card.labels,
        description=str(card.get("description", "Trained on this machine."))[:2000],
    )


_STATIC_BY_KEY = {spec.key: spec for spec in STATIC_SPECS}
_LISTED: dict[Path, tuple[int, list[str]]] = {}  # the models folder → (its mtime, the names of its entries)


def _entry_names(root: Path) -> list[str]:
    """The cache entries' names that could be models, listed again only when the folder changed (an entry is added,
    removed or renamed into place; a card rewritten inside one is read by its own file's identity)."""
    changed = root.stat().st_mtime_ns
    listed = _LISTED.get(root)
    if listed is None or listed[0] != changed:
        names = sorted(entry.name for entry in root.iterdir() if not entry.name.startswith(".")
                       and entry.name not in _STATIC_BY_KEY and _KEY_PATTERN.fullmatch(entry.name))  # fmt: skip
        # a folder changed within the last two seconds may change again within the same tick of its clock (a retrain
        # renames twice): such a listing is used once, not kept
        if time.time_ns() - changed < 2_000_000_000:
            return names
        listed = _LISTED[root] = (changed, names)
    return listed[1]


def trained_specs() -> list[ModelSpec]:
    """Models in the cache that are not static catalog entries (for example, trained on the Train page)."""
    found: list[ModelSpec] = []
    for name in _entry_names(settings.models_dir()):
        meta = read_metadata(name)
        spec = _spec_from_metadata(name, meta) if meta else None
        if spec is not None:
            found.append(spec)
    return found


def all_specs() -> list[ModelSpec]:
    return [*STATIC_SPECS, *trained_specs()]


def get_spec(key: str) -> ModelSpec:
    """The spec of ``key``: a built-in model's at once, a cache entry's from its card (pages ask on every rerun)."""
    if isinstance(key, str) and key in _STATIC_BY_KEY:
        return _STATIC_BY_KEY[key]
    if isinstance(key, str) and _KEY_PATTERN.fullmatch(key):
        card = read_metadata(key)  # None where the cache has no such entry
        spec = _spec_from_metadata(key, card) if card else None
        if spec is not None:
            return spec
    choices = sorted(spec.key for spec in all_specs())
    raise UnknownModelError(f"Unknown model {key!r}; choose one of {choices}.")


def specs_for_task(task: str) -> list[ModelSpec]:
    return [spec for spec in all_specs() if spec.task == task]


def package_path(location: str) -> Path:
    """Resolve ``package:<module>/<subpath>`` to a file or folder inside an installed package."""
    if not location.startswith("package:"):
        raise UnsafeNameError(f"{location!r} is not a packaged location.")
    module, _, subpath = location.removeprefix("package:").partition("/")
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise ModelUnavailableError(
            f"The package {module!r} is not installed. Run: pip install -r requirements.txt"
        )
    base = Path(next(iter(found.submodule_search_locations))).resolve()
    path = (base / subpath).resolve()
    if base not in path.parents and path != base:
        raise UnsafeNameError(f"{location!r} points outside its package.")
    return path


@dataclass(frozen=True)
class Availability:
    ready: bool
    reason: str  # empty when ready


def availability(spec: ModelSpec, *, online: bool | None = None) -> Availability:
    """Can this model answer right now, and if not, why (in words a user can act on)?"""
    if online is None:
        online = settings.current_mode().online
    if spec.source == HUB:
        if not online:
            return Availability(
                False, "needs internet: LM Lab is offline (the Hugging Face Hub is not reachable)"
            )
        return Availability(True, "")
    if spec.source == TRAINED:
        if read_metadata(spec.key) is None:
            return Availability(False, "not trained yet on this machine")
        return Availability(True, "")
    try:
        path = package_path(spec.location)
    except ModelUnavailableError as error:
        return Availability(False, str(error))
    if not path.exists():
        return Availability(False, f"packaged files are missing at {path.name}; reinstall requirements")
    return Availability(True, "")
