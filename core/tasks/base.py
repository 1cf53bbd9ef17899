"""Every task LM Lab knows, in one registry: what it measures, which data trains it, which page runs it.

A task is a ``Task``: its name (what model cards and recipes say in ``task``), a title for pickers and
tables, its family, its headline metric, its benchmark variants, the datasets a new run can train it
on and, for a classification task, its fixed held-out split; and, by "module:attribute" name, the code
that trains it, scores it in the benchmark and serves it on its page. Everything that used to test a
task's name as a bare string asks here instead: the command lines, the trainer, the benchmark, the
Train page's dataset list, the Evaluate page's task and baseline lists, the held-out headline under a
model picker.

Adding a classification task is one module that calls ``register`` (see ``tests/test_task_registry.py``,
which adds "length parity" and trains, benchmarks and picks it with no other edit); a sequence task adds
its trainer, its ``Scoring`` and its predictor class, and names them. LM Lab's own tasks
are registered at the bottom of this module; modules named in ``LMLAB_TASKS`` (comma-separated, e.g.
``mylab.tasks``) are imported on first use, in the app and in the command lines alike.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.data.types import Split
from core.errors import CoreError
from core.messages import N_, Message

CLASSIFICATION = "classification"  # one label per text: accuracy and macro-F1, the classifier benchmark
SEQUENCE = "sequence"  # an output sequence per input: translation, role labels, next tokens


@dataclass(frozen=True)
class Metric:
    """A task's headline number: the key under ``metrics`` in a model card, and how to write it."""

    key: str
    label: str
    higher_is_better: bool = True
    percent: bool = False  # stored as a fraction, written as a percentage
    digits: int = 0

    def text(self, estimate: Mapping) -> str:
        """'chrF 96.6 (95 % CI 95.5–97.7)' from a card's {value, low, high}."""
        scale, unit = (100, " %") if self.percent else (1, "")
        value, low, high = (float(estimate[k]) * scale for k in ("value", "low", "high"))
        d = self.digits
        return f"{self.label} {value:.{d}f}{unit} (95 % CI {low:.{d}f}–{high:.{d}f}{unit})"

    def short(self, estimate: Mapping) -> str:
        """'chrF 96.6 [95.5, 97.7]', for tables."""
        scale, unit = (100, " %") if self.percent else (1, "")
        value, low, high = (float(estimate[k]) * scale for k in ("value", "low", "high"))
        d = self.digits
        return f"{self.label} {value:.{d}f}{unit} [{low:.{d}f}, {high:.{d}f}]"


ACCURACY = Metric("accuracy", "accuracy", percent=True)
# fitted on the task's own training split, so they fit any classification task
CLASSIFIER_BASELINES = ("baseline:majority", "baseline:tfidf-lr")


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    family: str
    metric: Metric
    page: str | None = None  # the page that runs its models, e.g. "pages/sentiment.py"
    datasets: Mapping[str, str] = field(default_factory=dict)  # name → title of the datasets a new run trains on
    # classification: dataset name → the fixed split and its labels (the same held-out examples for every model)
    splits: Mapping[str, Callable[[], tuple[Split, list[str]]]] = field(default_factory=dict)
    variants: tuple[str, ...] = ()  # benchmark variants of one model, e.g. "int8" for "model@int8"
    languages: tuple[str, ...] = ("en",)
    description: str = ""
    max_length: int = 64  # tokens per example for a new run
    # the held-out result of a model card in words (default: the headline metric with its CI)
    describe: Callable[[Mapping], str] | None = None
    bench_metric: Metric | None = None  # what the benchmark table ranks by, when not ``metric``
    # What the layers above do for this task, named as "module:attribute" and imported only when used (a task
    # sits below training and the benchmark, so it names their code instead of importing it):
    trainer: str = "core.training.runner:train_classifier"  # (recipe, folder, report, should_stop) -> model card
    scorer: str = ""  # its ``core.bench.scoring.Scoring`` (held-out data, one model's scores); classifiers share one
    predictor: str = ""  # a sequence task's predictor class, built from a ModelSpec (one shared per process)
    hub_recipe: str = ""  # a sequence task that trains on a Hub dataset: (key=...) -> its Recipe
    # benchmark rows that are not models of the catalog; a classification task gets majority class and TF-IDF
    baselines: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.baselines is None:
            object.__setattr__(self, "baselines", CLASSIFIER_BASELINES if self.family == CLASSIFICATION else ())
        if not self.scorer and self.family == CLASSIFICATION:
            object.__setattr__(self, "scorer", "core.bench.classification:SCORING")

    @property
    def scored_by(self) -> Metric:
        """The benchmark's headline metric for this task (its rows' value / low / high)."""
        return self.bench_metric or self.metric

    def hook(self, which: str):
        """The trainer, scorer, predictor or Hub recipe this task names (imported now)."""
        reference = getattr(self, which)
        if not reference:
            raise CoreError(f"The task {self.name!r} names no {which}.")
        return resolve(reference)

    def held_out(self, dataset: str | None = None) -> tuple[Split, list[str]]:
        """The fixed split (default: the task's first dataset) and its labels."""
        name = dataset or next(iter(self.datasets), "")
        if name not in self.splits:
            raise CoreError(f"The task {self.name!r} has no held-out data named {name!r}.")
        split, labels = self.splits[name]()
        return split, list(labels)

    def headline(self, metrics: Mapping) -> str:
        """A model card's held-out quality in words, '' when the card has no such measurement."""
        try:
            if self.describe is not None:
                return self.describe(metrics)
            return self.metric.text(metrics[self.metric.key]) + f" on {metrics[self.metric.key]['n']} held-out examples"
        except (KeyError, TypeError, ValueError):
            return ""


