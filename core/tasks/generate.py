"""A causal language model, the article's definition made visible: P(next token | tokens so far).

Next-token distributions, sampling with temperature / top-k / top-p and a seed, the log-probability
of a sentence token by token, and perplexity — each also from a Kneser–Ney n-gram model fitted on
the same training text with the same tokenizer, so the two can be compared token for token.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.catalog import ModelSpec, weights_sha256
from core.data.corpora import CORPORA, Corpus, lm_corpus  # noqa: F401 — re-exported: callers import them here
from core.errors import InputError
from core.memo import DISTRIBUTIONS, Memo
from core.messages import Message
from core.tasks import lm_onnx, traced
from core.tasks.batching import Coalescer
from core.tasks.inputs import FairLock, check_text, follows_inputs, inference_gate, to_cpu
from core.tasks.lm_scoring import document_nll, documents_nll, perplexity_with_ci  # noqa: F401 — re-exported
from core.tasks.ngram import KneserNey
from core.tasks.sampling import reshape, sample_next

MAX_PROMPT_TOKENS = 256
MAX_NEW_TOKENS = 200
# How long a generation keeps an inference slot (and on PyTorch the model) at a time, at least one token: a tenth of
# a second, so other requests get in between, yet not one wait for a slot per token (see generate()).
HOLD_S = 0.1
NGRAM_FILE = "ngram.npz"  # the Kneser–Ney counts fitted at training time, saved beside the model


def ngram_nll(ngram: KneserNey, token_ids: Sequence[int]) -> tuple[float, int]:
    logprobs = ngram.token_logprobs(list(token_ids))
    return -sum(logprobs), len(logprobs)


def fit_ngram(tokenizer, texts: Sequence[str], order: int = 3) -> KneserNey:
    """The trigram on the same token stream the Transformer learns from: each text after a document boundary."""
    start = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    sequences = [start + tokenizer(text)["input_ids"] for text in texts]
    return KneserNey(order=order).fit(sequences, vocab_size=len(tokenizer))


@dataclass(frozen=True)
class TokenScore:
    token: str
    logprob: float  # natural log, Transformer
    ngram_logprob: float | None


@dataclass(frozen=True)
class SentenceScore:
    tokens: list[TokenScore]
    logprob: float
    perplexity: float
    ngram_logprob: float | None
    ngram_perplexity: float | None


@dataclass(frozen=True)
class Generation:
    prompt: str
    text: str  # prompt + continuation
    continuation: str
    steps: list[dict]  # per new token: token, probability under the shaped distribution, candidates kept
    latency_ms: float
    seed: int
    ids: tuple[int, ...] = ()  # the boundary token, the prompt's tokens, then the generated ones (no end token)
    start: int = 0  # where the generated tokens begin in ids
    runtime: str = ""  # what computed the Transformer's passes ("" for the trigram)
    runtime_note: str = ""  # why PyTorch did, where it did (core.tasks.lm_onnx's notes)
    device: str = "cpu"


# Next-token answers any session already got (a class opens the same prompt; a game's every click reruns its page),
# by model instance and the exact tokens read: the same model, the same input, the same answer.
_NEXT_TOKENS = Memo(max_entry_bytes=16 << 10)
# the whole next-token distribution, for the bars reshaped by the sampling settings (a slider moves, the model does not
# run again); GPT-2's 50,257 tokens are 200 KB in float32
_DISTRIBUTIONS = Memo(max_entry_bytes=256 << 10, store=DISTRIBUTIONS)
_INSTANCES = itertools.count()


class LanguageModel:
    def __init__(self, spec: ModelSpec, tokenizer=None, model=None, ngram: KneserNey | None = None):
        self.spec = spec
        self._instance = next(_INSTANCES)  # a retrained model is a new instance: its answers are never mixed up
        # before loading: a retrain while this loads must not be exported as it (a model handed over has no version)
        self._fingerprint = weights_sha256(spec) if model is None and spec.trained_here else ""
        self._next_token: Callable[[list[int]], np.ndarray] | None = None  # ONNX Runtime's pass, for generation
        self.generation_note = ""  # why PyTorch generates, where it does
        self._next_token_guard, self._next_token_tried = threading.Lock(), False
        if model is None:
            from core.loading import load_causal_lm

            tokenizer, model = load_causal_lm(spec)
        self.tokenizer, self.model = tokenizer, follows_inputs(model)
        if ngram is None:
            ngram = _saved_ngram(spec, len(tokenizer))
        if ngram is None:
            from core.catalog import read_metadata

            card = read_metadata(spec.key) if spec.trained_here else None
            corpus = lm_corpus(card.recipe.get("dataset", "lee") if card else "lee")
            # the same training documents the Transformer saw (a recipe may have used fewer; a canary corpus adds its
            # planted sentences), as training fitted it
            used = int(card.recipe.get("examples") or 0) if card else 0
            ngram = fit_ngram(tokenizer, corpus.training_documents(used), order=corpus.order)
        self.ngram = ngram
        self.context = int(
            getattr(model.config, "n_positions", 0) or getattr(model.config, "max_position_embeddings", 1024)
        )
        self._lock = FairLock()  # first come, first served: a grid's passes alternate with other requests
        # next-token requests from every session, answered in one padded forward pass by whoever takes the model
        self.coalescer = Coalescer(self._lock, self._distributions)
        # the body's pass from input embeddings (core.tasks.traced) that attributions, the next-token bars, scoring and
        # PyTorch's generation run, built by the first request
        self.traced_pass = traced.OnePass.of(spec, self._lock, _traced_body, self.model)

    def token_ids(self, text: str) -> list[int]:
        """``text`` as the model reads it: the boundary token, then its tokens (at most the prompt limit)."""
        return self._ids(text)

    def prompt_ids(self, text: str) -> list[int]:
        """The ids the model reads for a prompt: the boundary token, then the text's (checked, capped)."""
        return self._ids(text, allow_empty=True)

    def _ids(self, text: str, *, allow_empty: bool = False) -> list[int]:
        if allow_empty and not text.strip():
            ids: list[int] = []
        else:
            ids = self.tokenizer(check_text(text), split_special_tokens=True)["input_ids"]  # typed "[EOS]" is text
        if len(ids) > MAX_PROMPT_TOKENS:
            raise InputError(
                Message("The text has {count} tokens; the limit here is {limit}. Shorten it.", count=len(ids),
                        limit=MAX_PROMPT_TOKENS)
            )
        return [self.tokenizer.bos_token_id, *ids] if self.tokenizer.bos_token_id is not None else ids

    def _generation_pass(self) -> None:
        """ONNX Runtime's next-token pass for generation, opened once (core.tasks.lm_onnx); PyTorch where it cannot."""
        with self._next_token_guard:
            if not self._next_token_tried:
                with self.exclusive():  # no other page's hooks or attention switch in the traced model
                    self._next_token, self.generation_note = lm_onnx.for_model(self.spec, self.model, self._fingerprint)
                self._next_token_tried = True

    def _distribution(self, ids: list[int]) -> np.ndarray:
        import torch

        window = ids[-self.context :]
        if self._next_token is not None:
            return self._next_token(window)
        with torch.no_grad():
            logits = to_cpu(self._last_logits(torch.tensor([window]), torch.ones(1, len(window), dtype=torch.long))[0])
        return torch.softmax(logits, dim=-1).numpy().astype(np.float64)

    def _last_logits(self, ids, mask):
        """The logits after each row's last real token (rows right-padded, ``mask`` 1 on real tokens)  # (B, vocab)

        The body runs on every position, the output layer on those last ones only: with GPT-2's 50,257 words, logits
        for every position of 32 windows of 256 tokens would be 1.6 GB."""
        import torch

        head = self.model.get_output_embeddings()
        body = self.model.base_model
        ends = mask.sum(dim=1) - 1
        # GPT-2's family only: there the output layer is the whole head (other heads add a transform or a scale)
        if head is None or body is self.model or self.model.config.model_type != "gpt2":
            logits = self.model(input_ids=ids, attention_mask=mask).logits
            return logits[torch.arange(len(ids), device=logits.device), ends.to(logits.device)]
        device = next(self.model.parameters()).device  # the body is called directly: bring the inputs to it
        hidden = self._traced_hidden(ids)
        if hidden is None:
            hidden = body(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state
        return head(hidden[torch.arange(len(ids), device=device), ends.to(device)])

    def _traced_hidden(self, ids):
        """The body's output through its traced pass (core.tasks.traced: the GIL taken once per pass), or None where
        the eager body runs. Rows right-padded need no mask: a causal model's real tokens never see the padding after
        them. The caller holds the model."""
        found = self.traced_pass.found
        if found is None or found.traced is None:
            return None
        return found(self.model.get_input_embeddings()(ids))

    def _distributions(self, windows: list[tuple[int, ...]]) -> list[tuple[np.ndarray, float]]:
        """The next-token distribution after each window, from one forward pass over them all (right-padded, so
        every real token keeps its position and sees only the tokens before it), and that pass's milliseconds.
        The caller (the coalescer) holds the model's lock."""
        import torch

        longest = max(len(window) for window in windows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([[*window, *[pad] * (longest - len(window))] for window in windows])
        mask = torch.tensor([[1] * len(window) + [0] * (longest - len(window)) for window in windows])
        with inference_gate(), torch.no_grad():
            started = time.perf_counter()
            last = to_cpu(self._last_logits(ids, mask))  # each window's last real token
            probs = torch.softmax(last, dim=-1).numpy().astype(np.float64)
            latency = 1000 * (time.perf_counter() - started)
        return [(row, latency) for row in probs]

    def next_tokens(self, text: str, k: int = 10, *, fresh: bool = False) -> dict:
        """Top-k next tokens under the Transformer and under the n-gram model, with the entropy of each; requests
        of other sessions arriving at the same moment share the Transformer's forward pass, and an answer any
        session already got is read back (``cached`` True: its latency is that of the pass that computed it) unless
        ``fresh`` (the benchmark times the model, not the cache)."""
        ids = self._ids(text, allow_empty=True)
        if not ids:
            raise InputError(Message("Score needs at least one token of text."))
        # the first request traces the body (outside the lock) before the shared answer, which other sessions asking
        # the same wait for; requests arriving meanwhile run the eager body
        self.traced_pass.get()
        if fresh:
            return {**self._next_tokens(ids, k, fresh=True), "cached": False}
        computed = []

        def compute() -> dict:
            computed.append(True)
            return self._next_tokens(ids, k)

        return {**_NEXT_TOKENS.get((self._instance, tuple(ids), k), compute), "cached": not computed}

    def _probabilities(self, ids: list[int], *, fresh: bool = False) -> tuple[np.ndarray, float]:
        """The next-token distribution after ``ids`` (float32) and the latency of the pass that computed it; one pass
        per input for the bars and their reshaped copy, unless ``fresh`` (the benchmark times the model)."""
        window = tuple(ids[-self.context :])

        def compute() -> tuple[np.ndarray, float]:
            probs, latency = self.coalescer.submit(window)
            return np.asarray(probs, dtype=np.float32), latency

        self.traced_pass.get()  # as in next_tokens: before the shared answer
        return compute() if fresh else _DISTRIBUTIONS.get((self._instance, window), compute)

    def _next_tokens(self, ids: list[int], k: int, *, fresh: bool = False) -> dict:
        probs, latency = self._probabilities(ids, fresh=fresh)
        ngram = self.ngram.distribution(ids)
        vocab = min(len(probs), len(ngram))

        def top(p: np.ndarray) -> list[dict]:
            best = np.argsort(-p[:vocab], kind="stable")[:k]
            return [
                {"token": self.tokenizer.decode([int(i)]), "id": int(i), "probability": float(p[i])}
                for i in best
            ]

        def entropy(p: np.ndarray) -> float:
            q = p[p > 0]
            return float(-(q * np.log2(q)).sum())

        return {"transformer": top(probs), "ngram": top(ngram), "entropy_bits": entropy(probs),
                "ngram_entropy_bits": entropy(ngram), "latency_ms": latency, "context_tokens": len(ids)}  # fmt: skip

    def sampled_next_tokens(self, text: str, k: int, *, temperature: float, top_k: int, top_p: float) -> dict:
        """The Transformer's next tokens as sampling with these settings would draw them (``reshape``): the top k of
        the reshaped distribution and how many tokens stay possible."""
        ids = self.prompt_ids(text)
        if not ids:
            raise InputError(Message("Score needs at least one token of text."))
        probs, _latency = self._probabilities(ids)
        shaped = reshape(probs, temperature=temperature, top_k=top_k, top_p=top_p)
        best = [int(i) for i in np.argsort(-shaped, kind="stable")[:k] if shaped[i] > 0]
        rows = [{"token": self.tokenizer.decode([i]), "id": i, "probability": float(shaped[i])} for i in best]
        return {"rows": rows, "kept": int((shaped > 0).sum()), "vocabulary": len(shaped)}

    def generate(self, prompt: str, *, max_new_tokens: int = 40, temperature: float = 0.8, top_k: int = 50,
                 top_p: float = 0.95, seed: int = 0, use_ngram: bool = False) -> Generation:  # fmt: skip
        if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
            raise InputError(Message("Generate between 1 and {most} new tokens.", most=MAX_NEW_TOKENS))
        if not 0 <= temperature <= 5 or not 0 < top_p <= 1 or top_k < 0:
            raise InputError(Message("Temperature must be 0–5, top-p in (0, 1] and top-k ≥ 0 (0 = no cut)."))
        ids = self._ids(prompt, allow_empty=True)
        if not use_ngram:
            self._generation_pass()
            if self._next_token is None:  # PyTorch generates: through the traced body where it serves
                self.traced_pass.get()
        start = len(ids)
        rng = np.random.default_rng(seed)
        steps = []
        end = self.tokenizer.eos_token_id
        # the trigram needs neither the model nor an inference slot; ONNX Runtime's pass (thread-safe) a slot only, so
        # generations never queue for the model behind one another; PyTorch's the model and a slot. Each is kept for
        # up to HOLD_S of tokens (one token where a step takes longer), then others get in between
        started, going = time.perf_counter(), True
        while going and len(steps) < max_new_tokens:
            with (contextlib.nullcontext() if use_ngram else inference_gate() if self._next_token is not None
                  else self.exclusive()):  # fmt: skip
                held = time.perf_counter()
                while going and len(steps) < max_new_tokens:
                    probs = self.ngram.distribution(ids) if use_ngram else self._distribution(ids)
                    chosen, shaped = sample_next(probs, temperature=temperature, top_k=top_k, top_p=top_p, rng=rng)
                    steps.append({"token": self.tokenizer.decode([chosen]), "probability": float(probs[chosen]),
                                  "kept": int((shaped > 0).sum())})  # fmt: skip
                    going = chosen != end
                    if going:
                        ids.append(chosen)
                    if time.perf_counter() - held >= HOLD_S:
                        break
        latency = 1000 * (time.perf_counter() - started)
        continuation = self.tokenizer.decode(ids[start:], skip_special_tokens=True)
        prefix = self.tokenizer.decode(ids[:start], skip_special_tokens=True)
        runtime = "" if use_ngram else lm_onnx.title(self.model, self._next_token)
        return Generation(prompt=prompt, text=prefix + continuation, continuation=continuation, steps=steps,
                          latency_ms=latency, seed=seed, ids=tuple(ids), start=start, runtime=runtime,
                          runtime_note=self.generation_note if runtime.startswith("PyTorch") else "",
                          device=next(self.model.parameters()).device.type)  # fmt: skip

    def scored_ids(self, text: str) -> list[int]:
        """The ids of a text to score whole: the boundary token, then at least one and at most context − 1 tokens."""
        ids = self._ids(text)
        if len(ids) < 2:
            raise InputError(Message("Score needs at least one token of text."))
        if len(ids) > self.context:  # scored whole or not at all: never silently from the middle
            raise InputError(Message("The sentence has {count} tokens; after its boundary token this model reads "
                                     "at most {limit}. Shorten it.", count=len(ids) - 1,
                                     limit=self.context - 1))  # fmt: skip
        return ids

    @contextlib.contextmanager
    def exclusive(self):
        """The model to oneself for a moment: its lock and one of the process's inference slots."""
        with self._lock, inference_gate():
            yield self.model

    def score(self, text: str) -> SentenceScore:
        """Log-probability of every token given the ones before it, and the sentence's perplexity."""
        import torch

        ids = self.scored_ids(text)
        self.traced_pass.get()  # the first request traces the body (outside the lock); others run eager meanwhile
        with self._lock, inference_gate(), torch.no_grad():
            window = torch.tensor([ids[-self.context :]])
            hidden = self._traced_hidden(window)  # None but for GPT-2's family (``_traced_body``)
            logits = to_cpu(self.model(window).logits[0] if hidden is None else self.model.get_output_embeddings()(hidden)[0])
        logprobs = torch.log_softmax(logits, dim=-1)
        window = ids[-self.context :]
        transformer = [float(logprobs[i - 1, window[i]]) for i in range(1, len(window))]
        ngram = self.ngram.token_logprobs(window)
        tokens = [TokenScore(self.tokenizer.decode([window[i]]), transformer[i - 1], ngram[i - 1])
                  for i in range(1, len(window))]  # fmt: skip
        total, ngram_total = sum(transformer), sum(ngram)
        n = len(transformer)
        return SentenceScore(tokens=tokens, logprob=total, perplexity=math.exp(-total / n),
                             ngram_logprob=ngram_total, ngram_perplexity=math.exp(-ngram_total / n))  # fmt: skip


    def lens(self, text: str):
        """The logit lens over ``text`` (core.tasks.lens): what each block's residual stream would predict."""
        from core.tasks.lens import read_lens

        ids = self._ids(text)
        with self._lock, inference_gate():
            return read_lens(self.model, self.tokenizer, ids)


def _traced_body(model, hold, **options):
    body = getattr(model, "transformer", None)  # GPT-2's family: the body before the output layer
    if body is None or model.config.model_type != "gpt2":  # another family keeps its eager passes
        return traced.causal_hidden_states(model, hold, **{**options, "refusal": options.get("refusal") or
                                                           "only GPT-2's family is traced"})  # fmt: skip
    return traced.causal_hidden_states(body, hold, **options)


def _saved_ngram(spec: ModelSpec, vocab_size: int) -> KneserNey | None:
    """The n-gram model saved when ``spec`` was trained here, or None (a Hub model, an older run, a damaged file):
    then it is fitted again from the training text, as before."""
    if not spec.trained_here:
        return None
    from core.catalog import cache_entry_dir

    path = cache_entry_dir(spec.key) / NGRAM_FILE
    try:
        found = KneserNey.load(path)
    except (OSError, KeyError, ValueError):
        return None
    return found if found.vocab_size == vocab_size else None


def scramble(text: str, seed: int = 0) -> str:
    """The same words in a random order: what a language model should find far less likely."""
    words = text.split()
    rng = np.random.default_rng(seed)
    for _ in range(10):
        shuffled = [words[i] for i in rng.permutation(len(words))]
        if shuffled != words or len(set(words)) < 2:
            return " ".join(shuffled)
    return " ".join(shuffled)
