"""Positional encodings: the paper's sinusoids, the article's variant, and rotary embeddings (RoPE).

The paper (Vaswani et al., 2017, §3.5) interleaves sine and cosine:
    PE(pos, 2i) = sin(pos / base^(2i/d_model)),  PE(pos, 2i+1) = cos(pos / base^(2i/d_model)).
The article LM Lab is built from writes PE(i, j) = sin(i / base^(2j/d)) + cos(i / base^(2j/d)) for
every dimension j. That is not the same encoding: every dimension becomes one sinusoid
√2·sin(ω_j·i + π/4) with its own frequency, so no pair of dimensions can be rotated together and
PE(pos + k) is no longer a fixed linear function of PE(pos).
"""

from __future__ import annotations

import numpy as np


def frequencies(d_model: int, base: float = 10_000.0) -> np.ndarray:
    """ω_i = 1 / base^(2i/d_model) for each sine/cosine pair i.  # (d_model/2,)"""
    return 1.0 / base ** (np.arange(0, d_model, 2) / d_model)


def sinusoidal(n_positions: int, d_model: int, base: float = 10_000.0) -> np.ndarray:
    """The paper's encoding: sin on even dimensions, cos on odd ones.  # (n_positions, d_model)"""
    if d_model % 2:
        raise ValueError(f"d_model must be even for sine/cosine pairs, got {d_model}.")
    angles = np.arange(n_positions)[:, None] * frequencies(d_model, base)[None, :]  # (N, d/2)
    pe = np.empty((n_positions, d_model))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe


def article_variant(n_positions: int, d_model: int, base: float = 10_000.0) -> np.ndarray:
    """The article's formula, taken literally: PE(i, j) = sin(i/base^(2j/d)) + cos(i/base^(2j/d)).  # (N, d)"""
    omega = 1.0 / base ** (2 * np.arange(d_model) / d_model)  # one frequency per dimension
    angles = np.arange(n_positions)[:, None] * omega[None, :]
    return np.sin(angles) + np.cos(angles)


def shift_matrix(d_model: int, k: int, base: float = 10_000.0) -> np.ndarray:
    """M_k with PE(pos + k) = M_k · PE(pos) for the paper's encoding: a rotation by ω_i·k in each pair.  # (d, d)"""
    m = np.zeros((d_model, d_model))
    for i, omega in enumerate(frequencies(d_model, base)):
        c, s = np.cos(omega * k), np.sin(omega * k)
        # (sin(a+b), cos(a+b)) = (sin a cos b + cos a sin b, cos a cos b − sin a sin b)
        m[2 * i, 2 * i], m[2 * i, 2 * i + 1] = c, s
        m[2 * i + 1, 2 * i], m[2 * i + 1, 2 * i + 1] = -s, c
    return m


