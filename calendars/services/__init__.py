"""Writes of the calendars app: feeds (issue, rotate, revoke), CalDAV connections, outbox views."""
