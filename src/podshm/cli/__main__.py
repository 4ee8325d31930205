"""``python -m podshm.cli``: the ``podshm`` command without its console script."""

import sys

from podshm.cli import main

sys.exit(main())