def best_linear_shift(pe: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """The least-squares linear map A with PE(pos + k) ≈ A · PE(pos) over all positions, and its worst error.

    Given more positions than dimensions (``fit_positions``), the error is at rounding level for the
    paper's encoding (M_k exists) and large for the article's variant: no single A works for every position.
    """
    x, y = pe[:-k], pe[k:]
    solution, *_ = np.linalg.lstsq(x, y, rcond=None)  # y ≈ x @ solution
    residual = float(np.abs(x @ solution - y).max())
    return solution.T, residual


def fit_positions(d_model: int, shown: int) -> int:
    """How many positions a least-squares shift fit uses: at least twice d_model.

    With fewer positions than dimensions some matrix maps any sequence onto its shift exactly (at
    d_model = 16, 8 positions and a shift of 3, even the article's formula fits to 1e-13), which proves nothing.
    """
    return max(shown, 2 * d_model)


def similarity_by_offset(pe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean dot product PE(pos)·PE(pos + k) for each offset k ≥ 0.  # (N,), (N,)"""
    gram = pe @ pe.T
    n = len(pe)
    offsets = np.arange(n)
    means = np.array([np.diagonal(gram, offset=k).mean() for k in offsets])
    return offsets, means


def rope_rotate(x: np.ndarray, positions: np.ndarray, base: float = 10_000.0) -> np.ndarray:
    """Rotary position embedding (Su et al., 2021): rotate each pair (x_2i, x_2i+1) by pos·ω_i.

    ``x`` (T, d) and ``positions`` (T,). Then ⟨RoPE(q, m), RoPE(k, n)⟩ depends on m − n only.  # (T, d)
    """
    d = x.shape[-1]
    angles = positions[:, None] * frequencies(d, base)[None, :]  # (T, d/2)
    cos, sin = np.cos(angles), np.sin(angles)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x, dtype=float)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def rope_heads(heads):
    """``rope_rotate`` on a torch tensor of queries or keys, positions 0, 1, … along its second-to-last axis (how a
    RoFormer turns them before the scores; the angles in float64, as transformers computes them).  # (…, T, d_k)"""
    import torch

    t, d_k = heads.shape[-2], heads.shape[-1]
    angles = torch.from_numpy(np.arange(t)[:, None] * frequencies(d_k)[None, :])  # (T, d_k/2)
    cos, sin = angles.cos().to(heads.dtype), angles.sin().to(heads.dtype)
    even, odd = heads[..., 0::2], heads[..., 1::2]
    return torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1).flatten(-2)


def cosine_similarity(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair of rows.  # (N, N)"""
    unit = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True).clip(min=1e-12)
    return unit @ unit.T


def rope_scores(
    d_model: int, n_positions: int, seed: int = 0, base: float = 10_000.0
) -> tuple[np.ndarray, float]:
    """S[m, n] = ⟨RoPE(q, m), RoPE(k, n)⟩ for one fixed q and k, and how far S is from depending on m − n only.

    The signed offset: S[m, n] and S[n, m] differ in general (the angle is (m − n)·ω, and sin is odd).

    Returns the matrix and the largest spread (max − min) along any of its diagonals: rounding
    level, because a rotation by m·ω and one by n·ω leave only (m − n)·ω between q and k.  # (N, N), float
    """
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal(d_model), rng.standard_normal(d_model)
    positions = np.arange(n_positions, dtype=float)
    rq = rope_rotate(np.tile(q, (n_positions, 1)), positions, base)
    rk = rope_rotate(np.tile(k, (n_positions, 1)), positions, base)
    scores = rq @ rk.T
    spread = max(np.ptp(np.diagonal(scores, offset=o)) for o in range(-n_positions + 1, n_positions))
    return scores, float(spread)


def rope_pair_path(
    d_model: int, pair: int, n_positions: int, seed: int = 0, base: float = 10_000.0
) -> np.ndarray:
    """One query's pair (x₂ᵢ, x₂ᵢ₊₁) after RoPE at positions 0…n−1: points on a circle, angle m·ωᵢ.  # (N, 2)"""
    if not 0 <= pair < d_model // 2:
        raise ValueError(f"pair must be between 0 and {d_model // 2 - 1}, got {pair}.")
    q = np.random.default_rng(seed).standard_normal(d_model)
    rotated = rope_rotate(np.tile(q, (n_positions, 1)), np.arange(n_positions, dtype=float), base)
    return rotated[:, 2 * pair : 2 * pair + 2]


def first_visible_rise(offsets: np.ndarray, similarity: np.ndarray, share: float = 0.005) -> int | None:
    """The first offset after which the similarity curve rises again by a step one can see on its chart (at least
    ``share`` of the curve's whole range; a rise of a thousandth of a unit on a range of twenty is drawn flat), or
    None where it falls all the way."""
    step = share * float(np.ptp(similarity))
    return next((int(offsets[i]) for i in range(1, len(offsets) - 1) if similarity[i + 1] > similarity[i] + step), None)
