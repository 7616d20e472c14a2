"""Limits on failed sign-ins, and sign-in sessions that expire.

Both are plain in-memory objects owned by one server (the web app keeps them on its
context); nothing here knows about HTTP.

* :class:`LoginThrottle` counts failed sign-ins per key (an account name, a client
  address) in a sliding window. Once a key reaches its limit, every attempt under it is
  refused for a cooldown, even with the right password, so a password cannot be guessed
  faster than the limit allows. An attempt is counted as a failure when it *starts* and
  forgiven when it succeeds, so parallel guesses cannot slip past the limit while the
  (slow) password checks run (for the keys named ``counted_early``; per-address keys
  are better counted after the check, so that a crowd behind one address can sign in at
  once). A successful sign-in clears its keys.
* :class:`ExpiringTokens` is a token -> account mapping whose entries vanish a fixed
  time after they were issued, so a session has to sign in again.

Example::

    throttle = LoginThrottle()
    keys = {"name:ana": 5, "address:10.0.0.7": 20}
    early = frozenset({"name:ana"})
    wait = throttle.begin(keys, counted_early=early)  # None: go ahead, check the password
    ...
    throttle.succeeded(keys)            # or throttle.failed(keys, counted_early=early)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, MutableMapping

# Keys idle for longer than the window are dropped once the table holds this many.
MAX_TRACKED_KEYS = 100_000


class LoginThrottle:
    """Failed sign-ins per key within ``window_s`` seconds; at the limit, refuse for ``cooldown_s``.

    Thread-safe. ``clock`` (seconds, monotonic) can be replaced in tests.
    """

    def __init__(self, *, window_s: float = 300.0, cooldown_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def begin(self, limits: Mapping[str, int], *, counted_early: frozenset[str] = frozenset()
              ) -> float | None:
        """Start an attempt under ``limits`` (key -> most failures allowed in the window).

        Returns the seconds left when any key is cooling down (the attempt is refused and
        not counted); otherwise None, and the keys in ``counted_early`` count the attempt
        as a failure at once, until :meth:`succeeded` forgives it, so parallel attempts
        under them cannot outrun the limit. The other keys count it only on :meth:`failed`
        (many people behind one address may sign in at the same moment).
        """
        with self._lock:
            now = self._clock()
            waits = [until - now for key in limits
                     if (until := self._blocked_until.get(key, 0.0)) > now]
            if waits:
                return max(waits)
            self._prune(now)
            self._count({k: v for k, v in limits.items() if k in counted_early}, now)
            return None

    def failed(self, limits: Mapping[str, int], *, counted_early: frozenset[str] = frozenset()
               ) -> None:
        """The attempt failed: count it under the keys :meth:`begin` did not count yet."""
        with self._lock:
            self._count({k: v for k, v in limits.items() if k not in counted_early}, self._clock())

    def _count(self, limits: Mapping[str, int], now: float) -> None:
        for key, limit in limits.items():
            failures = self._failures.setdefault(key, deque())
            while failures and failures[0] <= now - self.window_s:
                failures.popleft()
            failures.append(now)
            if len(failures) >= limit:
                self._blocked_until[key] = now + self.cooldown_s
                failures.clear()

    def succeeded(self, limits: Mapping[str, int]) -> None:
        """The attempt started with :meth:`begin` succeeded: clear the keys' failures."""
        with self._lock:
            for key in limits:
                self._failures.pop(key, None)
                self._blocked_until.pop(key, None)

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        with self._lock:
            left = self._blocked_until.get(key, 0.0) - self._clock()
            return left if left > 0 else None

    def _prune(self, now: float) -> None:
        if len(self._failures) + len(self._blocked_until) < MAX_TRACKED_KEYS:
            return
        for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window_s]:
            del self._failures[key]
        for key in [k for k, until in self._blocked_until.items() if until <= now]:
            del self._blocked_until[key]


class ExpiringTokens(MutableMapping[str, str]):
    """Session token -> account name; an entry is gone ``max_age_s`` seconds after it was set.

    Reading an expired token behaves as if it had never been issued (``get`` returns
    None, ``in`` is False); expired entries are dropped as they are met.
    """

    def __init__(self, *, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._entries: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __setitem__(self, token: str, name: str) -> None:
        with self._lock:
            self._entries[token] = (name, self._clock())
            if len(self._entries) % 1024 == 0:
                self._drop_expired()

    def __getitem__(self, token: str) -> str:
        with self._lock:
            name, issued = self._entries[token]
            if self._clock() - issued >= self.max_age_s:
                del self._entries[token]
                raise KeyError(token)
            return name

    def __delitem__(self, token: str) -> None:
        with self._lock:
            del self._entries[token]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            self._drop_expired()
            return iter(list(self._entries))

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired()
            return len(self._entries)

    def _drop_expired(self) -> None:
        cutoff = self._clock() - self.max_age_s
        for token in [t for t, (_, issued) in self._entries.items() if issued <= cutoff]:
            del self._entries[token]
