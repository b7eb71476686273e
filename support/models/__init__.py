"""The care domain's models, one module per area; everything is importable from support.models."""

from support.models.care import *  # noqa: F403
from support.models.care import WEEKDAYS, validate_language_list  # noqa: F401
from support.models.wellbeing import *  # noqa: F403
