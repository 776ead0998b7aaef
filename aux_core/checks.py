"""Type checks shared by every place that validates user input (configs, method options)."""
from __future__ import annotations

import math

import numpy as np


def is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def is_number(v) -> bool:
    """A finite int or float; bools are not numbers here."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)
