"""The front end's shared maths; it lives in :mod:`sklkws.frontend._maths` (this path stays importable)."""

from .frontend._maths import *  # noqa: F401,F403
from .frontend._maths import AMIN, EPS  # noqa: F401  (constants, named for readers)
