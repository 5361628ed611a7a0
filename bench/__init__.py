"""Benchmarks of chronodelta: run each as ``python -m bench.<name>`` (see BENCHMARKS.md)."""
