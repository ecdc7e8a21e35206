"""A random writer on the demo schema, as a live application would be: inserts, updates,
deletes and foreign-key moves across every table the shipped mappings read, one short
transaction at a time, with the cascades the schema declares. Portable (PostgreSQL, SQLite,
MySQL/MariaDB): it writes through the demo's own SQLAlchemy tables."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from mapper.demo import schema as s

Step = Callable[[sa.Connection, random.Random], None]


def _pick(connection: sa.Connection, rng: random.Random, table: sa.Table, *where: Any) -> Any:
    """The key of a random row of `table` (None when it has none)."""
    keys = connection.execute(sa.select(table.c.id).where(*where).order_by(table.c.id)).scalars()
    found = list(keys)
    return rng.choice(found) if found else None


def _now(rng: random.Random) -> dt.datetime:
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return base + dt.timedelta(seconds=rng.randrange(10**7), microseconds=rng.randrange(10**6))


def _new(connection: sa.Connection, rng: random.Random, table: sa.Table, **values: Any) -> None:
    """A row of `table` with a new random key."""
    key = uuid.UUID(int=rng.getrandbits(128), version=4)
    connection.execute(table.insert().values(id=key, **values))


def _set(connection: sa.Connection, table: sa.Table, key: Any, **values: Any) -> None:
    connection.execute(table.update().where(table.c.id == key).values(**values))


def _delete(connection: sa.Connection, table: sa.Table, key: Any) -> None:
    connection.execute(table.delete().where(table.c.id == key))


def _text(rng: random.Random, prefix: str) -> str:
    return f"{prefix} {rng.randrange(10**9):09d}"


def comment_inserted(connection: sa.Connection, rng: random.Random) -> None:
    task = _pick(connection, rng, s.tasks)
    if task is not None:
        _new(
            connection,
            rng,
            s.comments,
            task_id=task,
            user_id=_pick(connection, rng, s.users),
            body=_text(rng, "comment"),
            created_at=_now(rng),
        )


def comment_changed(connection: sa.Connection, rng: random.Random) -> None:
    comment = _pick(connection, rng, s.comments)
    if comment is None:
        return
    change = rng.choice(["edit", "move", "delete", "author"])
    if change == "edit":
        _set(connection, s.comments, comment, body=_text(rng, "edited"), edited_at=_now(rng))
    elif change == "move":  # to another task: both documents change
        _set(connection, s.comments, comment, task_id=_pick(connection, rng, s.tasks))
    elif change == "author":
        _set(connection, s.comments, comment, user_id=_pick(connection, rng, s.users))
    else:
        _delete(connection, s.comments, comment)


def label_changed(connection: sa.Connection, rng: random.Random) -> None:
    change = rng.choice(["insert", "rename", "delete", "tag", "untag"])
    label = _pick(connection, rng, s.labels)
    if change == "insert" or label is None:
        org = _pick(connection, rng, s.organizations)
        if org is not None:
            _new(
                connection,
                rng,
                s.labels,
                org_id=org,
                name=_text(rng, "label"),
                color=rng.choice(["red", "green", "blue"]),
            )
    elif change == "rename":
        values = {"name": _text(rng, "label"), "color": rng.choice(["cyan", "black"])}
        _set(connection, s.labels, label, **values)
    elif change == "delete":  # its task_labels rows go with it
        _delete(connection, s.labels, label)
    else:
        task = _pick(connection, rng, s.tasks)
        pair = (s.task_labels.c.task_id == task) & (s.task_labels.c.label_id == label)
        connection.execute(s.task_labels.delete().where(pair))
        if change == "tag" and task is not None:
            connection.execute(s.task_labels.insert().values(task_id=task, label_id=label))


def assignee_changed(connection: sa.Connection, rng: random.Random) -> None:
    task, user = _pick(connection, rng, s.tasks), _pick(connection, rng, s.users)
    if task is None or user is None:
        return
    pair = (s.task_assignees.c.task_id == task) & (s.task_assignees.c.user_id == user)
    there = connection.execute(sa.select(sa.func.count()).where(pair)).scalar_one()
    if there and rng.random() < 0.5:
        connection.execute(s.task_assignees.update().where(pair).values(assigned_at=_now(rng)))
    elif there:
        connection.execute(s.task_assignees.delete().where(pair))
    else:
        values = {"task_id": task, "user_id": user, "assigned_at": _now(rng)}
        connection.execute(s.task_assignees.insert().values(**values))


def project_changed(connection: sa.Connection, rng: random.Random) -> None:
    project = _pick(connection, rng, s.projects)
    org = _pick(connection, rng, s.organizations)
    change = rng.choice(["insert", "rename", "status", "move", "delete"])
    stamp = _now(rng)  # the application keeps `updated_at` (a poll's watermark)
    if (change == "insert" or project is None) and org is not None:
        user = _pick(connection, rng, s.users)
        name = _text(rng, "project")
        _new(connection, rng, s.projects, org_id=org, name=name, status="active",
             created_by=user, created_at=stamp, updated_at=stamp)  # fmt: skip
    elif change == "rename":
        _set(connection, s.projects, project, name=_text(rng, "project"), updated_at=stamp)
    elif change == "status":
        status = rng.choice(["active", "archived"])
        _set(connection, s.projects, project, status=status, updated_at=stamp)
    elif change == "move":  # to another organization: its tasks' copies change
        _set(connection, s.projects, project, org_id=org, updated_at=stamp)
    elif project is not None:  # its tasks, their comments, labels and assignees go with it
        _delete(connection, s.projects, project)


def task_changed(connection: sa.Connection, rng: random.Random) -> None:
    task = _pick(connection, rng, s.tasks)
    project = _pick(connection, rng, s.projects)
    change = rng.choice(["insert", "status", "move", "delete"])
    stamp = _now(rng)
    if (change == "insert" or task is None) and project is not None:
        title, priority = _text(rng, "task"), rng.randrange(1, 5)
        _new(connection, rng, s.tasks, project_id=project, title=title, status="todo",
             priority=priority, created_at=stamp, updated_at=stamp)  # fmt: skip
    elif change == "status":  # the projects' filtered count changes
        status = rng.choice(["todo", "done"])
        _set(connection, s.tasks, task, status=status, updated_at=stamp)
    elif change == "move":
        _set(connection, s.tasks, task, project_id=project, updated_at=stamp)
    elif task is not None:
        _delete(connection, s.tasks, task)


def organization_changed(connection: sa.Connection, rng: random.Random) -> None:
    org = _pick(connection, rng, s.organizations)
    change = rng.choice(["insert", "rename", "delete"])
    if change == "insert" or org is None:
        _new(
            connection,
            rng,
            s.organizations,
            name=_text(rng, "org"),
            slug=_text(rng, "slug").replace(" ", "-"),
            plan="free",
            created_at=_now(rng),
        )
    elif change == "rename":  # copied into projects, tasks and users
        _set(connection, s.organizations, org, name=_text(rng, "org"))
    else:  # one without projects or labels (those keep theirs); its members go with it
        used = sa.union(sa.select(s.projects.c.org_id), sa.select(s.labels.c.org_id))
        free = _pick(connection, rng, s.organizations, s.organizations.c.id.not_in(used))
        if free is not None:
            _delete(connection, s.organizations, free)


def user_changed(connection: sa.Connection, rng: random.Random) -> None:
    user = _pick(connection, rng, s.users)
    change = rng.choice(["insert", "rename", "delete", "join", "leave"])
    if change == "insert" or user is None:
        _new(
            connection,
            rng,
            s.users,
            email=_text(rng, "user").replace(" ", ".") + "@example.com",
            full_name=_text(rng, "User"),
            created_at=_now(rng),
        )
    elif change == "rename":  # copied into members, assignees, authors, created_by
        values = {"full_name": _text(rng, "User")}
        _set(connection, s.users, user, **values)
    elif change == "delete":  # memberships and assignments go; references become NULL
        _delete(connection, s.users, user)
    else:
        org = _pick(connection, rng, s.organizations)
        pair = (s.org_members.c.org_id == org) & (s.org_members.c.user_id == user)
        connection.execute(s.org_members.delete().where(pair))
        if change == "join" and org is not None:
            values = {"org_id": org, "user_id": user, "role": "member", "joined_at": _now(rng)}
            connection.execute(s.org_members.insert().values(**values))


STEPS: tuple[Step, ...] = (
    comment_inserted,
    comment_changed,
    comment_changed,
    label_changed,
    assignee_changed,
    project_changed,
    task_changed,
    task_changed,
    organization_changed,
    user_changed,
)


def engine(url: str) -> sa.Engine:
    """An engine to write with: SQLite's with its foreign keys enforced (their cascades),
    in WAL mode (readers and the writer do not block each other), waiting for locks."""
    from mapper import pipeline

    if not url.startswith("sqlite"):
        return pipeline.create_engine(url)
    made = pipeline.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(made, "connect")
    def _enforced(connection: Any, _: Any) -> None:
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA journal_mode = WAL")

    return made


def write(engine: sa.Engine, rng: random.Random, transactions: int) -> None:
    """`transactions` committed transactions of one to three random steps each."""
    for _ in range(transactions):
        with engine.begin() as connection:
            for _ in range(rng.randint(1, 3)):
                rng.choice(STEPS)(connection, rng)
