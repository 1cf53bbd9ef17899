"""What a classification task's benchmark scores (``core.bench.classification``), behind one interface:
class probabilities for a batch of texts.

Neural models from the catalog (optionally as precision/attention variants: ``key@int8``,
``key@bf16``, ``key@eager``) and baselines fitted on the same training split: majority class,
TF-IDF + logistic regression, the VADER lexicon, and zero-shot MiniLM similarity.
"""

from __future__ import annotations

import numpy as np

from core import catalog
from core.errors import CoreError, UnknownModelError
from core.settings import INT8_CHECKED
from core.tasks import onnx_agreement, onnx_runtime
from core.tasks.inputs import to_cpu

BASELINES = {
    "baseline:majority": "Majority class (always the most frequent training label)",
    "baseline:tfidf-lr": "TF-IDF (word 1–2-grams; character 1–3-grams for Chinese) + logistic regression (fitted on the same training split)",
    "baseline:zero-shot": "Zero-shot MiniLM similarity ('This review is {label}.')",
}
VARIANTS = ("fp32", "int8", "bf16", "eager", "onnx", "onnx-int8", "cuda", "cuda-bf16")
GPU_VARIANTS = ("cuda", "cuda-bf16")  # offered where an NVIDIA GPU is (``scoring.choices``)


class Adapter:
    name: str
    source: str
    precision: str = "fp32"
    device: str = "cpu"
    parameters: int | None = None
    size_bytes: int | None = None
    train_seconds: float | None = None
    # False where the scores rank the classes but are no probabilities (VADER's rescaled compound, zero-shot's
    # softmax at a display temperature): no ECE or reliability curve for those rows.
    is_probability: bool = True

    def probabilities(self, texts: list[str]) -> np.ndarray:  # (N, C) in the task's label order
        raise NotImplementedError


