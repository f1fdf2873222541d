"""The Open311 service discovery document (``/open311/v2/discovery.json|.xml``): where the GeoReport v2
endpoint is, in which formats, whom to ask for a key, and a changeset that moves when the services do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from dashboard.i18n import t_plain
from dashboard.io.open311 import iso
from models import Category, Subdistrict

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
PREFIX = "/open311/v2"
RELEASED = datetime(2026, 12, 2)
"""The changeset before any category was edited: when this API first served its services."""


def changeset(session: Session) -> str:
    """The last change to the services (a category edited), at the earliest the API's release."""
    edited = session.exec(select(func.max(Category.updated_at))).first()
    return iso(max(edited, RELEASED) if edited else RELEASED) or ""


def discovery(session: Session, base_url: str, lang: str) -> dict[str, Any]:
    """The discovery document for an API served at `base_url` (scheme and host, no trailing slash)."""
    name = session.exec(select(Subdistrict.name).order_by(Subdistrict.id)).first() or ""
    stamp = changeset(session)
    return {
        "changeset": stamp,
        "contact": t_plain("open311.contact", lang, name=name),
        "key_service": t_plain("open311.key_service", lang),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": f"{base_url}{PREFIX}",
                "changeset": stamp,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
