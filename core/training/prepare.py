"""Data and model preparation for a training run: the split, validation set, augmentation, encoding, base model."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from core import catalog, settings
from core.data.types import Example, Split
from core.errors import CoreError
from core.messages import Message
from core.tasks.base import dataset_split, split_names
from core.training.recipes import RECIPES, Recipe

UPLOADED = ("csv", "hub")  # datasets a run brings with it; the named ones come from the task registry
BASES = ("minilm-l6", "scratch", "hub", "zh-bert", "zh-scratch", "zh-pieces")
PRETRAINED_ZH = "zh-bert-mlm"  # the Chinese BERT pretrained here, which base "zh-bert" fine-tunes


@dataclass(frozen=True)
class Prepared:
    split: Split
    labels: list[str]
    train: list[Example]  # after sampling, validation hold-out and augmentation
    validation: list[Example]
    labelled: list[Example]  # the training split's examples this run spends (``examples``), validation included


def load_split(recipe: Recipe) -> tuple[Split, list[str]]:
    """A named dataset's fixed split (from the task registry), or an uploaded CSV or Hub dataset split here."""
    registered = dataset_split(recipe.dataset)
    if registered is not None:
        return registered
    if recipe.dataset in UPLOADED:
        from core.data import uploads

        if recipe.dataset == "csv":
            examples, labels = uploads.load(recipe.data_file, recipe.text_column, recipe.label_column)
            name = f"uploaded CSV {recipe.data_file} ({recipe.text_column} → {recipe.label_column})"
        else:
            examples, labels = uploads.hub_examples(
                recipe.hub_dataset, recipe.text_column, recipe.label_column
            )
            name = f"Hub dataset {recipe.hub_dataset}"
        return uploads.stratified_split(examples, labels, seed=13, name=name), list(labels)
    raise CoreError(
        f"Unknown dataset {recipe.dataset!r} in recipe {recipe.key!r}; choose one of {[*split_names(), *UPLOADED]}."
    )


def sample_indices(labels: list[str], n: int, seed: int) -> list[int]:
    """Positions of ``n`` of the examples whose labels are ``labels`` (all of them when ``n`` is 0 or too large).

    Each label's count stays within one example of its share of ``n`` (its exact share rounded down or up), and with
    the same seed a larger sample contains every smaller one: the examples are taken one at a time, each from a label
    still under its upper share at that size, the one with most examples per example taken (Balinski and Young's quota
    method, which keeps both bounds at every size); within a label, in an order shuffled by ``seed``. A learning curve
    then adds labels to the same data instead of drawing new data at every size."""
    if n <= 0 or n >= len(labels):
        return list(range(len(labels)))
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    names = sorted(groups)
    for name in names:
        rng.shuffle(groups[name])
    total, taken, chosen = len(labels), dict.fromkeys(names, 0), []
    for size in range(1, n + 1):
        # under its upper share at this size: taken + 1 <= ceil(size * count / total)
        open_ = [name for name in names if (taken[name] + 1) * total <= size * len(groups[name]) + total - 1]
        name = max(open_, key=lambda label: (len(groups[label]) / (taken[label] + 1), -names.index(label)))
        chosen.append(groups[name][taken[name]])
        taken[name] += 1
    return chosen


def training_part(train: list[Example], recipe) -> tuple[list[int], list[Example], list[Example]]:
    """(positions, kept, validation): where in the training split the ``examples`` the run spends are
    (``sample_indices``), and those examples cut into what it trains on and its validation share. ``recipe``: a Recipe
    or its card's dict."""
    get = recipe.get if isinstance(recipe, dict) else lambda name, default: getattr(recipe, name, default)
    seed = int(get("seed", 42))
    positions = sample_indices([e.label for e in train], int(get("examples", 0) or 0), seed)
    kept, validation = hold_out_validation([train[i] for i in positions], float(get("validation_fraction", 0) or 0),
                                           seed)  # fmt: skip
    return positions, kept, validation


