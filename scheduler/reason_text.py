"""Matching reasons in the reader's language, with names instead of export keys.

The pure core (scheduler/matching/explain.py) writes each reason twice: an English line for the
result format, and a detail `{"code": ..., "params": {...}}` with the same facts as data. This
module says the details again with gettext, in the active language, naming providers, needs,
services and competences the way the consultant's pages do. Rows stored before details existed,
and codes this module does not know yet, fall back to the engine's English line.

The texts name providers and children (a need is "service for child"), so they are for pages and
API responses only: never log them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.formats import number_format
from django.utils.translation import get_language_info, gettext_lazy, ngettext, pgettext_lazy
from django.utils.translation import gettext as _

from scheduler.instance_export import key_to_pk
from support.models import Competence, Provider, Service, SupportNeed

# The contract's six hard rules by number (scheduler/matching/feasibility.RULES), as people say them.
RULE_NAMES = {
    1: pgettext_lazy("matching rule", "service"),
    2: pgettext_lazy("matching rule", "competences"),
    3: pgettext_lazy("matching rule", "language"),
    4: pgettext_lazy("matching rule", "excluded"),
    5: pgettext_lazy("matching rule", "reach"),
    6: pgettext_lazy("matching rule", "time"),
}

# The run's progress as the service writes it (in English, for the log) and as people read it.
_PROGRESS = {
    "Queued": gettext_lazy("Waiting for a worker"),
    "Exporting": gettext_lazy("Collecting needs and providers"),
    "Saving proposals": gettext_lazy("Saving proposals"),
    "Done": gettext_lazy("Done"),
    "Failed": gettext_lazy("Failed"),
}
_SOLVING_PREFIX, _SOLVING_MIDDLE, _SOLVING_SUFFIX = "Solving ", " needs × ", " providers"

# A run's error is technical (an exception's text) and stays as stored, except the one the service
# writes itself for a run whose worker vanished: that one a consultant can act on.
STALE_RUN_ERROR = "The run's worker stopped before it finished."
QUEUE_DOWN_ERROR = "The task queue could not be reached, so the run never started."
_RUN_ERRORS = {
    STALE_RUN_ERROR: gettext_lazy("The run stopped before it finished: the program doing the work was interrupted."),
    QUEUE_DOWN_ERROR: gettext_lazy(
        "The run never started: the task queue could not be reached. Start it again in a moment."
    ),
}


def solving_message(*, needs: int, providers: int) -> str:
    """The progress message while solving, in the service's (English) words."""
    return f"{_SOLVING_PREFIX}{needs}{_SOLVING_MIDDLE}{providers}{_SOLVING_SUFFIX}"


def progress_text(message: str) -> str:
    """A run's progress_message in the active language; unknown messages pass through."""
    if message in _PROGRESS:
        return str(_PROGRESS[message])
    if message.startswith(_SOLVING_PREFIX) and message.endswith(_SOLVING_SUFFIX):
        needs, _sep, providers = message[len(_SOLVING_PREFIX) : -len(_SOLVING_SUFFIX)].partition(_SOLVING_MIDDLE)
        if needs.isdigit() and providers.isdigit():
            return _("Finding the best match for %(needs)s needs among %(providers)s providers") % {
                "needs": needs, "providers": providers,
            }
    return message


def run_error_text(error: str) -> str:
    """A run's stored error in the active language where it is one of the service's own; else as stored."""
    return str(_RUN_ERRORS[error]) if error in _RUN_ERRORS else error


# --- Names ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """Display names for the keys and codes details carry; anything missing shows as it is."""

    providers: dict[str, str] = field(default_factory=dict)  # "P12" -> provider name
    needs: dict[str, str] = field(default_factory=dict)  # "N7" -> "Supervision for Emma"
    services: dict[str, str] = field(default_factory=dict)  # code -> name in the active language
    competences: dict[str, str] = field(default_factory=dict)

    def provider(self, key: str) -> str:
        return self.providers.get(key, key)

    def need(self, key: str) -> str:
        return self.needs.get(key, key)

    def service(self, code: str) -> str:
        return self.services.get(code, code)

    def competence(self, code: str) -> str:
        return self.competences.get(code, code)


