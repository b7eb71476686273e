"""Subscription links for a feed token, and a QR code of one, for the portal page.

View-independent: no request needed. ``SITE_URL`` decides the host; the path is the fixed
``/cal/<token>.ics`` (config/observability.py cuts tokens from logs by that shape). The QR code
is an SVG made locally by ``qrcode``'s SVG path factory: nothing leaves the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg

from calendars.conf import site_url


@dataclass(frozen=True)
class SubscriptionLinks:
    https: str  # for Google Calendar's "From URL" and for copying
    webcal: str  # opens the subscribe dialog in Apple Calendar, Outlook and most phones

    def qr_svg(self) -> str:
        return qr_svg(self.webcal)


def feed_path(token: str) -> str:
    return f"/cal/{token}.ics"


def subscription_links(token: str) -> SubscriptionLinks:
    base = site_url()
    https = base + feed_path(token)
    parts = urlsplit(https)
    return SubscriptionLinks(https=https, webcal=f"webcal://{parts.netloc}{parts.path}")


def qr_svg(data: str) -> str:
    """An SVG document (a single path, so it scales and stays small) encoding ``data``."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return image.to_string(encoding="unicode")
