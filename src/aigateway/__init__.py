"""PVC AI Gateway: one OpenAI-compatible base URL in front of Azure OpenAI (codex + embeddings)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
