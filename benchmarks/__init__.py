"""The benchmarks, run from the repository root as modules: `python -m benchmarks.NAME --help`.

Each writes its summary to docs/results/NAME.md (common.write_summary), the committed record of
its results; smoke runs (--quick) only print theirs unless given --summary PATH.
"""
