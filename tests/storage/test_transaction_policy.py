"""Every transaction goes through ``chronodelta.storage`` (issue 9).

Storage owns the locking rules: SQLite's write lock taken up front, the tenant's
counter locked first, lock waits bounded and reported as ``DatabaseBusy``. A module
that opened its own connection or transaction would bypass them, as
``DeltaTracker._touch`` once did (a deferred read-then-write transaction that failed
with "database is locked" whenever a writer held the lock). This scans the source.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "chronodelta"
STORAGE = PACKAGE / "storage"
# SQLAlchemy's ways to open a connection or a transaction (a savepoint, begin_nested,
# lives inside one of storage's transactions and follows its rules).
OPENERS = {"begin", "connect", "raw_connection"}
# Calls that open a connection of their own when handed an engine, not a connection.
CONNECTING_WITH_ENGINE = {"create_all", "drop_all", "inspect", "reflect"}


def transaction_openers(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls like ``x.begin()`` / ``x.connect()`` (no arguments: SQLAlchemy's form),
    ``metadata.create_all(engine)``, and engines made without storage's settings."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, ast.unparse(node.func.value)
        opens = name in OPENERS and not node.args
        hands_engine = (
            name in CONNECTING_WITH_ENGINE
            and bool(node.args)
            and ast.unparse(node.args[0]).endswith("engine")
        )
        own_engine = name == "create_engine" and owner in ("sa", "sqlalchemy")
        if opens or hands_engine or own_engine:
            found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def test_no_module_outside_storage_opens_a_transaction() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}: {call}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if STORAGE not in path.parents
        for line, call in transaction_openers(ast.parse(path.read_text()))
    ]
    assert offenders == [], "use storage's read/write transactions:\n" + "\n".join(offenders)


def test_the_scan_finds_the_forms_it_forbids() -> None:
    source = (
        "with engine.begin() as c: pass\n"
        "connection = self.engine.connect()\n"
        "metadata.create_all(self.engine)\n"
        "sa.inspect(engine)\n"
        "sa.create_engine(url)\n"
        # allowed: storage's engine, and an engine's work done on a given connection
        "storage.create_engine(url)\n"
        "sa.inspect(connection)\n"
        "connection.begin_nested()\n"
    )
    assert [call for _line, call in transaction_openers(ast.parse(source))] == [
        "engine.begin()",
        "self.engine.connect()",
        "metadata.create_all(self.engine)",
        "sa.inspect(engine)",
        "sa.create_engine(url)",
    ]


def test_storage_itself_is_where_transactions_are_opened() -> None:
    # Guards the scan's exemption: if storage stopped opening them, the test above
    # would be vacuous for the wrong reason.
    assert transaction_openers(ast.parse((STORAGE / "_transactions.py").read_text()))
