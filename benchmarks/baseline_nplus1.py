"""Baseline "N+1": the straightforward tutorial ETL.

One query for the tasks (with their project, organization and author joined in), then, for
every task, one query each for its labels, its assignees and its comments. Plain psycopg2,
values converted one by one. It runs on a sample of tasks (`nplus1_sample` in the job) and is
reported per document.
"""

from __future__ import annotations

import bson
from bson import Decimal128

from benchmarks.baseline_handtuned import ASSIGNEES, COMMENTS, LABELS, TASKS
from benchmarks.common import Baseline, date_to_datetime, oid

ROOT = TASKS + "WHERE t.id = ANY(%s::uuid[])\nORDER BY t.id\n"
# The per-task queries are the batched ones with a single key.
ONE = "ANY(%s::uuid[])"


def _per_task(sql: str) -> str:
    return (
        sql.replace(ONE, "%s")
        .replace("ORDER BY tl.task_id, ", "ORDER BY ")
        .replace("ORDER BY ta.task_id, ", "ORDER BY ")
        .replace("ORDER BY c.task_id, ", "ORDER BY ")
    )


TASK_LABELS, TASK_ASSIGNEES, TASK_COMMENTS = (
    _per_task(LABELS),
    _per_task(ASSIGNEES),
    _per_task(COMMENTS),
)


class NPlusOne(Baseline):
    scope = "sample"

    def run(self, wanted: set, kept: dict) -> int:
        cursor = self.connection.cursor()
        cursor.execute(ROOT, (self.job["nplus1_sample"],))
        self.statements += 1
        documents = 0
        for row in cursor.fetchall():
            document = self.task(row)
            data = bson.encode(document)
            documents += 1
            if document["_id"] in wanted:
                kept[document["_id"]] = data
        cursor.close()
        return documents

    def query(self, sql: str, key: str) -> list[tuple]:
        cursor = self.connection.cursor()
        cursor.execute(sql, (key,))
        self.statements += 1
        rows = cursor.fetchall()
        cursor.close()
        return rows

    def task(self, row: tuple) -> dict:
        document = {"_id": oid("tasks", row[0]), "title": row[1]}
        if row[2] is not None:
            document["description"] = row[2]
        document["status"] = row[3]
        document["priority"] = row[4]
        if row[5] is not None:
            document["due_date"] = date_to_datetime(row[5])
        if row[6] is not None:
            document["estimate_hours"] = Decimal128(row[6])
        if row[7] is not None:
            document["metadata"] = row[7]
        document["created_at"] = row[8]
        document["updated_at"] = row[9]
        document["project"] = {"_id": oid("projects", row[10]), "name": row[11], "status": row[12]}
        document["organization"] = {
            "_id": oid("organizations", row[13]),
            "name": row[14],
            "slug": row[15],
        }
        if row[16] is not None:
            document["created_by"] = {
                "_id": oid("users", row[16]),
                "full_name": row[17],
                "email": row[18],
            }
        document["labels"] = [
            {"name": name, "color": color} for _, name, color in self.query(TASK_LABELS, row[0])
        ]
        document["assignees"] = [
            {"_id": oid("users", user), "full_name": name, "email": email, "assigned_at": at}
            for _, user, name, email, at in self.query(TASK_ASSIGNEES, row[0])
        ]
        comments = []
        for _, key, body, created, edited, user, name in self.query(TASK_COMMENTS, row[0]):
            comment = {"_id": oid("comments", key), "body": body, "created_at": created}
            if edited is not None:
                comment["edited_at"] = edited
            if user is not None:
                comment["author"] = {"_id": oid("users", user), "full_name": name}
            comments.append(comment)
        document["comments"] = comments
        document["comment_count"] = len(comments)
        return document

    def close(self) -> None:
        self.connection.rollback()
        self.connection.close()
