"""Forms for the well-being pages. They check the shape of the input; the services keep the rules."""

from __future__ import annotations

from django import forms
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from support.models import AlertOutcome, AssessmentDecision, IncidentKind, Level, Placement, SdqInformant
from web.forms import DomainErrorForm

STRESS_CHOICES = [(i, str(i)) for i in range(11)]
SLEEP_CHOICES = [
    (1, _("1 – very badly")), (2, "2"), (3, "3"), (4, "4"), (5, _("5 – very well")),
]


class ServiceForm(DomainErrorForm):
    """Shows a service's DomainError in full: its message on top, and each field's own messages at the field."""

    def add_domain_error(self, exc) -> None:
        self.add_error(None, exc.message)
        for name, problems in exc.fields.items():
            for problem in problems:
                self.add_error(name if name in self.fields else None, problem)


class PlacementChoiceField(forms.ModelChoiceField):
    """The family's placements by start date: the portal never shows the child's name."""

    def label_from_instance(self, obj: Placement) -> str:
        return str(_("The child placed with you since %(day)s")) % {"day": date_format(obj.starts_on, "DATE_FORMAT")}


class _FamilyForm(ServiceForm):
    placement = PlacementChoiceField(queryset=Placement.objects.none(), label=_("Which child is this about?"),
                                     empty_label=None)

    def __init__(self, *args, placements, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["placement"]
        field.queryset = placements
        only = list(placements[:2])
        if len(only) == 1:
            # Most families have one child placed: nothing to choose, so nothing to show.
            field.initial = only[0].pk
            field.widget = forms.HiddenInput()


class CheckInForm(_FamilyForm):
    """The weekly check-in: about a minute on a phone. Only stress is required."""

    stress = forms.TypedChoiceField(
        label=_("How stressed have you felt this week?"), choices=STRESS_CHOICES, coerce=int,
        widget=forms.RadioSelect, help_text=_("0 = not at all, 10 = as stressed as can be."),
        error_messages={"required": _("Choose a number from 0 to 10.")},
    )
    sleep = forms.TypedChoiceField(
        label=_("How have you slept?"), choices=SLEEP_CHOICES, coerce=int, required=False, empty_value=None,
        widget=forms.RadioSelect,
    )
    conflicts = forms.IntegerField(
        label=_("How many conflicts have you had at home this week?"), min_value=0, max_value=99, required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    commitment = forms.TypedChoiceField(
        label=_("How sure are you that you can continue for the next 6 months?"), choices=STRESS_CHOICES, coerce=int,
        required=False, empty_value=None, widget=forms.RadioSelect,
        help_text=_("0 = not sure at all, 10 = completely sure. You may skip this."),
    )
    free_text = forms.CharField(
        label=_("Anything else you want your consultant to know?"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only the people who support you read this."),
    )


class HelpNowForm(_FamilyForm):
    """The confirmation step of "we need help now": one required answer, then the button."""

    stress = forms.TypedChoiceField(
        label=_("How stressed are you right now?"), choices=STRESS_CHOICES, coerce=int, widget=forms.RadioSelect,
        help_text=_("0 = not at all, 10 = as stressed as can be."),
        error_messages={"required": _("Choose a number from 0 to 10.")},
    )
    free_text = forms.CharField(
        label=_("What is happening? (you may leave this empty)"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AcknowledgeForm(ServiceForm):
    # No preselected outcome: what came of an alert is kept for learning, so it must be a choice someone made.
    outcome = forms.ChoiceField(label=_("What came of it?"),
                                choices=[("", _("Choose what came of it"))] + list(AlertOutcome.choices))
    acknowledgement_note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required for \"No action needed\" and \"Other\". Kept so that the team can learn."),
    )


class AssessmentForm(ServiceForm):
    decision = forms.ChoiceField(label=_("Your assessment"), choices=AssessmentDecision.choices,
                                 widget=forms.RadioSelect)
    assessed_level = forms.ChoiceField(
        label=_("The level you find right (when overriding)"), required=False,
        choices=[("", _("Choose a level"))] + [(v, label) for v, label in Level.choices],
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Required when you override."))


class NeedFromRecommendationForm(ServiceForm):
    """Pre-filled, so one click creates the need; the consultant may change how long and how often."""

    minutes_per_session = forms.IntegerField(label=_("Minutes per session"), min_value=1, max_value=1440, initial=90)
    sessions_per_week = forms.DecimalField(label=_("Sessions per week"), min_value=0.01, max_value=14,
                                           decimal_places=2, initial=1)
    starts_on = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


class SdqForm(ServiceForm):
    on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    informant = forms.ChoiceField(label=_("Who answered"), choices=SdqInformant.choices)
    total = forms.IntegerField(label=_("Total difficulties (0–40)"), min_value=0, max_value=40)
    impact = forms.IntegerField(label=_("Impact (optional)"), min_value=0, max_value=10, required=False)


class AbsenceForm(ServiceForm):
    month = forms.DateField(label=_("Month (any day in it)"),
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    total_pct = forms.DecimalField(label=_("Total absence (%)"), min_value=0, max_value=100, decimal_places=2)
    unlawful_pct = forms.DecimalField(label=_("Unlawful absence (%)"), min_value=0, max_value=100, decimal_places=2,
                                      initial=0)


class IncidentForm(ServiceForm):
    on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    kind = forms.ChoiceField(label=_("What happened"), choices=IncidentKind.choices)
    note = forms.CharField(label=_("Note (never passed to the model)"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class MilestoneDoneForm(ServiceForm):
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))
    cadence_months = forms.IntegerField(
        label=_("Follow up every … months from now on"), min_value=1, max_value=24, required=False,
        help_text=_("Barnets lov § 95: decide and justify the cadence at the first follow-up."),
    )
    cadence_justification = forms.CharField(label=_("Why this cadence?"), required=False, max_length=2000,
                                            widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, asks_cadence: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not asks_cadence:
            del self.fields["cadence_months"], self.fields["cadence_justification"]


SIGNAL_FORMS: dict[str, type[ServiceForm]] = {"sdq": SdqForm, "absence": AbsenceForm, "incident": IncidentForm}
