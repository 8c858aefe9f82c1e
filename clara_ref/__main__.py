"""``python -m clara_ref``: see ``clara_ref.cli``."""

import os
import sys

from .cli import main

code = main()
if code == 130:
    # Interrupted: the finished runs, the summary and the report are on disk and the workers were terminated.
    # Leave at once instead of letting interpreter shutdown wait on the worker pool's management thread.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
