"""``python -m podshm.ipc``: same as the ``podshm-ipc`` console script."""

from .cli import main

raise SystemExit(main())
