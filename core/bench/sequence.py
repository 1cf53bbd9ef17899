"""Benchmarks for translation, semantic role labeling and language modelling — the same measurements as
for the classifiers (quality with a 95 % CI, a paired comparison with a baseline, latency after
warm-up, throughput, peak memory, size) in the same table, each task with its own metric:

* translation: chrF (and BLEU) on the held-out generated sentences; the paired comparison is on
  sentence-level chrF; variants ``@beam4`` (beam search), ``@int8`` (dynamic quantisation) and ``@onnx`` (greedy
  decoding on ONNX Runtime, as the Translate page serves it);
* srl: argument-span F1 on the held-out frames; paired on frames; variant ``@int8``;
* generation: perplexity per *word* on the held-out Lee articles — comparable across tokenizers,
  unlike perplexity per token — with the Kneser–Ney trigram as ``baseline:kneser-ney``; paired on
  articles. Lower is better.
"""

from __future__ import annotations

import time

import numpy as np

from core import catalog
from core.bench.scoring import HeldOut, Scored, Scoring, described, spec_and_variant, timed
from core.device import precision_of
from core.errors import CoreError

# GPT-2's blocks are Conv1D layers, which dynamic quantisation leaves alone (only the output head would
# change), so the language model has no @int8 variant: it would be the same model under another name.
KNESER_NEY = "baseline:kneser-ney"


def _quantised(model):
    import torch

    # dynamic int8 runs on the CPU: a model placed on a GPU (or in bf16) is brought back in fp32 first
    return torch.ao.quantization.quantize_dynamic(model.to("cpu", torch.float32), {torch.nn.Linear}, dtype=torch.qint8)


def _f1(counts: np.ndarray) -> float:
    tp, predicted, gold = counts.sum(axis=0)
    return 0.0 if tp == 0 else 2 * tp / (predicted + gold)


def _word_perplexity(stats: np.ndarray) -> float:
    return float(np.exp(stats[:, 0].sum() / max(stats[:, 1].sum(), 1)))


# --- one model at a time -----------------------------------------------------------------------------


def _seq(spec: catalog.ModelSpec, variant: str, model, **fields) -> Scored:
    precision = {"int8": "dynamic int8", "onnx": "ONNX Runtime fp32"}.get(variant) or precision_of(model)
    return Scored(**described(spec, model), precision=precision, **fields)


def _translation(model_id: str, held_out: HeldOut, repeats: int, seed: int) -> Scored:
    from sacrebleu.metrics import CHRF

    from core.tasks.translate import Translator, corpus_scores

    spec, variant = spec_and_variant(model_id, held_out.task)
    if variant == "int8":  # quantised from the CPU fp32 weights, whatever the serving placement
        from core.loading import load_seq2seq

        tokenizer, model = load_seq2seq(spec, eager_attention=spec.source != catalog.HUB, place=False)
        translator = Translator(spec, tokenizer, _quantised(model), onnx=False)
    elif variant == "onnx":  # greedy decoding on ONNX Runtime, as the Translate page serves it
        translator = Translator(spec)
        if translator._greedy is None:
            raise CoreError(f"{spec.title} does not decode on ONNX Runtime here: {translator.runtime_note}.")
    else:  # PyTorch's generate, for the latency and the batched throughput (the page decodes greedily on ONNX Runtime)
        translator = Translator(spec, onnx=False)
    beams = 4 if variant == "beam4" else 1
    sources, references = held_out.texts, held_out.references
    translator.translate_batch(sources[:2], beams=beams)  # warm-up
    started = time.perf_counter()
    outputs = translator.translate_batch(sources, beams=beams)
    throughput = len(sources) / (time.perf_counter() - started)
    scores = corpus_scores(outputs, references)
    sentence = CHRF()
    per_item = np.array([[sentence.sentence_score(o, [r]).score] for o, r in zip(outputs, references, strict=True)])
    timings, text = timed(lambda text: translator.translate(text, beams=beams, with_attention=False), sources, repeats)
    return _seq(spec, variant, translator.model, outputs=outputs, per_item=per_item, quality=scores["chrf"],
                throughput=throughput, timings=timings, timed_text=text,
                extras={"decoding": "beam search, 4 beams" if beams > 1 else "greedy",
                        "secondary_metric": "BLEU", "secondary": scores["bleu"]["value"]})  # fmt: skip


