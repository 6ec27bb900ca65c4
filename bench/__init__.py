"""Performance harness: the gateway's cost against the direct path and stock LiteLLM (see docs/benchmarks.md)."""
