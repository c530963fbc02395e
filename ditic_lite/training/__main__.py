"""``python -m ditic_lite.training STAGE ...`` (torchrun starts this)."""
from .cli import main

raise SystemExit(main())
