import sys

from preflog.cli import main

sys.exit(main())
