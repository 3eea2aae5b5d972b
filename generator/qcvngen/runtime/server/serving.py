"""Serving the apps with uvicorn: a deadline for request headers, a connection cap that keeps room for
new clients, and logs that stay bounded when resources run out.

uvicorn already bounds a header block (``h11_max_incomplete_event_size``) and idle keep-alive
connections (``timeout_keep_alive``); it has no deadline for the headers of a request, and its
``limit_concurrency`` answers 503 to a new login while slow connections hold every slot.
:func:`guarded_protocol` adds both on top of uvicorn's own h11 protocol: a connection whose
request headers have not arrived within ``header_timeout`` seconds of its opening or of its
previous answer (keep-alive) is closed, and when ``max_connections`` are open a new connection
closes the oldest one that is idle or still sending its headers, else the oldest one whose body
is late, else one sending its body slower than ``min_body_rate`` but still within its grace, else
one whose body this server is not reading yet — never one receiving a body at a decent rate.
"Late" and "slower" are judged by the app's own :class:`.Limits` (``min_body_rate`` and its grace,
:meth:`.Limits.body_due`), the rule by which the app answers 408: one setting, one verdict.

The protocol is an ``asyncio.BufferedProtocol``: an app that takes a large body whole
(:mod:`.wholebody`) has the socket write it straight into one buffer of its declared length, past
h11's per-chunk events, copies and joins (about half the CPU of receiving a refused 8 MB body);
h11 is told the body ended once it is in. Everything else goes through h11 as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import socket
import threading
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .limits import Limits
from .wholebody import READ_AT_MOST, WHOLE_BODY, WHOLE_BODY_FROM, WholeBody

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 1000
# Connections asyncio accepts in one go (uvicorn's ``backlog``, also the kernel's listen queue):
# they hold descriptors before any of them is counted, and up to about four such bursts are in
# flight before the first is, so the descriptor headroom below covers four.
DEFAULT_BACKLOG = 32
# File descriptors kept free beside the connections: the database, logs, worker threads and the
# bursts of accepts. Running out of descriptors must never happen: asyncio then retries accept()
# in a tight loop and logs every failure.
FD_HEADROOM = 64 + 4 * DEFAULT_BACKLOG
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def fd_bounded(max_connections: int) -> int:
    """``max_connections``, lowered so that connections never exhaust the process's descriptors."""
    try:
        import resource
    except ImportError:  # not Unix: no descriptor limit to read
        return max_connections
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, soft - FD_HEADROOM))


def _length_reader() -> type[Any] | None:
    """h11's reader of a body of declared length, if it is as this module knows it (private to
    h11: without it, large bodies come as ASGI messages, as from any server)."""
    try:
        from h11._readers import ContentLengthReader
    except ImportError:
        return None
    return ContentLengthReader if hasattr(ContentLengthReader(1), "_remaining") else None


_LENGTH_READER = _length_reader()
# One scratch buffer of the read size per thread (each event loop reads into it and copies out at
# once, in the same callback).
_scratch = threading.local()


def _scratch_buffer() -> bytearray:
    buffer: bytearray | None = getattr(_scratch, "buffer", None)
    if buffer is None:
        buffer = _scratch.buffer = bytearray(READ_AT_MOST)
    return buffer


