# Benchmarks: each bench/bench_*.py module exposes run() -> list of JSON-able dicts.