def resolve(reference: str):
    """The object a "module:attribute" reference names."""
    module, _, attribute = reference.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise CoreError(f"{reference!r} names nothing that can be imported: {error}") from None


_registered: dict[str, Task] = {}
_lock = threading.Lock()
_imported_from = ""  # the LMLAB_TASKS value whose modules have been imported
_failures: list[str] = []  # why a module named in LMLAB_TASKS could not be loaded (the app carries on without it)


def register(task: Task) -> Task:
    """Add a task (or replace one of the same name); returns it, so a module can keep a handle."""
    if task.family not in (CLASSIFICATION, SEQUENCE):
        raise CoreError(f"A task's family is {CLASSIFICATION!r} or {SEQUENCE!r}, not {task.family!r}.")
    if task.family == CLASSIFICATION and not all(name in task.splits for name in task.datasets):
        raise CoreError(f"Every dataset of the classification task {task.name!r} needs its split.")
    if task.family == SEQUENCE and not (task.scorer and task.predictor and ":" in task.trainer):
        raise CoreError(f"The sequence task {task.name!r} names its trainer, scorer and predictor as 'module:attribute'.")
    with _lock:
        _registered[task.name] = task
    return task


def tasks() -> dict[str, Task]:
    """Every registered task, LM Lab's own first, then those of the modules in ``LMLAB_TASKS``."""
    global _imported_from
    wanted = os.environ.get("LMLAB_TASKS", "")
    if wanted != _imported_from:
        _imported_from = wanted
        _failures.clear()
        for module in filter(None, (part.strip() for part in wanted.split(","))):
            try:
                importlib.import_module(module)
            except Exception as error:  # noqa: BLE001 - one bad plug-in must not take the class's server down
                _failures.append(f"LMLAB_TASKS names {module!r}, which could not be loaded: {error}")
                logging.getLogger(__name__).warning(_failures[-1])
    with _lock:
        return dict(_registered)


def load_errors() -> list[str]:
    """Why modules named in ``LMLAB_TASKS`` are missing (shown on the Home page), empty when all loaded."""
    tasks()
    return list(_failures)


def get_task(name: str) -> Task:
    found = tasks()
    if name not in found:
        raise CoreError(f"Unknown task {name!r}; choose one of {sorted(found)}.")
    return found[name]


def names(family: str | None = None) -> list[str]:
    return [name for name, task in tasks().items() if family is None or task.family == family]


def task_for_dataset(dataset: str) -> Task | None:
    """The task a named dataset trains (the first registered one that lists it)."""
    return next((task for task in tasks().values() if dataset in task.datasets), None)


def new_run_datasets() -> dict[str, str]:
    """Name → title of the named datasets a new classification run can train on (the Train page, the CLI)."""
    return {name: title for task in tasks().values() if task.family == CLASSIFICATION
            for name, title in task.datasets.items()}  # fmt: skip


def split_names() -> list[str]:
    """Every named dataset with a fixed split (a task's own and extra ones, e.g. the keyword sentences)."""
    return [name for task in tasks().values() for name in task.splits]


def dataset_split(dataset: str) -> tuple[Split, list[str]] | None:
    """The fixed split of a named dataset any classification task registered, or None."""
    for task in tasks().values():
        if dataset in task.splits:
            return task.held_out(dataset)
    return None


