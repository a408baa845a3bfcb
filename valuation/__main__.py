"""``python -m valuation``: the data-valuation command line (see :mod:`valuation.cli`)."""

import sys

from valuation.cli import main

sys.exit(main())