class TransformerAdapter(Adapter):
    def __init__(self, spec: catalog.ModelSpec, labels: list[str], variant: str = "fp32"):
        import torch

        from core import loading

        self.name = spec.key if variant == "fp32" else f"{spec.key}@{variant}"
        self.source = catalog.SOURCE_LABELS[spec.source]
        self._torch = torch
        # the CPU fp32 copy, whatever the serving placement: each variant says where and how it computes
        fingerprint = catalog.weights_sha256(spec)  # read before loading: a retrain meanwhile must not be exported as it
        tokenizer, model = loading.load_classifier(spec, eager_attention=variant == "eager", place=False)
        if catalog.weights_sha256(spec) != fingerprint:
            raise CoreError(f"{spec.key} was retrained while it loaded: run again.")
        if variant in GPU_VARIANTS:
            from core.device import place

            place(model, ("cuda", "bf16" if variant == "cuda-bf16" else "fp32"))
            self.device = "cuda"
        elif variant == "int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        elif variant == "bf16":
            model = model.to(torch.bfloat16)
        self.precision = {"int8": "dynamic int8", "bf16": "bf16", "cuda-bf16": "bf16",
                          **onnx_runtime.RUNTIMES}.get(variant, "fp32") + (  # fmt: skip
            ", eager attention" if variant == "eager" else ""
        )
        self.onnx, self.recheck_below = None, 0.0
        self.tokenizer, self.model = tokenizer, model
        self.max_tokens = loading.token_limit(tokenizer, model)
        if variant.startswith("onnx"):
            self.onnx = onnx_runtime.load(model, tokenizer, key=spec.key, runtime=variant, threads=torch.get_num_threads(),
                                          fingerprint=fingerprint)  # fmt: skip
        if variant == "onnx-int8":  # as the pages serve int8: close calls computed again in fp32 (a model int8 may not
            # serve, by ``Agreement.serves``, is served by fp32 on the pages; its @onnx row scores that)
            texts = onnx_agreement.check_texts(spec)
            self.recheck_below = onnx_agreement.agreement(self.onnx, model, tokenizer, texts, self.max_tokens).recheck_below
            self.precision = INT8_CHECKED
        id2label = model.config.id2label
        own = [str(id2label[i]).lower() for i in range(len(id2label))]
        missing = [label for label in labels if label not in own]
        if missing:
            raise CoreError(f"{spec.title} has classes {own}; this task needs {labels}.")
        self.order = [own.index(label) for label in labels]
        self.parameters = sum(p.numel() for p in model.parameters())
        meta = catalog.read_metadata(spec.key) if spec.trained_here else None
        self.size_bytes = (meta.size_bytes if meta else None) or spec.size_bytes
        self.train_seconds = meta.train_seconds if meta else None

    def probabilities(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        if self.onnx is not None:  # one text per pass, as the pages are served (int8's scale is per pass)
            singles = [self.tokenizer([text], truncation=True, max_length=self.max_tokens, return_tensors="pt")
                       for text in texts]  # fmt: skip
            logits = torch.from_numpy(np.concatenate([self.onnx.logits(one) for one in singles])).float()
            close = [i for i, row in enumerate(logits.tolist()) if not onnx_agreement.top_gap(row) >= self.recheck_below]
            if close:  # where int8 could have changed the label, fp32 answers (the pages ask the fp32 export, PyTorch's to ~1e-6)
                batch = self.tokenizer([texts[i] for i in close], truncation=True, max_length=self.max_tokens,
                                       padding=True, return_tensors="pt")  # fmt: skip
                with torch.inference_mode():
                    logits[close] = self.model(**batch).logits.float()
        else:
            batch = self.tokenizer(texts, truncation=True, max_length=self.max_tokens, padding=True, return_tensors="pt")
            with torch.inference_mode():
                logits = to_cpu(self.model(**batch).logits)
        return torch.softmax(logits, dim=-1).numpy()[:, self.order]


class VaderAdapter(Adapter):
    name, source = "vader", "packaged"
    is_probability = False

    def __init__(self, labels: list[str]):
        from core.tasks.sentiment import VaderSentiment

        if labels != ["negative", "positive"]:
            raise CoreError("VADER scores sentiment only (negative / positive).")
        self.vader = VaderSentiment()

    def probabilities(self, texts: list[str]) -> np.ndarray:
        # the compound score in [-1, 1] mapped to [0, 1]: a monotone score, not a calibrated probability;
        # a compound of exactly 0 counts as positive, the same rule as the Sentiment page's held-out score
        compound = np.array([self.vader.predict(t).details["compound"] for t in texts])
        positive = (compound + 1) / 2
        positive[compound == 0] += 1e-9  # break the exact tie toward positive, so argmax agrees
        return np.stack([1 - positive, positive], axis=1)


class MajorityAdapter(Adapter):
    name, source = "baseline:majority", "baseline"

    def __init__(self, labels: list[str], train_labels: list[str]):
        counts = np.array([train_labels.count(label) for label in labels], dtype=float)
        self.share = counts / counts.sum()
        self.parameters = 0

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return np.tile(self.share, (len(texts), 1))


class TfidfAdapter(Adapter):
    name, source = "baseline:tfidf-lr", "baseline"

    def __init__(self, labels: list[str], train_texts: list[str], train_labels: list[str]):
        import time

        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        from core.data.text import language_of

        started = time.perf_counter()
        # Chinese is written without spaces: its features are character 1–3-grams (whitespace-split "words" would
        # be whole clauses); English keeps word 1–2-grams.
        sample = train_texts[:: max(1, len(train_texts) // 200)]
        chinese = sum(language_of(text) == "zh" for text in sample) > len(sample) / 2
        self.features = "character 1–3-grams" if chinese else "word 1–2-grams"
        vectorizer = (TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True) if chinese
                      else TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True))  # fmt: skip
        self.pipe = make_pipeline(vectorizer, LogisticRegression(max_iter=1000, C=10.0))
        self.pipe.fit(train_texts, train_labels)
        self.train_seconds = time.perf_counter() - started
        classes = list(self.pipe.classes_)
        self.order = [classes.index(label) for label in labels]
        self.parameters = int(self.pipe[-1].coef_.size + self.pipe[-1].intercept_.size)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return self.pipe.predict_proba(texts)[:, self.order]


class ZeroShotAdapter(Adapter):
    name, source = "baseline:zero-shot", "baseline (packaged MiniLM)"
    is_probability = False

    def __init__(self, labels: list[str]):
        from core.tasks.zero_shot import ZeroShotClassifier

        self.labels = labels
        self.classifier = ZeroShotClassifier(template="This review is {label}.")
        self.parameters = sum(p.numel() for p in self.classifier.encoder.model.parameters())
        weight = next(self.classifier.encoder.model.parameters())  # where LM Lab placed the encoder
        self.device = weight.device.type
        self.precision = {"torch.bfloat16": "bf16", "torch.float16": "fp16"}.get(str(weight.dtype), "fp32")

    def probabilities(self, texts: list[str]) -> np.ndarray:
        from core.tasks.zero_shot import TEMPERATURE, fill

        encoder = self.classifier.encoder
        vectors = encoder.encode(
            texts + [fill(self.classifier.template, label) for label in self.labels]
        )
        similarity = vectors[: len(texts)] @ vectors[len(texts) :].T
        weights = np.exp((similarity - similarity.max(axis=1, keepdims=True)) / TEMPERATURE)
        return weights / weights.sum(axis=1, keepdims=True)


def refuse_unavailable(model_id: str) -> None:
    """A GPU row on a machine (or a setting) without the GPU it needs is refused before anything loads."""
    from core.bench.scoring import variant_here

    variant = model_id.partition("@")[2]
    if variant in GPU_VARIANTS and not variant_here(variant):
        raise CoreError(f"{model_id} needs an NVIDIA GPU with CUDA (with native bf16 for @cuda-bf16) that LM Lab "
                        "is allowed to use (LMLAB_DEVICE); this machine has none.")


def make(model_id: str, labels: list[str], train_texts: list[str], train_labels: list[str]) -> Adapter:
    if model_id == "vader":
        return VaderAdapter(labels)
    if model_id == "baseline:majority":
        return MajorityAdapter(labels, train_labels)
    if model_id == "baseline:tfidf-lr":
        return TfidfAdapter(labels, train_texts, train_labels)
    if model_id == "baseline:zero-shot":
        return ZeroShotAdapter(labels)
    key, _, variant = model_id.partition("@")
    variant = variant or "fp32"
    if variant not in VARIANTS:
        raise UnknownModelError(
            f"Unknown variant {variant!r} in {model_id!r}; choose one of {list(VARIANTS)}."
        )
    refuse_unavailable(model_id)
    spec = catalog.get_spec(key)
    if spec.kind != "transformers":
        raise UnknownModelError(f"{model_id!r} cannot be benchmarked as a Transformer classifier.")
    if variant.startswith("onnx") and spec.source == catalog.HUB:
        raise CoreError(f"{model_id}: models from the Hub have no fixed version to export to ONNX.")
    return TransformerAdapter(spec, labels, variant)
