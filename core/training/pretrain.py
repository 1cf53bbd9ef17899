"""Pretraining here: a small Chinese BERT learns to fill in hidden characters (masked language modelling) on
unlabelled text — People's Daily's training paragraphs and the training reviews of the Chinese sentiment
split, never a held-out one — with a character vocabulary built here from the same text.

The encoder it leaves is the starting point of the pretrained Chinese classifier (``base="zh-bert"``); the same
architecture from random weights (``base="zh-scratch"``) is the comparison that says what pretraining buys.

The BERT is a RoFormer: BERT's layers, with rotary position embeddings (RoPE) in place of BERT's learned position
table. The choice is measured. With learned positions, one pass over the text (as long as the budget allows) left
the model on the first plateau of masked-language-model training: it guessed the comma, 的 and 。 everywhere (4.0 %
of held-out hidden characters right, whatever the learning rate, batch, masking share or starting positions). It
had not learnt to read its neighbours. Rotary positions make "the character just before me" the same relation at
every place, and the same pass reaches 10–17 % (four runs; the word segmenter made the same choice for the same
reason).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.training.recipes import CHINESE_BERT_SIZE, PIECES, Recipe
from core.training.trainer import CARD_POINTS, Report, fit, thin

POSITION_BUCKET = 64  # hidden positions per batch are padded to a multiple of this (see _padded_positions)


def corpus() -> list[str]:
    """The unlabelled text: People's Daily's training paragraphs, then the Chinese reviews' training split."""
    from core.data import peoples_daily, reviews_zh

    return [*peoples_daily.training_text(), *(example.text for example in reviews_zh.split().train)]


def chinese_tokenizer(texts: list[str] | None = None, vocab_size: int = CHINESE_BERT_SIZE["vocab_size"]):
    """The character vocabulary built from ``corpus()`` (a few seconds; the same text gives the same vocabulary)."""
    from core.data import peoples_daily
    from core.training.tokenizers import chinese_wordpiece

    if texts is not None:
        return chinese_wordpiece(texts, vocab_size=vocab_size)
    parsed_before = peoples_daily.paragraphs.cache_info().currsize > 0
    tokenizer = chinese_wordpiece(corpus(), vocab_size=vocab_size)
    if not parsed_before:  # parsed only for this: People's Daily's 1.1 M words as strings hold about 90 MB
        peoples_daily.split.cache_clear()
        peoples_daily.paragraphs.cache_clear()
    return tokenizer


def chinese_pieces(vocab_size: int = PIECES):
    """The vocabulary of multi-character pieces (BPE) built from the Chinese reviews' training split only (a few
    seconds; the same split gives the same vocabulary): the pieces a review classifier reads."""
    from core.data import reviews_zh
    from core.training.tokenizers import chinese_pieces as build

    return build([example.text for example in reviews_zh.split().train], vocab_size=vocab_size)


