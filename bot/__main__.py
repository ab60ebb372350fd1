"""``python -m bot`` is the same program as ``mmbot``."""

import sys

from bot.cli import main

sys.exit(main())