def own_dataset(spec) -> str | None:
    """The named dataset the model ``spec`` was trained on here when LM Lab holds its fixed split (so its held-out
    texts are known to be unseen); None for the Hub's models, uploads and models not trained yet."""
    from core import catalog

    card = catalog.read_metadata(spec.key) if spec.trained_here else None
    dataset = card.recipe.get("dataset", "") if card is not None and isinstance(card.recipe, dict) else ""
    return dataset if isinstance(dataset, str) and dataset and dataset_split(dataset) is not None else None


# --- LM Lab's own tasks --------------------------------------------------------------------------------


def _polarity() -> tuple[Split, list[str]]:
    from core.data import polarity

    return polarity.split(), list(polarity.LABELS)


def _newsgroups() -> tuple[Split, list[str]]:
    from core.data import newsgroups

    split, labels = newsgroups.split()
    return split, list(labels)


def _polarity_skewed() -> tuple[Split, list[str]]:
    from core.data import polarity

    return polarity.skewed_split(), list(polarity.LABELS)


def _keyword() -> tuple[Split, list[str]]:
    from core.data import keyword

    split, labels = keyword.split()
    return split, list(labels)


def _reviews_zh() -> tuple[Split, list[str]]:
    from core.data import reviews_zh

    return reviews_zh.split(), list(reviews_zh.LABELS)


def _mask_words(found: Mapping) -> str:
    share = found["mask_accuracy"]
    return Message("masked-token accuracy {value} % (95 % CI {low}–{high}) on {n} held-out paragraphs",
                   value=f"{100 * share['value']:.1f}", low=f"{100 * share['low']:.1f}", high=f"{100 * share['high']:.1f}",
                   n=share["n"])  # fmt: skip


def _segmentation_words(found: Mapping) -> str:
    f1, oov = found["word_f1"], found["oov_recall"]
    return Message("word F1 {value} % (95 % CI {low}–{high}) on {n} held-out paragraphs; recall of unseen words {oov} %",
                   value=f"{100 * f1['value']:.1f}", low=f"{100 * f1['low']:.1f}", high=f"{100 * f1['high']:.1f}",
                   n=f1["n"], oov=f"{100 * oov['value']:.1f}")  # fmt: skip


def _translation_words(found: Mapping) -> str:
    chrf, bleu = found["chrf"], found["bleu"]
    return Message("chrF {value} (95 % CI {low}–{high}), BLEU {bleu} on {n} unseen generated sentences",
                   value=f"{chrf['value']:.1f}", low=f"{chrf['low']:.1f}", high=f"{chrf['high']:.1f}",
                   bleu=f"{bleu['value']:.1f}", n=chrf["n"])  # fmt: skip


def _srl_words(found: Mapping) -> str:
    f1 = found["span_f1"]
    return Message("argument span F1 {value} % (95 % CI {low}–{high}, {n} frames) on unseen generated sentences",
                   value=f"{100 * f1['value']:.1f}", low=f"{100 * f1['low']:.1f}", high=f"{100 * f1['high']:.1f}",
                   n=f1["n"])  # fmt: skip


def _perplexity_words(found: Mapping) -> str:
    ppl, kn = found["perplexity"], found["ngram_perplexity"]
    return Message("perplexity {value} (95 % CI {low}–{high}) on {n} unseen articles; Kneser–Ney trigram {trigram}",
                   value=f"{ppl['value']:.0f}", low=f"{ppl['low']:.0f}", high=f"{ppl['high']:.0f}", n=ppl["n"],
                   trigram=f"{kn['value']:.0f}")  # fmt: skip


def _character_perplexity_words(found: Mapping) -> str:
    ppl, kn = found["perplexity"], found["ngram_perplexity"]
    return Message("perplexity per character {value} (95 % CI {low}–{high}) on {n} unseen paragraphs; Kneser–Ney "
                   "character trigram {trigram}", value=f"{ppl['value']:.0f}", low=f"{ppl['low']:.0f}",
                   high=f"{ppl['high']:.0f}", n=ppl["n"], trigram=f"{kn['value']:.0f}")  # fmt: skip


CLASSIFIER_VARIANTS = ("int8", "bf16", "eager", "onnx", "onnx-int8", "cuda", "cuda-bf16")  # cuda: where a GPU is

register(Task("sentiment", N_("sentiment"), CLASSIFICATION, ACCURACY, page="pages/sentiment.py",
              datasets={"polarity": N_("Movie-review polarity — 200 sentences (offline)")},
              splits={"polarity": _polarity, "keyword": _keyword, "polarity-skewed": _polarity_skewed},
              variants=CLASSIFIER_VARIANTS, baselines=(*CLASSIFIER_BASELINES, "baseline:zero-shot"),
              description=N_("Is a film review positive or negative?")))  # fmt: skip
