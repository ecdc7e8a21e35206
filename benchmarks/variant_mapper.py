"""mapper itself, through its in-process API, into the null, file and MongoDB-wire sinks."""

from __future__ import annotations

from pathlib import Path

import bson
import sqlalchemy as sa

from mapper import api
from mapper.engine.load import CODEC, open_sink

REPO = Path(__file__).resolve().parent.parent
MAPPING = REPO / "mappings" / "tasks.yaml"


class SamplingSink:
    """Passes batches on to the real sink, keeping the BSON of the sampled `_id`s.

    Everything but `write` (open, preflight, finish, close...) goes straight to the real sink.
    """

    def __init__(self, inner, wanted: set, kept: dict):
        self.inner, self.wanted, self.kept = inner, wanted, kept

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def write(self, collection, batch):
        wanted = self.wanted
        for item in batch:
            if item.id in wanted:
                self.kept[item.id] = item.data
        return self.inner.write(collection, batch)


class Mapper:
    scope = "full"
    target = "null"

    def __init__(self, job: dict):
        self.job = job
        self.statements = 0
        self.batches = 0
        self.workdir = Path(job["workdir"])

    def setup(self) -> None:
        self.prepared = api.prepare([MAPPING], self.job["url"], self.document_options())
        self.engine = self.prepared.engine
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        self.statements = 0

    def _count(self, *_args) -> None:
        self.statements += 1

    def sink_url(self) -> str:
        return "null:"

    def workers(self) -> int:
        return self.job.get("workers", 1)

    def document_options(self) -> api.DocumentOptions:
        return api.DocumentOptions()

    def options(self) -> api.MigrateOptions:
        return api.MigrateOptions(
            batch_size=self.job["batch_size"],
            drop=True,
            workers=self.workers(),
            rejects=self.workdir / "rejects.jsonl",
            state=self.workdir / "state.json",
        )

    def run(self, wanted: set, kept: dict) -> int:
        sink = open_sink(self.sink_url())
        if self.target == "null":
            sink = SamplingSink(sink, wanted, kept)
        self.summary = api.migrate(self.prepared, sink, self.options())
        collection = self.summary.collections[0]
        if collection.rejected or not self.summary.balanced or self.summary.stopped:
            raise RuntimeError(f"mapper run not clean: {collection}")
        self.batches = collection.batches
        self.statements += collection.worker_statements
        return collection.written

    def read_back(self, wanted: set) -> dict | None:
        return None

    def close(self) -> None:
        self.prepared.close()


class MapperSerial(Mapper):
    """mapper in one process (`--workers 1`): what the engine does without parallelism."""

    def workers(self) -> int:
        return 1


class MapperFile(Mapper):
    target = "file"

    def sink_url(self) -> str:
        return f"file:{self.workdir / 'out'}"

    def read_back(self, wanted: set) -> dict:
        """The sampled documents as written to the JSON Lines file, re-encoded to BSON."""
        from bson import json_util  # after the measured part: no start of mapper's imports it

        options = json_util.JSONOptions(
            tz_aware=True, uuid_representation=CODEC.uuid_representation
        )
        kept = {}
        with open(self.workdir / "out" / "tasks.jsonl", encoding="utf-8") as lines:
            for line in lines:
                document = json_util.loads(line, json_options=options)
                if document["_id"] in wanted:
                    kept[document["_id"]] = bson.encode(document, codec_options=CODEC)
        return kept


class MapperMongo(Mapper):
    """Into the MongoDB-wire server; FerretDB 1.x cannot store Decimal128: decimals as text."""

    target = "mongo"

    def sink_url(self) -> str:
        return self.job["mongo_uri"]

    def document_options(self) -> api.DocumentOptions:
        return api.DocumentOptions(decimal_as="string")

    def after(self) -> dict:
        """`mapper validate` (default sample, then `--full`) of what the run wrote, timed: the
        issue asks for at most 2× the run."""
        import time

        timings, ok = {}, True
        for name, sample in (("validate_seconds", 200), ("validate_full_seconds", None)):
            started = time.perf_counter()
            report = api.validate(
                self.prepared, self.job["mongo_uri"], api.ValidateOptions(sample=sample)
            )
            timings[name] = time.perf_counter() - started
            ok = ok and report.ok
        return {**timings, "validate_ok": ok}

    def read_back(self, wanted: set) -> dict:
        import pymongo
        from bson.raw_bson import RawBSONDocument

        client = pymongo.MongoClient(self.job["mongo_uri"], document_class=RawBSONDocument)
        try:
            database = client.get_default_database()
            found = database["tasks"].find({"_id": {"$in": list(wanted)}})
            kept = {}
            for raw in found:
                kept[bson.decode(raw.raw)["_id"]] = raw.raw
            if database["tasks"].count_documents({}) != self.summary.collections[0].written:
                raise RuntimeError("the target holds a different number of documents")
            return kept
        finally:
            client.close()
