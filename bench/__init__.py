"""Performance benchmarks of the pipeline: each stage beside its limit (make bench)."""
