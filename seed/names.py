"""Fictitious Chinese personal names, phone numbers and street names for the seed.

Every function takes the seed's one ``random.Random`` so the output is reproducible. Names are drawn from
common surnames (weighted roughly by frequency in northern Jiangsu) and given-name characters typical of
the person's generation, so a retired volunteer is 秀英 or 建国 and a young one 子涵 or 浩然. Phone numbers
are well-formed mobile numbers with random digits; they are not meant to reach anybody.
"""

from __future__ import annotations

import random
from itertools import accumulate

_SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 8.0),
    ("张", 7.5),
    ("李", 7.0),
    ("刘", 6.0),
    ("陈", 5.0),
    ("徐", 4.5),
    ("孙", 4.0),
    ("朱", 3.5),
    ("周", 3.2),
    ("吴", 3.0),
    ("杨", 2.8),
    ("赵", 2.6),
    ("胡", 2.2),
    ("高", 2.0),
    ("马", 1.8),
    ("许", 1.8),
    ("沈", 1.5),
    ("顾", 1.4),
    ("蔡", 1.4),
    ("仲", 1.2),
    ("倪", 1.2),
    ("葛", 1.1),
    ("蒋", 1.1),
    ("史", 1.0),
    ("黄", 1.0),
    ("郑", 1.0),
    ("丁", 1.0),
    ("卢", 0.9),
    ("汤", 0.9),
    ("曹", 0.9),
    ("袁", 0.8),
    ("魏", 0.8),
    ("贾", 0.8),
    ("韩", 0.8),
    ("唐", 0.8),
    ("冯", 0.8),
    ("董", 0.7),
    ("程", 0.7),
    ("邵", 0.7),
    ("姚", 0.7),
    ("戴", 0.6),
    ("宋", 0.6),
    ("谢", 0.6),
    ("夏", 0.6),
    ("陆", 0.6),
    ("钱", 0.6),
    ("潘", 0.5),
    ("杜", 0.5),
    ("叶", 0.5),
    ("苏", 0.5),
    ("吕", 0.5),
    ("邱", 0.5),
    ("侯", 0.4),
    ("梁", 0.4),
    ("范", 0.4),
    ("金", 0.4),
    ("方", 0.4),
    ("石", 0.4),
    ("陶", 0.4),
    ("严", 0.4),
    ("尹", 0.3),
    ("薛", 0.3),
    ("闫", 0.3),
    ("孟", 0.3),
    ("卞", 0.3),
    ("翟", 0.3),
    ("束", 0.3),
    ("嵇", 0.2),
    ("项", 0.2),
    ("皇甫", 0.05),
    ("欧阳", 0.05),
)
_SURNAME_LIST = [s for s, _ in _SURNAMES]
_SURNAME_CUM = list(accumulate(w for _, w in _SURNAMES))

# Given-name characters by generation (born before 1965, 1965–1989, from 1990) and gender.
_GIVEN: dict[tuple[str, str], str] = {
    ("old", "男"): "建国军民华明德福成荣林海平文忠广志宝保山发玉兴义昌家庆金树根满春",
    ("old", "女"): "秀英兰芳桂珍凤华玉梅琴霞淑云翠萍荣花菊红莲美金素芬娟香荷",
    ("mid", "男"): "伟强磊勇军杰涛斌波辉刚鹏峰超亮健宁飞俊浩明东亚春雷永林忠",
    ("mid", "女"): "丽敏静燕娟艳霞红玲芳洁琳婷雪莉慧娜颖萍琴晶倩丹梅蓉云",
    ("young", "男"): "浩然子轩宇航博文俊杰一鸣天佑梓睿宇泽晨阳浩宇志远家豪思源嘉懿",
    ("young", "女"): "子涵欣怡梓萱雨桐诗涵语嫣可馨一诺雨欣佳怡思琪梦瑶若曦紫涵",
}

MOBILE_PREFIXES: tuple[str, ...] = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "157",
    "158",
    "159",
    "166",
    "173",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
)

ROADS: tuple[str, ...] = (
    "项王路",
    "幸福路",
    "人民大道",
    "宿支路",
    "西湖路",
    "黄河路",
    "发展大道",
    "青年路",
    "健康路",
    "楚街",
    "马陵路",
    "洪泽湖路",
    "东大街",
    "西大街",
    "南大街",
    "北大街",
    "果园路",
    "运河路",
    "古黄河路",
    "梧桐路",
    "朝阳路",
    "振兴路",
    "文昌路",
    "公园路",
)
"""Street names for titles and addresses (a mix of common and local-sounding names)."""


def _generation(birth_year: int | None) -> str:
    if birth_year is None:
        return "mid"
    if birth_year < 1965:
        return "old"
    return "mid" if birth_year < 1990 else "young"


def surname(rng: random.Random) -> str:
    return rng.choices(_SURNAME_LIST, cum_weights=_SURNAME_CUM)[0]


def person_name(rng: random.Random, gender: str | None = None, birth_year: int | None = None) -> str:
    """A plausible full name; `gender` is "男" or "女" (random when None)."""
    gender = gender or rng.choice("男女")
    pool = _GIVEN[(_generation(birth_year), gender)]
    if _generation(birth_year) == "young" and rng.random() < 0.7:
        # young given names come as pairs in the pool string
        start = 2 * rng.randrange(len(pool) // 2)
        given = pool[start : start + 2]
    elif rng.random() < 0.72:
        given = rng.choice(pool) + rng.choice(pool)
    else:
        given = rng.choice(pool)
    return surname(rng) + given


def mobile(rng: random.Random) -> str:
    """An 11-digit mobile number (fictitious)."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def landline(rng: random.Random) -> str:
    """A Suqian (0527) office number (fictitious)."""
    return f"0527-8{rng.randrange(1_000_000, 10_000_000):07d}"
