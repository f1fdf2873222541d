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
from models.alert import Alert, AlertRun, CaseRisk
from models.api_client import ApiCallback, ApiClient, ApiClientCommunity, ApiRequest
from models.attachment import CaseAttachment
from models.cases import Case, CaseEscalation, CaseEvent, CaseExtension, CaseNumberCounter
from models.org import Category, Department, User
from models.resident import BlockedPhone, CaseSupporter, PublicAttempt, PublicReport
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
    "Alert",
    "AlertRun",
    "ApiCallback",
    "ApiClient",
    "ApiClientCommunity",
    "ApiRequest",
    "AuditLog",
    "BlockedPhone",
    "Building",
    "CalendarOverride",
    "Case",
    "CaseAttachment",
    "CaseEscalation",
    "CaseEvent",
    "CaseExtension",
    "CaseNumberCounter",
    "CaseRisk",
    "CaseSupporter",
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
    "PublicAttempt",
    "PublicReport",
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
