"""``python -m podshm.image build|build-pause|load``: the image group without the full CLI."""

import sys

from podshm.image.cli import main

sys.exit(main())