def hold_out_validation(
    train: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Stratified: ``fraction`` of each class (at least one when the fraction is above 0) becomes validation."""
    if fraction <= 0:
        return list(train), []
    rng = random.Random(seed)
    kept, held = [], []
    for label in sorted({e.label for e in train}):
        group = [e for e in train if e.label == label]
        rng.shuffle(group)
        share = max(1, round(fraction * len(group))) if len(group) > 2 else 0
        held.extend(group[:share])
        kept.extend(group[share:])
    rng.shuffle(kept)
    return kept, held


def prepare(recipe: Recipe) -> Prepared:
    from core.data.augment import augmented

    split, labels = load_split(recipe)
    positions, train, validation = training_part(list(split.train), recipe)
    train = augmented(train, recipe.augment, recipe.augment_p, recipe.seed)
    return Prepared(split, labels, train, validation, [split.train[i] for i in positions])


def base_model(recipe: Recipe, labels: list[str], *, per_token: bool = False):
    """Tokenizer and a classifier to fine-tune: the packaged MiniLM, a Hub checkpoint, or random weights.

    ``per_token`` gives a token-classification head (one label per token, as SRL needs) instead of
    one label per text.
    """
    from core.loading import LOAD_LOCK, from_transformers, load_tokenizer, local_dir

    head_name = "TokenClassification" if per_token else "SequenceClassification"
    auto_head = from_transformers(f"AutoModelFor{head_name}")
    bert_head = from_transformers(f"BertFor{head_name}")
    hf_logging = from_transformers("logging")  # transformers.utils.logging, re-exported at the top

    hf_logging.set_verbosity_error()  # "classifier weights newly initialised" is the point of fine-tuning
    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    head = {"num_labels": len(labels), "id2label": id2label, "label2id": label2id}
    dropout = {}
    if recipe.dropout is not None:
        dropout = {"hidden_dropout_prob": recipe.dropout, "attention_probs_dropout_prob": recipe.dropout}
    safe = {"use_safetensors": True, "trust_remote_code": False}
    if recipe.base == "minilm-l6":
        tokenizer = load_tokenizer(catalog.MINILM)
        source = str(local_dir(catalog.MINILM))
        with LOAD_LOCK:  # the Train page's preview builds this in the server, beside other sessions' loads
            model = auto_head.from_pretrained(source, local_files_only=True, **head, **dropout, **safe)
    elif recipe.base == "scratch":
        tokenizer = load_tokenizer(catalog.MINILM)  # the bert-base-uncased WordPiece vocabulary
        config = from_transformers("BertConfig")(vocab_size=tokenizer.vocab_size, max_position_embeddings=max(128, recipe.max_length),
                            **head, **dropout, **recipe.scratch)  # fmt: skip
        model = bert_head(config)
    elif recipe.base in ("zh-bert", "zh-scratch", "zh-pieces"):
        tokenizer, model = _chinese_base(recipe, head, dropout)
    elif recipe.base == "hub":
        from core.loading import model_source

        hub_id, _ = model_source(
            catalog.ModelSpec(key="hub-base", title=recipe.hub_model, task="encoder", source=catalog.HUB,
                              kind="transformers", location=catalog.validate_hub_id(recipe.hub_model), license="",
                              size_bytes=None, description="")
        )  # fmt: skip
        with LOAD_LOCK:
            pinned = {"revision": refuse_big_files(hub_id)} if not Path(hub_id).exists() else {}  # before any download
            tokenizer = from_transformers("AutoTokenizer").from_pretrained(hub_id, trust_remote_code=False, **pinned)
            config = from_transformers("AutoConfig").from_pretrained(hub_id, **head, trust_remote_code=False, **pinned)
            refuse_too_big(auto_head, config, recipe.hub_model)  # before a single weight is downloaded
            model = auto_head.from_pretrained(hub_id, config=config, ignore_mismatched_sizes=True, **safe, **pinned)
    else:
        raise CoreError(f"Unknown base {recipe.base!r}; choose one of {list(BASES)}.")
    return tokenizer, model


MAX_HUB_PARAMETERS = 150_000_000  # BERT-base (110 M) fits; fine-tuning more on a classroom server's CPU is hours


def refuse_too_big(auto_head, config, name: str) -> None:
    """Refuse (CoreError) a Hub checkpoint over ``MAX_HUB_PARAMETERS``, counted on an empty copy of its architecture
    (no memory, no download). Its files' size and the disk were checked before (``refuse_big_files``)."""
    import torch

    caps = {"num_hidden_layers": 1000, "n_layer": 1000, "hidden_size": 100_000, "n_embd": 100_000,
            "intermediate_size": 1_000_000, "vocab_size": 10_000_000}  # fmt: skip
    sizes = {name: getattr(config, name, 0) or 0 for name in caps}
    if any(not isinstance(size, int) or size > caps[name] for name, size in sizes.items()):  # before building a module
        raise CoreError(Message("{name}'s configuration is far larger than any model runs here start from.", name=name))
    with torch.device("meta"):
        shell = auto_head.from_config(config)
    count = sum(parameter.numel() for parameter in shell.parameters())
    if count > MAX_HUB_PARAMETERS:
        raise CoreError(Message("{name} has {count} M parameters; runs here start from at most {most} M (BERT-base "
                                "has 110 M), so that one run cannot fill the server's disk and hold its training "
                                "slot for hours.", name=name, count=f"{count / 1e6:.0f}",
                                most=f"{MAX_HUB_PARAMETERS / 1e6:.0f}"))  # fmt: skip


FETCHED = (".safetensors", ".json", ".txt", ".model")  # what a load reads from a repository's top folder


def fetched_bytes(files) -> tuple[int, int]:
    """(weights, everything else) in bytes of the files a load fetches, from ``(name, size)`` pairs of a repository."""
    chosen = [(name, size or 0) for name, size in files if "/" not in name and name.endswith(FETCHED)]
    weights = sum(size for name, size in chosen if name.endswith(".safetensors"))
    return weights, sum(size for _name, size in chosen) - weights


def refuse_big_files(name: str) -> str:
    """The revision of Hub repository ``name`` to load, refused (CoreError) before anything is downloaded when its
    files are larger than a model within ``MAX_HUB_PARAMETERS`` needs (a crafted repository's config can claim a
    small model beside huge weights) or would leave too little disk free. Loading that revision means the files
    checked are the files read."""
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(name, files_metadata=True)
    except Exception as error:  # noqa: BLE001 - the Hub's errors are many; all mean "could not read"
        raise CoreError(Message("Could not read {name}'s list of files from the Hub: {error}", name=name,
                                error=str(error)[:300])) from None  # fmt: skip
    weights, others = fetched_bytes((file.rfilename, file.size) for file in info.siblings or ())
    if weights > 4.4 * MAX_HUB_PARAMETERS or others > 100_000_000:  # fp32 weights of 150 M parameters, and 10 %
        raise CoreError(Message("{name}'s files hold {size} GB; runs here start from checkpoints of at most {most} M "
                                "parameters.", name=name, size=f"{(weights + others) / 1e9:.1f}",
                                most=f"{MAX_HUB_PARAMETERS / 1e6:.0f}"))  # fmt: skip
    refuse_a_full_disk(name, weights + others, info.sha)
    return info.sha


def refuse_a_full_disk(name: str, download_bytes: int, revision: str | None = None) -> None:
    """Refuse (CoreError) a download into Hugging Face's cache that would leave less than ``LMLAB_DISK_RESERVE_MB``
    free there: each student's run may start from another checkpoint, and that cache is never emptied here."""
    import shutil

    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "model.safetensors", revision=revision), str):
        return  # already downloaded (at the revision that will be loaded): nothing more to hold
    folder = Path(constants.HF_HUB_CACHE)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the disk it will be made on
    free, reserve = shutil.disk_usage(folder).free, settings.limits().disk_reserve_mb * 1_000_000
    if free - download_bytes < reserve:
        raise CoreError(Message("Downloading {name} (about {size} GB) would leave less than {reserve} GB free on the "
                                "server's disk; the teacher can free space, or lower LMLAB_DISK_RESERVE_MB.", name=name,
                                size=f"{download_bytes / 1e9:.1f}", reserve=f"{reserve / 1e9:.1f}"))  # fmt: skip


