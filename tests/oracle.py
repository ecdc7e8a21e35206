"""A naive, independent oracle for the documents of demo-taskdb.md.

It reads the demo database with plain SQL text, one or more queries per document (nested
loops, no joins beyond what one row needs), and builds the documents that the four shipped
mappings (mappings/*.yaml) must produce, with the conversions, orderings, omissions and `_id`s
that /work/shared/guide/demo-taskdb.md states. It shares nothing with mapper's resolver,
compiler or builder; only `mapper.ids.oid` (the documented id rule) is reused.

Works on the PostgreSQL demo (native uuid, timestamptz, numeric, jsonb) and on the SQLite demo
(uuid as 36-character lowercase text, timestamps as naive UTC text, numeric as a float with two
places, JSON as text).

Values come out as a BSON round trip gives them back: str, int (int32), `bson.Int64` (int64),
float, bool, None (only inside JSON), `datetime` (UTC, milliseconds), `Decimal128`, `ObjectId`,
dict and list.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

import sqlalchemy as sa
from bson import Decimal128, Int64

from mapper.ids import oid

INT32 = range(-(2**31), 2**31)
COLLECTIONS = ("organizations", "projects", "tasks", "users")


# --- value conversions (demo-taskdb.md, "Value conversions") -------------------------------


def key(value: Any) -> str:
    """A uuid key as its canonical lowercase 8-4-4-4-12 text (native uuid, or text)."""
    return str(value).lower()


def instant(value: Any) -> dt.datetime:
    """A timestamptz as an aware UTC datetime with full (microsecond) precision."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def timestamp(value: Any) -> dt.datetime:
    """timestamptz → BSON datetime in UTC: milliseconds only (truncated)."""
    moment = instant(value)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def date(value: Any) -> dt.datetime:
    """date → BSON datetime at 00:00 UTC of that date."""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = value.date()
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def numeric(value: Any) -> Decimal128:
    """numeric(6,2) → Decimal128 of the exact decimal text with two places (`3.50`)."""
    if isinstance(value, decimal.Decimal):
        exact = value
    elif isinstance(value, float | int):  # SQLite keeps numeric as REAL / INTEGER
        exact = decimal.Decimal(f"{value:.2f}")
    else:
        exact = decimal.Decimal(str(value))
    return Decimal128(exact)


def integer(value: Any) -> int | Int64:
    number = int(value)
    return number if number in INT32 else Int64(number)


