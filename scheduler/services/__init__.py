"""Writes of the scheduler: one module per area (matching, sessions, calendars)."""
