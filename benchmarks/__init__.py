"""Benchmarks against the emulator: `nox -s bench` or `python -m benchmarks`."""