def prerequisite(key: str) -> str | None:
    """The model a built-in recipe starts from that must be trained first (the Chinese BERT's pretraining), while it
    is not in the cache; None otherwise."""
    recipe = RECIPES.get(key)
    if recipe is not None and recipe.base == "zh-bert" and catalog.read_metadata(PRETRAINED_ZH) is None:
        return PRETRAINED_ZH
    return None


def _chinese_base(recipe: Recipe, head: dict, dropout: dict):
    """The Chinese BERT pretrained here (it must be in the cache: see ``prerequisite``), or the same architecture
    with random weights: with the same character vocabulary, or with multi-character pieces (``zh-pieces``)."""
    from core.loading import LOAD_LOCK, from_transformers, load_tokenizer, local_dir

    if recipe.base in ("zh-scratch", "zh-pieces"):
        from core.training.pretrain import PIECES, chinese_config, chinese_pieces, chinese_tokenizer

        tokenizer = chinese_tokenizer() if recipe.base == "zh-scratch" else chinese_pieces(recipe.scratch.get("vocab_size", PIECES))
        config = chinese_config(tokenizer, recipe.scratch, max_length=recipe.max_length, dropout=recipe.dropout, **head)
        return tokenizer, from_transformers("RoFormerForSequenceClassification")(config)
    spec = catalog.get_spec(PRETRAINED_ZH)
    if catalog.read_metadata(PRETRAINED_ZH) is None:  # never trained here: a job or the command line does it first
        from core.errors import ModelUnavailableError
        from core.messages import Message

        raise ModelUnavailableError(Message("This run starts from the Chinese BERT pretrained here, which is not "
                                            "trained yet: train {key} first.", key=PRETRAINED_ZH))  # fmt: skip
    tokenizer = load_tokenizer(spec)
    with LOAD_LOCK:
        model = from_transformers("AutoModelForSequenceClassification").from_pretrained(
            str(local_dir(spec)), local_files_only=True, use_safetensors=True, trust_remote_code=False, **head, **dropout)
    return tokenizer, model


def encode(tokenizer, examples: list[Example], label_ids: dict[str, int], recipe: Recipe) -> list[dict]:
    """Each example's token ids, attention mask and label id. Encoded a chunk at a time (``token_rows.in_chunks``):
    the tokenizer's full encodings (offsets, tokens, word ids) of 15,000 reviews at once raised the process's
    memory by about 250 MB, which it kept."""
    from core.training.token_rows import in_chunks

    padding = "max_length" if recipe.padding == "max_length" else False
    encoded = [(ids, mask) for chunk in in_chunks(tokenizer, [e.text for e in examples], truncation=True,
                                                   max_length=recipe.max_length, padding=padding)
               for ids, mask in zip(chunk["input_ids"], chunk["attention_mask"], strict=True)]  # fmt: skip
    return [{"input_ids": ids, "attention_mask": mask, "labels": label_ids[e.label]}
            for (ids, mask), e in zip(encoded, examples, strict=True)]  # fmt: skip
