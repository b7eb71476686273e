"""One exception handler, one error shape.

Every error the API returns reads the same:

    {"error": {"code": "invalid", "message": "The request is not valid.", "fields": {"name": ["..."]}}}

`code` is for programs, `message` for people, `fields` names what to fix (empty when no field is
to blame). Domain rules raise support.errors.DomainError with their own status (400/404/409);
DRF's own errors and Django's ValidationError are reshaped here, and database refusals that the
services did not foresee become a 409 (or a 400 for a value the database cannot hold) rather than
a 500, so no input can make the API crash.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from support.errors import DomainError

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, _string_lists(exc.fields)), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        # model.full_clean() reached the view without a service translating it.
        exc = exceptions.ValidationError(_django_messages(exc))
    if isinstance(exc, ProtectedError | RestrictedError):
        set_rollback()
        return Response(
            error_body("protected", _("Other records still refer to this one, so it cannot be removed.")),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataError):
        # A value the database cannot store (a number out of range, say) that no serializer bounded.
        logger.warning("DataError reached the API: %s", exc)
        set_rollback()
        return Response(
            error_body("invalid", _("A value is too large or malformed to be stored.")),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, IntegrityError):
        # A constraint the services should have checked first: log it, answer as a conflict.
        logger.warning("IntegrityError reached the API: %s", exc)
        set_rollback()
        return Response(
            error_body("conflict", _("The change conflicts with the stored records.")),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, Http404 | exceptions.NotFound):
        # Django's message names the model ("No Child matches ..."); say nothing about what was asked.
        exc = exceptions.NotFound()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("invalid", _("The request is not valid."), _flatten(exc.detail))
    else:
        response.data = error_body(_first_code(exc), str(_detail_text(exc.detail)))
    return response


def _first_code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code


def _detail_text(detail) -> str:
    if isinstance(detail, list) and detail:
        return _detail_text(detail[0])
    if isinstance(detail, dict) and detail:
        return _detail_text(next(iter(detail.values())))
    return str(detail)


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field": [...], "items.0.name": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = NON_FIELD if key in ("__all__", NON_FIELD) and not prefix else f"{prefix}{key}"
            for field, messages in _flatten(value, f"{name}.").items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix.rstrip(".") or NON_FIELD] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:  # DRF puts {} for list items without errors
                    for field, messages in _flatten(item, f"{prefix}{index}.").items():
                        out.setdefault(field, []).extend(messages)
    else:
        out[prefix.rstrip(".") or NON_FIELD] = [str(detail)]
    return out


def _django_messages(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            (NON_FIELD if field == "__all__" else field): [str(m) for m in messages]
            for field, messages in exc.message_dict.items()
        }
    return {NON_FIELD: [str(m) for m in exc.messages]}


def _string_lists(fields: dict) -> dict[str, list[str]]:
    return {str(k): [str(m) for m in (v if isinstance(v, list | tuple) else [v])] for k, v in fields.items()}
