"""SQLModel tables. Importing this package registers every table on ``SQLModel.metadata``."""

from models.activity import (
    AuditLog,
    CalendarOverride,
    DisplayLink,
    GridVisit,
    LoginAttempt,
    Setting,
    StatutoryDay,
    UserSession,
)
from models.cases import Case, CaseEscalation, CaseEvent, CaseExtension, CaseNumberCounter
from models.org import Category, Department, User
from models.territory import (
    Building,
    Community,
    Grid,
    GridPopulationHistory,
    GridWorkerHistory,
    ResidentUnit,
    Subdistrict,
)
from models.volunteers import NeedRule, ServiceRecord, Volunteer, VolunteerSkill

__all__ = [
    "AuditLog",
    "Building",
    "CalendarOverride",
    "Case",
    "CaseEscalation",
    "CaseEvent",
    "CaseExtension",
    "CaseNumberCounter",
    "Category",
    "Community",
    "Department",
    "DisplayLink",
    "Grid",
    "GridPopulationHistory",
    "GridVisit",
    "GridWorkerHistory",
    "LoginAttempt",
    "NeedRule",
    "ResidentUnit",
    "ServiceRecord",
    "Setting",
    "StatutoryDay",
    "Subdistrict",
    "User",
    "UserSession",
    "Volunteer",
    "VolunteerSkill",
]
