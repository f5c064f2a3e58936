"""The logging side: a fast append-only writer and the TensorBoard- and W&B-style APIs on it."""
