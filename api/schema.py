"""OpenAPI: the error shape, and the error responses every operation documents.

`AutoSchema` (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) adds to each operation the errors it can
answer, all in the one shape from api/exceptions.py, so no endpoint can forget them:
401 and 403 where a sign-in is needed, 400 where a body, filter or query parameter is read, 404 on an object's
path and on a paginated list (a page that does not exist), 409 on writes, 429 everywhere.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable, for programs: invalid, not_found, not_authenticated, permission_denied, conflict, "
        "invalid_transition, referenced, protected, read_only, throttled, ..."
    )
    message = serializers.CharField(help_text="For people.")

    def get_fields(self):
        fields = super().get_fields()
        # Declared here because a class attribute named `fields` would shadow Serializer.fields.
        fields["fields"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Messages per input field (dotted paths for nested items; `non_field_errors` for the "
            "whole request). Empty when no field is to blame.",
        )
        return fields


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERRORS = {
    "400": "The request is not valid: `error.fields` names each field to fix.",
    "401": "Not signed in: send the session cookie or `Authorization: Token <key>`.",
    "403": "Signed in, but your role cannot do this to an object you can see.",
    "404": "No such object among those you can see. Objects outside your scope answer the same way.",
    "409": "The change conflicts with the stored records (e.g. the placement has already ended, "
    "or other records still refer to it).",
    "429": "Too many requests: wait the number of seconds in `Retry-After`.",
}

PAGE_NOT_FOUND = "No such page: `page` is past the last page, or not a page number (they start at 1)."

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                description = ERRORS[code]
                if code == "404" and "{" not in self.path:
                    description = PAGE_NOT_FOUND
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code, direction=direction
                )
        return responses

    def _error_codes(self) -> list[str]:
        codes = []
        has_body = self.method in {"POST", "PUT", "PATCH"}
        if has_body or (self.method == "GET" and (self.get_filter_backends() or self._reads_query_parameters())):
            codes.append("400")
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes += ["401", "403"]
        if "{" in self.path or self._is_paginated_list():
            codes.append("404")
        if self.method in UNSAFE:
            codes.append("409")
        codes.append("429")
        return codes

    def _reads_query_parameters(self) -> bool:
        return any(parameter.get("in") == "query" for parameter in self._get_parameters())

    def _is_paginated_list(self) -> bool:
        return self.method == "GET" and self._is_list_view() and self._get_paginator() is not None
