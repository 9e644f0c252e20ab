"""Browser sessions, kept in server memory only.

A session is a random 256-bit id (the cookie's only content) mapped to: a CSRF token, and after
login the unlocked signer (and the flows Session built on it) plus the ward the user acts for.
Nothing of it is written to disk or logged. A session ends at logout, after `idle_timeout`
seconds without a request, or `max_age` seconds after login, whichever comes first: then its
entry, and with it the last reference to the unlocked key, is dropped. (Python cannot wipe the
freed memory itself; the key's bytes live on in freed heap until reused. Say so, do not pretend.)

Visitors who have not logged in get an anonymous session too, for the login form's CSRF token;
their number is capped, the oldest going first, so a flood of visits cannot fill memory.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medledger.chain.accounts import Signer
    from medledger.flows import Session

DEFAULT_IDLE_TIMEOUT = 15 * 60
DEFAULT_MAX_AGE = 12 * 3600
MAX_ANONYMOUS = 256
MAX_TIMED_OUT = 1024  # remembered only to tell a returning user why they were signed out


@dataclass(eq=False)
class PortalSession:
    id: str = field(repr=False)
    csrf: str = field(repr=False)
    created: float
    last_seen: float
    signer: Signer | None = field(default=None, repr=False)
    flow: Session | None = field(default=None, repr=False)
    ward: str | None = None  # the patient a guardian acts for; None: the signer's own records
    notice: str | None = None  # one message shown on the next page (after a redirect)

    @property
    def logged_in(self) -> bool:
        return self.signer is not None

    @property
    def patient(self) -> str:
        """Whose records the pages show and the forms change."""
        assert self.signer is not None
        return self.ward or self.signer.address

    def csrf_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())

    def pop_notice(self) -> str | None:
        notice, self.notice = self.notice, None
        return notice


class SessionStore:
    def __init__(
        self,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ):
        if idle_timeout <= 0 or max_age <= 0:
            raise ValueError("session timeouts must be positive")
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self._clock = clock
        self._sessions: OrderedDict[str, PortalSession] = OrderedDict()
        self._timed_out: OrderedDict[str, None] = OrderedDict()  # ids of signed-in sessions that timed out
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def new(self) -> PortalSession:
        """A fresh anonymous session."""
        now = self._clock()
        session = PortalSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._sweep(now)
            anonymous = [key for key, value in self._sessions.items() if not value.logged_in]
            for key in anonymous[: max(0, len(anonymous) - MAX_ANONYMOUS + 1)]:
                del self._sessions[key]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> tuple[PortalSession | None, bool]:
        """(the live session, or None; whether a logged-in session just expired)."""
        if not session_id:
            return None, False
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:  # unknown, or swept: say so once if it timed out signed in
                timed_out = session_id in self._timed_out
                self._timed_out.pop(session_id, None)
                return None, timed_out
            if self._expired(session, now):
                del self._sessions[session_id]
                return None, session.logged_in
            session.last_seen = now
            self._sessions.move_to_end(session_id)
            return session, False

    def login(self, anonymous: PortalSession, signer: Signer, flow: Session) -> PortalSession:
        """Replace the anonymous session with a logged-in one under a new id and CSRF token (a
        session id known before login is worth nothing after it: no session fixation)."""
        self.drop(anonymous.id)
        session = self.new()
        session.signer, session.flow = signer, flow
        return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def sweep(self) -> None:
        with self._lock:
            self._sweep(self._clock())

    def _sweep(self, now: float) -> None:
        for key in [key for key, value in self._sessions.items() if self._expired(value, now)]:
            if self._sessions.pop(key).logged_in:
                self._timed_out[key] = None
        while len(self._timed_out) > MAX_TIMED_OUT:
            self._timed_out.popitem(last=False)

    def _expired(self, session: PortalSession, now: float) -> bool:
        return now - session.last_seen > self.idle_timeout or now - session.created > self.max_age


__all__ = ["DEFAULT_IDLE_TIMEOUT", "PortalSession", "SessionStore"]
