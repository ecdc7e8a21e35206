"""The snapshot's own readers of PostgreSQL's dates and timestamps (`extract._iso_or_marker`,
Python's `fromisoformat`) read every text as psycopg2's parsers do, with the markers
`extract._or_marker` gives for what Python cannot hold: psycopg2's parser is the oracle."""

from __future__ import annotations

import psycopg2.extensions as extensions
import pytest

from mapper.engine import extract
from mapper.engine.extract import snapshot
from mapper.pipeline import create_engine
from mapper.types import Unrepresentable

OIDS = {"timestamptz": 1184, "timestamp": 1114, "date": 1082}  # in the order VALUES reads them
# offsets of whole hours, of minutes, and of seconds (local mean time before 1900)
ZONES = ("UTC", "Asia/Kathmandu", "America/St_Johns", "Europe/Amsterdam", "Pacific/Chatham")
# instants from year 1 to 9999 in uneven steps (every fraction of a second has its digits),
# then what Python cannot hold: ±infinity, BC, past year 9999
VALUES = """
SELECT v, v::text, v::timestamp, v::timestamp::text, v::date, v::date::text FROM (
    SELECT timestamptz '0001-01-03 00:00:00+00'
           + n * interval '1217 days 5 hours 7 minutes 3.141592 seconds'
           + mod(n, 7) * interval '0.1 seconds' AS v
    FROM generate_series(0, 2990) AS n
    UNION ALL SELECT unnest(ARRAY['infinity', '-infinity', '0044-03-15 12:00+00 BC',
                                  '10000-01-01 00:00+00', '2024-02-29 23:59:59.999999+00',
                                  '2000-01-01 00:00:00+00']::timestamptz[])
) AS instants
"""


@pytest.mark.parametrize("zone", ZONES)
def test_dates_and_timestamps_read_as_psycopg2_reads_them(postgres_server: str, zone) -> None:
    engine = create_engine(postgres_server)
    try:
        with snapshot(engine) as connection:
            connection.exec_driver_sql(f"SET LOCAL TIME ZONE '{zone}'")
            rows = connection.exec_driver_sql(VALUES).all()
            cursor = connection.connection.dbapi_connection.cursor()
    finally:
        engine.dispose()
    oracles = {
        kind: extract._or_marker(kind, extensions.string_types[oid]) for kind, oid in OIDS.items()
    }
    checked = 0
    for row in rows:
        for kind, read, text in zip(OIDS, row[0::2], row[1::2], strict=True):
            expected = oracles[kind](text, cursor)
            # equal aware datetimes may differ in their offset: the repr tells them apart
            assert (read, repr(read)) == (expected, repr(expected)), (kind, text)
            checked += 1
    assert checked == 3 * 2997
    # ±infinity and BC in every zone; 10000-01-01 UTC is still 9999 west of Greenwich
    assert sum(isinstance(row[0], Unrepresentable) for row in rows) == 3 + (
        zone != "America/St_Johns"
    )
