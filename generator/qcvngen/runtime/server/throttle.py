"""Login throttling: growing delays after failed logins, per account and per client address, that
an attacker cannot turn against the real user at an address the user has logged in from.

Three counters of failed logins, each forgotten ``forget_after`` seconds after its last failure:

* the account at this address — after ``free_failures`` failures;
* this address, whatever the account (guessing many accounts) — after ``4 * free_failures``;
* the account, whatever the address (guessing from many addresses) — after ``2 * free_failures``.

The last two do not apply to an account at an address where it has logged in successfully (a
known address): failures elsewhere, or of other accounts, never lock its user out there.

Past its free failures, each further failure of a counter doubles its delay, from ``first_delay``
up to ``max_delay`` seconds. A login attempted before the delay has passed is refused with 429
and ``Retry-After`` without its password being checked (it is not a guess, and not a failure).
A success clears the counter of the account at this address and makes the address known.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Failures:
    count: int = 0
    last: float = -math.inf


@dataclass
class LoginThrottle:
    """The throttle of one app's login route; safe to use from several worker threads."""

    free_failures: int = 5
    first_delay: float = 1.0
    max_delay: float = 900.0
    forget_after: float = 24 * 3600.0
    # Counters and known addresses kept (the least recently used go first): bounded memory.
    max_entries: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _failures: OrderedDict[tuple[str, str, str], _Failures] = field(default_factory=OrderedDict)
    _known: OrderedDict[tuple[str, str], None] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _keys(self, username: str, address: str) -> list[tuple[tuple[str, str, str], int]]:
        keys = [(("pair", username, address), self.free_failures)]
        if (username, address) not in self._known:
            keys.append((("address", "", address), 4 * self.free_failures))
            keys.append((("account", username, ""), 2 * self.free_failures))
        return keys

    def _delay(self, failures: _Failures, free: int) -> float:
        if failures.count < free:
            return 0.0
        doublings = min(failures.count - free, 64)  # a float power of 2 overflows past ~1,000
        return min(self.first_delay * 2.0**doublings, self.max_delay)

    def wait(self, username: str, address: str) -> float:
        """Seconds before ``username`` may try again from ``address``; 0 when it may now."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key, free in self._keys(username, address):
                failures = self._failures.get(key)
                if failures is None or now - failures.last > self.forget_after:
                    continue
                wait = max(wait, failures.last + self._delay(failures, free) - now)
        return wait

    def failed(self, username: str, address: str) -> None:
        """Count a failed login (a wrong password, or an unknown user name)."""
        now = self.clock()
        with self._lock:
            for key, _ in self._keys(username, address):
                failures = self._failures.pop(key, None) or _Failures()
                if now - failures.last > self.forget_after:
                    failures = _Failures()
                failures.count += 1
                failures.last = now
                self._failures[key] = failures  # most recently used last
            while len(self._failures) > self.max_entries:
                self._failures.popitem(last=False)

    def succeeded(self, username: str, address: str) -> None:
        """A login that succeeded: this address is known for the account from now on."""
        with self._lock:
            self._failures.pop(("pair", username, address), None)
            self._known.pop((username, address), None)
            self._known[(username, address)] = None
            while len(self._known) > self.max_entries:
                self._known.popitem(last=False)
