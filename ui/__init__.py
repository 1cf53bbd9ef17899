"""The only Streamlit glue: caches, widgets, renderers and job polling. Computes nothing itself."""