def _local(name_da: str, name_en: str, language: str) -> str:
    """A reference name inside a sentence: 'Supervision' -> 'supervision', but 'ADHD' stays."""
    name = (name_en or name_da) if language.startswith("en") else (name_da or name_en)
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def names_for(
    details: Iterable[list[dict]], *, municipality_id: int, language: str, name_children: bool = True
) -> Names:
    """Look up, in at most four queries, every provider, need, service and competence the details mention.

    Needs read as "supervision for Emma", like the run page names them; with `name_children=False`
    as "need #12", for pages that name needs by number only.
    """
    provider_keys: set[str] = set()
    need_keys: set[str] = set()
    service_codes: set[str] = set()
    competence_codes: set[str] = set()
    for entries in details:
        for entry in entries or []:
            if isinstance(entry, dict) and isinstance(entry.get("params"), dict):
                _collect(entry["params"], provider_keys, need_keys, service_codes, competence_codes)

    def pks(keys: set[str]) -> dict[int, str]:
        found = {}
        for key in keys:
            try:
                found[key_to_pk(key)] = key
            except (TypeError, ValueError):
                continue
        return found

    by_provider_pk = pks(provider_keys)
    providers = {
        by_provider_pk[pk]: name
        for pk, name in Provider.objects.filter(pk__in=by_provider_pk).values_list("pk", "name")
    }
    by_need_pk = pks(need_keys)
    if name_children:
        needs = {
            by_need_pk[need.pk]: _("%(service)s for %(child)s") % {
                "service": _local(need.service.name_da, need.service.name_en, language),
                "child": need.placement.child.display_name,
            }
            for need in SupportNeed.objects.filter(
                pk__in=by_need_pk, municipality_id=municipality_id
            ).select_related("service", "placement__child")
        }
    else:
        needs = {key: _("need #%(number)s") % {"number": pk} for pk, key in by_need_pk.items()}
    services = {
        code: _local(da, en, language)
        for code, da, en in Service.objects.filter(code__in=service_codes).values_list("code", "name_da", "name_en")
    }
    competences = {
        code: _local(da, en, language)
        for code, da, en in Competence.objects.filter(code__in=competence_codes).values_list(
            "code", "name_da", "name_en"
        )
    }
    return Names(providers=providers, needs=needs, services=services, competences=competences)


def _collect(params: dict, providers: set, needs: set, services: set, competences: set) -> None:
    for key, value in params.items():
        if key in ("provider", "closest_provider"):
            providers.add(value)
        elif key == "providers" and isinstance(value, list):
            providers.update(value)
        elif key == "needs" and isinstance(value, list):
            needs.update(value)
        elif key == "service":
            services.add(value)
        elif key == "competences" and isinstance(value, list):
            competences.update(c["competence"] if isinstance(c, dict) else c for c in value)
        elif key == "candidates" and isinstance(value, list):
            for candidate in value:
                _collect(candidate, providers, needs, services, competences)


# --- Saying details -----------------------------------------------------------------------------------


