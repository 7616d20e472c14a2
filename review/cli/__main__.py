"""``python -m review.cli``: the same as the ``review`` command."""

import sys

from review.cli import main

sys.exit(main())
