"""The portal's outer wall, as plain ASGI middleware around every request.

- Host check: a request whose Host header names anything but the portal's own host names is
  refused (400) before any route runs. A page on another site cannot make the browser talk to the
  portal through a DNS name rebound to 127.0.0.1 (DNS rebinding): that request carries the other
  site's name as its Host.
- Cross-origin writes: a POST whose Origin (or, without one, Referer) is another origin is refused
  (403), on top of the per-session CSRF token each form carries and the SameSite=Strict cookie.
- Headers on every response: a strict Content-Security-Policy (only this origin's styles, images
  and forms; no script at all, no inline style, no framing), no MIME sniffing, no referrer to
  other sites (same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` on
  the page's own form posts), no caching of pages (they hold health information), same-origin
  opener and resource policies.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
NO_STORE = (b"cache-control", b"no-store")


def host_name(value: str) -> str:
    """The name part of a Host header (`127.0.0.1:8600` -> `127.0.0.1`, `[::1]:80` -> `::1`)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, hosts: Iterable[str]):
        self.app = app
        self.hosts = frozenset(h.lower() for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name: value.decode("latin-1") for name, value in scope["headers"]}
        host = headers.get(b"host", "")
        if host_name(host) not in self.hosts:
            await _plain(send, 400, "unknown host: open the portal at the address it printed when it started")
            return
        if scope["method"] == "POST" and not _same_origin(headers, host):
            await _plain(send, 403, "refused: this form was not sent from the portal's own pages")
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS) + ([] if static else [NO_STORE])
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _same_origin(headers: dict[bytes, str], host: str) -> bool:
    """No Origin/Referer (some clients send neither) passes here; the CSRF token still decides."""
    source = headers.get(b"origin") or headers.get(b"referer")
    if not source:
        return True
    if source == "null":
        return False
    return urlsplit(source).netloc.lower() == host.lower()


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode() + b"\n"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
                NO_STORE,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = ["CONTENT_SECURITY_POLICY", "SecurityMiddleware", "host_name"]