register(Task("topic", N_("topic"), CLASSIFICATION, ACCURACY, page="pages/topic.py",
              datasets={"newsgroups": N_("Newsgroups: atheism vs space — 200 posts (offline)")},
              splits={"newsgroups": _newsgroups}, variants=CLASSIFIER_VARIANTS,
              description=N_("Which newsgroup, atheism or space, is a post from?")))  # fmt: skip
register(Task("translation", N_("translation (chrF)"), SEQUENCE, Metric("chrf", "chrF", digits=1),
              page="pages/translate.py", variants=("beam4", "int8", "onnx"), languages=("en", "zh"), describe=_translation_words,
              trainer="core.training.sequence:train_translation", scorer="core.bench.sequence:TRANSLATION",
              predictor="core.tasks.translate:Translator",
              description=N_("English to Chinese.")))  # fmt: skip
register(Task("srl", N_("semantic roles (span F1)"), SEQUENCE, Metric("span_f1", "span F1", percent=True,
              digits=1), page="pages/srl.py", variants=("int8",), max_length=128, describe=_srl_words,
              trainer="core.training.sequence:train_srl", scorer="core.bench.sequence:SRL",
              predictor="core.tasks.srl:SrlLabeler", hub_recipe="core.training.recipes:conll_srl_recipe",
              description=N_("Who did what to whom?")))  # fmt: skip
register(Task("generation", N_("language model (perplexity)"), SEQUENCE,
              Metric("perplexity", "perplexity", higher_is_better=False), page="pages/generate.py",
              describe=_perplexity_words,
              bench_metric=Metric("word_perplexity", "perplexity per word", higher_is_better=False),
              trainer="core.training.sequence:train_language_model", scorer="core.bench.sequence:GENERATION",
              predictor="core.tasks.generate:LanguageModel", baselines=("baseline:kneser-ney",),
              description=N_("The next token, and the one after it.")))  # fmt: skip
register(Task("translation-zh-en", N_("Chinese → English translation (chrF)"), SEQUENCE,
              Metric("chrf", "chrF", digits=1), page="pages/translate.py", variants=("beam4", "int8", "onnx"),
              languages=("zh",), describe=_translation_words, trainer="core.training.sequence:train_translation",
              scorer="core.bench.sequence:TRANSLATION", predictor="core.tasks.translate:Translator",
              description=N_("Chinese to English.")))  # fmt: skip
register(Task("sentiment-zh", N_("Chinese sentiment"), CLASSIFICATION, ACCURACY, page="pages/sentiment.py",
              datasets={"reviews-zh": N_("Chinese hotel, computer and book reviews — 17,358 after deduplication (offline)")},
              splits={"reviews-zh": _reviews_zh}, variants=CLASSIFIER_VARIANTS, languages=("zh",), max_length=128,
              description=N_("Is a Chinese review (of a hotel, a computer or a book) positive or negative?")))  # fmt: skip
register(Task("fill-mask", N_("masked tokens (accuracy)"), SEQUENCE,
              Metric("mask_accuracy", "masked-token accuracy", percent=True, digits=1), languages=("zh",),
              max_length=64, describe=_mask_words, trainer="core.training.pretrain:train_masked_lm",
              scorer="core.bench.masked:FILL_MASK", predictor="core.tasks.fill_mask:FillMask",
              description=N_("Hide characters of a Chinese text; the model fills them in.")))  # fmt: skip
register(Task("segmentation", N_("Chinese word segmentation (word F1)"), SEQUENCE,
              Metric("word_f1", "word F1", percent=True, digits=1), page="pages/segment.py", languages=("zh",),
              max_length=64, describe=_segmentation_words, trainer="core.training.segment:train_segmenter",
              scorer="core.bench.segment:SEGMENTATION", predictor="core.tasks.segment:Segmenter",
              baselines=("baseline:jieba",),
              description=N_("Where does each Chinese word begin and end?")))  # fmt: skip
register(Task("generation-zh", N_("Chinese character language model (perplexity)"), SEQUENCE,
              Metric("perplexity", "perplexity per character", higher_is_better=False), page="pages/generate.py",
              languages=("zh",), describe=_character_perplexity_words,
              bench_metric=Metric("char_perplexity", "perplexity per character", higher_is_better=False),
              trainer="core.training.sequence:train_language_model", scorer="core.bench.sequence:GENERATION_ZH",
              predictor="core.tasks.generate:LanguageModel", baselines=("baseline:kneser-ney",),
              description=N_("The next Chinese character, and the one after it.")))  # fmt: skip
