"""A target server's errors become mapper's in one place (`server_errors.target_error`), where
being transient is a property of the error; the MongoDB sink retries exactly those. No server
is needed: the errors are made here."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import sqlite_database
from pymongo import errors as mongo_errors

from mapper.cli import main
from mapper.config import TARGET_VARIABLE
from mapper.engine.load import mongodb
from mapper.engine.server_errors import target_error
from mapper.errors import EXIT_FAULT, EXIT_USAGE, TargetAccessDenied, TargetError
from mapper.validation import checks

TRANSIENT = [
    mongo_errors.AutoReconnect("connection reset"),
    mongo_errors.NetworkTimeout("timed out"),
    mongo_errors.ServerSelectionTimeoutError("no server"),
    mongo_errors.WTimeoutError("waiting for replication", code=64),
    mongo_errors.ExecutionTimeout("operation exceeded time limit", code=50),
]
LASTING = [
    mongo_errors.OperationFailure(
        'E11000 dup key: { email: "a@b" }',
        code=11000,
        details={"code": 11000, "codeName": "DuplicateKey", "keyPattern": {"email": 1}},
    ),
    mongo_errors.OperationFailure("bad value", code=2),
    mongo_errors.InvalidOperation("client closed"),
]
REFUSED = [
    mongo_errors.OperationFailure("not authorized", code=13),
    mongo_errors.OperationFailure("Authentication failed.", code=18),
]


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
def test_lost_connections_and_timeouts_are_transient(error) -> None:
    translated = target_error(error, "things")
    assert type(translated) is TargetError and translated.transient
    assert translated.exit_code == EXIT_FAULT and "`things`" in str(translated)


@pytest.mark.parametrize("error", LASTING, ids=lambda e: type(e).__name__)
def test_server_refusals_are_not_transient(error) -> None:
    translated = target_error(error, "things")
    assert type(translated) is TargetError and not translated.transient
    assert "a@b" not in str(translated)  # the server's message quotes values


@pytest.mark.parametrize("error", REFUSED, ids=lambda e: str(e.code))
def test_refused_credentials_are_a_configuration_problem(error) -> None:
    translated = target_error(error, "things")
    assert isinstance(translated, TargetAccessDenied) and not translated.transient
    assert translated.exit_code == EXIT_USAGE and translated.setting == TARGET_VARIABLE
    assert "authSource" in str(translated)


def _failing(*errors: Exception):
    """An action that raises `errors` in turn, then returns "done"; `calls` counts."""
    pending = list(errors)

    def action() -> str:
        action.calls += 1
        if pending:
            raise pending.pop(0)
        return "done"

    action.calls = 0
    return action


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The retry waits of this thread, recorded instead of slept. `time.sleep` is patched for
    the whole process, so other threads (pymongo's monitors of a client another test left
    open, which wait 0.5 s between checks) still sleep for real, unrecorded: recording theirs
    made them spin and fill the list."""
    slept: list[float] = []
    sleep, test_thread = time.sleep, threading.get_ident()

    def record(seconds: float) -> None:
        if threading.get_ident() == test_thread:
            slept.append(seconds)
        else:
            sleep(seconds)

    monkeypatch.setattr(mongodb.time, "sleep", record)
    return slept


def test_the_sink_retries_transient_errors(sleeps: list[float]) -> None:
    action = _failing(*TRANSIENT[:2])
    assert mongodb.retried(action, "things", "mongodb://host/db") == "done"
    assert action.calls == 3 and len(sleeps) == 2


@pytest.mark.parametrize("error", LASTING + REFUSED, ids=lambda e: type(e).__name__)
def test_the_sink_does_not_retry_the_others(error, sleeps: list[float]) -> None:
    action = _failing(error)
    with pytest.raises(TargetError if error not in REFUSED else TargetAccessDenied):
        mongodb.retried(action, "things", "mongodb://host/db")
    assert action.calls == 1 and sleeps == []


def test_a_target_that_stays_unreachable_is_a_transient_fault(sleeps: list[float]) -> None:
    action = _failing(*[mongo_errors.AutoReconnect("down")] * mongodb.RETRIES)
    with pytest.raises(
        TargetError,
        match="unreachable after 5 attempts on `things` "
        r"\(mongodb://u:\*\*\*@host/db; last: AutoReconnect\)",
    ) as raised:
        mongodb.retried(action, "things", "mongodb://u:secret@host/db")
    assert raised.value.transient and action.calls == mongodb.RETRIES


def test_per_document_failures_go_back_to_the_caller(sleeps: list[float]) -> None:
    failure = mongo_errors.BulkWriteError({"writeErrors": [{"index": 0, "code": 2}]})
    with pytest.raises(mongo_errors.BulkWriteError):
        mongodb.retried(_failing(failure), "things", "mongodb://host/db")


class _Refusing:
    """A target whose server refuses the URL's user at the first command."""

    def __init__(self, url: str):
        self.url = url

    def collection(self, name: str, database: str | None) -> None:
        raise REFUSED[0]

    def close(self) -> None:
        pass


def test_validate_translates_the_target_errors_as_the_run_does(
    tmp_path, monkeypatch, capsys
) -> None:
    url = sqlite_database(tmp_path / "t.db", "CREATE TABLE things (id INTEGER PRIMARY KEY);")
    mapping = tmp_path / "things.yaml"
    mapping.write_text("version: 1\ncollections:\n  things: {table: things}\n", encoding="utf-8")
    monkeypatch.setattr(checks, "Targets", _Refusing)
    assert (
        main(["validate", str(mapping), "--source", url, "--target", "mongodb://u:secret@host/db"])
        == EXIT_USAGE
    )
    error = capsys.readouterr().err
    assert "the target refused `things`" in error and "authSource" in error


def test_an_unreachable_target_fails_at_its_first_contact_without_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No server on the port: the run's first contact (`buildInfo`) fails once, within the
    pre-flight time, naming the URL without its password; no retry waits."""
    from mapper.engine.load import open_sink

    sink = open_sink("mongodb://someone:s3cret@127.0.0.1:1/db?serverSelectionTimeoutMS=60000")
    try:
        with pytest.raises(TargetError) as error:
            sink.capabilities()
    finally:
        sink.close()
    assert error.value.transient and error.value.exit_code == 3
    assert "cannot reach the target mongodb://someone:***@127.0.0.1:1/db" in str(error.value)
    assert "s3cret" not in str(error.value)
    assert "transient target error" not in caplog.text  # not retried
