"""The scheduler's models, one module per area; everything is importable from scheduler.models."""

from scheduler.models.matching import *  # noqa: F403
from scheduler.models.matching import ACTIVE_RUN_STATUSES  # noqa: F401
from scheduler.models.sessions import *  # noqa: F403
