"""Knowledge distillation, under its historical path: the code lives in :mod:`sklkws.ensemble`.

:class:`DistilledClassifier` and :class:`TeacherTargets` are those of
``sklkws.ensemble`` (module ``sklkws/ensemble/_distillation.py``).

Importing this module imports Keras (through :mod:`sklkws.models`).
"""

from .ensemble._distillation import DistilledClassifier, TeacherTargets

__all__ = ["DistilledClassifier", "TeacherTargets"]
