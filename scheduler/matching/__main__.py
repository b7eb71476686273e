"""`python -m scheduler.matching IN.json [-o OUT.json] [--time-limit S]` (no Django needed)."""

import sys

from scheduler.matching.cli import main

sys.exit(main())