def _srl(model_id: str, held_out: HeldOut, repeats: int, seed: int) -> Scored:
    from seqeval.metrics.sequence_labeling import get_entities

    from core.tasks.srl import SrlLabeler, bracketed, span_scores

    spec, variant = spec_and_variant(model_id, held_out.task)
    if variant == "int8":  # quantised from the CPU fp32 weights, whatever the serving placement
        from core.loading import load_token_classifier

        tokenizer, model = load_token_classifier(spec, place=False)
        labeler = SrlLabeler(spec, tokenizer, _quantised(model))
    else:
        labeler = SrlLabeler(spec)
    gold, predicted, per_item, outputs = [], [], [], []
    sentences = held_out.data.test
    labeler.label_words(sentences[0].words, [sentences[0].frames[0].predicate])  # warm-up
    started = time.perf_counter()
    for sentence in sentences:
        frames, _ = labeler.label_words(sentence.words, [f.predicate for f in sentence.frames])
        for truth, guess in zip(sentence.frames, frames, strict=True):
            g = [t if not t.endswith("-V") else "O" for t in truth.tags]
            p = [t if not t.endswith("-V") else "O" for t in guess.tags]
            gold.append(list(truth.tags))
            predicted.append(guess.tags)
            gs, ps = set(get_entities(g)), set(get_entities(p))
            per_item.append([len(gs & ps), len(ps), len(gs)])
    throughput = len(gold) / (time.perf_counter() - started)
    words = [sentence.words for sentence in sentences for _ in sentence.frames]
    outputs = [bracketed(w, tags) for w, tags in zip(words, predicted, strict=True)]
    scores = span_scores(gold, predicted)
    timings, text = timed(lambda text: labeler.label(text), [s.text for s in sentences], repeats)
    return _seq(spec, variant, labeler.model, outputs=outputs,
                per_item=np.array(per_item, dtype=float), quality=scores["span_f1"], throughput=throughput,
                timings=timings, timed_text=text,
                extras={"decoding": "one row per frame, a sentence's frames in one pass", "secondary_metric": "precision",
                        "secondary": scores["precision"]})  # fmt: skip


def _generation(model_id: str, held_out: HeldOut, repeats: int, seed: int) -> Scored:
    from core.tasks.generate import LanguageModel, documents_nll, ngram_nll, perplexity_with_ci

    baseline = model_id == KNESER_NEY
    chinese = held_out.task == "generation-zh"  # perplexity per character, not per whitespace-separated word
    own = catalog.ZH_CHAR_GPT if chinese else catalog.LM_LEE
    spec, variant = (own, "") if baseline else spec_and_variant(model_id, held_out.task)
    lm = LanguageModel(spec)
    block = min(lm.context, 128)
    articles = held_out.data
    started = time.perf_counter()
    documents = [[lm.tokenizer.eos_token_id, *lm.tokenizer(article)["input_ids"]] for article in articles]  # as in
    # training: a boundary first; the Transformer's windows scored in padded batches of 16 (faster here than 8 or 32,
    # and with less memory than 32), the same sums as one document at a time
    scored = ([ngram_nll(lm.ngram, ids) for ids in documents] if baseline
              else documents_nll(lm.model, documents, block, batch=16))  # fmt: skip
    throughput = sum(count for _, count in scored) / (time.perf_counter() - started)
    units = [len("".join(article.split())) if chinese else len(article.split()) for article in articles]
    stats = np.array([[nll, unit, count] for (nll, count), unit in zip(scored, units, strict=True)])
    token_ppl = perplexity_with_ci(stats[:, 0], stats[:, 2])
    word = perplexity_with_ci(stats[:, 0], stats[:, 1])
    prompts = ["".join(article.split())[:40] if chinese else " ".join(article.split()[:40]) for article in articles]
    if baseline:
        timings, text = timed(lambda text: lm.ngram.distribution(lm.tokenizer(text)["input_ids"]), prompts, repeats)
    else:
        timings, text = timed(lambda text: lm.next_tokens(text, k=5, fresh=True), prompts, repeats)
    fields = {"outputs": [], "per_item": stats[:, :2], "quality": word, "throughput": throughput, "timings": timings,
              "timed_text": text,
              "extras": {"decoding": f"Kneser-Ney trigram, same tokens as {own.key}" if baseline
                         else f"{block}-token window, stride {block // 2}",
                         "secondary_metric": "token perplexity", "secondary": token_ppl["value"]}}  # fmt: skip
    if baseline:
        return Scored(source="baseline", parameters=None, size_mb=None, train_s=None, precision="counts", **fields)
    return _seq(spec, variant, lm.model, **fields)


# --- the held-out data -------------------------------------------------------------------------------


def _translation_data(task: str) -> HeldOut:
    from core.data import translation
    from core.tasks.translate import direction

    data = translation.corpus(train_size=0)  # the held-out sentences every translation model is scored on
    source_of, target_of = direction(task)  # the same pairs, read from the other side for Chinese → English
    return HeldOut(task, data, [source_of(p) for p in data.test], data.dataset, [target_of(p) for p in data.test])


def _srl_data(task: str) -> HeldOut:
    """One item per frame (a sentence with one of its predicates): its text, and the gold roles in brackets."""
    from core.data import srl
    from core.tasks.srl import bracketed

    data = srl.corpus(train_size=0)
    texts = [s.text for s in data.test for _ in s.frames]
    references = [bracketed(s.words, f.tags) for s in data.test for f in s.frames]
    return HeldOut(task, data, texts, data.dataset, references)


def _generation_data(task: str) -> HeldOut:
    from core.tasks.generate import lm_corpus

    corpus = lm_corpus("peoples-daily" if task == "generation-zh" else "lee")
    articles = list(corpus.split()[1])
    return HeldOut(task, articles, articles, f"{corpus.name}, {len(articles)} held-out {corpus.unit}", [])


TRANSLATION = Scoring(_translation_data, _translation, lambda stats: float(stats[:, 0].mean()))
SRL = Scoring(_srl_data, _srl, _f1)
GENERATION = Scoring(_generation_data, _generation, _word_perplexity,
                     baseline_ready=lambda: catalog.availability(catalog.LM_LEE).ready)  # fmt: skip
GENERATION_ZH = Scoring(_generation_data, _generation, _word_perplexity,
                        baseline_ready=lambda: catalog.availability(catalog.ZH_CHAR_GPT).ready)  # fmt: skip
