"""The private scikit-learn and imbalanced-learn names sklkws builds on, imported in one place.

scikit-learn's parameter-constraint classes and ``_safe_indexing``, and
imbalanced-learn's ``ArraysTransformer``, live in private modules that may move
between releases. Every sklkws module imports them from here, so a release that
moves one breaks (and is fixed in) this file only. The versions tested are
bounded in ``pyproject.toml`` (``train`` extra): scikit-learn ``>=1.6,<1.10`` and
imbalanced-learn ``>=0.13,<0.15``.
"""

from imblearn.utils._validation import ArraysTransformer
from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils._param_validation import (
    Hidden,
    InvalidParameterError,
    RealNotInt,
    _Constraint,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils.metaestimators import _BaseComposition, available_if
from sklearn.utils.validation import _check_method_params, _check_sample_weight

__all__ = ["ArraysTransformer", "HasMethods", "Interval", "StrOptions", "available_if", "_safe_indexing"]
# Parameter validation (constraints, the fit context, public-function checks) and
# the named-step composition AugmentChain shares with Pipeline.
__all__ += [
    "Hidden",
    "InvalidParameterError",
    "RealNotInt",
    "_BaseComposition",
    "_Constraint",
    "_check_method_params",
    "_check_sample_weight",
    "_fit_context",
    "validate_parameter_constraints",
    "validate_params",
]
