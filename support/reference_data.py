"""Reference rows every installation starts with. Used by a data migration and by tests."""

SERVICES = [
    ("supervision", "Supervision", "Supervision"),
    ("respite", "Støtteophold (aflastning)", "Respite care"),
    ("home_guidance", "Hjemmevejledning", "Home guidance"),
    ("family_therapy", "Familiebehandling", "Family therapy"),
    ("substance_treatment", "Misbrugsbehandling", "Substance-abuse treatment"),
    ("psychologist", "Psykolog", "Psychologist"),
]

COMPETENCES = [
    ("trauma", "Traumer", "Trauma"),
    ("sexual_abuse", "Seksuelle overgreb", "Sexual abuse"),
    ("adhd", "ADHD", "ADHD"),
    ("autism", "Autisme", "Autism"),
    ("attachment", "Tilknytning", "Attachment"),
    ("self_harm", "Selvskade", "Self-harm"),
    ("school_refusal", "Skolevægring", "School refusal"),
    ("substance_abuse", "Misbrug", "Substance abuse"),
    ("eating_disorder", "Spiseforstyrrelse", "Eating disorder"),
    ("violence", "Vold", "Violence"),
]


def install(service_model, competence_model) -> None:
    for code, da, en in SERVICES:
        service_model.objects.update_or_create(code=code, defaults={"name_da": da, "name_en": en})
    for code, da, en in COMPETENCES:
        competence_model.objects.update_or_create(code=code, defaults={"name_da": da, "name_en": en})
