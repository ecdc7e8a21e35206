"""`python -m benchmarks --scale 1 [--scale 3 ...]`: see benchmarks/README.md."""

import sys

from benchmarks.harness import main

sys.exit(main())
