"""Benchmarks: mapper against three hand-written baselines on the demo task database.

`python -m benchmarks --scale 1 --scale 3` starts the test-bed servers, loads the demo at each
scale and measures every variant in a fresh subprocess (`python -m benchmarks.worker`). See
benchmarks/README.md.
"""

VARIANTS = (
    "mapper-null",
    "mapper-serial",
    "mapper-file",
    "mapper-mongo",
    "nplus1",
    "handtuned",
    "indb",
)
REFERENCE = "mapper-null"