class GuardedH11Protocol(H11Protocol, asyncio.BufferedProtocol):
    """uvicorn's h11 protocol with a header deadline per request, eviction of slow connections
    at the cap, and large bodies received whole on request."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    # The app's limits (:func:`body_limits`): its min_body_rate and grace judge a slow body here too.
    limits: Limits = Limits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.opened = time.monotonic()
        self._request_started = self.opened
        self._received = 0
        self._whole: WholeBody | None = None
        self._deadline = self._header_deadline()
        # Connections being closed still count until their connection_lost runs: not them.
        live = [c for c in self.connections if not c.transport.is_closing()]
        if len(live) > self.max_connections:
            self._make_room(live)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.cancel()
        whole, self._whole = self._whole, None
        if whole is not None:
            whole.settle(lost=True)
        # The scope's offer refers back to this protocol: a cycle only a full collection breaks.
        if self.scope is not None:  # None before a first request
            self.scope.get("extensions", {}).pop(WHOLE_BODY, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)
        self._after_events(cycle)
        self._received += len(data)

    def _after_events(self, before: Any) -> bool:
        """True, once its clocks are started and the whole-body receive offered, when h11 has read
        a new request's headers since the cycle ``before``: from bytes that just arrived, or from
        bytes that arrived behind the previous request and waited for its answer (pipelining)."""
        if self.cycle is before:
            return False
        self._deadline.cancel()
        self._request_started = time.monotonic()
        self._received = 0
        if self.cycle is not None:
            extensions: dict[Any, Any] = self.scope.setdefault("extensions", {})
            extensions[WHOLE_BODY] = self._take_whole
        return True

    def get_buffer(self, sizehint: int) -> memoryview | bytearray:
        whole = self._whole
        return _scratch_buffer() if whole is None else whole.rest()

    def buffer_updated(self, nbytes: int) -> None:
        whole = self._whole
        if whole is None:
            self.data_received(bytes(memoryview(_scratch_buffer())[:nbytes]))
            return
        whole.arrived(nbytes)
        self._received += nbytes
        if whole.complete:
            self._whole = None
            # h11 saw the headers and the bytes that came with them; the rest never went
            # through it: it is told that the body is over, and answers with its end.
            reader: Any = self.conn._reader  # a _LENGTH_READER, as when the body was taken
            reader._remaining = 0
            self.handle_events()
            whole.settle()

    def _take_whole(self) -> WholeBody | None:
        """The rest of this request's body as one :class:`WholeBody`, called by the app instead of
        its first ``receive()``; None when the body comes as ASGI messages instead."""
        cycle, conn = self.cycle, self.conn
        reader: Any = conn._reader  # h11's: a body of declared length, none of it in h11's buffer
        if (
            cycle is None
            or self._whole is not None
            or cycle.waiting_for_100_continue
            or not cycle.more_body
            or conn.their_state is not h11.SEND_BODY
            or _LENGTH_READER is None
            or not isinstance(reader, _LENGTH_READER)
            or len(getattr(conn, "_receive_buffer", b"?"))
        ):
            return None
        early = cycle.body  # the bytes that came with the headers, not yet received by the app
        size = len(early) + reader._remaining
        if size < WHOLE_BODY_FROM:
            return None
        whole = WholeBody(size, early)
        cycle.body = bytearray()
        cycle.message_event.clear()
        self._whole = whole
        self.flow.resume_reading()
        return whole

    def on_response_complete(self) -> None:
        whole, self._whole = self._whole, None
        if whole is not None:  # answered before its body was in (a 408): no reason to hold it
            whole.settle(lost=True)
            self.transport.close()
        cycle = self.cycle
        super().on_response_complete()  # reads a pipelined request's headers, if they are in
        if self._after_events(cycle):
            return
        # Every request of a keep-alive connection has header_timeout for its headers, counted
        # from the previous answer (uvicorn's keep-alive timer only sees a silent connection).
        if not self.transport.is_closing():
            self._deadline.cancel()
            self._deadline = self._header_deadline()

    def _header_deadline(self) -> asyncio.TimerHandle:
        awaiting = self.cycle  # None, or the answered cycle: a new request replaces it

        def overdue() -> None:
            cycle = self.cycle
            waiting = cycle is None or cycle.response_complete
            if cycle is awaiting and waiting and not self.transport.is_closing():
                self.transport.close()

        return self.loop.call_later(self.header_timeout, overdue)

    def eviction_rank(self) -> int | None:
        """How readily this connection is closed to make room: 0 idle or still sending its
        request headers, 1 a body that is late by the app's rule (``Limits.body_due``: the app
        answers it 408), 2 a body slower than ``min_body_rate`` on average but still within its
        grace, 3 a body this server has stopped reading for now (it waits for room, see
        ``max_buffered_bytes``); None while a body arrives at a decent rate or an answer is
        being made."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return 0
        if not cycle.more_body or cycle.response_started:
            return None
        if self.flow.read_paused:
            return 3
        elapsed = time.monotonic() - self._request_started
        if elapsed > self.limits.body_due(self._received):
            return 1
        return 2 if self._received < self.limits.min_body_rate * elapsed else None

    def waiting_for_client(self) -> bool:
        """Closable to make room: idle, sending headers, or a body that is slow or not being read."""
        return self.eviction_rank() is not None

    def _make_room(self, live: list[Any]) -> None:
        others = [c for c in live if c is not self and isinstance(c, GuardedH11Protocol)]
        ranked = [(rank, c.opened, c) for c in others if (rank := c.eviction_rank()) is not None]
        if ranked:
            min(ranked, key=lambda item: item[:2])[2].transport.close()
        else:  # every other connection is being answered or receiving a body: try again later
            self.transport.write(_BUSY)
            self.transport.close()


