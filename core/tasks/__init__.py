"""One predictor per scenario: preprocess → forward → postprocess, returning plain data."""
