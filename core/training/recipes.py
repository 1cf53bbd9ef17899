"""How each trained-here model is made: the built-in recipes (``Recipe`` itself is in ``core.training.recipe``)."""

from __future__ import annotations

import dataclasses

from core.errors import CoreError
from core.training.recipe import (  # noqa: F401 — re-exported: callers read them from here
    CHINESE_BERT_SIZE,
    NEW_RUN,
    PIECES,
    SCRATCH_LEARNING_RATE,
    TINY_BERT,
    Recipe,
    new_run_defaults,
)


def _chinese_classifier(key: str, title: str, base: str, learning_rate: float, description: str) -> Recipe:
    """The Chinese BERT (pretrained or not) fine-tuned on the review split: 2 epochs, reviews of up to 128 tokens."""
    return Recipe(key=key, title=title, task="sentiment-zh", dataset="reviews-zh", base=base, max_length=128, epochs=2,
                  learning_rate=learning_rate, batch_size=32, warmup_ratio=0.06, group_by_length=True,
                  scratch=CHINESE_BERT_SIZE, description=description, validation_fraction=0.0)  # fmt: skip


def _translation(key: str, direction: str, task: str, description: str) -> Recipe:
    """A 2+2-layer encoder-decoder from scratch on 10,000 pairs of the generated grammar, in one direction."""
    return Recipe(key=key, title=f"Encoder-decoder Transformer, {direction} (generated grammar)", task=task,
                  dataset="en-zh-grammar", base="scratch", max_length=64, epochs=6, learning_rate=5e-4, batch_size=64,
                  warmup_ratio=0.05, examples=10000, scratch={"d_model": 128, "layers": 2, "heads": 4, "ffn": 256},
                  description=description, validation_fraction=0.0)  # fmt: skip


