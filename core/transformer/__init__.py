"""A Transformer written to be read: attention, multi-head attention, positional encodings,
encoder and decoder layers — each checked against PyTorch and Hugging Face in the tests.

Names follow "Attention Is All You Need" (Vaswani et al., 2017): d_model, d_k, n_heads, q, k, v.
"""
