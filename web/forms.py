"""Forms for the pages. They only check input; the rules live in the services they feed."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from support.errors import DomainError
from support.models import Municipality, Provider


class DomainErrorForm(forms.Form):
    """A form that can show a service's DomainError next to the field it concerns."""

    def add_domain_error(self, exc: DomainError) -> None:
        field = next((name for name in exc.fields if name in self.fields), None)
        self.add_error(field, exc.message)


class StartRunForm(DomainErrorForm):
    municipality = forms.ModelChoiceField(queryset=Municipality.objects.none(), label=_("Municipality"))

    def __init__(self, *args, municipalities, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["municipality"]
        field.queryset = municipalities
        if len(municipalities) == 1:
            # Most staff work in one municipality: no choice to make, so no control to show.
            field.initial = municipalities[0].pk
            field.widget = forms.HiddenInput()


class AcceptForm(DomainErrorForm):
    action = "accept"


class RejectForm(DomainErrorForm):
    action = "reject"

    reason = forms.CharField(
        label=_("Why is the proposal rejected?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The provider will not be proposed for this need again."),
        # The service's words (scheduler.services.matching.reject_reason_message), not a bare "required".
        error_messages={"required": _("Say why the proposal is rejected.")},
    )


class OverrideForm(DomainErrorForm):
    action = "override"

    provider = forms.ModelChoiceField(
        queryset=Provider.objects.none(), label=_("Another provider"), empty_label=_("Choose a provider"),
    )
    reason = forms.CharField(
        label=_("Why this provider?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, providers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers

    def offer(self, alternatives) -> None:
        """Render these providers as the choices without one query per form (the run page has many).

        Validation still uses the queryset given to __init__, so a crafted POST gains nothing.
        """
        field = self.fields["provider"]
        field.widget.choices = [("", field.empty_label)] + [(p.pk, p.name) for p in alternatives]


DECISION_FORMS: dict[str, type[DomainErrorForm]] = {
    "accept": AcceptForm,
    "reject": RejectForm,
    "override": OverrideForm,
}
