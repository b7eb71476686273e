"""Great-circle distances, as the matching spec defines them.

Pure module: no Django imports, so the matching and recurrence cores can both use it.
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km on a sphere of radius 6371.0 km."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """The spec's distance: haversine rounded to the nearest whole km (floor(x + 0.5))."""
    return math.floor(haversine_km(lat1, lon1, lat2, lon2) + 0.5)