def _number(value: float | int) -> str:
    """30.0 -> '30'; 10.5 -> '10,5' in Danish, '10.5' in English."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return number_format(round(value, 2), use_l10n=True)


def _language(code: str) -> str:
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def _listing(items: list[str], more: int = 0) -> str:
    shown = ", ".join(items)
    if more > 0:
        return ngettext("%(names)s and %(count)s more", "%(names)s and %(count)s more", more) % {
            "names": shown, "count": more,
        }
    return shown


def _rule_label(rule: int) -> str:
    return _("Rule %(number)s (%(name)s)") % {"number": rule, "name": RULE_NAMES.get(rule, rule)}


def _candidate(code: str, c: dict, names: Names) -> str:
    provider = names.provider(c["provider"])
    needs = _listing([names.need(k) for k in c.get("needs", [])], c.get("needs_more", 0))
    if code == "candidates_apart":
        return _("%(provider)s serves %(needs)s") % {"provider": provider, "needs": needs}
    if code == "candidates_too_far":
        return _("%(provider)s (travel of %(km)s km outweighs priority %(priority)s)") % {
            "provider": provider, "km": c["km"], "priority": c["priority"],
        }
    kind = c.get("kind")
    if kind == "no_cases":
        return _("%(provider)s (takes no cases)") % {"provider": provider}
    if kind == "capacity":
        return _("%(provider)s (%(capacity)s min/week in all, this need takes %(load)s)") % {
            "provider": provider, "capacity": _number(c["capacity"]), "load": _number(c["load"]),
        }
    if kind == "max_cases":
        return ngettext(
            "%(provider)s (the maximum of %(max_cases)s case is reached: %(needs)s)",
            "%(provider)s (the maximum of %(max_cases)s cases is reached: %(needs)s)",
            c["max_cases"],
        ) % {"provider": provider, "max_cases": c["max_cases"], "needs": needs}
    if kind == "minutes":
        return _(
            "%(provider)s (minutes taken by %(needs)s; %(left)s of %(capacity)s min/week left, "
            "this need takes %(load)s)"
        ) % {
            "provider": provider, "needs": needs, "left": _number(c["left"]),
            "capacity": _number(c["capacity"]), "load": _number(c["load"]),
        }
    raise KeyError(kind)


def detail_text(detail: dict, names: Names) -> str:
    """One detail as a sentence in the active language; KeyError for a code or shape not known here."""
    return _one_full_stop(_detail_text(detail, names))


def _one_full_stop(text: str) -> str:
    # A name ending in a full stop ("Demo-barn A.") at the end of a sentence must not give "A..".
    return text[:-1] if text.endswith("..") else text


def _detail_text(detail: dict, names: Names) -> str:
    code, p = detail["code"], detail.get("params") or {}
    count = p.get("count", 0)
    if code == "no_providers":
        return _("There are no providers in this matching run.")
    if code == "no_provider_offers":
        return _("No provider offers %(service)s.") % {"service": names.service(p["service"])}
    if code == "all_ruled_out":
        n = p["providers"]
        return ngettext(
            "No candidate: the only provider is ruled out by the hard rules.",
            "No candidate: all %(count)s providers are ruled out by the hard rules.",
            n,
        ) % {"count": n}
    if code == "no_coordinates":
        return _("The receiving household has no address coordinates, so the distance cannot be checked.")
    if code.startswith("rule_"):
        return f"{_rule_label(p['rule'])}: {_rule_body(code, p, count, names)}"
    if code == "hard_rules_summary":
        rules = ", ".join(
            _("rule %(number)s (%(name)s): %(count)s")
            % {"number": r["rule"], "name": RULE_NAMES.get(r["rule"], r["rule"]), "count": r["count"]}
            for r in p["rules"]
        )
        return ngettext(
            "The hard rules ruled out %(count)s of %(providers)s provider: %(rules)s.",
            "The hard rules ruled out %(count)s of %(providers)s providers: %(rules)s.",
            p["providers"],
        ) % {"count": count, "providers": p["providers"], "rules": rules}
    if code == "candidates_unused_room":
        return ngettext(
            "%(count)s candidate still had room (%(providers)s), but the time limit stopped the search "
            "before it was used.",
            "%(count)s candidates still had room (%(providers)s), but the time limit stopped the search "
            "before it was used.",
            count,
        ) % {"count": count, "providers": _listing([names.provider(k) for k in p["providers"]], p["providers_more"])}
    templates = {
        "candidates_full": ngettext(
            "%(count)s candidate was full: %(candidates)s.", "%(count)s candidates were full: %(candidates)s.", count
        ),
        "candidates_apart": ngettext(
            "%(count)s candidate is kept apart, serving a need that must not share a provider with this one: "
            "%(candidates)s.",
            "%(count)s candidates are kept apart, serving a need that must not share a provider with this one: "
            "%(candidates)s.",
            count,
        ),
        "candidates_too_small": ngettext(
            "%(count)s candidate is too small for this need: %(candidates)s.",
            "%(count)s candidates are too small for this need: %(candidates)s.",
            count,
        ),
        "candidates_too_far": ngettext(
            "%(count)s candidate is too far away to be worth it: %(candidates)s.",
            "%(count)s candidates are too far away to be worth it: %(candidates)s.",
            count,
        ),
    }
    candidates = _listing([_candidate(code, c, names) for c in p["candidates"]], p["candidates_more"])
    return templates[code] % {"count": count, "candidates": candidates}


def _rule_body(code: str, p: dict, count: int, names: Names) -> str:
    if code == "rule_service":
        return ngettext(
            "%(count)s provider does not offer %(service)s.", "%(count)s providers do not offer %(service)s.", count
        ) % {"count": count, "service": names.service(p["service"])}
    if code == "rule_competences":
        missing = ", ".join(f"{names.competence(c['competence'])} ({c['count']})" for c in p["competences"])
        return ngettext(
            "%(count)s provider lacks a required competence: %(competences)s.",
            "%(count)s providers lack a required competence: %(competences)s.",
            count,
        ) % {"count": count, "competences": missing}
    if code == "rule_language":
        return ngettext(
            "%(count)s provider does not speak %(language)s.", "%(count)s providers do not speak %(language)s.", count
        ) % {"count": count, "language": _language(p["language"])}
    if code == "rule_excluded":
        return ngettext(
            "%(count)s provider is excluded for this need: %(providers)s.",
            "%(count)s providers are excluded for this need: %(providers)s.",
            count,
        ) % {"count": count, "providers": _listing([names.provider(k) for k in p["providers"]], p["providers_more"])}
    if code == "rule_reach":
        text = ngettext(
            "%(count)s provider is beyond their travel range (closest: %(provider)s at %(km)s km, "
            "range %(range)s km).",
            "%(count)s providers are beyond their travel range (closest: %(provider)s at %(km)s km, "
            "range %(range)s km).",
            count,
        ) % {
            "count": count, "provider": names.provider(p["closest_provider"]), "km": p["closest_km"],
            "range": _number(p["closest_range_km"]),
        }
        remote = p.get("remote_refused", 0)
        if remote:
            text += " " + ngettext(
                "%(count)s of them offers remote sessions, but this need does not accept them.",
                "%(count)s of them offer remote sessions, but this need does not accept them.",
                remote,
            ) % {"count": remote}
        return text
    if code == "rule_time":
        return ngettext(
            "%(count)s provider has no single availability window overlapping the need's by %(minutes)s minutes.",
            "%(count)s providers have no single availability window overlapping the need's by %(minutes)s minutes.",
            count,
        ) % {"count": count, "minutes": _number(p["minutes"])}
    raise KeyError(code)


def reason_texts(*, reasons: list[str], details: list[dict], names: Names) -> list[str]:
    """The reasons to show: the details in the active language, else the engine's English lines."""
    if not details:
        return list(reasons)
    texts = []
    for i, detail in enumerate(details):
        try:
            texts.append(detail_text(detail, names))
        except (KeyError, TypeError, ValueError):
            # A code from a newer engine, or a malformed row: the English line still says it.
            if i < len(reasons):
                texts.append(reasons[i])
    return texts


