"""Developer commands: ``python -m dashboard.devtools regen-migration``.

Before the first release the schema is one initial migration; this rebuilds it from the models.
After a release, add new revisions with ``alembic revision --autogenerate`` instead.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from dashboard.config import ROOT

INITIAL = "0001"


def regen_migration() -> Path:
    from alembic import command

    from dashboard.db import alembic_config, dispose_engines

    versions = ROOT / "migrations" / "versions"
    for old in versions.glob(f"{INITIAL}_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/empty.db"
        cfg = alembic_config(url)
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id=INITIAL)
        dispose_engines()
    return next(versions.glob(f"{INITIAL}_*.py"))


if __name__ == "__main__":
    if sys.argv[1:] == ["regen-migration"]:
        print(regen_migration())
    else:
        print(__doc__)
        sys.exit(2)
