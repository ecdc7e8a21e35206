"""Baseline "in-database": PostgreSQL builds the documents itself.

One statement: json_build_object per task, arrays from LATERAL subqueries with json_agg in the
documents' order, ObjectIds computed in SQL (sha256 → first 12 bytes → hex). The client fetches
the JSON from a server-side cursor, lets psycopg2 decode it, restores the types JSON cannot
carry (ObjectId, Decimal128 from the exact text, datetimes, the omitted NULLs) and BSON-encodes.
"""

from __future__ import annotations

import datetime as dt

import bson
from bson import Decimal128, ObjectId

from benchmarks.common import UTC, Baseline


def _oid(table: str, column: str) -> str:
    return (
        f"encode(substring(sha256(convert_to('{table}:' || {column}::text, 'UTF8')) "
        "from 1 for 12), 'hex')"
    )


QUERY = f"""
SELECT json_build_object(
  '_id', {_oid("tasks", "t.id")},
  'title', t.title, 'description', t.description, 'status', t.status,
  'priority', t.priority, 'due_date', t.due_date, 'estimate_hours', t.estimate_hours::text,
  'metadata', t.metadata, 'created_at', t.created_at, 'updated_at', t.updated_at,
  'project', json_build_object('_id', {_oid("projects", "p.id")}, 'name', p.name,
                               'status', p.status),
  'organization', json_build_object('_id', {_oid("organizations", "o.id")}, 'name', o.name,
                                    'slug', o.slug),
  'created_by', CASE WHEN u.id IS NOT NULL THEN
      json_build_object('_id', {_oid("users", "u.id")}, 'full_name', u.full_name,
                        'email', u.email) END,
  'labels', lb.labels, 'assignees', asg.assignees, 'comments', cm.comments,
  'comment_count', cm.comment_count)
FROM tasks t
LEFT JOIN projects p ON p.id = t.project_id
LEFT JOIN organizations o ON o.id = p.org_id
LEFT JOIN users u ON u.id = t.created_by
CROSS JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object('name', l.name, 'color', l.color)
                           ORDER BY l.name COLLATE "C", l.id), '[]') AS labels
  FROM task_labels tl JOIN labels l ON l.id = tl.label_id WHERE tl.task_id = t.id) lb
CROSS JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object('_id', {_oid("users", "au.id")},
                                             'full_name', au.full_name, 'email', au.email,
                                             'assigned_at', ta.assigned_at)
                           ORDER BY ta.assigned_at, au.id), '[]') AS assignees
  FROM task_assignees ta JOIN users au ON au.id = ta.user_id WHERE ta.task_id = t.id) asg
CROSS JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object(
           '_id', {_oid("comments", "c.id")}, 'body', c.body, 'created_at', c.created_at,
           'edited_at', c.edited_at,
           'author', CASE WHEN cu.id IS NOT NULL THEN
               json_build_object('_id', {_oid("users", "cu.id")}, 'full_name', cu.full_name)
               END)
           ORDER BY c.created_at, c.id), '[]') AS comments,
         count(*)::int AS comment_count
  FROM comments c LEFT JOIN users cu ON cu.id = c.user_id WHERE c.task_id = t.id) cm
ORDER BY t.id
"""

_when = dt.datetime.fromisoformat


def _date(text: str) -> dt.datetime:
    return dt.datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), tzinfo=UTC)


def restore(document: dict) -> dict:
    """JSON → the BSON types of demo-taskdb.md, NULL fields omitted (in place)."""
    document["_id"] = ObjectId(document["_id"])
    for name in ("description", "due_date", "estimate_hours", "metadata", "created_by"):
        if document[name] is None:
            del document[name]
    if "due_date" in document:
        document["due_date"] = _date(document["due_date"])
    if "estimate_hours" in document:
        document["estimate_hours"] = Decimal128(document["estimate_hours"])
    document["created_at"] = _when(document["created_at"])
    document["updated_at"] = _when(document["updated_at"])
    document["project"]["_id"] = ObjectId(document["project"]["_id"])
    document["organization"]["_id"] = ObjectId(document["organization"]["_id"])
    if "created_by" in document:
        document["created_by"]["_id"] = ObjectId(document["created_by"]["_id"])
    for assignee in document["assignees"]:
        assignee["_id"] = ObjectId(assignee["_id"])
        assignee["assigned_at"] = _when(assignee["assigned_at"])
    for comment in document["comments"]:
        comment["_id"] = ObjectId(comment["_id"])
        comment["created_at"] = _when(comment["created_at"])
        if comment["edited_at"] is None:
            del comment["edited_at"]
        else:
            comment["edited_at"] = _when(comment["edited_at"])
        if comment["author"] is None:
            del comment["author"]
        else:
            comment["author"]["_id"] = ObjectId(comment["author"]["_id"])
    return document


class InDatabase(Baseline):
    def setup(self) -> None:
        super().setup()
        with self.connection.cursor() as cursor:
            # json_build_object renders timestamptz in the session's zone: make it UTC.
            cursor.execute("SET TIME ZONE 'UTC'")

    def run(self, wanted: set, kept: dict) -> int:
        encode = bson.encode
        documents = 0
        for rows in self.stream(QUERY):
            for (document,) in rows:
                document = restore(document)
                data = encode(document)
                documents += 1
                if document["_id"] in wanted:
                    kept[document["_id"]] = data
        return documents

    def close(self) -> None:
        self.connection.rollback()
        self.connection.close()