def document(value: Any) -> Any:
    """jsonb → embedded document as stored (numbers as BSON gives them back)."""
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return _json(value)


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _json(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_json(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"unexpected JSON value {value!r}")


def in_order(pairs: list[tuple[tuple, Any]]) -> list:
    """The elements of (sort key, element) pairs, by their sort keys."""
    return [element for _, element in sorted(pairs, key=lambda pair: pair[0])]


def put(target: dict, name: str, value: Any, convert=None) -> None:
    """Set `name` unless the value is NULL (NULL → the field is omitted)."""
    if value is not None:
        target[name] = convert(value) if convert else value


def code_points(text: str) -> tuple[int, ...]:
    """Binary collation: text compares by Unicode code point."""
    return tuple(ord(c) for c in text)


# --- the oracle ----------------------------------------------------------------------------


class Oracle:
    """Expected documents per collection, as {_id: document}."""

    def __init__(self, url: str):
        self.url = url

    def documents(self) -> dict[str, dict]:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as connection:
                self.connection = connection
                return {
                    "organizations": self._by_id(self.organizations()),
                    "projects": self._by_id(self.projects()),
                    "tasks": self._by_id(self.tasks()),
                    "users": self._by_id(self.users()),
                }
        finally:
            engine.dispose()

    @staticmethod
    def _by_id(documents: list[dict]) -> dict:
        result = {doc["_id"]: doc for doc in documents}
        assert len(result) == len(documents), "duplicate _id in the oracle"
        return result

    # plain SQL helpers: every parameter is bound; a uuid is bound as its text
    def all(self, sql: str, **params) -> list:
        return list(self.connection.execute(sa.text(sql), params))

    def one(self, sql: str, **params):
        rows = self.all(sql, **params)
        assert len(rows) == 1, f"expected one row from {sql} {params}, got {len(rows)}"
        return rows[0]

    def scalar(self, sql: str, **params):
        return self.one(sql, **params)[0]

    def _where_id(self, column: str) -> str:
        """`column = :id`, comparing a uuid with bound text in both databases."""
        if self.connection.dialect.name == "postgresql":
            return f"{column} = CAST(:id AS uuid)"
        return f"{column} = :id"

    # --- tasks ---
    def tasks(self) -> list[dict]:
        documents = []
        for (task_id,) in self.all("SELECT id FROM tasks"):
            documents.append(self.task(key(task_id)))
        return documents

    def task(self, task_id: str) -> dict:
        t = self.one(
            "SELECT id, project_id, title, description, status, priority, due_date, "
            "estimate_hours, created_by, metadata, created_at, updated_at "
            f"FROM tasks WHERE {self._where_id('id')}",
            id=task_id,
        )
        doc: dict[str, Any] = {"_id": oid("tasks", [key(t.id)])}
        put(doc, "title", t.title)
        put(doc, "description", t.description)
        put(doc, "status", t.status)
        put(doc, "priority", t.priority, integer)
        put(doc, "due_date", t.due_date, date)
        put(doc, "estimate_hours", t.estimate_hours, numeric)
        put(doc, "metadata", t.metadata, document)
        put(doc, "created_at", t.created_at, timestamp)
        put(doc, "updated_at", t.updated_at, timestamp)

        project = self.one(
            f"SELECT id, org_id, name, status FROM projects WHERE {self._where_id('id')}",
            id=key(t.project_id),
        )
        doc["project"] = {"_id": oid("projects", [key(project.id)])}
        put(doc["project"], "name", project.name)
        put(doc["project"], "status", project.status)

        organization = self.one(
            f"SELECT id, name, slug FROM organizations WHERE {self._where_id('id')}",
            id=key(project.org_id),
        )
        doc["organization"] = {"_id": oid("organizations", [key(organization.id)])}
        put(doc["organization"], "name", organization.name)
        put(doc["organization"], "slug", organization.slug)

        if t.created_by is not None:
            user = self.one(
                f"SELECT id, full_name, email FROM users WHERE {self._where_id('id')}",
                id=key(t.created_by),
            )
            doc["created_by"] = {"_id": oid("users", [key(user.id)])}
            put(doc["created_by"], "full_name", user.full_name)
            put(doc["created_by"], "email", user.email)

        labels = []
        for (label_id,) in self.all(
            f"SELECT label_id FROM task_labels WHERE {self._where_id('task_id')}", id=task_id
        ):
            label = self.one(
                f"SELECT id, name, color FROM labels WHERE {self._where_id('id')}", id=key(label_id)
            )
            element: dict[str, Any] = {}
            put(element, "name", label.name)
            put(element, "color", label.color)
            labels.append(((code_points(label.name), key(label.id)), element))
        doc["labels"] = in_order(labels)

        assignees = []
        for user_id, assigned_at in self.all(
            f"SELECT user_id, assigned_at FROM task_assignees WHERE {self._where_id('task_id')}",
            id=task_id,
        ):
            user = self.one(
                f"SELECT id, full_name, email FROM users WHERE {self._where_id('id')}",
                id=key(user_id),
            )
            element = {"_id": oid("users", [key(user.id)])}
            put(element, "full_name", user.full_name)
            put(element, "email", user.email)
            put(element, "assigned_at", assigned_at, timestamp)
            assignees.append(((instant(assigned_at), key(user.id)), element))
        doc["assignees"] = in_order(assignees)

        comments = []
        for c in self.all(
            "SELECT id, user_id, body, created_at, edited_at FROM comments "
            f"WHERE {self._where_id('task_id')}",
            id=task_id,
        ):
            element = {"_id": oid("comments", [key(c.id)])}
            put(element, "body", c.body)
            put(element, "created_at", c.created_at, timestamp)
            put(element, "edited_at", c.edited_at, timestamp)
            if c.user_id is not None:
                author = self.one(
                    f"SELECT id, full_name FROM users WHERE {self._where_id('id')}",
                    id=key(c.user_id),
                )
                element["author"] = {"_id": oid("users", [key(author.id)])}
                put(element["author"], "full_name", author.full_name)
            comments.append(((instant(c.created_at), key(c.id)), element))
        doc["comments"] = in_order(comments)

        doc["comment_count"] = integer(
            self.scalar(
                f"SELECT COUNT(*) FROM comments WHERE {self._where_id('task_id')}", id=task_id
            )
        )
        assert doc["comment_count"] == len(doc["comments"])
        return doc

    # --- organizations ---
    def organizations(self) -> list[dict]:
        documents = []
        for o in self.all("SELECT id, name, slug, plan, created_at FROM organizations"):
            org_id = key(o.id)
            doc: dict[str, Any] = {"_id": oid("organizations", [org_id])}
            put(doc, "name", o.name)
            put(doc, "slug", o.slug)
            put(doc, "plan", o.plan)
            put(doc, "created_at", o.created_at, timestamp)

            members = []
            for m in self.all(
                "SELECT user_id, role, joined_at FROM org_members "
                f"WHERE {self._where_id('org_id')}",
                id=org_id,
            ):
                user = self.one(
                    f"SELECT id, full_name, email FROM users WHERE {self._where_id('id')}",
                    id=key(m.user_id),
                )
                element = {"user_id": oid("users", [key(user.id)])}
                put(element, "full_name", user.full_name)
                put(element, "email", user.email)
                put(element, "role", m.role)
                put(element, "joined_at", m.joined_at, timestamp)
                members.append(((instant(m.joined_at), key(m.user_id)), element))
            doc["members"] = in_order(members)

            labels = []
            for label in self.all(
                f"SELECT id, name, color FROM labels WHERE {self._where_id('org_id')}", id=org_id
            ):
                element = {"_id": oid("labels", [key(label.id)])}
                put(element, "name", label.name)
                put(element, "color", label.color)
                labels.append(((code_points(label.name), key(label.id)), element))
            doc["labels"] = in_order(labels)

            projects = []
            for p in self.all(
                f"SELECT id, created_at FROM projects WHERE {self._where_id('org_id')}", id=org_id
            ):
                projects.append(((instant(p.created_at), key(p.id)), oid("projects", [key(p.id)])))
            doc["project_ids"] = in_order(projects)
            documents.append(doc)
        return documents

    # --- users ---
    def users(self) -> list[dict]:
        documents = []
        for u in self.all("SELECT id, email, full_name, avatar_url, created_at FROM users"):
            user_id = key(u.id)
            doc: dict[str, Any] = {"_id": oid("users", [user_id])}
            put(doc, "email", u.email)
            put(doc, "full_name", u.full_name)
            put(doc, "avatar_url", u.avatar_url)
            put(doc, "created_at", u.created_at, timestamp)
            memberships = []
            for m in self.all(
                f"SELECT org_id, role FROM org_members WHERE {self._where_id('user_id')}",
                id=user_id,
            ):
                organization = self.one(
                    f"SELECT id, name FROM organizations WHERE {self._where_id('id')}",
                    id=key(m.org_id),
                )
                element = {"organization_id": oid("organizations", [key(organization.id)])}
                put(element, "organization_name", organization.name)
                put(element, "role", m.role)
                memberships.append(
                    ((code_points(organization.name), key(organization.id)), element)
                )
            doc["memberships"] = in_order(memberships)
            documents.append(doc)
        return documents

    # --- projects ---
    def projects(self) -> list[dict]:
        documents = []
        for p in self.all(
            "SELECT id, org_id, name, description, status, created_by, "
            "created_at, updated_at FROM projects"
        ):
            project_id = key(p.id)
            doc: dict[str, Any] = {"_id": oid("projects", [project_id])}
            put(doc, "name", p.name)
            put(doc, "description", p.description)
            put(doc, "status", p.status)
            put(doc, "created_at", p.created_at, timestamp)
            put(doc, "updated_at", p.updated_at, timestamp)
            organization = self.one(
                f"SELECT id, name, slug FROM organizations WHERE {self._where_id('id')}",
                id=key(p.org_id),
            )
            doc["organization"] = {"_id": oid("organizations", [key(organization.id)])}
            put(doc["organization"], "name", organization.name)
            put(doc["organization"], "slug", organization.slug)
            if p.created_by is not None:
                doc["created_by"] = oid("users", [key(p.created_by)])
            statuses = [
                status
                for (status,) in self.all(
                    f"SELECT status FROM tasks WHERE {self._where_id('project_id')}", id=project_id
                )
            ]
            doc["task_count"] = integer(len(statuses))
            doc["open_task_count"] = integer(sum(1 for s in statuses if s != "done"))
            documents.append(doc)
        return documents


def expected_documents(url: str, decimal_as: str = "decimal128") -> dict[str, dict]:
    """{collection: {_id: document}} for the four shipped mappings over the demo at `url`."""
    return with_decimal_as(Oracle(url).documents(), decimal_as)


def with_decimal_as(expected: dict[str, dict], decimal_as: str) -> dict[str, dict]:
    """The same documents with `tasks.estimate_hours` stored as `--decimal-as` says."""
    if decimal_as == "decimal128":
        return expected
    result = {name: dict(documents) for name, documents in expected.items()}
    for _id, doc in result["tasks"].items():
        if "estimate_hours" in doc:
            exact = doc["estimate_hours"].to_decimal()
            value = str(exact) if decimal_as == "string" else float(exact)
            result["tasks"][_id] = {**doc, "estimate_hours": value}
    return result
