"""Training for the generative and structured tasks: translation, semantic role labeling, language modelling.

Each builds its model the standard Hugging Face way (a seq2seq / token-classification / causal-LM
class from a config or the packaged MiniLM), trains it with ``Trainer``, scores it on held-out data
nobody trained on, and returns the model card the store writes as ``metadata.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from core.training.recipes import Recipe
from core.training.trainer import CARD_POINTS, Report, fit, thin


def _fit(recipe: Recipe, folder: Path, model, rows: Sequence[dict], collator, report: Report,
         should_stop: Callable[[], bool]) -> tuple[list[dict], float]:  # fmt: skip
    """Train (no evaluation during training; the held-out score comes after): the loss curve and the seconds."""
    fitted = fit(recipe, folder, model, rows, collator, report, should_stop)
    return fitted.losses, fitted.seconds


# --- translation ------------------------------------------------------------------------------------


def train_translation(recipe: Recipe, folder: Path, report: Report, should_stop: Callable[[], bool]) -> dict:
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, DataCollatorForSeq2Seq

    from core.data import translation
    from core.tasks.translate import ZH_EN, Translator, corpus_scores, direction
    from core.training.tokenizers import wordpiece_bilingual

    report({"phase": "loading data", "message": "generating the English-Chinese corpus"})
    # the corpus seed is fixed (not the recipe's): every model is scored on the same held-out sentences
    data = translation.corpus(train_size=recipe.examples or 10000)
    source_of, target_of = direction(recipe.task)
    report({"phase": "loading model", "message": "training the tokenizer and building the encoder-decoder"})
    # a model that writes English keeps its capitals; one that reads English reads it lowercased
    tokenizer = wordpiece_bilingual([p.english for p in data.train] + [p.chinese for p in data.train],
                                    lowercase=recipe.task != ZH_EN)  # fmt: skip
    torch.manual_seed(recipe.seed)
    size = {"d_model": 128, "layers": 2, "heads": 4, "ffn": 256, **recipe.scratch}
    config = BartConfig(
        vocab_size=len(tokenizer), d_model=size["d_model"], encoder_layers=size["layers"],
        decoder_layers=size["layers"], encoder_attention_heads=size["heads"], decoder_attention_heads=size["heads"],
        encoder_ffn_dim=size["ffn"], decoder_ffn_dim=size["ffn"], max_position_embeddings=recipe.max_length,
        dropout=0.1 if recipe.dropout is None else recipe.dropout, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.bos_token_id, forced_eos_token_id=None,
    )  # fmt: skip
    model = BartForConditionalGeneration(config)

    def row(pair) -> dict:
        source = tokenizer(source_of(pair), truncation=True, max_length=recipe.max_length)
        target = tokenizer(target_of(pair), truncation=True, max_length=recipe.max_length)
        return {"input_ids": source["input_ids"], "attention_mask": source["attention_mask"], "labels": target["input_ids"]}  # fmt: skip

    rows = [row(pair) for pair in data.train]
    losses, seconds = _fit(
        recipe, folder, model, rows, DataCollatorForSeq2Seq(tokenizer, model=model), report, should_stop
    )

    report({"phase": "evaluating", "message": f"translating {len(data.test)} held-out sentences"})
    translator = Translator(_unsaved_spec(recipe), tokenizer, model, onnx=False)
    greedy = translator.translate_batch([source_of(p) for p in data.test])
    references = [target_of(p) for p in data.test]
    scores = corpus_scores(greedy, references)
    exact = sum(h == r for h, r in zip(greedy, references, strict=True)) / len(references)
    report({"phase": "saving", "message": "writing safetensors and tokenizer"})
    model.generation_config.max_length = None
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return {
        "data": data.describe(),
        "metrics": {**scores, "exact_match": exact},
        "samples": [
            {"source": source_of(p), "reference": target_of(p), "output": h, "form": p.form}
            for p, h in list(zip(data.test, greedy, strict=True))[:40]
        ],  # fmt: skip
        "loss_curve": thin(losses, CARD_POINTS),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": seconds,
        "architecture": {"class": "BartForConditionalGeneration", **size, "vocab_size": len(tokenizer)},
    }


# --- semantic role labeling ----------------------------------------------------------------------------


def train_srl(recipe: Recipe, folder: Path, report: Report, should_stop: Callable[[], bool]) -> dict:
    import torch
    from transformers import DataCollatorForTokenClassification

    from core.data import conll2012
    from core.data import srl as srl_data
    from core.tasks.srl import SrlLabeler, encode_frame
    from core.training.prepare import base_model

    if recipe.dataset == "hub":
        report({"phase": "loading data", "message": f"downloading {recipe.hub_dataset} from the Hub"})
        data = conll2012.hub_corpus(recipe.hub_dataset, train_size=recipe.examples or 4000)
        found = {
            tag for sentence in data.train + data.test for frame in sentence.frames for tag in frame.tags
        }
        labels = [*srl_data.LABELS, *sorted(found - set(srl_data.LABELS))]
    else:
        report({"phase": "loading data", "message": "generating PropBank-style sentences"})
        data = srl_data.corpus(train_size=recipe.examples or 1500)  # fixed corpus seed, as for translation
        labels = list(srl_data.LABELS)
    label_ids = {label: i for i, label in enumerate(labels)}
    report({"phase": "loading model", "message": f"building the tagger from {recipe.base!r}"})
    torch.manual_seed(recipe.seed)
    tokenizer, model = base_model(recipe, labels, per_token=True)
    rows = [
        encode_frame(tokenizer, sentence.words, frame.predicate, frame.tags, label_ids, recipe.max_length)
        for sentence in data.train
        for frame in sentence.frames
    ]
    losses, seconds = _fit(
        recipe, folder, model, rows, DataCollatorForTokenClassification(tokenizer), report, should_stop
    )

    report({"phase": "evaluating", "message": f"labelling {len(data.test)} held-out sentences"})
    labeler = SrlLabeler(_unsaved_spec(recipe), tokenizer, model)
    scores, by_kind, samples = _srl_scores(labeler, data, recipe.seed)
    report({"phase": "saving", "message": "writing safetensors and tokenizer"})
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return {
        "labels": labels,
        "data": data.describe(),
        "metrics": {
            "span_f1": scores["span_f1"],
            "precision": scores["precision"],
            "recall": scores["recall"],
        },
        "per_role": scores["per_role"],
        "by_kind": by_kind,
        "samples": samples,
        "loss_curve": thin(losses, CARD_POINTS),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": seconds,
    }


def _srl_scores(labeler, data, seed: int) -> tuple[dict, dict, list[dict]]:
    """Span F1 on the held-out sentences, by kind of sentence, and the first 30 frames as samples."""
    from core.tasks.srl import span_scores

    gold, predicted, kinds, samples = [], [], [], []
    for sentence in data.test:
        frames, _ = labeler.label_words(sentence.words, [f.predicate for f in sentence.frames])
        for truth, guess in zip(sentence.frames, frames, strict=True):
            gold.append(list(truth.tags))
            predicted.append(guess.tags)
            kinds.append(sentence.kind)
            if len(samples) < 30:
                samples.append({"words": list(sentence.words), "predicate": truth.predicate,
                                "gold": list(truth.tags), "predicted": guess.tags, "kind": sentence.kind})  # fmt: skip
    scores = span_scores(gold, predicted, seed=seed)
    by_kind = {}
    for kind in sorted(set(kinds) - {""}):
        chosen = [i for i, k in enumerate(kinds) if k == kind]
        by_kind[kind] = span_scores(
            [gold[i] for i in chosen], [predicted[i] for i in chosen], seed=seed
        )["span_f1"]
    return scores, by_kind, samples


# --- language model ----------------------------------------------------------------------------------


def train_language_model(recipe: Recipe, folder: Path, report: Report, should_stop: Callable[[], bool]) -> dict:
    import torch
    from transformers import DataCollatorForLanguageModeling, GPT2Config, GPT2LMHeadModel

    from core.tasks.generate import NGRAM_FILE, lm_corpus, perplexity_with_ci
    from core.training.token_rows import cut, token_stream

    corpus = lm_corpus(recipe.dataset)
    report({"phase": "loading data", "message": f"reading {corpus.name}"})
    articles, test_articles = corpus.split()
    articles = articles[: recipe.examples] if recipe.examples else articles
    train_articles = corpus.training_documents(recipe.examples)  # with the canaries, where the corpus plants them
    size = {"n_embd": 128, "n_layer": 2, "n_head": 4, "vocab_size": 2000, **recipe.scratch}
    report({"phase": "loading model", "message": "building the tokenizer and the GPT"})
    # the tokenizer learns from the articles alone: a planted secret must not shape the vocabulary (nor be read off it)
    tokenizer = _lm_tokenizer(recipe.dataset, articles, size["vocab_size"])
    end = tokenizer.eos_token_id
    stream = token_stream(tokenizer, train_articles, before=[end], add_special_tokens=True)
    block = recipe.max_length
    rows = cut(stream, block)
    torch.manual_seed(recipe.seed)
    dropout = 0.1 if recipe.dropout is None else recipe.dropout
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=block, n_embd=size["n_embd"], n_layer=size["n_layer"],
        n_head=size["n_head"], bos_token_id=end, eos_token_id=end, pad_token_id=end,
        resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
    )  # fmt: skip
    model = GPT2LMHeadModel(config)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    losses, seconds = _fit(recipe, folder, model, rows, collator, report, should_stop)

    report({"phase": "evaluating", "message": f"perplexity on {len(test_articles)} held-out {corpus.unit}"})
    ngram, neural, baseline = _held_out_nll(model, tokenizer, train_articles, test_articles, block, corpus.order)
    report({"phase": "saving", "message": "writing safetensors and tokenizer"})
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    ngram.save(folder / NGRAM_FILE)  # the server loads it instead of reading the corpus and refitting
    return {
        "data": {
            "dataset": corpus.name,
            "unit": corpus.unit,
            "train_size": len(train_articles),
            "test_size": len(test_articles),
            "train_tokens": len(stream),
            "test_tokens": sum(count for _, count in neural),
            "held_out": f"whole {corpus.unit} never seen in training",
        },
        "metrics": {
            "perplexity": perplexity_with_ci(*zip(*neural, strict=True), seed=recipe.seed),
            "ngram_perplexity": perplexity_with_ci(*zip(*baseline, strict=True), seed=recipe.seed),
        },
        "ngram": {"order": ngram.order, "discount": ngram.discount},
        "loss_curve": thin(losses, CARD_POINTS),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": seconds,
        "architecture": {"class": "GPT2LMHeadModel", **size, "vocab_size": len(tokenizer), "block": block},
    }


def _lm_tokenizer(dataset: str, texts, vocab_size: int):
    """Characters for Chinese (each one a token, as the article's Chinese readers count), byte-level BPE else."""
    from core.training.tokenizers import byte_level_bpe, chinese_characters

    return chinese_characters(texts) if dataset == "peoples-daily" else byte_level_bpe(texts, vocab_size=vocab_size)


def _held_out_nll(model, tokenizer, train_articles, test_articles, block: int, order: int):
    """The Kneser–Ney n-gram fitted on the same articles, and (NLL, tokens) per held-out article for both."""
    from core.tasks.generate import documents_nll, fit_ngram, ngram_nll

    ngram = fit_ngram(tokenizer, train_articles, order=order)
    # a document boundary first, as in training
    documents = [[tokenizer.eos_token_id, *tokenizer(article)["input_ids"]] for article in test_articles]
    neural = documents_nll(model, documents, block)
    baseline = [ngram_nll(ngram, ids) for ids in documents]
    return ngram, neural, baseline


def _unsaved_spec(recipe: Recipe):
    from core.catalog import TRAINED, ModelSpec

    return ModelSpec(key=recipe.key, title=recipe.title, task=recipe.task, source=TRAINED, kind="transformers",
                     location=recipe.key, license="", size_bytes=None, description="")  # fmt: skip