def guarded_protocol(
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    limits: Limits | None = None,
) -> type[GuardedH11Protocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with these settings; ``limits`` are the
    served app's (default ``Limits()``), whose ``min_body_rate`` judges a slow body."""
    settings = {
        "header_timeout": header_timeout,
        "max_connections": fd_bounded(max_connections),
        "limits": limits if limits is not None else Limits(),
    }
    return type("GuardedH11Protocol", (GuardedH11Protocol,), settings)


class RateLimitFilter(logging.Filter):
    """At most ``burst`` warnings or errors of one message per ``interval`` seconds; the rest are
    counted and the count is added to the next record let through (resource exhaustion logs the
    same line per connection attempt, which would otherwise fill the disk)."""

    def __init__(self, burst: int = 10, interval: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.interval = interval
        self._windows: dict[tuple[str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True  # debug and info lines are asked for; floods come as warnings and errors
        # The first words identify a message; the rest often holds ids or addresses that vary.
        key = (record.name, str(record.msg)[:48])
        now = time.monotonic()
        window = self._windows.get(key)
        if window is None or now - window[0] >= self.interval:
            suppressed = int(window[2]) if window is not None else 0
            if len(self._windows) >= 256:
                self._windows.clear()  # many distinct messages: start counting afresh
            self._windows[key] = [now, 1.0, 0.0]
            if suppressed:
                record.msg = f"{record.msg} [{suppressed} similar message(s) suppressed]"
            return True
        if window[1] < self.burst:
            window[1] += 1
            return True
        window[2] += 1
        return False


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def return_large_buffers(threshold: int = 32 * 1024 * 1024) -> bool:
    """Fix glibc's ``mmap`` threshold at ``threshold`` bytes (above any request body by default),
    so that how a body's memory is handled no longer depends on what was freed before.

    Left to itself glibc moves the threshold as blocks are freed. Fixed low (128 KiB, issue 11),
    every body went back to the system at once, but each next one, and every 256 KiB socket and
    parser buffer, was mapped and faulted in afresh: about a third of the CPU of receiving a body.
    Fixed above the bodies, freed bodies are reused from the heap (measured: ~10 instead of ~15 ms
    of CPU to receive an 8 MB body), and the memory kept is bounded by ``max_buffered_bytes``, the
    bytes of large bodies held at once; the top of the heap is still trimmed back to the system.
    False where there is no glibc.
    """
    import ctypes  # here, not at the top: importing the package must load no native library

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


LIMITED_LOGGERS = ("asyncio", "uvicorn", "uvicorn.error", "uvicorn.access")


def limit_logs(*names: str, burst: int = 10, interval: float = 10.0) -> RateLimitFilter:
    """Attach one :class:`RateLimitFilter` to uvicorn's and asyncio's loggers and to ``names``
    (the app's own lines are per request and carry incident ids: not limited by default)."""
    limiter = RateLimitFilter(burst, interval)
    for name in (*LIMITED_LOGGERS, *names):
        logging.getLogger(name).addFilter(limiter)
    return limiter


def _own_limits(app: Any) -> Limits | None:
    """The limits ``create_app`` stored on the app, found through the middleware wrapping it (an
    ASGI middleware keeps the app it wraps as ``.app``)."""
    for _ in range(MAX_WRAPPERS):
        own = getattr(getattr(app, "state", None), "limits", None)
        if isinstance(own, Limits):
            return own
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


# How deep body_limits looks through middleware for the app's own limits.
MAX_WRAPPERS = 16


def body_limits(
    app: Any, limits: Limits | None = None, min_body_rate: float | None = None
) -> Limits:
    """The limits the guarded protocol judges ``app``'s bodies by: the app's own
    (``app.state.limits``, set by ``create_app``/``create_local_app``), else ``limits`` (an app of
    one's own, or one wrapped in middleware), else ``Limits()``.

    ``min_body_rate`` is kept for callers of ``serving.run``/``server_config`` from before it was
    one setting: it must agree with the limits found (else ValueError: set it once, in
    ``create_app``), and sets the rate only for an app that has no limits of its own.
    """
    own = _own_limits(app)
    if own is not None:
        if limits is not None and limits != own:
            raise ValueError("limits: the app has its own (create_app's); pass none, or the same")
        limits = own
    if limits is None:
        rate = Limits().min_body_rate if min_body_rate is None else min_body_rate
        return Limits(min_body_rate=max(1, math.ceil(rate)))  # whole bytes per second
    if min_body_rate is not None and min_body_rate != limits.min_body_rate:
        raise ValueError(
            f"min_body_rate={min_body_rate:g} differs from the app's min_body_rate="
            f"{limits.min_body_rate}: set it once, in create_app(min_body_rate=...)"
        )
    return limits


def server_config(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    keep_alive_timeout: float = 5.0,
    limits: Limits | None = None,
    min_body_rate: float | None = None,
    **options: Any,
) -> Any:
    """A ``uvicorn.Config`` serving ``app`` with the guarded protocol (``options`` go to uvicorn);
    slow bodies are judged by the app's own limits (:func:`body_limits`)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(
            header_timeout, max_connections, body_limits(app, limits, min_body_rate)
        ),
        timeout_keep_alive=int(keep_alive_timeout),
        backlog=DEFAULT_BACKLOG,
        **options,
    )


class PortUnavailable(OSError):
    """The address to serve on cannot be listened on (in use, not this host's, not permitted)."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for uvicorn (``Server.run(sockets=[…])``), bound before
    anything else starts so that a busy port is one clear error, not a traceback or a log line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every small answer waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or type(exc).__name__
        raise PortUnavailable(exc.errno, f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


def run(app: Any, *, workers: int = 1, **settings: Any) -> None:
    """Serve ``app`` until interrupted: :func:`server_config` settings, logs rate-limited.

    ``workers`` > 1 forks that many worker processes after binding the port (Unix), each with the
    guarded protocol, its own event loop and its own copy of ``app``; the parent restarts a
    worker that dies and stops them all on SIGINT/SIGTERM. Each worker holds its own sessions,
    limits and login throttle: keep sessions in shared storage (see docs/deploy.md), and open
    database connections in each worker (lazily), not before ``run``.
    """
    import uvicorn

    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers > 1 and not hasattr(os, "fork"):
        raise ValueError(
            "workers > 1 needs os.fork (Unix); elsewhere run one serving.run per core, each on "
            "its own port, behind the reverse proxy's upstream (docs/deploy.md)"
        )
    limit_logs()
    return_large_buffers()
    config = server_config(app, **settings)
    sock = listening_socket(config.host, config.port)
    if workers == 1:
        uvicorn.Server(config).run(sockets=[sock])
    else:
        _supervise(config, sock, workers)


def _serve_forked(config: Any, sock: socket.socket) -> int:
    """Fork one worker serving ``sock``; its pid in the parent (the child never returns)."""
    import uvicorn

    pid = os.fork()
    if pid:
        return pid
    try:  # the child: default signal handling until uvicorn installs its own
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        uvicorn.Server(config).run(sockets=[sock])
        code = 0
    except BaseException:
        logging.getLogger("uvicorn.error").exception("worker failed")
        code = 1
    os._exit(code)


def _supervise(config: Any, sock: socket.socket, workers: int) -> None:
    """Keep ``workers`` forked workers serving ``sock`` until SIGINT/SIGTERM, then stop them."""
    log = logging.getLogger("uvicorn.error")
    stopping: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)
        for pid in list(alive):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    alive: set[int] = set()
    restarts: list[float] = []
    failed = False
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        alive.update(_serve_forked(config, sock) for _ in range(workers))
        log.info("serving with %d worker processes: %s", workers, sorted(alive))
        while alive:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            alive.discard(pid)
            if stopping:
                continue
            restarts.append(time.monotonic())
            if len(restarts) > 3 * workers and restarts[-1] - restarts[-3 * workers - 1] < 60:
                stop(signal.SIGTERM, None)  # workers that die as they start: no endless forking
                failed = True
                continue
            log.warning("worker %d exited (status %d): starting another", pid, status)
            alive.add(_serve_forked(config, sock))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if failed:
        raise RuntimeError(f"workers kept exiting ({3 * workers} restarts within 60 s): stopped")
