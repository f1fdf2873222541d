"""The in-memory picture of the seeded sub-district that the case, volunteer and visit generators share.

Built once by :mod:`seed.generate` after the territory, departments, categories and users are written;
it holds ids and the few attributes the generators need, never ORM objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shapely.geometry.base import BaseGeometry

from seed.reference import CategorySpec


@dataclass
class BuildingInfo:
    id: int
    name: str
    households: int
    lon: float
    lat: float


@dataclass
class GridInfo:
    index: int
    id: int
    code: str
    name: str
    community_index: int
    community_id: int
    kind: str
    households: int
    population: dict[str, int]
    buildings: list[BuildingInfo]
    building_cum: list[float]
    polygon: BaseGeometry
    worker_id: int
    neighbours: list[int] = field(default_factory=list)
    quiet_from: datetime | None = None
    """A blind spot: no case and no visit from this instant on."""
    case_weight: float = 1.0


@dataclass
class CommunityInfo:
    index: int
    id: int
    code: str
    name: str
    kind: str
    user_ids: list[int]
    satisfaction: float
    """Target share of (satisfied + basically) among followed-up cases."""
    on_time_adj: float
    """Added to the probability that a case is closed on time."""


@dataclass
class CategoryInfo:
    index: int
    id: int
    spec: CategorySpec
    department_id: int
    co_department_ids: list[int]


@dataclass
class VolunteerInfo:
    id: int
    name: str
    home_grid: int
    skills: list[str]
    registered_at: datetime
    idle_from: datetime | None
    """No service from this instant on (inactive or dormant volunteers)."""
    weight: float
    """Relative amount of service the volunteer gives."""


@dataclass
class World:
    now: datetime
    year_ago: datetime
    grids: list[GridInfo]
    communities: list[CommunityInfo]
    categories: list[CategoryInfo]
    department_handlers: dict[int, list[int]]
    department_adj: dict[int, float]
    operators: list[int]
    volunteer_manager_id: int | None
    user_names: dict[int, str]
    department_names: dict[int, str]
    volunteers: list[VolunteerInfo] = field(default_factory=list)
    volunteers_by_grid_skill: dict[tuple[int, str], list[VolunteerInfo]] = field(default_factory=dict)
