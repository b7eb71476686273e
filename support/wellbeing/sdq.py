"""Standard SDQ bands, as data (research b.1). Raw scores are stored; bands are computed.

The four-band UK table ("close to average", "slightly raised", "high", "very high") for ages
4-17. Carer and teacher total bands are checked against their sources only in part (see
docs/risk-model.md § 12: the carer 4-band table, the self-report and the impact bands are from
memory ❌). Danish norms (Arnfred et al. 2019) would be another table under another version.
The risk index has its own band table in support.risk.config; this one is for display.
"""

from __future__ import annotations

BANDS_VERSION = "uk-4band-2026.1"
BAND_CODES = ("close_to_average", "slightly_raised", "high", "very_high")
BAND_LABELS = {
    "close_to_average": ("Close to average", "Tæt på gennemsnittet"),
    "slightly_raised": ("Slightly raised", "Let forhøjet"),
    "high": ("High", "Højt"),
    "very_high": ("Very high", "Meget højt"),
}

# Lower bounds of "slightly raised", "high" and "very high".
TOTAL_BANDS = {
    "parent": (14, 17, 20),
    "teacher": (12, 16, 19),
    "self": (15, 18, 20),
}
IMPACT_BANDS = {
    "parent": (1, 2, 3),
    "teacher": (1, 2, 3),
    "self": (1, 2, 3),
}


def _band(bounds: tuple[int, int, int], value: int) -> str:
    for code, bound in zip(reversed(BAND_CODES[1:]), reversed(bounds), strict=True):
        if value >= bound:
            return code
    return BAND_CODES[0]


def total_band(informant: str, total: int) -> str:
    return _band(TOTAL_BANDS[informant], total)


def impact_band(informant: str, impact: int | None) -> str | None:
    return None if impact is None else _band(IMPACT_BANDS[informant], impact)