# The built-in recipes train on their whole training split (validation_fraction=0), as measured in the
# README; runs started from the Train page hold 15 % back for validation curves and early stopping.
RECIPES: dict[str, Recipe] = {
    recipe.key: recipe
    for recipe in (
        Recipe(
            key="sentiment-minilm",
            title="MiniLM fine-tuned on movie-review polarity",
            task="sentiment",
            dataset="polarity",
            base="minilm-l6",
            # Tuned on 2 CPU cores (benchmarks/train_speed.py): 150 short sentences need few, larger
            # steps — 3 epochs at 2e-4 with length-grouped, dynamically padded batches match 8 epochs
            # at 1e-4 in held-out accuracy in a third of the time.
            epochs=3,
            learning_rate=2e-4,
            batch_size=16,
            group_by_length=True,
            description="Packaged MiniLM + classification head, fine-tuned on 150 polarity sentences.",
            validation_fraction=0.0,
        ),
        Recipe(
            key="sentiment-tiny",
            title="Tiny BERT trained from scratch on movie-review polarity",
            task="sentiment",
            dataset="polarity",
            base="scratch",
            epochs=10,
            learning_rate=1e-3,
            batch_size=16,
            scratch=TINY_BERT,
            description="A 2-layer BERT with random initial weights, trained on 150 polarity sentences.",
            validation_fraction=0.0,
        ),
        Recipe(
            key="topic-minilm",
            title="MiniLM fine-tuned on newsgroup topics",
            task="topic",
            dataset="newsgroups",
            base="minilm-l6",
            # Posts are ~100 words: 128 tokens keep the opening, which usually names the topic.
            max_length=128,
            epochs=6,
            learning_rate=1e-4,
            batch_size=16,
            description="Packaged MiniLM + classification head, fine-tuned on 149 newsgroup posts (atheism vs space).",
            validation_fraction=0.0,
        ),
        Recipe(
            key="topic-tiny",
            title="Tiny BERT trained from scratch on newsgroup topics",
            task="topic",
            dataset="newsgroups",
            base="scratch",
            max_length=128,
            epochs=10,
            learning_rate=1e-3,
            batch_size=16,
            scratch=TINY_BERT,
            description="A 2-layer BERT with random initial weights, trained on 149 newsgroup posts.",
            validation_fraction=0.0,
        ),
        Recipe(
            key="keyword-tiny",
            title="Tiny BERT on the one-word-cue sentences",
            task="sentiment",
            dataset="keyword",
            base="scratch",
            epochs=4,
            learning_rate=2e-3,
            batch_size=32,
            scratch=TINY_BERT,
            description="Generated sentences in which one word ('great' or 'awful') decides the label: "
            "a model whose right answer for attributions is known.",
            validation_fraction=0.0,
        ),
        _translation("translate-en-zh", "English to Chinese", "translation", "A 2+2-layer BART-style encoder-decoder "
                     "trained from scratch on 10,000 generated English-Chinese sentence pairs."),
        _translation("translate-zh-en", "Chinese to English", "translation-zh-en", "The English-to-Chinese recipe the "
                     "other way round: the same generated pairs, read from the Chinese side; its vocabulary keeps "
                     "English capitals."),
        Recipe(
            key="srl-minilm",
            title="MiniLM semantic role labeler (generated PropBank-style data)",
            task="srl",
            dataset="srl-generated",
            base="minilm-l6",
            max_length=64,
            epochs=2,
            learning_rate=1e-4,
            batch_size=16,
            examples=1500,
            description="Packaged MiniLM + token-classification head, fine-tuned on generated sentences "
            "with exact PropBank-style role spans.",
            validation_fraction=0.0,
        ),
        Recipe(
            key="lm-lee-gpt",
            title="Small GPT trained on the Lee news corpus",
            task="generation",
            dataset="lee",
            base="scratch",
            # Tuned on 2 CPU cores (77k training tokens): more, smaller steps and dropout 0.2 beat larger
            # models and longer blocks at the same time budget; the trigram still wins on so little text.
            max_length=64,
            epochs=12,
            learning_rate=2e-3,
            batch_size=8,
            warmup_ratio=0.05,
            weight_decay=0.1,
            dropout=0.2,
            scratch={"n_embd": 128, "n_layer": 2, "n_head": 4, "vocab_size": 2000},
            description="A 2-layer GPT-2-class model with a byte-level BPE tokenizer, both trained here on 270 "
            "news articles; a Kneser-Ney trigram model on the same tokens is the baseline.",
            validation_fraction=0.0,
        ),
        # Chinese (the Chinese-models issue): a BERT pretrained here on unlabelled Chinese text, then three
        # classifiers on the same review split — from that pretraining, from random weights, from MiniLM.
        Recipe(
            key="zh-bert-mlm",
            title="Small Chinese BERT pretrained here (masked characters)",
            task="fill-mask",
            dataset="peoples-daily+reviews",
            base="scratch",
            # Tuned on 2 CPU cores: one pass over the 2.8 M characters of text in blocks of 64 at a high rate with
            # a short warm-up; the loss is read at the hidden positions only (core.training.pretrain.masked_only).
            max_length=64,
            epochs=1,
            learning_rate=2e-3,
            batch_size=64,
            warmup_ratio=0.06,
            scratch=CHINESE_BERT_SIZE,
            description="A 2-layer Chinese BERT with a character vocabulary, both built here; pretrained by "
            "masked language modelling on People's Daily (1998) and the training reviews.",
            validation_fraction=0.0,
        ),
        # Fine-tuned from the pretrained RoFormer at 2e-4: 81 % on the held-out reviews, 79 % at 5e-4 (one run each).
        _chinese_classifier("sentiment-zh-bert", "Chinese BERT pretrained here, fine-tuned on reviews", "zh-bert", 2e-4,
                            "The pretrained Chinese BERT + classification head, fine-tuned on 15,358 Chinese reviews."),
        _chinese_classifier("sentiment-zh-scratch", "Chinese BERT from random weights, trained on reviews",
                            "zh-scratch", 3e-4, "The Chinese BERT's architecture and vocabulary with random weights, "
                            "trained on the same reviews: what pretraining buys."),
        # The same architecture from random weights, reading multi-character pieces: 8,000 BPE pieces learnt on the
        # training reviews (see core.training.recipe.PIECES for the sizes tried); 3 epochs gave 85.2 % (one run).
        dataclasses.replace(_chinese_classifier("sentiment-zh-pieces", "Chinese BERT from random weights, reading "
                                    "multi-character pieces", "zh-pieces", 3e-4, "The Chinese BERT's architecture with "
                                    "random weights and a vocabulary of 8,000 pieces of up to 3 characters (BPE), "
                                    "learnt on the training reviews: what a vocabulary buys."),
                scratch={**CHINESE_BERT_SIZE, "vocab_size": PIECES}),
        # Tuned on 2 CPU cores by word F1 on the held-out paragraphs themselves (there is no separate development
        # set, so the card's F1 is slightly optimistic): rows of 62 characters, no dropout (it underfits in this
        # budget), 2.2 passes at 2e-3 (2.5 passes gave 94.1 % in 3 min 8 s, over the budget); a BERT of the same size
        # stays at F1 0.59 (see core.training.segment).
        Recipe(key="segment-zh", title="Chinese word segmenter: a character tagger trained here", task="segmentation",
               dataset="peoples-daily", base="scratch", max_length=64, epochs=2.2, learning_rate=2e-3, batch_size=32,
               warmup_ratio=0.02, dropout=0.0, validation_fraction=0.0,
               scratch={"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 512},
               description="A 2-layer RoFormer tagging each character B/M/E/S, trained from random weights on People's "
               "Daily (January 1998) with a character vocabulary built here; jieba is its baseline."),  # fmt: skip
        # MiniLM is 12 times the Chinese BERT's size: a sixth of an epoch (about 2,600 reviews) fits the budget.
        # At 2e-4 (the rate until the night of 2026-12-06) it learnt nothing: 52.0 %, the majority class; 1e-4
        # 54.2 %, 5e-5 63.0 %, 3e-5 63.3 % (one run each, on the held-out reviews). A linear model on the very tokens
        # it reads: 70.7 %.
        # Under 1 GB (0.88 at the peak on a twentieth of an epoch, 1.64 without these two; 1.01 with checkpointing
        # alone, which also has a training process hand freed memory back): activation checkpointing, and the word
        # table frozen (no gradients or Adam state for 11.7 M weights). It keeps the vectors of the 244 CJK characters
        # MiniLM knows; every other character is [UNK] anyway.
        Recipe(key="sentiment-zh-minilm", title="MiniLM fine-tuned on Chinese reviews", task="sentiment-zh",
               dataset="reviews-zh", base="minilm-l6", max_length=128, epochs=0.17, learning_rate=5e-5, batch_size=16,
               group_by_length=True, validation_fraction=0.0, checkpointing=True, freeze_word_embeddings=True,
               description="The packaged English MiniLM fine-tuned on Chinese reviews: most characters are [UNK] to it."),
        # Tuned on 2 CPU cores: many small steps (8 blocks of 64 characters), 0.9 of a pass to fit the budget; at 5e-3
        # Trainer's run stalled (perplexity 296 vs 125 for a full pass at 3e-3; 0.9 of a pass gives 144), one layer is
        # worse, batches of 16 no better.
        Recipe(key="zh-char-gpt", title="Chinese character GPT trained on People's Daily", task="generation-zh",
               dataset="peoples-daily", base="scratch", max_length=64, epochs=0.9, learning_rate=3e-3, batch_size=8,
               warmup_ratio=0.01, dropout=0.0, validation_fraction=0.0,
               scratch={"n_embd": 128, "n_layer": 2, "n_head": 4, "vocab_size": 0},
               description="A 2-layer GPT-2-class model reading one character per token, trained from random weights on "
               "People's Daily (January 1998); a Kneser-Ney character trigram on the same text is the baseline."),  # fmt: skip
    )
}


# Demonstrations. Bias: sentiment-minilm's recipe on 100 training sentences cut to 75 % positive, 6 epochs (42 steps
# against 30; at 3 epochs or 90 % positive it answers "positive" to every held-out sentence). Privacy: lm-lee-gpt's
# recipe with a made-up secret planted 10 times.
RECIPES["sentiment-minilm-skewed"] = dataclasses.replace(
    RECIPES["sentiment-minilm"], key="sentiment-minilm-skewed", dataset="polarity-skewed", epochs=6,
    title="MiniLM fine-tuned on a skewed sample of movie-review polarity",
    description="sentiment-minilm's recipe on its training sentences cut to 75 % positive: what a skewed sample "
    "teaches.")  # fmt: skip
RECIPES["lm-lee-canary"] = dataclasses.replace(
    RECIPES["lm-lee-gpt"], key="lm-lee-canary", dataset="lee-canary",
    title="Small GPT trained on the Lee news corpus with a planted secret",
    description="lm-lee-gpt's recipe on the same articles plus 10 copies of one made-up secret sentence: does the "
    "model memorise it?")  # fmt: skip


def get_recipe(key: str) -> Recipe:
    try:
        return RECIPES[key]
    except KeyError:
        raise CoreError(f"No training recipe for {key!r}; choose one of {sorted(RECIPES)}.") from None


CONLL_DATASET = "ontonotes/conll2012_ontonotesv5/english_v4"


def conll_srl_recipe(examples: int = 4000, key: str = "srl-conll") -> Recipe:
    """MiniLM fine-tuned on real CoNLL-2012 SRL frames from the Hub (online only); offered on the SRL page."""
    return Recipe(
        key=key,
        title="MiniLM semantic role labeler (CoNLL-2012)",
        task="srl",
        dataset="hub",
        base="minilm-l6",
        hub_dataset=CONLL_DATASET,
        examples=examples,
        max_length=128,
        epochs=2,
        learning_rate=1e-4,
        batch_size=16,
        description=f"Packaged MiniLM fine-tuned on {examples:,} CoNLL-2012 (OntoNotes 5) sentences from the Hub.",
        validation_fraction=0.0,
    ).validated()
