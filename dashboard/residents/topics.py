"""What a resident's report is about, in a resident's words, mapped to the case categories — the one place
the mapping is kept. A topic whose category is missing or inactive is not offered."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from models import Category

TOPICS: tuple[tuple[str, str], ...] = (
    ("litter", "ENV"),  # 垃圾、污水、脏乱
    ("facility", "INF"),  # 路灯、道路、楼道设施坏了
    ("property", "PRP"),  # 物业
    ("safety", "SAF"),  # 电线、燃气、消防通道
    ("neighbours", "DIS"),  # 邻里纠纷、噪音
    ("order", "SEC"),  # 治安
    ("elderly", "ELD"),  # 老人需要帮助
    ("hardship", "AID"),  # 生活困难
    ("other", "SUG"),  # 意见建议、其他
)
"""(topic, category code) in the order the form lists them; labels are ``residents.topic.<topic>``."""


@dataclass(frozen=True)
class Topic:
    key: str
    category_id: int


def available_topics(session: Session) -> list[Topic]:
    """The topics offered now, with their categories' ids."""
    codes = dict(
        session.exec(select(Category.code, Category.id).where(Category.active.is_(True))).all()  # type: ignore[arg-type]
    )
    return [Topic(key, codes[code]) for key, code in TOPICS if code in codes]


def topic_category(session: Session, key: str) -> int | None:
    """The category of topic `key` (None for an unknown topic or one not offered)."""
    return next((t.category_id for t in available_topics(session) if t.key == key), None)
