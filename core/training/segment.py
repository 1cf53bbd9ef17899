"""Training the Chinese word segmenter: a character tagger (B/M/E/S) on People's Daily's training paragraphs,
scored on the held-out blocks next to jieba.

The model is a RoFormer — BERT's layers with rotary position embeddings — trained from random weights. The
choice is measured, not taste: whether a character ends a word depends on its neighbours, and with BERT's
learned absolute positions a 2-layer model trained for three minutes stays on the plateau of guessing each
character's commonest tag (word F1 0.59 after one epoch, here); rotary positions make "the character just
before me" the same relation at every place, and the same model gets past 0.93.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.training.recipes import Recipe
from core.training.trainer import CARD_POINTS, Report, fit, thin

SAMPLES = 20  # held-out paragraphs written into the model card, with both segmentations


def rows(tokenizer, paragraphs, label_ids: dict[str, int], length: int):
    """The paragraphs' words one after another, cut at word boundaries into rows of at most ``length``
    characters; one tag per character (its first token), as ``Segmenter`` reads them. Held compactly
    (``TaggedRows``: 27,017 rows as Python lists took about 90 MB)."""
    from core.tasks.segment import chunks, tags_of
    from core.training.token_rows import TaggedRows

    stream = [word for words in paragraphs for word in words]
    out = TaggedRows()
    for chunk in chunks(stream, length):
        chars, tags = list("".join(chunk)), tags_of(chunk)
        encoded = tokenizer(chars, is_split_into_words=True, truncation=True, max_length=length + 2)
        labels, previous = [], None
        for char in encoded.word_ids():
            labels.append(-100 if char is None or char == previous else label_ids[tags[char]])
            previous = char
        if set(encoded["attention_mask"]) != {1}:
            raise ValueError("a training row came back padded")
        out.append(encoded["input_ids"], labels)
    return out


def build_model(tokenizer, size: dict, *, max_length: int, dropout: float | None):
    from transformers import RoFormerConfig, RoFormerForTokenClassification

    from core.tasks.segment import TAGS

    rate = 0.0 if dropout is None else dropout
    config = RoFormerConfig(vocab_size=len(tokenizer), embedding_size=size["hidden_size"],
                            max_position_embeddings=max(128, max_length), pad_token_id=tokenizer.pad_token_id,
                            hidden_dropout_prob=rate, attention_probs_dropout_prob=rate, num_labels=len(TAGS),
                            id2label=dict(enumerate(TAGS)), label2id={t: i for i, t in enumerate(TAGS)},
                            **{k: v for k, v in size.items() if k != "vocab_size"})  # fmt: skip
    return RoFormerForTokenClassification(config)


def train_segmenter(recipe: Recipe, folder: Path, report: Report, should_stop: Callable[[], bool]) -> dict:
    import torch

    from core.data import peoples_daily
    from core.tasks.segment import (
        TAGS,
        Segmenter,
        held_out_counts,
        jieba_words,
        paired_difference,
        word_scores,
    )
    from core.training.pretrain import chinese_tokenizer
    from core.training.sequence import _unsaved_spec

    report({"phase": "loading data", "message": "reading People's Daily, January 1998"})
    train, test = peoples_daily.split()
    if recipe.examples:
        train = train[: recipe.examples]
    size = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 512,
            "vocab_size": 6000, **recipe.scratch}  # fmt: skip
    report({"phase": "loading model", "message": "building the character vocabulary and the tagger"})
    # the Chinese BERT's own vocabulary (the same text gives the same one); a shortened run builds its own
    tokenizer = chinese_tokenizer(["".join(words) for words in train] if recipe.examples else None, size["vocab_size"])
    examples = rows(tokenizer, train, {tag: i for i, tag in enumerate(TAGS)}, recipe.max_length - 2)
    torch.manual_seed(recipe.seed)
    model = build_model(tokenizer, size, max_length=recipe.max_length, dropout=recipe.dropout)
    from transformers import DataCollatorForTokenClassification

    fitted = fit(recipe, folder, model, examples, DataCollatorForTokenClassification(tokenizer), report, should_stop)

    report({"phase": "evaluating", "message": f"segmenting {len(test)} held-out paragraphs, and with jieba"})
    segmenter = Segmenter(_unsaved_spec(recipe), tokenizer, model)
    texts = ["".join(words) for words in test]
    predicted, baseline = segmenter.words(texts), [jieba_words(text) for text in texts]
    mine, theirs = held_out_counts(test, predicted), held_out_counts(test, baseline)
    samples = [{"text": text, "gold": list(gold), "predicted": guess, "jieba": other}
               for text, gold, guess, other in list(zip(texts, test, predicted, baseline, strict=True))[:SAMPLES]]
    report({"phase": "saving", "message": "writing safetensors and tokenizer"})
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return {
        "labels": list(TAGS),
        "data": {"dataset": peoples_daily.DATASET, "train_size": len(train), "train_rows": len(examples),
                 "test_size": len(test), "test_words": int(mine[:, 2].sum()),
                 "held_out": "blocks of 50 consecutive paragraphs (one in ten), none also a training paragraph",
                 "provenance": peoples_daily.PROVENANCE},
        "metrics": word_scores(mine, seed=recipe.seed),
        "jieba": word_scores(theirs, seed=recipe.seed),
        "vs_jieba": paired_difference(mine, theirs, seed=recipe.seed),
        "samples": samples,
        "loss_curve": thin(fitted.losses, CARD_POINTS),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": fitted.seconds,
        "architecture": {"class": "RoFormerForTokenClassification", **size, "window": recipe.max_length - 2,
                         "decoding": "Viterbi over valid B/M/E/S sequences"},
    }  # fmt: skip
