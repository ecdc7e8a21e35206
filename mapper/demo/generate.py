"""The demo rows: a pure function of (seed, scale), drawn from one `random.Random(seed)`.

The data is deliberately unkind (demo-taskdb.md): NULLs in every nullable column, empty and
crowded relations, text in many scripts with emoji, quotes and newlines, a few descriptions of
tens of KB, nested JSON, timestamps with microseconds around DST changes, and ties in every
ordering the shipped mappings use. Values are chosen so that PostgreSQL and SQLite store them
identically: UTC-aware datetimes, decimals with two places below 10000, JSON floats that print
the same after a jsonb round trip, object keys already in jsonb's order.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

Row = dict[str, Any]
Member = tuple[uuid.UUID, datetime]  # a user of an organization, and when they joined it

BASE_COUNTS = {"organizations": 10, "users": 200, "projects": 50, "tasks": 1000, "comments": 3000}
LABELS_PER_ORG = 8
START = datetime(2020, 1, 1, tzinfo=UTC)
END = datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)
DST_CHANGES = tuple(
    datetime(*moment, tzinfo=UTC)
    for moment in (
        (2023, 3, 12, 7),
        (2023, 3, 26, 1),
        (2023, 10, 29, 1),
        (2023, 11, 5, 6),
        (2024, 3, 10, 7),
        (2024, 3, 31, 1),
        (2024, 10, 27, 1),
        (2024, 11, 3, 6),
    )
)
_MICROSECOND = timedelta(microseconds=1)
_NEAR_DST = timedelta(hours=2)

WORDS = (
    "the",
    "a",
    "task",
    "review",
    "deploy",
    "fix",
    "bug",
    "login",
    "page",
    "API",
    "report",
    "update",
    "design",
    "meeting",
    "customer",
    "invoice",
    "release",
    "database",
    "test",
    "café",
    "naïve",
    "über",
    "façade",
    "São Paulo",
    "Ærøskøbing",
    "Łódź",
    "Straße",
    "Ñandú",
    "résumé",
    "Cafe\u0301",
    "Zoë",
    "crème brûlée",
    "Ångström",
    "İstanbul",
    "日本語",
    "任务",
    "截止日期",
    "테스트",
    "バグ修正",
    "مهمة",
    "عاجل جدا",
    "שלום",
    "задача",
    "λάθος",
    "कार्य",
    "ทดสอบ",
    "🚀",
    "🔥",
    "👍🏽",
    "👩\u200d💻",
    "🇧🇷",
    "✅",
    "🐛",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "it's",
    '"quoted"',
    "‘smart’",
    "«guillemets»",
    "`code`",
    "O'Brien",
    "don't",
    "100%",
    "snake_case",
    "C:\\temp\\new",
    "<b>bold</b>",
    "&amp;",
    "$set",
    "a.b.c",
    '{"json": true}',
    "NULL",
    "null",
    "''",
    "--",
    "'; DROP TABLE tasks;--",
    "\ttab",
)
FIRST_NAMES = (
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("Łukasz", "lukasz"),
    ("Søren", "soren"),
    ("Ngọc", "ngoc"),
    ("陽子", "yoko"),
    ("明", "ming"),
    ("Фёдор", "fyodor"),
    ("محمد", "mohammed"),
    ("Chloé", "chloe"),
    ("Siobhán", "siobhan"),
    ("D'Angelo", "dangelo"),
    ("Mary-Jane", "maryjane"),
    ("Ana", "ana"),
    ("Kim", "kim"),
    ("Ali", "ali"),
    ("John", "john"),
    ("Amélie", "amelie"),
    ("Jürgen", "jurgen"),
    ("Priya", "priya"),
    ("Ömer", "omer"),
    ("Nadia", "nadia"),
    ("Björk", "bjork"),
    ("Émile", "emile"),
)
LAST_NAMES = (
    ("García", "garcia"),
    ("Müller", "muller"),
    ("O'Connor", "oconnor"),
    ("Nguyễn", "nguyen"),
    ("田中", "tanaka"),
    ("王", "wang"),
    ("Иванов", "ivanov"),
    ("العلي", "alali"),
    ("Smith", "smith"),
    ("de la Cruz", "delacruz"),
    ("Kowalski", "kowalski"),
    ("Østergård", "ostergard"),
    ("Papadopoulos", "papadopoulos"),
    ("Silva", "silva"),
    ("Çelik", "celik"),
    ("Lee", "lee"),
    ("van der Berg", "vanderberg"),
    ("Dubois", "dubois"),
)
ORG_NAMES = (
    ("Acme Corp", "acme"),
    ("Ñandú Labs", "nandu-labs"),
    ("株式会社サクラ", "sakura"),
    ("شركة النخيل", "al-nakheel"),
    ("Zürich Data AG", "zurich-data"),
    ("O'Reilly & Sons", "oreilly-sons"),
    ('"Quoted" Inc.', "quoted-inc"),
    ("🚀 Rocket Co", "rocket-co"),
    ("Bäckerei Müller", "baeckerei-mueller"),
    ("Œuvre Studio", "oeuvre"),
    ("Globex", "globex"),
    ("Initech", "initech"),
    ("北京科技", "beijing-tech"),
    ("Ελληνικά Έργα", "ellinika-erga"),
    ("Umbrella\nHoldings", "umbrella"),
    ("Stark Industries", "stark"),
)
LABEL_NAMES = (
    "bug",
    "Bug",
    "feature",
    "needs review",
    "urgent 🔥",
    "documentação",
    "バグ",
    "سريع",
    "won't fix",
    "UI/UX",
    "Ärger",
    '"quoted"',
    "zebra",
    "Épica",
    "backend",
    "a.b",
)
PROJECT_WORDS = (
    "Website",
    "Relaunch",
    "Migración",
    "2024",
    "移动应用",
    '"Growth"',
    "Back-office 🛠️",
    "Q3",
    "Onboarding",
    "Café",
    "تطبيق",
    "Data Platform",
    "Mobile",
    "v2",
    "Legacy",
    "Ops",
)
TAGS = ("frontend", "backend", "ops", "ux", "日本", "épico", "🔥", "", "needs-spec", "a b")
SOURCES = ("web", "api", "import", "email", "slack", "Jira ↔ sync")


def scaled(base: int, scale: float) -> int:
    """A base count at a scale: rounded, at least 1."""
    return max(1, round(base * scale))


def generate(seed: int, scale: float) -> Iterator[tuple[str, list[Row]]]:
    """(table name, rows) for every demo table, in creation order; deterministic."""
    make = _Generator(random.Random(seed))
    organizations = make.organizations(scaled(BASE_COUNTS["organizations"], scale))
    yield "organizations", organizations
    users = make.users(scaled(BASE_COUNTS["users"], scale))
    yield "users", users
    members = make.org_members(organizations, users)
    yield "org_members", members
    projects = make.projects(scaled(BASE_COUNTS["projects"], scale), organizations)
    yield "projects", projects
    tasks = make.tasks(scaled(BASE_COUNTS["tasks"], scale), projects, long_count=scaled(4, scale))
    yield "tasks", tasks
    yield "labels", make.labels(organizations)
    yield "task_labels", make.task_labels(tasks)
    yield "task_assignees", make.task_assignees(tasks)
    yield "comments", make.comments(scaled(BASE_COUNTS["comments"], scale), tasks)


def _jsonb_order(value: Any) -> Any:
    """The value with object keys in jsonb's storage order (byte length, then bytes)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (len(key.encode()), key.encode()))
        return {key: _jsonb_order(value[key]) for key in keys}
    if isinstance(value, list):
        return [_jsonb_order(item) for item in value]
    return value


