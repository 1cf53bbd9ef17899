"""Sentence embeddings from the packaged MiniLM: mean pooling over tokens, then unit length.

This is how all-MiniLM-L6-v2 was trained to be used (sentence-transformers' mean pooling), so
cosine similarity between two embeddings measures how close two texts are in meaning.
"""

from __future__ import annotations

import threading

import numpy as np

from core import catalog, loading
from core.tasks.inputs import inference_gate


class SentenceEncoder:
    def __init__(self, spec: catalog.ModelSpec = catalog.MINILM, max_tokens: int = 256):
        import torch

        self._torch = torch
        self.tokenizer, self.model = loading.load_encoder(spec)
        self.max_tokens = min(max_tokens, loading.token_limit(self.tokenizer, self.model))
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length embeddings, one row per text.  # (N, 384)"""
        from core.tasks.inputs import to_cpu

        torch = self._torch
        rows = []
        with self._lock, inference_gate():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    texts[start : start + batch_size],
                    truncation=True,
                    max_length=self.max_tokens,
                    padding=True,
                    return_tensors="pt",
                )
                with torch.inference_mode():
                    hidden = to_cpu(self.model(**batch).last_hidden_state)  # (B, T, d), back from the device
                mask = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)  # mean over real tokens
                rows.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(rows) if rows else np.zeros((0, self.model.config.hidden_size))
