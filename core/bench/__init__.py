"""Measuring models: metrics (evaluate modules kept in this repository) and bootstrap statistics."""
