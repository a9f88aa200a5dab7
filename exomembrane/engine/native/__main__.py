"""``python -m exomembrane.engine.native``: build the native pair kernel and say whether it is used."""
from . import main

raise SystemExit(main())
