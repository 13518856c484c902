"""``python -m preflog``: the ``preflog`` command."""

import sys

from preflog.cli import main

sys.exit(main())
