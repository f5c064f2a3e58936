"""Import from TensorBoard and W&B, export to TensorBoard (docs/INTEROP.md)."""
