"""``python -m exomembrane.bench``: the ``exomembrane bench`` command."""
from __future__ import annotations

import sys

from exomembrane.bench import main

sys.exit(main())
