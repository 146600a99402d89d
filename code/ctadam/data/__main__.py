"""``python -m ctadam.data``: see :mod:`ctadam.data.cli`."""

import sys

from ctadam.data.cli import main

sys.exit(main())
