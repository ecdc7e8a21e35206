"""Baseline "hand-tuned": a single-purpose script, no framework, as fast as we can make it.

psycopg2 directly; the tasks stream from a server-side cursor in batches; each batch's labels,
assignees and comments come in one query per array (`task_id = ANY(%s)`), already sorted by
PostgreSQL, and are grouped in one pass. numeric and date are decoded straight into their BSON
types; ObjectIds of rows that repeat (projects, organizations, users) are memoized.
"""

from __future__ import annotations

import bson

from benchmarks.common import Baseline, OidCache, oid

TASKS = """
SELECT t.id, t.title, t.description, t.status, t.priority, t.due_date, t.estimate_hours,
       t.metadata, t.created_at, t.updated_at,
       p.id, p.name, p.status, o.id, o.name, o.slug, u.id, u.full_name, u.email
FROM tasks t
LEFT JOIN projects p ON p.id = t.project_id
LEFT JOIN organizations o ON o.id = p.org_id
LEFT JOIN users u ON u.id = t.created_by
"""
ROOT = TASKS + "ORDER BY t.id\n"
LABELS = """
SELECT tl.task_id, l.name, l.color
FROM task_labels tl JOIN labels l ON l.id = tl.label_id
WHERE tl.task_id = ANY(%s::uuid[])
ORDER BY tl.task_id, l.name COLLATE "C", l.id
"""
ASSIGNEES = """
SELECT ta.task_id, u.id, u.full_name, u.email, ta.assigned_at
FROM task_assignees ta JOIN users u ON u.id = ta.user_id
WHERE ta.task_id = ANY(%s::uuid[])
ORDER BY ta.task_id, ta.assigned_at, u.id
"""
COMMENTS = """
SELECT c.task_id, c.id, c.body, c.created_at, c.edited_at, u.id, u.full_name
FROM comments c LEFT JOIN users u ON u.id = c.user_id
WHERE c.task_id = ANY(%s::uuid[])
ORDER BY c.task_id, c.created_at, c.id
"""


def _grouped(cursor, sql: str, keys: list[str], make) -> dict:
    cursor.execute(sql, (keys,))
    groups: dict = {}
    for row in cursor.fetchall():
        element = make(row)
        try:
            groups[row[0]].append(element)
        except KeyError:
            groups[row[0]] = [element]
    return groups


class HandTuned(Baseline):
    fast_types = True

    def run(self, wanted: set, kept: dict) -> int:
        # Only rows that repeat are memoized: caching every task's id would grow with scale.
        projects, organizations, users = (
            OidCache("projects"),
            OidCache("organizations"),
            OidCache("users"),
        )
        encode = bson.encode
        children = self.connection.cursor()
        documents = 0

        def label(row):
            return {"name": row[1], "color": row[2]}

        def assignee(row):
            return {
                "_id": users[row[1]],
                "full_name": row[2],
                "email": row[3],
                "assigned_at": row[4],
            }

        def comment(row):
            element = {"_id": oid("comments", row[1]), "body": row[2], "created_at": row[3]}
            if row[4] is not None:
                element["edited_at"] = row[4]
            if row[5] is not None:
                element["author"] = {"_id": users[row[5]], "full_name": row[6]}
            return element

        for rows in self.stream(ROOT):
            keys = [row[0] for row in rows]
            labels = _grouped(children, LABELS, keys, label)
            assignees = _grouped(children, ASSIGNEES, keys, assignee)
            comments = _grouped(children, COMMENTS, keys, comment)
            self.statements += 3
            for (
                key,
                title,
                description,
                status,
                priority,
                due,
                estimate,
                metadata,
                created,
                updated,
                p_id,
                p_name,
                p_status,
                o_id,
                o_name,
                o_slug,
                u_id,
                u_name,
                u_email,
            ) in rows:
                _id = oid("tasks", key)
                document = {"_id": _id, "title": title}
                if description is not None:
                    document["description"] = description
                document["status"] = status
                document["priority"] = priority
                if due is not None:
                    document["due_date"] = due
                if estimate is not None:
                    document["estimate_hours"] = estimate
                if metadata is not None:
                    document["metadata"] = metadata
                document["created_at"] = created
                document["updated_at"] = updated
                document["project"] = {"_id": projects[p_id], "name": p_name, "status": p_status}
                document["organization"] = {
                    "_id": organizations[o_id],
                    "name": o_name,
                    "slug": o_slug,
                }
                if u_id is not None:
                    document["created_by"] = {
                        "_id": users[u_id],
                        "full_name": u_name,
                        "email": u_email,
                    }
                document["labels"] = labels.get(key, [])
                document["assignees"] = assignees.get(key, [])
                document["comments"] = task_comments = comments.get(key, [])
                document["comment_count"] = len(task_comments)
                data = encode(document)
                documents += 1
                if _id in wanted:
                    kept[_id] = data
        children.close()
        return documents

    def close(self) -> None:
        self.connection.rollback()
        self.connection.close()