def chinese_config(tokenizer, size: dict, *, max_length: int, dropout: float | None, **head):
    """The Chinese BERT's configuration: a RoFormer (BERT's layers, rotary positions) of ``CHINESE_BERT_SIZE``."""
    from transformers import RoFormerConfig

    shape = {name: value for name, value in {**CHINESE_BERT_SIZE, **size}.items() if name != "vocab_size"}
    rates = {} if dropout is None else {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    return RoFormerConfig(vocab_size=len(tokenizer), embedding_size=shape["hidden_size"],
                          max_position_embeddings=max(128, max_length), pad_token_id=tokenizer.pad_token_id,
                          **shape, **rates, **head)  # fmt: skip


def masked_only(config):
    """The Chinese BERT with its masked-LM head, whose loss reads the word-prediction layer at the hidden positions
    only: the same loss as ``RoFormerForMaskedLM``, without a 6,000-way softmax for the 85 % of tokens nobody asked
    about."""
    import torch
    from transformers import RoFormerForMaskedLM
    from transformers.modeling_outputs import MaskedLMOutput

    class MaskedPositions(RoFormerForMaskedLM):
        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
            hidden = self.roformer(input_ids=input_ids, attention_mask=attention_mask,
                                   token_type_ids=token_type_ids).last_hidden_state  # fmt: skip
            if labels is None:
                return MaskedLMOutput(logits=self.cls(hidden))
            where, targets = _padded_positions(labels)
            logits = self.cls(hidden.reshape(-1, hidden.shape[-1])[where])
            return MaskedLMOutput(loss=torch.nn.functional.cross_entropy(logits.float(), targets), logits=logits)

    model = MaskedPositions(config)
    model.config.architectures = ["RoFormerForMaskedLM"]  # saved as, and loaded back as, a plain masked LM
    return model


def _padded_positions(labels, bucket: int = POSITION_BUCKET):
    """The hidden positions (flat indices) and their labels, padded with ignored entries to a multiple of
    ``bucket``. The collator hides a different number of tokens in every batch; without the padding every step
    allocates word-prediction tensors of a new size, and the C allocator's free lists fragment: the job's memory
    grew all through training (by 430 MB in the first fifth of a pass). With it a few sizes recur and the whole
    job stays under 1 GB; the loss is the same (the padding is ignored by the mean)."""
    import torch

    flat = labels.reshape(-1)
    where = (flat != -100).nonzero().squeeze(1)
    count = len(where)
    size = -(-max(count, 1) // bucket) * bucket
    where = torch.cat([where, where.new_zeros(size - count)])
    targets = flat[where].clone()
    targets[count:] = -100
    return where, targets


def blocks(tokenizer, texts: list[str], length: int):
    """The texts' tokens one after another ([SEP] between texts), cut into [CLS] … [SEP] rows of ``length``."""
    from core.training.token_rows import cut, token_stream

    sep = tokenizer.sep_token_id
    return cut(token_stream(tokenizer, texts, after=[sep]), length, first=tokenizer.cls_token_id, last=sep)


def train_masked_lm(recipe: Recipe, folder: Path, report: Report, should_stop: Callable[[], bool]) -> dict:
    import torch
    from transformers import DataCollatorForLanguageModeling

    from core.data import peoples_daily
    from core.tasks.fill_mask import HELD_OUT_PARAGRAPHS, MASK_SHARE, mask_counts, share_with_ci

    report({"phase": "loading data", "message": "reading People's Daily and the training reviews"})
    texts = corpus()
    if recipe.examples:
        texts = texts[: recipe.examples]
    report({"phase": "loading model", "message": "building the character vocabulary and the BERT"})
    size = {**CHINESE_BERT_SIZE, **recipe.scratch}
    tokenizer = chinese_tokenizer(texts, size["vocab_size"])
    rows = blocks(tokenizer, texts, recipe.max_length)
    torch.manual_seed(recipe.seed)
    model = masked_only(chinese_config(tokenizer, size, max_length=recipe.max_length, dropout=recipe.dropout))
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=MASK_SHARE)
    fitted = fit(recipe, folder, model, rows, collator, report, should_stop)

    held_out = peoples_daily.held_out_sample(HELD_OUT_PARAGRAPHS)
    report({"phase": "evaluating", "message": f"hiding characters in {len(held_out)} held-out paragraphs"})
    model.eval()
    counts = mask_counts(model, tokenizer, held_out)  # the benchmark's positions: the same numbers on both pages
    report({"phase": "saving", "message": "writing safetensors and tokenizer"})
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return {
        "data": {"dataset": f"{peoples_daily.DATASET} + Chinese review training split", "train_size": len(texts),
                 "train_tokens": len(rows) * recipe.max_length, "test_size": len(held_out),
                 "held_out": "People's Daily paragraphs from held-out blocks, none also a training paragraph",
                 "provenance": peoples_daily.PROVENANCE},
        "metrics": {"mask_accuracy": share_with_ci(counts, seed=recipe.seed)},
        "loss_curve": thin(fitted.losses, CARD_POINTS),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": fitted.seconds,
        "architecture": {"class": "RoFormerForMaskedLM", **size, "block": recipe.max_length},
    }  # fmt: skip
