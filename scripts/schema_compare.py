#!/usr/bin/env python3
"""Do two checkouts' migration chains build the same PostgreSQL schema?

    .venv/bin/python scripts/services.py -- .venv/bin/python scripts/schema_compare.py OLD NEW

OLD and NEW are checkouts (e.g. ``git worktree add /tmp/old 7eaa66f``). Each chain
migrates its own database on the PostgreSQL that scripts/services.py started; both are
dumped with ``pg_dump --schema-only --no-owner`` and diffed twice: as they are, and with
the columns inside each CREATE TABLE sorted (a chain that added a column late puts it
last; Django always names columns, so order alone changes nothing). Also compared: the
roles the data migration grants. Exit 1 when the sorted schemas or the roles differ.
"""

from __future__ import annotations

import difflib
import glob
import os
import subprocess
import sys
from pathlib import Path

ROLES_SQL = """SELECT g.name, p.codename, ct.app_label, ct.model FROM auth_group g
JOIN auth_group_permissions gp ON gp.group_id = g.id
JOIN auth_permission p ON p.id = gp.permission_id
JOIN django_content_type ct ON ct.id = p.content_type_id ORDER BY 1, 2"""


def pg_bin(name: str) -> str:
    return sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1]


def build(tree: Path, base_url: str, db: str) -> tuple[str, str]:
    """Migrate a fresh database with ``tree``'s chain; return (schema, roles)."""
    conn = ["-d", f"{base_url}/{db}"]
    subprocess.run([pg_bin("createdb"), "--maintenance-db", f"{base_url}/postgres", db], check=True)
    env = {**os.environ, "DATABASE_URL": f"{base_url}/{db}"}
    env["DJANGO_SETTINGS_MODULE"] = "console.settings_test"
    python = str(Path(sys.executable))
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=tree, env=env, check=True
    )
    dump = subprocess.run(
        [pg_bin("pg_dump"), "--schema-only", "--no-owner", *conn],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    schema = "\n".join(
        line
        for line in dump.splitlines()
        if not line.startswith(("\\restrict", "\\unrestrict", "-- Dumped"))
    )
    roles = subprocess.run(
        [pg_bin("psql"), "-At", *conn, "-c", ROLES_SQL], check=True, capture_output=True, text=True
    ).stdout
    return schema, roles


def columns_sorted(schema: str) -> list[str]:
    out: list[str] = []
    block: list[str] | None = None
    for line in schema.splitlines():
        if block is None:
            out.append(line)
            if line.startswith("CREATE TABLE ") and line.endswith("("):
                block = []
        elif line == ");":
            out.extend(sorted(block))
            out.append(line)
            block = None
        else:
            block.append(line.rstrip(","))
    return out


def main() -> int:
    old_tree, new_tree = (Path(p).resolve() for p in sys.argv[1:3])
    base = os.environ["FLEETDECK_TEST_POSTGRES_URL"].rsplit("/", 1)[0]
    old, old_roles = build(old_tree, base, "schema_old")
    new, new_roles = build(new_tree, base, "schema_new")
    raw = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "old", "new", lineterm=""))
    print("== raw diff (column order included)")
    print("\n".join(raw) or "(empty)")
    tidy = list(
        difflib.unified_diff(columns_sorted(old), columns_sorted(new), "old", "new", lineterm="")
    )
    print("== diff with the columns of each table sorted")
    print("\n".join(tidy) or "(empty)")
    print("== roles granted by the data migration:", "same" if old_roles == new_roles else "DIFFER")
    for name, schema in (("old", old), ("new", new)):
        tables = schema.count("\nCREATE TABLE ")
        indexes = sum(
            1 for line in schema.splitlines() if line.startswith("CREATE") and " INDEX " in line
        )
        constraints = schema.count("ADD CONSTRAINT")
        print(f"{name}: {tables} tables, {indexes} indexes, {constraints} constraints")
    return 1 if tidy or old_roles != new_roles else 0


if __name__ == "__main__":
    raise SystemExit(main())
