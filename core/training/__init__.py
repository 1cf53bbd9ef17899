"""Training on Hugging Face Trainer, background jobs, and the atomic model cache."""
