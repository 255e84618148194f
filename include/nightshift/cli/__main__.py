"""`python -m nightshift.cli`: the `nightshift` command without its console script."""

import sys

from nightshift.cli.main import main

sys.exit(main())