class _Generator:
    """Draws every table's rows from one random stream; remembers what later tables need."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.org_of_project: dict[uuid.UUID, uuid.UUID] = {}
        self.org_of_task: dict[uuid.UUID, uuid.UUID] = {}
        self.members: dict[uuid.UUID, list[Member]] = {}
        self.labels_of_org: dict[uuid.UUID, list[uuid.UUID]] = {}

    # -- values ------------------------------------------------------------------------------

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def moment(self, low: datetime, high: datetime = END) -> datetime:
        """A UTC instant in [low, high] with microseconds, sometimes right around a DST change."""
        span = (high - low) // _MICROSECOND
        if span <= 0:
            return low
        if self.chance(0.04):
            near = [
                change for change in DST_CHANGES if low + _NEAR_DST <= change <= high - _NEAR_DST
            ]
            if near:
                change = self.rng.choice(near)
                if self.chance(0.1):
                    return change
                return change + self.rng.randrange(-7200_000_000, 7200_000_000) * _MICROSECOND
        return low + self.rng.randrange(span + 1) * _MICROSECOND

    def after(self, low: datetime, days: int) -> datetime:
        """An instant within `days` after `low` (and not after END)."""
        return self.moment(low, min(END, low + timedelta(days=days)))

    def words(self, low: int, high: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(low, high)))

    def text(self, paragraphs: int) -> str:
        separator = self.rng.choice(("\n\n", "\n", "\r\n", "\n- "))
        return separator.join(self.words(3, 40) for _ in range(paragraphs))

    def long_text(self) -> str:
        """Tens of KB of text."""
        target, parts, size = self.rng.randint(10_000, 60_000), [], 0
        while size < target:
            parts.append(self.words(30, 120))
            size += len(parts[-1])
        return "\n\n".join(parts)

    def hours(self) -> Decimal:
        """numeric(6, 2): two decimal places, below 10000 (exact through SQLite's floats)."""
        draw = self.rng.random()
        if draw < 0.03:
            cents = self.rng.choice((0, 1, 999_999))
        elif draw < 0.7:
            cents = self.rng.choice((25, 50, 100, 150, 200, 300, 350, 400, 500, 800, 1200, 4000))
        else:
            cents = self.rng.randrange(1, 50_000)
        return Decimal(cents).scaleb(-2)

    def metadata(self, created_at: datetime) -> dict[str, Any]:
        """Nested objects and arrays (never arrays of arrays; no '.' or leading '$' in keys)."""
        rng = self.rng
        meta: dict[str, Any] = {"source": rng.choice(SOURCES)}
        if self.chance(0.6):
            meta["tags"] = rng.sample(TAGS, rng.randint(0, 4))
        if self.chance(0.5):
            meta["estimate"] = {
                "points": rng.choice((1, 2, 3, 5, 8, 13)),
                "confidence": round(rng.random(), 2),
                "history": [
                    {"at": self.after(created_at, 90).isoformat(), "points": rng.randint(1, 13)}
                    for _ in range(rng.randint(0, 3))
                ],
            }
        if self.chance(0.4):
            meta["checklist"] = [
                {
                    "item": self.words(1, 6),
                    "done": self.chance(0.5),
                    "note": self.words(1, 4) if self.chance(0.3) else None,
                }
                for _ in range(rng.randint(0, 5))
            ]
        if self.chance(0.3):
            meta["external"] = {
                "jira": {"key": f"PROJ-{rng.randint(1, 99_999)}", "synced": self.chance(0.5)},
                "github": {
                    "issue": rng.randint(1, 2_000_000_000),
                    "labels": rng.sample(TAGS, rng.randint(0, 3)),
                },
            }
        if self.chance(0.2):
            meta["custom_fields"] = {
                "ñandú": self.words(1, 3),
                "日本": rng.randint(-1000, 1000),
                "empty": {},
                "nothing": None,
                "ratio": rng.randint(-100_000, 100_000) / 1000,
                "deep": {"level2": {"level3": {"values": [1, "two", {"three": 3.5}, None]}}},
            }
        ordered: Row = _jsonb_order(meta)
        return ordered

    # -- tables ------------------------------------------------------------------------------

    def organizations(self, count: int) -> list[Row]:
        rows, slugs = [], set()
        for _ in range(count):
            name, slug = self.rng.choice(ORG_NAMES)
            base, number = slug, 1
            while slug in slugs:
                number += 1
                slug = f"{base}-{number}"
            slugs.add(slug)
            rows.append(
                {
                    "id": self.new_id(),
                    "name": name,
                    "slug": slug,
                    "plan": self.rng.choices(("free", "pro", "enterprise"), (50, 35, 15))[0],
                    "created_at": self.moment(START, datetime(2022, 12, 31, tzinfo=UTC)),
                }
            )
        return rows

    def users(self, count: int) -> list[Row]:
        rows, emails = [], set()
        domains = ("example.com", "example.org", "mail.example.net", "bücher.example")
        for _ in range(count):
            (first, first_ascii), (last, last_ascii) = (
                self.rng.choice(FIRST_NAMES),
                self.rng.choice(LAST_NAMES),
            )
            full_name = f"{first} {last}"
            if self.chance(0.05):
                full_name = f"{full_name} {self.rng.choice(('🌈', '(she/her)', 'Jr.', '🇯🇵'))}"
            local, number = f"{first_ascii}.{last_ascii}", 1
            if self.chance(0.05):
                local = f"{first.lower()}+tasks"
            domain = self.rng.choice(domains)
            email = f"{local}@{domain}"
            while email in emails:
                number += 1
                email = f"{local}{number}@{domain}"
            emails.add(email)
            user_id = self.new_id()
            rows.append(
                {
                    "id": user_id,
                    "email": email,
                    "full_name": full_name,
                    "avatar_url": None
                    if self.chance(0.25)
                    else f"https://avatars.example.com/{user_id.hex[:12]}.png?s=128&v={number}",
                    "created_at": self.moment(START, datetime(2024, 12, 31, tzinfo=UTC)),
                }
            )
        return rows

    def org_members(self, organizations: list[Row], users: list[Row]) -> list[Row]:
        """About 1.3 memberships per user; every organization has an owner."""
        rng = self.rng
        roles: list[dict[int, str]] = [{} for _ in organizations]  # user index -> role
        orgs_of: list[set[int]] = [set() for _ in users]
        for org, members in enumerate(roles):
            owner = rng.randrange(len(users))
            members[owner] = "owner"
            orgs_of[owner].add(org)
        cum_weights = _cumulative(rng.uniform(0.2, 1.0) for _ in organizations)
        for user, joined in enumerate(orgs_of):
            wanted = min(rng.choices((1, 2, 3), (72.5, 25, 2.5))[0], len(organizations))
            while len(joined) < wanted:
                if joined:
                    org = rng.randrange(len(organizations))
                    if org in joined:
                        continue
                else:
                    org = rng.choices(range(len(organizations)), cum_weights=cum_weights)[0]
                joined.add(org)
                roles[org][user] = rng.choices(("member", "admin", "owner"), (82, 15, 3))[0]
        rows = []
        for org_row, members in zip(organizations, roles, strict=True):
            self.members[org_row["id"]] = []
            previous: datetime | None = None
            for user_index, role in members.items():
                user_row = users[user_index]
                low = max(org_row["created_at"], user_row["created_at"])
                if previous is not None and previous >= low and self.chance(0.1):
                    joined_at = previous  # joined together: a tie on joined_at
                else:
                    joined_at = self.after(low, 180)
                previous = joined_at
                self.members[org_row["id"]].append((user_row["id"], joined_at))
                rows.append(
                    {
                        "org_id": org_row["id"],
                        "user_id": user_row["id"],
                        "role": role,
                        "joined_at": joined_at,
                    }
                )
        return rows

    def creator(self, org_id: uuid.UUID, probability_null: float) -> Member | tuple[None, datetime]:
        """A member of the organization and when they joined it, or (None, START)."""
        if self.chance(probability_null):
            return None, START
        return self.rng.choice(self.members[org_id])

    def projects(self, count: int, organizations: list[Row]) -> list[Row]:
        cum_weights = _cumulative(
            0.0 if self.chance(0.1) else self.rng.uniform(0.1, 1.0) for _ in organizations
        )
        rows = []
        for org in self.rng.choices(organizations, cum_weights=cum_weights, k=count):
            created_by, joined_at = self.creator(org["id"], 0.2)
            created_at = self.after(max(org["created_at"], joined_at), 730)
            project_id = self.new_id()
            self.org_of_project[project_id] = org["id"]
            rows.append(
                {
                    "id": project_id,
                    "org_id": org["id"],
                    "name": " ".join(self.rng.sample(PROJECT_WORDS, self.rng.randint(1, 3))),
                    "description": self.description(0.25, 0.01),
                    "status": "archived" if self.chance(0.25) else "active",
                    "created_by": created_by,
                    "created_at": created_at,
                    "updated_at": created_at if self.chance(0.15) else self.after(created_at, 365),
                }
            )
        return rows

    def description(self, probability_null: float, probability_long: float) -> str | None:
        if self.chance(probability_null):
            return None
        if self.chance(probability_long):
            return self.long_text()
        return self.text(self.rng.randint(1, 4))

    def tasks(self, count: int, projects: list[Row], long_count: int) -> list[Row]:
        rng = self.rng
        cum_weights = _cumulative(
            0.0 if self.chance(0.1) else rng.expovariate(1.0) for _ in projects
        )
        long_ones = set(rng.sample(range(count), min(count, long_count)))
        rows = []
        for index, project in enumerate(rng.choices(projects, cum_weights=cum_weights, k=count)):
            org_id = self.org_of_project[project["id"]]
            created_by, joined_at = self.creator(org_id, 0.2)
            created_at = self.after(max(project["created_at"], joined_at), 365)
            task_id = self.new_id()
            self.org_of_task[task_id] = org_id
            title = self.words(1, 8)
            if self.chance(0.02):
                title = f"  {title}  "
            rows.append(
                {
                    "id": task_id,
                    "project_id": project["id"],
                    "title": title,
                    "description": self.long_text()
                    if index in long_ones
                    else self.description(0.25, 0.0),
                    "status": rng.choices(("todo", "in_progress", "done"), (35, 25, 40))[0],
                    "priority": rng.randint(1, 4),
                    "due_date": None
                    if self.chance(0.3)
                    else (created_at + timedelta(days=rng.randint(-30, 180))).date(),
                    "estimate_hours": None if self.chance(0.3) else self.hours(),
                    "created_by": created_by,
                    "metadata": None if self.chance(0.25) else self.metadata(created_at),
                    "created_at": created_at,
                    "updated_at": created_at if self.chance(0.2) else self.after(created_at, 365),
                }
            )
        return rows

    def labels(self, organizations: list[Row]) -> list[Row]:
        """Eight per organization; names repeat across organizations."""
        rows = []
        for org in organizations:
            ids = self.labels_of_org[org["id"]] = []
            for name in self.rng.sample(LABEL_NAMES, LABELS_PER_ORG):
                ids.append(self.new_id())
                rows.append(
                    {
                        "id": ids[-1],
                        "org_id": org["id"],
                        "name": name,
                        "color": f"#{self.rng.getrandbits(24):06x}",
                    }
                )
        return rows

    def task_labels(self, tasks: list[Row]) -> list[Row]:
        """About 1.5 labels per task, from the task's own organization; some have none."""
        rows: list[Row] = []
        for task in tasks:
            org_labels = self.labels_of_org[self.org_of_task[task["id"]]]
            count = self.rng.choices((0, 1, 2, 3, 4, 6, 8), (30, 28, 22, 12, 4, 2, 2))[0]
            rows.extend(
                {"task_id": task["id"], "label_id": label_id}
                for label_id in self.rng.sample(org_labels, min(count, len(org_labels)))
            )
        return rows

    def task_assignees(self, tasks: list[Row]) -> list[Row]:
        """About 1.2 members of the task's organization per task; some assigned together."""
        rows = []
        for task in tasks:
            members = self.members[self.org_of_task[task["id"]]]
            count = self.rng.choices((0, 1, 2, 3, 5), (27, 40, 23, 7, 3))[0]
            chosen = self.rng.sample(members, min(count, len(members)))
            together = None
            if len(chosen) > 1 and self.chance(0.3):
                together = self.after(max([task["created_at"]] + [at for _, at in chosen]), 60)
            for user_id, joined_at in chosen:
                assigned_at = together or self.after(max(task["created_at"], joined_at), 60)
                rows.append({"task_id": task["id"], "user_id": user_id, "assigned_at": assigned_at})
        return rows

    def comments(self, count: int, tasks: list[Row]) -> list[Row]:
        """`count` comments: a fifth of the tasks get none, a few hot ones get tens."""
        rng = self.rng
        cum_weights = _cumulative(
            0.0 if self.chance(0.2) else 15.0 if self.chance(0.02) else rng.uniform(0.3, 1.7)
            for _ in tasks
        )
        per_task = Counter(rng.choices(range(len(tasks)), cum_weights=cum_weights, k=count))
        rows = []
        for index in sorted(per_task):
            task = tasks[index]
            members = self.members[self.org_of_task[task["id"]]]
            previous: datetime | None = None
            for _ in range(per_task[index]):
                if previous is not None and self.chance(0.15):
                    created_at = previous  # same instant as the last one: a tie
                else:
                    created_at = self.after(task["created_at"], 120)
                previous = created_at
                rows.append(
                    {
                        "id": self.new_id(),
                        "task_id": task["id"],
                        "user_id": None if self.chance(0.15) else rng.choice(members)[0],
                        "body": self.comment_body(),
                        "created_at": created_at,
                        "edited_at": None
                        if self.chance(0.7)
                        else self.after(created_at + _MICROSECOND, 30),
                    }
                )
        return rows

    def comment_body(self) -> str:
        draw = self.rng.random()
        if draw < 0.01:
            return ""
        if draw < 0.05:
            return self.rng.choice(("👍", "+1", "LGTM ✅", "'", '"'))
        return self.text(self.rng.randint(1, 3))


def _cumulative(weights: Iterable[float]) -> list[float]:
    """Running totals for `random.choices(cum_weights=...)`; all ones if every weight is 0."""
    weights = list(weights)
    return list(accumulate(weights if any(weights) else [1.0] * len(weights)))
