"""``python -m clara_ref``: see ``clara_ref.cli``."""

import sys

from .cli import main

sys.exit(main())
