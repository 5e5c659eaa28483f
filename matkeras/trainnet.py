"""Moved to :mod:`matkeras.workflows.current` (MATLAB's current workflow); this path keeps
working, with a DeprecationWarning, for one release."""

import warnings

from matkeras.validation import STOP_VALIDATION  # noqa: F401
from matkeras.workflows.current import *  # noqa: F403
from matkeras.workflows.current import (  # noqa: F401
    STOP_MAX_EPOCHS,
    STOP_NAN,
    IterationHistory,
    TrainingInfo,
    ValidationMonitor,
    prepare_targets,
    trainnet,
)

warnings.warn("matkeras.trainnet moved to matkeras.workflows.current; the old path goes in the "
              "next release.", DeprecationWarning, stacklevel=2)
