"""LM Lab's library: models, data, training, metrics. Never imports streamlit.

Importing ``core`` is cheap on purpose (no torch, no transformers): heavy modules are
imported by the submodules that need them, so the Home page starts fast.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