# --- Hard rules broken by one chosen pair (the override form) ----------------------------------------


def pair_problem_text(detail: dict, names: Names) -> str:
    """One broken rule for a chosen provider (scheduler.matching_adapter.check_pair and the service)."""
    code, p = detail["code"], detail.get("params") or {}
    if code == "pair_service":
        return _("does not offer %(service)s") % {"service": names.service(p["service"])}
    if code == "pair_competences":
        missing = [names.competence(c) for c in p["competences"]]
        return ngettext(
            "lacks the required competence %(competences)s",
            "lacks the required competences %(competences)s",
            len(missing),
        ) % {"competences": ", ".join(missing)}
    if code == "pair_language":
        return _("does not speak %(language)s") % {"language": _language(p["language"])}
    if code == "pair_excluded":
        return _("is excluded for this need (an earlier rejection or the consultant's decision)")
    if code == "pair_reach":
        return _("is %(km)s km away, beyond their %(range)s km travel range, and remote is not possible") % {
            "km": p["km"], "range": _number(p["range_km"]),
        }
    if code == "pair_time":
        return _("has no weekly time that overlaps the household's availability for a whole session")
    if code == "pair_capacity":
        return _("has not enough capacity left (%(free)s min/week free, the need takes %(load)s min/week)") % {
            "free": _number(p["free"]), "load": _number(p["load"]),
        }
    if code == "pair_max_cases":
        return _("has reached its maximum number of cases")
    if code == "pair_municipality":
        return _("does not serve this municipality")
    if code == "pair_inactive":
        return _("is not active")
    if code == "pair_need_not_open":
        return _("the need is not waiting for a provider, or its household has no address coordinates")
    if code == "pair_separated":
        return _("a need that must be kept separate from this one is already with this provider")
    return code


def pair_refusal(*, provider_name: str, problems: list[dict], names: Names, still: bool = False) -> str:
    """The whole message when a chosen provider breaks hard rules, in the active language."""
    text = "; ".join(pair_problem_text(d, names) for d in problems)
    if still:
        message = _("%(provider)s can no longer take this need: %(problems)s.")
    else:
        message = _("%(provider)s cannot take this need: %(problems)s.")
    return _one_full_stop(message % {"provider": provider_name, "problems": text})
