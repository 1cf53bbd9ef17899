"""Sentence embeddings from the packaged MiniLM: mean pooling over tokens, then unit length.

This is how all-MiniLM-L6-v2 was trained to be used (sentence-transformers' mean pooling), so
cosine similarity between two embeddings measures how close two texts are in meaning.
"""

from __future__ import annotations

import threading

import numpy as np

from core import catalog, loading
from core.tasks import traced
from core.tasks.batching import Coalescer
from core.tasks.inputs import inference_gate


class SentenceEncoder:
    def __init__(self, spec: catalog.ModelSpec = catalog.MINILM, max_tokens: int = 256):
        import torch

        self._torch = torch
        self.tokenizer, self.model = loading.load_encoder(spec)
        self.max_tokens = min(max_tokens, loading.token_limit(self.tokenizer, self.model))
        self._lock = threading.Lock()
        self.traced_pass = traced.OnePass.of(spec, self._lock, traced.hidden_states, self.model)
        self.coalescer = Coalescer(self._lock, self._encode_together)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length embeddings, one row per text.  # (N, 384)

        Requests from every session are answered together (``Coalescer``): whoever takes the model next embeds
        all the texts waiting by then, sorted by length in passes of at most ``batch_size`` texts and
        ``core.tasks.batching.PADDED_TOKENS`` padded tokens, so the padding stays small."""
        if not texts:
            return np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
        self.traced_pass.get()  # the first request traces the pass (core.tasks.traced), taking the model step by step
        return self.coalescer.submit((tuple(texts), batch_size))

    def _encode_together(self, requests: list[tuple[tuple[str, ...], int]]) -> list[np.ndarray]:
        """The coalescer's run (the model's lock is held): every request's texts in passes sorted by length."""
        from core.tasks.batching import padded_passes

        texts = [text for request, _ in requests for text in request]
        lengths = self.tokenizer(texts, truncation=True, max_length=self.max_tokens, return_length=True)["length"]
        rows = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        size = min(batch for _, batch in requests)
        with inference_gate():
            for group in padded_passes(lengths):  # sorted by length, at most PADDED_TOKENS padded tokens a pass
                for start in range(0, len(group), size):
                    chosen = group[start : start + size]
                    rows[chosen] = self._pooled([texts[i] for i in chosen])
        answers, start = [], 0
        for request, _ in requests:
            answers.append(rows[start : start + len(request)])
            start += len(request)
        return answers

    def _pooled(self, texts: list[str]) -> np.ndarray:
        """Mean over each text's real tokens, then unit length.  # (B, 384)"""
        from core.tasks.inputs import to_cpu

        torch = self._torch
        batch = self.tokenizer(texts, truncation=True, max_length=self.max_tokens, padding=True, return_tensors="pt")
        with torch.inference_mode():  # traced once (core.tasks.traced): the GIL is taken once per pass
            hidden = to_cpu(self.traced_pass.on_batch(batch, lambda: self.model(**batch).last_hidden_state))  # (B, T, d)
        mask = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)  # mean over real tokens
        return torch.nn.functional.normalize(pooled, dim=-1).numpy()
