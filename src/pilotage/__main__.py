"""`python -m pilotage` is the `pilotage` command."""

import sys

from pilotage.cli import main

sys.exit(main())
