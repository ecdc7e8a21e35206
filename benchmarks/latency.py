"""A TCP proxy that adds a fixed delay to every chunk in each direction: a "remote" database.

On loopback a round trip costs ~0.1 ms, the best case for chatty clients (N+1). With
`--latency-ms 1` the workers reach PostgreSQL through this proxy, which delivers each chunk
`latency / 2` after it arrived, in order, in both directions: every round trip then costs at
least `latency` more, while bandwidth is not limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import sqlalchemy as sa

CHUNK = 256 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()

    sender = asyncio.ensure_future(deliver())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    finally:
        queue.put_nowait((0.0, None))
        with contextlib.suppress(ConnectionError, OSError):
            await sender


class DelayProxy:
    """Listens on 127.0.0.1:<free port> and forwards to (host, port) with a one-way delay."""

    def __init__(self, host: str, port: int, one_way_seconds: float):
        self.target = (host, port)
        self.delay = one_way_seconds
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="delay-proxy")

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            _pipe(reader, upstream_writer, self.delay), _pipe(upstream_reader, writer, self.delay)
        )

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()

    def start(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@contextlib.contextmanager
def delayed(url: str, latency_ms: float) -> Iterator[str]:
    """The SQLAlchemy URL `url` reached through a proxy adding `latency_ms` per round trip."""
    if latency_ms <= 0:
        yield url
        return
    parsed = sa.make_url(url)
    proxy = DelayProxy(parsed.host or "127.0.0.1", parsed.port or 5432, latency_ms / 2000).start()
    try:
        yield parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    finally:
        proxy.stop()
