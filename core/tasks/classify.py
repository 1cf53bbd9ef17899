"""Any Hugging Face sequence classifier as a thread-safe predictor: preprocess → forward → postprocess."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import time
import weakref
from dataclasses import dataclass, field

from core import catalog, loading, settings
from core.catalog import ModelSpec
from core.memo import Memo, digest
from core.messages import Message
from core.tasks import onnx_agreement, onnx_runtime, traced
from core.tasks.batching import Coalescer, at_the_gate, padded_passes, run_single
from core.tasks.inputs import FairLock, LanguageFit, check_text, inference_gate, language_fit, to_cpu

PROBABILITY = "probability"


@dataclass(frozen=True)
class ClassificationResult:
    label: str
    scores: dict[str, float]  # class → score, in the model's label order
    score_kind: str  # PROBABILITY or LEXICON_SHARE
    model_key: str
    n_tokens: int  # tokens the model saw (after truncation), special tokens included
    n_tokens_input: int  # tokens the full text would have needed
    max_tokens: int
    latency_ms: float
    details: dict[str, float] = field(default_factory=dict)
    runtime: str = ""  # what computed it, e.g. "ONNX Runtime fp32" ("" for a lexicon)
    runtime_note: str = ""  # why it is not the runtime LMLAB_SERVING asked for, when it is not
    language: LanguageFit | None = None  # the text's language against the model's, and its [UNK] tokens
    device: str = "cpu"  # where it was computed: "cpu", "cuda" or "mps"

    @property
    def truncated(self) -> bool:
        return self.n_tokens_input > self.n_tokens


def _normalise_label(raw: str) -> str:
    lowered = raw.strip().lower()
    return {"label_0": "negative", "label_1": "positive", "neg": "negative", "pos": "positive"}.get(
        lowered, lowered
    )


class TransformerClassifier:
    """A Hugging Face sequence classifier behind a lock: tokenizer and forward pass are not thread-safe
    when shared (fast tokenizers raise "Already borrowed"), so each call holds the lock for its
    preprocess + forward, and the process-wide gate bounds how many models compute at once."""

    def __init__(self, spec: ModelSpec, runtime: str | None = None):
        import torch

        self._torch = torch
        self.spec = spec
        self._fingerprint = catalog.weights_sha256(spec)  # before loading: a retrain while this loads must not be exported as it
        self.tokenizer, self.model = loading.load_classifier(spec)
        self.max_tokens = loading.token_limit(self.tokenizer, self.model)
        id2label = self.model.config.id2label
        self.labels = [_normalise_label(id2label[i]) for i in range(len(id2label))]
        # the serving runtime: ONNX Runtime when the model exports faithfully, else PyTorch (with the reason)
        self.runtime, self.runtime_note, self.onnx, self.recheck_below = "torch", "", None, 0.0
        self.exact = None  # where int8 serves: the fp32 export, which computes its close calls again
        wanted = runtime or settings.serving_runtime()
        from core import device

        self._device, self._placement = device, device.inference_placement()
        if wanted != "torch" and self._placement != ("cpu", "fp32"):  # ONNX Runtime here computes on the CPU in fp32
            self.runtime_note = Message("PyTorch serves on {device} in {precision}, as LM Lab's device settings ask",
                                        device=self._placement[0], precision=self._placement[1])  # fmt: skip
        elif wanted != "torch":
            self._serve_with(wanted)
        self._lock = FairLock()  # first come, first served: a long explanation cannot keep the model
        self.memo = Memo(max_entry_bytes=64 << 10)  # answers any session already got, by text
        # single requests from every session, answered in batches by whoever takes the model next
        me = weakref.ref(self)  # not a cycle: a model dropped from the caches is freed at once, not by a later gc pass
        self.coalescer = Coalescer(self._lock, lambda texts: me()._run(texts, by_length=True))
        self.answered = self.rechecked = 0  # int8's answers, and those computed again in fp32 (close calls)
        self._counting = threading.Lock()
        # explanations' pass from input embeddings, traced by the first one (core.tasks.traced); no reference back
        self.traced_pass = traced.OnePass.of(spec, self._lock, traced.logits_from_embeddings, self.model)

    def _serve_with(self, runtime: str) -> None:
        if self.spec.source == catalog.HUB:  # no fixed version to export once: the Hub's copy can change
            self.runtime_note = Message("models from the Hub are served by PyTorch")
            return
        if not self._fingerprint or catalog.weights_sha256(self.spec) != self._fingerprint:
            self.runtime_note = Message("the model changed while it was loading; PyTorch serves this copy")
            return
        try:
            with inference_gate():  # an export and its checks are heavy: they take a slot like any forward pass
                self.onnx = onnx_runtime.load(self.model, self.tokenizer, key=self.spec.key, runtime=runtime,
                                              fingerprint=self._fingerprint, threads=self._onnx_threads(runtime))  # fmt: skip
                if runtime == "onnx-int8":
                    texts = onnx_agreement.check_texts(self.spec)
                    found = onnx_agreement.agreement(self.onnx, self.model, self.tokenizer, texts, self.max_tokens)
                    same, of = found.same, found.of
                    self.exact = self._exact_export(runtime) if found.serves else None
        except Exception as error:  # noqa: BLE001 - whatever went wrong, PyTorch still answers, and says why
            self.onnx, self.runtime_note = None, str(error)[:300]
            if runtime == "onnx-int8":  # int8 could not be had: fp32 ONNX, else PyTorch
                self._serve_with("onnx")
                self.runtime_note = f"int8 could not serve ({str(error)[:200]}); " + (
                    "fp32 serves" if self.onnx is not None else f"PyTorch serves ({self.runtime_note})")
            return
        if runtime == "onnx-int8" and not found.serves:
            self.onnx = None
            self._serve_with("onnx")
            self.runtime_note = (Message("{why}; fp32 serves", why=found.refusal) if self.onnx is not None else
                                 Message("{why}; PyTorch serves ({reason})", why=found.refusal, reason=self.runtime_note))  # fmt: skip
            return
        self.runtime = runtime
        if runtime == "onnx-int8":
            self.recheck_below = found.recheck_below
            self.runtime_note = Message("int8 alone gives PyTorch fp32's label on {same} of {of} held-out texts; an "
                                        "answer whose top two classes are less than {margin} apart (in logits) is "
                                        "computed again in fp32", same=same, of=of, margin=f"{self.recheck_below:.3g}")  # fmt: skip
        # fast tokenizers are not thread-safe when shared; this one only tokenizes, for a moment per request
        self._serving_tokenizer, self._serving_lock = loading.load_tokenizer(self.spec), threading.Lock()

    def _exact_export(self, runtime: str):
        """The fp32 export for int8's close calls: PyTorch's answers to about 1e-6, a pass about half PyTorch's, and no
        wait for the model's lock. None where it cannot be opened (PyTorch computes them then)."""
        try:
            return onnx_runtime.open_exact(self.model, self.tokenizer, key=self.spec.key, fingerprint=self._fingerprint,
                                           threads=self._onnx_threads(runtime))  # fmt: skip
        except Exception:  # noqa: BLE001 - the close calls still get fp32, from PyTorch
            return None

    def _onnx_threads(self, runtime: str) -> int:
        """ONNX Runtime answers one request per pass, and the gate's slots run side by side: a share of the cores each
        (its own thread pool spin-waits; torch's OpenMP pool is what ``threads_for_serving`` is about)."""
        return max(1, settings.cores() // max(1, settings.limits().max_concurrent_inferences))

    @property
    def runtime_title(self) -> str:
        """'ONNX Runtime fp32', 'PyTorch fp32', 'PyTorch bf16 on cuda' …: what computes this model's answers."""
        if self.runtime == "torch":
            return f"PyTorch {self._placement[1]}"
        return onnx_runtime.RUNTIMES[self.runtime]

    # 1) preprocess: clean, check, tokenize with truncation at the model's real maximum
    def preprocess(self, texts: list[str], tokenizer=None, *, checked: bool = False):
        """``checked``: the texts come from ``check_text`` already (a served request's), so they are not cleaned twice."""
        cleaned = list(texts) if checked else [check_text(text) for text in texts]
        tokenizer = tokenizer or self.tokenizer
        batch = tokenizer(
            cleaned, truncation=True, max_length=self.max_tokens, padding=True, return_tensors="pt"
        )
        full_lengths = batch["attention_mask"].sum(dim=1).tolist()
        cut = [i for i, length in enumerate(full_lengths) if length >= self.max_tokens]  # maybe truncated
        if cut:  # only those are tokenized again, whole, to say how long they were
            whole = tokenizer([cleaned[i] for i in cut], truncation=False)["input_ids"]
            for i, ids in zip(cut, whole, strict=True):
                full_lengths[i] = len(ids)
        # the text's language against the model's, counted on the ids just made (no second tokenization)
        fits = [language_fit(text, self.spec.languages, tokenizer, ids[: int(n)])
                for text, ids, n in zip(cleaned, batch["input_ids"].tolist(), batch["attention_mask"].sum(dim=1).tolist(),
                                        strict=True)]  # fmt: skip
        return batch, full_lengths, fits

    # 2) forward: logits for the batch  # (B, n_classes)
    def forward(self, batch):
        """PyTorch's pass (ONNX Runtime's, one text each, go through ``_single``)."""
        with self._torch.inference_mode():
            return to_cpu(self.model(**batch).logits)

    # 3) postprocess: softmax → plain floats and the arg-max label
    def postprocess(self, logits, batch, full_lengths, latency_ms: float, fits, *,
                    runtime: str | None = None) -> list[ClassificationResult]:
        probabilities = self._torch.softmax(logits.float(), dim=-1).tolist()
        used = batch["attention_mask"].sum(dim=1).tolist()
        results = []
        for row, n_used, n_full, fit in zip(probabilities, used, full_lengths, fits, strict=True):
            best = max(range(len(row)), key=row.__getitem__)
            results.append(
                ClassificationResult(
                    label=self.labels[best],
                    scores={label: float(p) for label, p in zip(self.labels, row, strict=True)},
                    score_kind=PROBABILITY,
                    model_key=self.spec.key,
                    n_tokens=int(n_used),
                    n_tokens_input=int(n_full),
                    max_tokens=self.max_tokens,
                    latency_ms=latency_ms,
                    runtime=runtime or self.runtime_title,
                    runtime_note=self.runtime_note,
                    language=fit,
                    device=self._placement[0] if self.runtime == "torch" or runtime else "cpu",
                )
            )
        return results

    def _run(self, texts: list[str], *, by_length: bool = False, lock=None) -> list[ClassificationResult]:
        """One forward pass for ``texts`` (sorted by length first when asked: less padding, and cut into passes);
        the caller holds the model's lock, or passes it as ``lock`` to have it taken for each pass. ``latency_ms`` is
        that pass's time, preprocessing included."""
        if not by_length or not texts:
            return self._forward_once(texts) if texts else []
        # tokens estimated from characters, generously
        groups = padded_passes([min(self.max_tokens, len(text) // 2 + 2) for text in texts])
        answers: list[ClassificationResult] = [None] * len(texts)  # type: ignore[list-item]
        for group in groups:
            with lock or contextlib.nullcontext():
                found = self._forward_once([texts[i] for i in group])
            for index, result in zip(group, found, strict=True):
                answers[index] = result
        return answers

    def _forward_once(self, texts: list[str]) -> list[ClassificationResult]:
        """One PyTorch pass (where ONNX Runtime serves, this computes its close calls again when the fp32 export is not
        open)."""
        with inference_gate():
            started = time.perf_counter()
            batch, full_lengths, fits = self.preprocess(texts)
            logits = self.forward(batch)
            latency_ms = 1000 * (time.perf_counter() - started)
            runtime = f"PyTorch {self._placement[1]}" if self.onnx is not None else None
            return self.postprocess(logits, batch, full_lengths, latency_ms, fits, runtime=runtime)

    def predict_batch(self, texts: list[str]) -> list[ClassificationResult]:
        if self.onnx is not None:  # each text its own int8 pass, the answers predict() gives (see _answer) …
            cleaned = [check_text(text) for text in texts]
            prepared = [self._prepare(text) for text in cleaned]
            answers = [self._int8(one) for one in prepared]
            close = [i for i, (_result, gap) in enumerate(answers) if self._close(gap)]
            with self._counting:
                self.rechecked += len(close)
            results = [result for result, _gap in answers]
            found = [answers[i] for i in close]  # … and the close calls in fp32: a pass each on the fp32 export, or
            exact = self._on_export([prepared[i] for i in close], found) or self._on_pytorch([cleaned[i] for i in close], found)
            for i, one in zip(close, exact, strict=True):  # PyTorch's passes sorted by length
                results[i] = one
            return results
        with self._lock:  # sorted and cut into passes of at most PADDED_TOKENS: no unbounded pass
            return self._run(texts, by_length=True)

    @contextlib.contextmanager
    def exclusive(self):
        """The PyTorch model to oneself for a moment (an inspection's hooks): its lock and one inference slot."""
        with self._lock, inference_gate():
            yield self.model

    def predict(self, text: str) -> ClassificationResult:
        """A fresh forward pass (its latency is measured now), shared with the other sessions asking this model
        at the same moment; the answer is kept for ``predict_cached``."""
        cleaned = check_text(text)  # a refused text never joins a batch
        result = self._answer(cleaned)
        self.memo.put(digest(cleaned), result)
        return result

    def predict_cached(self, text: str) -> ClassificationResult:
        """The answer any session already got for this text, else a forward pass: for views that redraw
        on every rerun (the what-if), where the latency is not shown."""
        cleaned = check_text(text)
        return self.memo.get(digest(cleaned), lambda: self._answer(cleaned))

    def _answer(self, cleaned: str) -> ClassificationResult:
        """One request's answer. On PyTorch, requests arriving together share a forward pass (the coalescer): that
        is where its throughput comes from. On ONNX Runtime each request is a pass of its own, run on the single-pass
        threads, two side by side: measured here, that is faster than its batches, and it keeps int8's answers
        independent of other sessions (int8 quantises each pass's activations with one scale for the whole
        batch, so a text's probabilities would depend on what others sent at the same moment). Where int8 serves,
        a close call (top two classes nearer than ``recheck_below``) is answered in fp32 instead: by the fp32 export
        in the same slot, else by PyTorch, whose pass waits for the model's lock like any PyTorch answer (an
        explanation holding it holds the close call up). A caller must not hold an inference slot and ask a model that
        PyTorch serves, or whose close calls PyTorch computes (no fp32 export open): the model's lock is taken before a
        slot, never after."""
        if self.onnx is None:
            return self.coalescer.submit(cleaned)
        # on the single-pass threads, which go from one session's request to the next without a pause. Computed here
        # instead by a caller holding an inference slot already (the threads could need that slot), and while other
        # work is at the gate: there each request keeps a place of its own in the queue, as fair as before
        gate = inference_gate()
        if gate.held_here() or at_the_gate.others(gate):
            result, gap = self._checked(cleaned)
        else:
            result, gap = run_single(self._checked, cleaned)
        # a close call left to PyTorch is computed here: waiting for the model's lock holds up no single-pass thread
        return self._on_pytorch([cleaned], [(result, gap)])[0] if self._close(gap) else result

    def _checked(self, cleaned: str) -> tuple[ClassificationResult, float]:
        """int8's answer and the gap between its top two logits; a close call computed again by the fp32 export where
        it is open, on the same tokens in the same slot (its gap then infinite: nothing is left to check). Counted in
        ``at_the_gate`` while it waits for its slot and holds it."""
        nested = inference_gate().held_here()
        with contextlib.nullcontext() if nested else at_the_gate, inference_gate():
            prepared = self._prepare(cleaned)
            result, gap = self._int8(prepared)
            if not self._close(gap):
                return result, gap
            with self._counting:
                self.rechecked += 1
            exact = self._on_export([prepared], [(result, gap)])
            return (exact[0], math.inf) if exact else (result, gap)

    def _close(self, gap: float) -> bool:
        """A close call for int8 (a NaN gap included), to be computed again in fp32; never for another runtime."""
        return self.runtime == "onnx-int8" and not gap >= self.recheck_below

    def _prepare(self, cleaned: str):
        """One checked text tokenized for an exported model: the batch, its lengths, its language fit, and the
        seconds that took."""
        with self._serving_lock:  # a tokenizer of its own: an explanation holding the model does not stop it
            started = time.perf_counter()
            batch, full_lengths, fits = self.preprocess([cleaned], self._serving_tokenizer, checked=True)
            return batch, full_lengths, fits, time.perf_counter() - started

    def _int8(self, prepared) -> tuple[ClassificationResult, float]:
        """ONNX Runtime's answer for one prepared text, alone in its pass, and the gap between its top two logits."""
        result, logits = self._single(prepared, self.onnx)
        with self._counting:
            self.answered += 1
        return result, onnx_agreement.top_gap(logits[0].tolist())

    def _single(self, prepared, found, runtime: str | None = None):
        """An exported model's answer for one prepared text, alone in its pass, and its logits."""
        batch, full_lengths, fits, tokenizing = prepared
        with inference_gate():
            started = time.perf_counter()
            logits = self._torch.from_numpy(found.logits(batch))
            latency_ms = 1000 * (tokenizing + time.perf_counter() - started)
        return self.postprocess(logits, batch, full_lengths, latency_ms, fits, runtime=runtime)[0], logits

    def _on_export(self, prepared: list, answers: list[tuple[ClassificationResult, float]]) -> list | None:
        """Close calls answered by the fp32 export, a pass each; None where it is not open or a pass fails (PyTorch
        computes them then)."""
        if self.exact is None:
            return None
        try:
            # the tokens are int8's, and so is the time that took: counted once, in int8's latency
            exact = [self._single((*one[:3], 0.0), self.exact, onnx_runtime.RUNTIMES["onnx"])[0] for one in prepared]
        except Exception:  # noqa: BLE001 - PyTorch is still there to compute them
            return None
        return self._marked(exact, answers)

    def _on_pytorch(self, texts: list[str], answers: list[tuple[ClassificationResult, float]]) -> list[ClassificationResult]:
        """Close calls answered by PyTorch fp32 (one request through the coalescer, which shares passes with other
        sessions' close calls; several in passes sorted by length). Where that fails, int8's answer stands, and says so."""
        if not texts:
            return []
        try:
            if len(texts) == 1:
                exact = [self.coalescer.submit(texts[0])]
            else:  # the lock taken for each pass: a batch of close calls does not keep the model from the others
                exact = self._run(texts, by_length=True, lock=self._lock)
        except Exception as error:  # noqa: BLE001 - the int8 answer is a good answer, only not checked
            why = Message("a close call for int8 that could not be computed again in fp32 ({error})", error=str(error)[:200])
            return [dataclasses.replace(result, runtime_note=why) for result, _gap in answers]
        return self._marked(exact, answers)

    def _marked(self, exact: list[ClassificationResult], answers) -> list[ClassificationResult]:
        """fp32's answers to close calls, saying why they were computed, with both passes' time."""
        return [dataclasses.replace(one, latency_ms=result.latency_ms + one.latency_ms, runtime_note=Message(
                    "int8's top two classes were {gap} apart, under {margin}: computed again in fp32",
                    gap=f"{gap:.3g}", margin=f"{self.recheck_below:.3g}"))
                for one, (result, gap) in zip(exact, answers, strict=True)]  # fmt: skip


def make_classifier(spec: ModelSpec) -> TransformerClassifier:
    if spec.kind != "transformers":
        choices = sorted(s.key for s in catalog.specs_for_task(spec.task) if s.kind == "transformers")
        raise catalog.UnknownModelError(f"{spec.title} is not a neural classifier; choose one of {choices}.")
    return TransformerClassifier(spec)
