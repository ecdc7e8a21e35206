"""A loopback TCP proxy for fault tests: forwards to a server, and can cut every connection
or freeze them all (a server that stops answering)."""

from __future__ import annotations

import contextlib
import socket
import threading


class Proxy:
    """Listens on 127.0.0.1:port and forwards to `upstream`; `cut()` resets all connections,
    `freeze()` stops forwarding while they stay open."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.cuts = 0
        self._lock = threading.Lock()
        self._closed = False
        self._accepting = True
        self._flowing = threading.Event()
        self._flowing.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self._accepting:
                client.close()
                return
            server = socket.create_connection(self.upstream)
            with self._lock:
                self.connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self._flowing.wait()  # frozen: held, never delivered
                if self._closed:
                    break
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Reset every open connection (the server and client both see a dropped link)."""
        with self._lock:
            connections, self.connections = self.connections, []
            self.cuts += 1
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                connection.close()

    def refuse_new(self) -> None:
        """Accept no new connection (refused from now on); those open keep forwarding."""
        self._accepting = False
        socket.create_connection(self.listener.getsockname()).close()  # out of accept()
        self.listener.close()

    def freeze(self) -> None:
        """Deliver nothing more, either way, on any connection, new ones included."""
        self._flowing.clear()

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        self.listener.close()
        self.cut()
