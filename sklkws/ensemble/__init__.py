"""The audio-tagging seed's ensembling and test-time techniques, as scikit-learn estimators.

- :class:`TTAClassifier`: random crops (with random padding) of long clips at fit
  time, predictions averaged over deterministic crops and shifts at predict time.
- :class:`TwoBranchFeatures` and :class:`KerasTwoBranchClassifier`: log-mel into a
  CNN plus :class:`~sklkws.features.GlobalStatFeatures` (128 x 12 + clip length)
  into a second branch, joined before the head (architecture ``"two_branch"`` in
  :data:`sklkws.models.ARCHITECTURES`).
- :class:`NeuralStacker`: the seed's stacker over member probabilities, usable as
  ``StackingClassifier(final_estimator=NeuralStacker())``.
- :class:`DistilledClassifier`: a teacher (a vote) distilled into one student network;
  :class:`TeacherTargets`, the student's per-batch targets, for teachers already fitted.

Importing this package imports Keras (through :mod:`sklkws.models`).
"""

from ._distillation import DistilledClassifier, TeacherTargets
from ._stacker import NeuralStacker, build_stacker
from ._tta import TTAClassifier, content_lengths
from ._two_branch import KerasTwoBranchClassifier, TwoBranchFeatures, build_two_branch

__all__ = [
    "DistilledClassifier",
    "KerasTwoBranchClassifier",
    "NeuralStacker",
    "TTAClassifier",
    "TeacherTargets",
    "TwoBranchFeatures",
    "build_stacker",
    "build_two_branch",
    "content_lengths",
]
