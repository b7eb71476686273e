"""HTTP for the care domain: scoped querysets in, services for writes, output serializers out.

Every `get_queryset` starts from `Model.objects.for_user(request.user)`, so a list never holds
another tenant's row and another tenant's object answers 404.
Writes look the object up in that same queryset before anything else. Views hold no rules:
they validate the shape of the input and call one service.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from api import filters, scoping, serializers
from api.exceptions import error_body
from api.permissions import ConsultantWrites, GlobalAdministratorOnly
from security.twofactor import check_token_request
from support import audit, services, services_records
from support.models import (
    WEEKDAY_ORDER,
    AuditEntry,
    Child,
    Competence,
    Household,
    Membership,
    Municipality,
    Placement,
    Provider,
    ProviderAbsence,
    Service,
    SupportNeed,
    Team,
    WeeklyAvailability,
)


@csrf_exempt  # it changes nothing; without this a POST/PUT/DELETE would get the CSRF failure's HTML 403
def not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer in the API's error shape, not with an HTML page."""
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def client_ip(request) -> str | None:
    # REMOTE_ADDR is the peer; behind a proxy it is the proxy's address until a trusted
    # X-Forwarded-For reader is configured.
    return request.META.get("REMOTE_ADDR") or None


# --- Bases ---------------------------------------------------------------------------------------------


class ScopedViewSet(viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated]
    lookup_value_regex = r"[0-9]{1,18}"  # ids only; anything else is an unknown path (404)

    def municipality_ids_of(self, obj) -> set[int]:
        return {obj.municipality_id}

    def validated(self, serializer_class, *, partial: bool = False) -> dict:
        """The request body checked against an input serializer; rules are the service's job.

        Fields the input does not take (an id, a household's municipality) are refused rather than
        ignored, so nobody believes they changed something that stayed as it was.
        """
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), partial=partial)
        writable = {name for name, field in serializer.fields.items() if not field.read_only}
        if hasattr(self.request.data, "keys"):
            unknown = sorted(set(self.request.data.keys()) - writable - {"csrfmiddlewaretoken"})
            if unknown:
                raise ValidationError({name: ["This field cannot be set here."] for name in unknown})
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def output(self, obj, *, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(obj).data, status=status_code)


class ReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    pass


class CaseRecordViewSet(ReadOnlyViewSet):
    """Read what your scope holds; consultants write in their own municipality through a service."""

    permission_classes = [IsAuthenticated, ConsultantWrites]

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)


class AuditedReadsMixin:
    """Every read of a record's details, and every page of a list, leaves an audit entry with the reader's IP."""

    audit_name: str

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        audit.record(actor=request.user, action=f"{self.audit_name}.read", obj=obj, ip=client_ip(request))
        return self.output(obj)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        if page:
            municipalities = {obj.municipality_id for obj in page}
            audit.record(
                actor=request.user, action=f"{self.audit_name}.list", object_type=page[0]._meta.label_lower,
                municipality_id=municipalities.pop() if len(municipalities) == 1 else None,
                ip=client_ip(request), details={"ids": [obj.pk for obj in page]},
            )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def crud_schema(output, create, update, *, deletable: bool = True):
    """Document create/update with their input serializers and the output serializer as the answer."""
    views = {
        "create": extend_schema(request=create, responses={201: output}),
        "update": extend_schema(request=update, responses=output),
        "partial_update": extend_schema(request=update, responses=output),
    }
    if deletable:
        views["destroy"] = extend_schema(responses={204: OpenApiResponse(description="Removed.")})
    return extend_schema_view(**views)


