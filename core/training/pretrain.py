"""Pretraining here: a small Chinese BERT learns to fill in hidden characters (masked language modelling) on
unlabelled text — People's Daily's training paragraphs and the training reviews of the Chinese sentiment
split, never a held-out one — with a character vocabulary built here from the same text.

The encoder it leaves is the starting point of the Chinese classifiers (``base="zh-bert"``); the same
architecture from random weights (``base="zh-scratch"``) is the comparison that says what pretraining buys.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.training.recipes import CHINESE_BERT_SIZE, Recipe
from core.training.trainer import CARD_POINTS, Report, fit, thin


def corpus() -> list[str]:
    """The unlabelled text: People's Daily's training paragraphs, then the Chinese reviews' training split."""
    from core.data import peoples_daily, reviews_zh

    return [*peoples_daily.training_text(), *(example.text for example in reviews_zh.split().train)]


def chinese_tokenizer(texts: list[str] | None = None, vocab_size: int = CHINESE_BERT_SIZE["vocab_size"]):
    """The character vocabulary built from ``corpus()`` (a few seconds; the same text gives the same vocabulary)."""
    from core.training.tokenizers import chinese_wordpiece

    return chinese_wordpiece(texts if texts is not None else corpus(), vocab_size=vocab_size)


def bert_config(tokenizer, size: dict, *, max_length: int, dropout: float | None, **head):
    from transformers import BertConfig

    shape = {name: value for name, value in {**CHINESE_BERT_SIZE, **size}.items() if name != "vocab_size"}
    rates = {} if dropout is None else {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    return BertConfig(vocab_size=len(tokenizer), max_position_embeddings=max(128, max_length),
                      pad_token_id=tokenizer.pad_token_id, **shape, **rates, **head)  # fmt: skip


def masked_only(config):
    """BERT with its masked-LM head, whose loss reads the word-prediction layer at the hidden positions only: the
    same loss as ``BertForMaskedLM``, without a 6,000-way softmax for the 85 % of tokens nobody asked about."""
    import torch
    from transformers import BertForMaskedLM
    from transformers.modeling_outputs import MaskedLMOutput

    class BertForMaskedPositions(BertForMaskedLM):
        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state  # fmt: skip
            if labels is None:
                return MaskedLMOutput(logits=self.cls(hidden))
            chosen = labels != -100
            logits = self.cls(hidden[chosen])
            return MaskedLMOutput(loss=torch.nn.functional.cross_entropy(logits.float(), labels[chosen]), logits=logits)

    model = BertForMaskedPositions(config)
    model.config.architectures = ["BertForMaskedLM"]  # saved as, and loaded back as, a plain BERT masked LM
    return model


def blocks(tokenizer, texts: list[str], length: int) -> list[dict]:
    """The texts' tokens one after another ([SEP] between texts), cut into [CLS] … [SEP] rows of ``length``."""
    sep = tokenizer.sep_token_id
    stream: list[int] = []
    encoded = tokenizer(texts, add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False)
    for ids in encoded["input_ids"]:
        stream += [*ids, sep]
    inner = length - 2
    return [{"input_ids": [tokenizer.cls_token_id, *stream[i : i + inner], sep]}
            for i in range(0, len(stream) - inner + 1, inner)]  # fmt: skip


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
    model = masked_only(bert_config(tokenizer, size, max_length=recipe.max_length, dropout=recipe.dropout))
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
        "architecture": {"class": "BertForMaskedLM", **size, "block": recipe.max_length},
    }  # fmt: skip
