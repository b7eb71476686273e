"""Matching runs and their proposals.

A run snapshots the instance it solved and the result, so any proposal can be explained later
and re-checked without the database. Decisions on proposals are kept forever: a later run
never changes or deletes them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from support.models import Municipality, Provider, SupportNeed
from support.roles import scope_for


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


ACTIVE_RUN_STATUSES = [RunStatus.QUEUED, RunStatus.RUNNING]


class MatchingRunQuerySet(models.QuerySet):
    def for_user(self, user) -> MatchingRunQuerySet:
        return self.filter(municipality_id__in=scope_for(user).staff_municipality_ids)


class MatchingRun(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="matching_runs")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text=_("0-100"))
    progress_message = models.CharField(max_length=200, blank=True)
    time_limit_seconds = models.FloatField(default=30.0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    instance = models.JSONField(null=True, blank=True, help_text=_("The support-matching/1 instance solved"))
    result = models.JSONField(null=True, blank=True, help_text=_("The support-matching-result/1 document"))
    solver_status = models.CharField(max_length=20, blank=True)
    objective = models.BigIntegerField(null=True, blank=True)
    bound = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    objects = MatchingRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one queued or running run per municipality, guaranteed by the database.
            models.UniqueConstraint(
                fields=["municipality"], condition=Q(status__in=["queued", "running"]),
                name="one_active_matching_run_per_municipality",
            ),
        ]

    def __str__(self) -> str:
        return f"Matching run #{self.pk} ({self.municipality.code}, {self.status})"

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.bound is None or self.bound == 0:
            return None
        return (self.bound - self.objective) / abs(self.bound)


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a decision")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    OVERRIDDEN = "overridden", _("Overridden with another provider")
    SUPERSEDED = "superseded", _("Superseded by a newer run")


class ProposalQuerySet(models.QuerySet):
    def for_user(self, user) -> ProposalQuerySet:
        return self.filter(run__municipality_id__in=scope_for(user).staff_municipality_ids)

    def pending(self) -> ProposalQuerySet:
        return self.filter(status=ProposalStatus.PENDING)


class Proposal(models.Model):
    """The engine's suggestion for one need; the consultant decides."""

    run = models.ForeignKey(MatchingRun, on_delete=models.CASCADE, related_name="proposals")
    need = models.ForeignKey(SupportNeed, on_delete=models.CASCADE, related_name="proposals")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="proposals")
    score = models.IntegerField()
    terms = models.JSONField(default=dict, help_text=_("The score broken into its terms"))
    status = models.CharField(max_length=12, choices=ProposalStatus.choices, default=ProposalStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    override_provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="overrides"
    )

    objects = ProposalQuerySet.as_manager()

    class Meta:
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(fields=["run", "need"], name="one_proposal_per_need_per_run"),
            models.UniqueConstraint(
                fields=["need"], condition=Q(status="pending"), name="one_pending_proposal_per_need"
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(decision_reason=""), name="rejection_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(status="overridden") | Q(override_provider__isnull=False),
                name="override_names_provider",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} for need #{self.need_id} ({self.status})"


class UnmatchedNeed(models.Model):
    """A need a run could not place, with the reasons in words a consultant understands."""

    run = models.ForeignKey(MatchingRun, on_delete=models.CASCADE, related_name="unmatched")
    need = models.ForeignKey(SupportNeed, on_delete=models.CASCADE, related_name="unmatched_in")
    reasons = models.JSONField(default=list)
    # The same reasons as data ({"code", "params"} each, see scheduler/matching/explain.py), so
    # they can be said in the reader's language; rows from before this field have none.
    details = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "need"], name="one_unmatched_per_need_per_run")]

    def __str__(self) -> str:
        return f"need #{self.need_id} unmatched in run #{self.run_id}"