# --- Who am I, and tokens ---------------------------------------------------------------------------------


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=serializers.MeSerializer, summary="Who you are, your roles and what they reach")
    def get(self, request):
        memberships = Membership.objects.filter(user=request.user).select_related(
            "municipality", "team", "household", "provider"
        )
        return Response(serializers.MeSerializer(serializers.me_payload(request.user, memberships)).data)


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token (throttled like any anonymous request)."""

    throttle_classes = [AnonRateThrottle]

    @extend_schema(
        request=AuthTokenSerializer, responses=serializers.TokenSerializer, summary="Get your API token",
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        check_token_request(user=user, code=str(request.data.get("otp_token", "")))
        token, _created = Token.objects.get_or_create(user=user)
        audit.record(
            actor=user, action="auth.token", object_type="auth.user", object_id=str(user.pk), ip=client_ip(request)
        )
        return Response({"token": token.key})


# --- Configuration -----------------------------------------------------------------------------------------


class MunicipalityViewSet(ReadOnlyViewSet):
    """Municipalities where you are staff or an administrator."""

    serializer_class = serializers.MunicipalitySerializer
    filterset_fields = ["code"]
    ordering_fields = ["code", "name"]
    ordering = ["code"]

    def get_queryset(self):
        return Municipality.objects.for_user(self.request.user)


class TeamViewSet(ReadOnlyViewSet):
    serializer_class = serializers.TeamSerializer
    filterset_class = filters.TeamFilter
    ordering_fields = ["name", "municipality"]
    ordering = ["municipality", "name", "id"]

    def get_queryset(self):
        return Team.objects.for_user(self.request.user)


class MembershipViewSet(ReadOnlyViewSet):
    """Staff see their municipality's memberships; everyone else only their own."""

    serializer_class = serializers.MembershipSerializer
    filterset_class = filters.MembershipFilter
    ordering_fields = ["created_at", "role", "user"]
    ordering = ["user", "role", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            # Schema generation runs as AnonymousUser, which Membership.for_user cannot filter on.
            return Membership.objects.none()
        return Membership.objects.for_user(self.request.user).select_related("user")


class ServiceViewSet(ReadOnlyViewSet):
    """The kinds of support (reference data, readable by anyone signed in)."""

    serializer_class = serializers.ServiceSerializer
    filterset_fields = ["code"]
    ordering_fields = ["code"]
    ordering = ["code"]

    def get_queryset(self):
        return Service.objects.all()


class CompetenceViewSet(ReadOnlyViewSet):
    """Specialised competences (reference data, readable by anyone signed in)."""

    serializer_class = serializers.CompetenceSerializer
    filterset_fields = ["code"]
    ordering_fields = ["code"]
    ordering = ["code"]

    def get_queryset(self):
        return Competence.objects.all()


class AuditEntryViewSet(ReadOnlyViewSet):
    """The audit trail: read-only, for global administrators. Nothing in the API changes or removes it."""

    serializer_class = serializers.AuditEntrySerializer
    permission_classes = [IsAuthenticated, GlobalAdministratorOnly]
    filterset_class = filters.AuditEntryFilter
    ordering_fields = ["at"]
    ordering = ["-at", "-id"]

    def get_queryset(self):
        return AuditEntry.objects.for_user(self.request.user)


# --- Households and children ----------------------------------------------------------------------------


@crud_schema(serializers.HouseholdSerializer, serializers.HouseholdCreateSerializer, serializers.HouseholdUpdateSerializer)
class HouseholdViewSet(CaseRecordViewSet):
    serializer_class = serializers.HouseholdSerializer
    filterset_class = filters.HouseholdFilter
    ordering_fields = ["name", "created_at", "postcode", "approved_places"]
    ordering = ["municipality", "name", "id"]

    def get_queryset(self):
        return Household.objects.for_user(self.request.user)

    def create(self, request, *args, **kwargs):
        data = self.validated(serializers.HouseholdCreateSerializer)
        return self.output(services_records.create_household(by=request.user, **data), status_code=201)

    def update(self, request, *args, partial: bool = False, **kwargs):
        household = self.get_object()
        changes = self.validated(serializers.HouseholdUpdateSerializer, partial=partial)
        return self.output(services_records.update_household(household=household, by=request.user, changes=changes))

    def destroy(self, request, *args, **kwargs):
        services_records.delete_household(household=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@crud_schema(serializers.ChildSerializer, serializers.ChildCreateSerializer, serializers.ChildUpdateSerializer)
class ChildViewSet(AuditedReadsMixin, CaseRecordViewSet):
    """Children: consultants in their municipality; foster parents the children placed with them now."""

    audit_name = "child"
    serializer_class = serializers.ChildSerializer
    filterset_class = filters.ChildFilter
    ordering_fields = ["display_name", "birth_date", "created_at"]
    ordering = ["municipality", "display_name", "id"]

    def get_queryset(self):
        return Child.objects.for_user(self.request.user)

    def create(self, request, *args, **kwargs):
        data = self.validated(serializers.ChildCreateSerializer)
        child = services_records.create_child(by=request.user, today=timezone.localdate(), **data)
        return self.output(child, status_code=201)

    def update(self, request, *args, partial: bool = False, **kwargs):
        child = self.get_object()
        changes = self.validated(serializers.ChildUpdateSerializer, partial=partial)
        child = services_records.update_child(child=child, by=request.user, changes=changes, today=timezone.localdate())
        return self.output(child)

    def destroy(self, request, *args, **kwargs):
        services_records.delete_child(child=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Placements ------------------------------------------------------------------------------------------------


@crud_schema(
    serializers.PlacementSerializer, serializers.PlacementCreateSerializer, serializers.PlacementUpdateSerializer
)
class PlacementViewSet(AuditedReadsMixin, CaseRecordViewSet):
    """Placements: consultants in their municipality; foster parents the active ones in their household."""

    audit_name = "placement"
    serializer_class = serializers.PlacementSerializer
    filterset_class = filters.PlacementFilter
    ordering_fields = ["starts_on", "planned_end_on", "ended_on", "status", "created_at"]
    ordering = ["-starts_on", "-id"]

    def get_queryset(self):
        return (
            Placement.objects.for_user(self.request.user)
            .select_related("child")
            .prefetch_related("birth_households")
        )

    def create(self, request, *args, **kwargs):
        data = self.validated(serializers.PlacementCreateSerializer)
        data.setdefault("consultant", request.user)  # the consultant who places the child, unless named
        return self.output(services_records.create_placement(by=request.user, **data), status_code=201)

    def update(self, request, *args, partial: bool = False, **kwargs):
        placement = self.get_object()
        changes = self.validated(serializers.PlacementUpdateSerializer, partial=partial)
        return self.output(services_records.update_placement(placement=placement, by=request.user, changes=changes))

    def destroy(self, request, *args, **kwargs):
        services_records.delete_placement(placement=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=serializers.PlacementEndSerializer, responses=serializers.PlacementSerializer,
        summary="End an active placement as planned",
        description="Ends the placement's open support too. 409 if it has already ended.",
    )
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        placement = self.get_object()
        data = self.validated(serializers.PlacementEndSerializer)
        return self.output(services.end_placement(placement=placement, on=data["on"], note=data["note"], by=request.user))

    @extend_schema(
        request=serializers.PlacementBreakdownSerializer, responses=serializers.PlacementSerializer,
        summary="Record that an active placement broke down (sammenbrud)",
        description="Ends the placement's open support too. 409 if it has already ended.",
    )
    @action(detail=True, methods=["post"])
    def breakdown(self, request, pk=None):
        placement = self.get_object()
        data = self.validated(serializers.PlacementBreakdownSerializer)
        placement = services.record_breakdown(
            placement=placement, on=data["on"], reason=data["reason"], note=data["note"], by=request.user
        )
        return self.output(placement)


# --- Providers, their availability and absences ---------------------------------------------------------------


@crud_schema(
    serializers.ProviderSerializer, serializers.ProviderCreateSerializer, serializers.ProviderUpdateSerializer,
    deletable=False,
)
class ProviderViewSet(CaseRecordViewSet):
    """Providers: staff of the municipalities they serve, administrators, the provider itself, and the
    families they support (contact details only). Consultants create and change providers serving
    their municipality; a provider is deactivated (is_active), never deleted."""

    serializer_class = serializers.ProviderSerializer
    filterset_class = filters.ProviderFilter
    ordering_fields = ["name"]
    ordering = ["name", "id"]

    def get_queryset(self):
        return Provider.objects.for_user(self.request.user).prefetch_related(
            "services", "competences", "municipalities"
        )

    def municipality_ids_of(self, obj) -> set[int]:
        return {m.pk for m in obj.municipalities.all()}

    def create(self, request, *args, **kwargs):
        data = self.validated(serializers.ProviderCreateSerializer)
        return self.output(services_records.create_provider(by=request.user, **data), status_code=201)

    def update(self, request, *args, partial: bool = False, **kwargs):
        provider = self.get_object()
        changes = self.validated(serializers.ProviderUpdateSerializer, partial=partial)
        if "municipalities" in changes:
            # A consultant sets which of *their* municipalities it serves; other municipalities' links stay.
            mine = scoping.consultant_municipality_ids(request.user)
            others = [m for m in provider.municipalities.all() if m.pk not in mine]
            changes["municipalities"] = others + list(changes["municipalities"])
        provider = services_records.update_provider(provider=provider, by=request.user, changes=changes)
        return self.output(Provider.objects.prefetch_related("services", "competences", "municipalities").get(pk=provider.pk))


class WeeklyAvailabilityViewSet(ReadOnlyViewSet):
    """Weekly windows of households and providers you can see; filter by `household` or `provider`."""

    serializer_class = serializers.WeeklyAvailabilitySerializer
    filterset_class = filters.WeeklyAvailabilityFilter
    ordering_fields = ["start_minute", "end_minute"]
    ordering = [WEEKDAY_ORDER.asc(), "start_minute", "id"]

    def get_queryset(self):
        return WeeklyAvailability.objects.for_user(self.request.user)


class ProviderAbsenceViewSet(ReadOnlyViewSet):
    """Absences of providers you can see; filter by `provider` and a period."""

    serializer_class = serializers.ProviderAbsenceSerializer
    filterset_class = filters.ProviderAbsenceFilter
    ordering_fields = ["starts_at", "ends_at"]
    ordering = ["starts_at", "id"]

    def get_queryset(self):
        return ProviderAbsence.objects.for_user(self.request.user)


# --- Support needs ----------------------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=serializers.SupportNeedCreateSerializer, responses={201: serializers.SupportNeedSerializer},
        description="Every rule is checked by the service; a broken rule answers 400 naming the field.",
    )
)
class SupportNeedViewSet(mixins.CreateModelMixin, ReadOnlyViewSet):
    """Support needs: staff see their municipality's; a provider its assigned needs; a family the support it
    receives. Providers and families get the support's what, where and when, not the case behind it."""

    permission_classes = [IsAuthenticated, ConsultantWrites]
    serializer_class = serializers.SupportNeedSerializer
    filterset_class = filters.SupportNeedFilter
    ordering_fields = ["starts_on", "ends_on", "status", "created_at"]
    ordering = ["starts_on", "id"]  # not the model's priority order: priority is for staff only

    def get_queryset(self):
        return (
            SupportNeed.objects.for_user(self.request.user)
            .select_related("service", "placement")
            .prefetch_related("required_competences", "preferred_competences", "excluded_providers", "separate_from")
        )

    def create(self, request, *args, **kwargs):
        data = self.validated(serializers.SupportNeedCreateSerializer)
        need = services.create_support_need(by=request.user, **data)
        return self.output(self.get_queryset().get(pk=need.pk), status_code=201)
