"""The portal's pages: Starlette routes rendering Jinja2 templates, calling flows.

Every page but the login page needs a logged-in session; every POST carries the session's CSRF
token, checked before anything else. Changes (grant, narrow, extend, revoke, break-glass
preferences, closing an emergency window) take two steps: a review page that shows what will be
sent, in the words the CLI's confirmation uses, then a confirming POST that sends it. Chain work
runs in worker threads; nothing blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from eth_utils import is_address, to_checksum_address
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from medledger.addressbook import AddressBookError, short
from medledger.chain import accounts
from medledger.chain.errors import AccountError, ContractRevertError
from medledger.cli.messages import refusal_sentence
from medledger.errors import MedLedgerError
from medledger.flows import Session
from medledger.flows.consent import grant as grant_flow
from medledger.flows.consent import revoke as revoke_flow
from medledger.flows.records import fetch as fetch_flow
from medledger.ledger import MedLedger
from medledger.ledger.values import ConsentTerms
from medledger.portal import model, timeline
from medledger.portal.config import PortalConfig
from medledger.portal.security import SecurityMiddleware
from medledger.portal.sessions import PortalSession, SessionStore
from medledger.scopes import Category, Purpose, ScopeError, categories_in, category_mask, permission, purpose_mask
from medledger.wording import (
    categories_phrase,
    category_phrase,
    consent_sentence,
    date_words,
    grant_confirmation,
    purposes_phrase,
    revocation_confirmation,
    revocation_sentence,
)

logger = logging.getLogger("medledger.portal")

COOKIE = "medledger_portal"
MAX_FORM_BYTES = 16 * 1024
SWEEP_SECONDS = 30.0  # how often timed-out sessions are dropped between requests
LOGIN_FAILURE_DELAY = 1.0  # seconds added to each failed login (scrypt already costs about as much)
HERE = Path(__file__).parent
CATEGORY_CHOICES = [(c.name.lower().replace("_", "-"), category_phrase(c.name)) for c in Category]
PURPOSE_CHOICES = [(p.name, purposes_phrase(1 << p, "your")) for p in Purpose]
ACCESS_CHOICES = [("read", "read"), ("write", "add records"), ("read,write", "read and add records")]

Handler = Callable[[Request, PortalSession], Awaitable[Response]]


class PageError(MedLedgerError):
    """A user's mistake or a refusal, shown on the page as one sentence (status 400 or 409)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def explain(exc: Exception) -> str:
    """One sentence for a failure the user can act on (never a key, a password or a trace)."""
    if isinstance(exc, ContractRevertError):
        return refusal_sentence(exc.error, exc.arguments) or str(exc)
    return str(exc)


class Portal:
    def __init__(self, config: PortalConfig):
        self.config = config
        self.sessions = SessionStore(idle_timeout=config.idle_timeout, max_age=config.max_age)
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html", "svg"], default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["date"] = date_words
        self.templates.filters["short"] = short
        self.templates.filters["hours"] = _hours
        self.templates.filters["when"] = lambda t: datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%d %H:%M UTC")
        self._downloads = Path(tempfile.mkdtemp(prefix="medledger-portal-"))  # mode 0700

    def close(self) -> None:
        shutil.rmtree(self._downloads, ignore_errors=True)

    # -- plumbing ---------------------------------------------------------------------------
    def render(
        self, request: Request, session: PortalSession, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        template = self.templates.get_template(name)
        body = template.render(
            session=session,
            csrf=session.csrf,
            notice=session.pop_notice(),
            path=request.url.path,
            me=session.signer.address if session.signer else None,
            patient=session.patient if session.signer else None,
            acting_for_ward=bool(session.ward),
            names=self.config.names,
            **context,
        )
        response = HTMLResponse(body, status_code=status)
        self.set_cookie(response, session)
        return response

    def set_cookie(self, response: Response, session: PortalSession) -> None:
        response.set_cookie(
            COOKIE,
            session.id,
            httponly=True,
            samesite="strict",
            secure=self.config.secure_cookies,
            path="/",
        )

    def redirect(self, session: PortalSession, to: str, notice: str | None = None) -> RedirectResponse:
        if notice:
            session.notice = notice
        response = RedirectResponse(to, status_code=303)
        self.set_cookie(response, session)
        return response

    def session_of(self, request: Request) -> tuple[PortalSession, bool]:
        session, expired = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            session = self.sessions.new()
        return session, expired

    def page(self, handler: Handler, *, login: bool = True) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler: the session (a fresh anonymous one when there is none), the login gate,
        and a PageError or a medledger failure shown on the page instead of a trace."""

        async def endpoint(request: Request) -> Response:
            session, expired = self.session_of(request)
            if login and not session.logged_in:
                minutes = round(self.config.idle_timeout / 60)
                note = f"You were signed out after {minutes} minutes without activity." if expired else None
                return self.redirect(session, "/login", note)
            try:
                return await handler(request, session)
            except PageError as exc:
                return self.render(request, session, "error.html", exc.status, message=str(exc))
            except MedLedgerError as exc:
                status = 409 if isinstance(exc, ContractRevertError) else 400
                return self.render(request, session, "error.html", status, message=explain(exc))

        return endpoint

    async def form(self, request: Request, session: PortalSession) -> dict[str, list[str]]:
        """The urlencoded body, after the CSRF check (403 without the session's token)."""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise PageError("this page only accepts its own forms", 415)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
            raise PageError("the form is too large", 413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise PageError("the form is too large", 413)
        try:
            fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=200, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise PageError("the form could not be read") from None
        token = fields.get("csrf", [None])[0]
        if not session.csrf_ok(token):
            raise PageError(
                "This form has expired or did not come from this page (the security token does not match). "
                "Go back, reload the page and try again.",
                403,
            )
        return fields

    def flow(self, session: PortalSession) -> Session:
        assert session.flow is not None
        return session.flow

    # -- login ------------------------------------------------------------------------------
    async def login_page(self, request: Request, session: PortalSession) -> Response:
        if session.logged_in:
            return self.redirect(session, "/")
        return self.render(request, session, "login.html", **self.login_context())

    def login_context(self) -> dict[str, Any]:
        accounts_ = [
            (address, self.config.names.name_of(address) or (path.stem if not is_address(path.stem) else address))
            for address, path in self.config.keystores.items()
        ]
        return {"keystores": accounts_, "preset": self.config.signer.address if self.config.signer else None}

    async def login(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        try:
            signer = await run_in_threadpool(self.unlock, fields)
        except AccountError:
            await asyncio.sleep(LOGIN_FAILURE_DELAY)
            return self.render(
                request,
                session,
                "login.html",
                401,
                error="Wrong password or access code." if self.config.keystores else "Wrong access code.",
                **self.login_context(),
            )
        flow = await run_in_threadpool(self.open_flow, signer)
        fresh = self.sessions.login(session, signer, flow)
        logger.info("session started for %s", signer.address)
        return self.redirect(fresh, "/", f"Signed in as {signer.address}.")

    def unlock(self, fields: Mapping[str, list[str]]) -> accounts.Signer:
        if self.config.signer is not None:
            code = _one(fields, "code")
            assert self.config.access_code is not None
            if not secrets.compare_digest(code.encode(), self.config.access_code.encode()):
                raise AccountError("wrong access code")
            return self.config.signer
        address = _one(fields, "account")
        path = self.config.keystores.get(address)
        if path is None:
            raise AccountError("unknown account")
        return accounts.from_keystore(path, _one(fields, "password"))

    def open_flow(self, signer: accounts.Signer) -> Session:
        ledger = MedLedger.from_deployment(
            self.config.chain, self.config.deployment, signer=signer, policy=self.config.policy
        )
        return Session.open(
            ledger, self.config.store, self.config.home / "accounts" / signer.address, self.config.deployment
        )

    async def logout(self, request: Request, session: PortalSession) -> Response:
        await self.form(request, session)
        self.sessions.drop(session.id)
        fresh = self.sessions.new()
        return self.redirect(fresh, "/login", "Signed out. The key is no longer held by the portal.")

    # -- overview ---------------------------------------------------------------------------
    async def overview(self, request: Request, session: PortalSession) -> Response:
        flow, patient = self.flow(session), session.patient

        def load() -> dict[str, Any]:
            return {
                "consents": model.consents(self.config, flow, patient),
                "wards": model.wards(self.config, flow),
                "emergency": flow.ledger.emergency.preferences(patient),
            }

        data = await run_in_threadpool(load)
        return self.render(request, session, "overview.html", **data)

    async def act_as(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        flow = self.flow(session)
        ward = _one(fields, "ward")
        if not ward or ward == flow.address:
            session.ward = None
            return self.redirect(session, "/", "Showing your own records.")
        if not is_address(ward):
            raise PageError("choose one of the listed patients")
        ward = to_checksum_address(ward)
        if not await run_in_threadpool(flow.ledger.guardians.is_guardian, ward, flow.address):
            raise PageError(f"you are not a guardian of {ward}", 403)
        session.ward = ward
        return self.redirect(session, "/", f"Acting as guardian for {self.config.names.label(ward)}.")

    async def name_party(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        try:
            self.config.names.set(_one(fields, "address"), _one(fields, "name"))
        except AddressBookError as exc:
            raise PageError(str(exc)) from None
        return self.redirect(session, _back(fields), "Name saved (on this computer only).")

    # -- grant, narrow, extend --------------------------------------------------------------
    async def grant_page(self, request: Request, session: PortalSession) -> Response:
        flow, patient = self.flow(session), session.patient
        grantee = request.query_params.get("grantee", "")

        def load() -> dict[str, Any]:
            now = flow.ledger.chain.now()
            current = None
            if grantee:
                if not is_address(grantee):
                    raise PageError(f"{grantee!r} is not an address")
                terms = flow.ledger.consent.get(patient, grantee)
                current = terms if terms.exists else None
            return {
                "providers": model.providers(self.config, flow, patient),
                "current": current,
                "grantee": to_checksum_address(grantee) if grantee else "",
                "default_until": _date_input(now + 90 * 86400),
                "min_until": _date_input(now + 86400),
                "current_until": _date_input(current.expiry) if current else None,
            }

        data = await run_in_threadpool(load)
        return self.render(request, session, "grant.html", choices=_choices(), **data)

    async def grant_review(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        flow, patient = self.flow(session), session.patient
        terms = _grant_terms(fields)

        def check() -> dict[str, Any]:
            now = flow.ledger.chain.now()
            expiry = _expiry(terms["until"], now)
            ward = patient if session.ward else None
            # Ask the contract first (a read-only call sends nothing), as the CLI does: a refusal is
            # shown before the confirmation, not after.
            flow.ledger.sender.call(
                flow.ledger.consent.grant_call(
                    terms["grantee"],
                    categories=terms["categories"],
                    purposes=terms["purposes"],
                    permissions=terms["permissions"],
                    expiry=expiry,
                    patient=ward,
                ),
                sender=flow.address,
            )
            people = model.directory(self.config, flow, patient)
            party = people.party(terms["grantee"])
            current = flow.ledger.consent.get(patient, terms["grantee"])
            mine = model.whose(self.config.names, flow.address, patient)
            sentence = consent_sentence(
                party.label,
                categories=terms["categories"],
                purposes=terms["purposes"],
                permissions=terms["permissions"],
                expiry=expiry,
                whose=mine,
            )
            lines = grant_confirmation(
                f"As guardian of {patient}, you" if ward else f"You ({flow.address})",
                party.address,
                f"{party.kind or 'not a provider'}, {party.status or 'unknown'}",
                categories=terms["categories"],
                purposes=terms["purposes"],
                permissions=terms["permissions"],
                expiry=expiry,
                sentence=sentence,
            )
            return {
                "title": _change_title(current, terms["categories"], terms["purposes"], terms["permissions"], expiry),
                "before": _current_sentence(current, party.label, mine),
                "lines": lines,
                "action": "/grant/confirm",
                "hidden": {
                    "grantee": party.address,
                    "categories": ",".join(categories_in(terms["categories"])),
                    "purposes": ",".join(_purpose_codes(terms["purposes"])),
                    "access": str(terms["permissions"]),
                    "expiry": str(expiry),
                },
                "button": "Confirm and send",
            }

        data = await run_in_threadpool(check)
        return self.render(request, session, "confirm.html", **data)

    async def grant_confirm(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        flow, patient = self.flow(session), session.patient
        grantee = _address(fields, "grantee")
        categories, purposes = (
            _mask(category_mask, _one(fields, "categories")),
            _mask(purpose_mask, _one(fields, "purposes")),
        )
        permissions = _permissions(_one(fields, "access"))
        expiry = _int(fields, "expiry")

        def send() -> str:
            receipt = grant_flow(
                flow,
                grantee,
                categories=categories,
                purposes=purposes,
                permissions=permissions,
                expiry=expiry,
                on_behalf_of=patient if session.ward else None,
            )
            return receipt.tx_hash

        tx = await run_in_threadpool(send)
        label = self.config.names.label(grantee)
        sentence = consent_sentence(
            label,
            categories=categories,
            purposes=purposes,
            permissions=permissions,
            expiry=expiry,
            whose=model.whose(self.config.names, flow.address, patient),
        )
        return self.redirect(session, "/", f"Done: {sentence}. (transaction {tx})")

    # -- revoke -----------------------------------------------------------------------------
    async def revoke_review(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        flow, patient = self.flow(session), session.patient
        grantee = _address(fields, "grantee")

        def check() -> dict[str, Any]:
            terms = flow.ledger.consent.get(patient, grantee)
            if not terms.exists:
                raise PageError(f"there is no consent for {grantee} to revoke")
            party = model.directory(self.config, flow, patient).party(grantee)
            mine = model.whose(self.config.names, flow.address, patient)
            sentence = revocation_sentence(party.label, categories=terms.categories, whose=mine)
            return {
                "title": f"Revoke {party.label}'s access",
                "before": _current_sentence(terms, party.label, mine),
                "lines": revocation_confirmation(party.address, categories=terms.categories, sentence=sentence),
                "action": "/revoke/confirm",
                "hidden": {"grantee": party.address},
                "button": "Revoke access",
                "danger": True,
            }

        data = await run_in_threadpool(check)
        return self.render(request, session, "confirm.html", **data)

    async def revoke_confirm(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        flow, patient = self.flow(session), session.patient
        grantee = _address(fields, "grantee")
        receipt = await run_in_threadpool(
            lambda: revoke_flow(flow, grantee, on_behalf_of=patient if session.ward else None)
        )
        label = self.config.names.label(grantee)
        return self.redirect(
            session, "/", f"Revoked: {label} may no longer see these records. (transaction {receipt.tx_hash})"
        )

    # -- timeline ---------------------------------------------------------------------------
    async def timeline_page(self, request: Request, session: PortalSession) -> Response:
        flow, patient = self.flow(session), session.patient

        def load() -> dict[str, Any]:
            entries = model.history(self.config, patient)
            people = model.directory(self.config, flow, patient)
            now = flow.ledger.chain.now()
            chart = timeline.build(entries, now, lambda a: people.party(a).label, patient)
            return {"chart": chart, "events": model.events(self.config, flow, patient, entries), "now": now}

        data = await run_in_threadpool(load)
        return self.render(request, session, "timeline.html", **data)

    # -- records ----------------------------------------------------------------------------
    async def records_page(self, request: Request, session: PortalSession) -> Response:
        flow, patient = self.flow(session), session.patient
        rows = await run_in_threadpool(model.records, self.config, flow, patient)
        return self.render(request, session, "records.html", records=rows)

    async def download(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        flow, patient = self.flow(session), session.patient
        digest_text = _one(fields, "digest")
        try:
            digest = bytes.fromhex(digest_text.removeprefix("0x"))
        except ValueError:
            raise PageError("not a record digest") from None
        if len(digest) != 32:
            raise PageError("not a record digest")
        directory = Path(tempfile.mkdtemp(dir=self._downloads))
        target = directory / "record"
        try:
            result = await run_in_threadpool(lambda: fetch_flow(flow, patient, digest, target, purpose=Purpose.PATRQT))
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        with target.open("rb") as handle:
            head = handle.read(1)
        name = f"{category_phrase(categories_in(1 << result.pointer.category)[0]).replace(' ', '-')}-{result.cid[-12:]}"
        name += ".json" if head == b"{" else ".bin"
        return FileResponse(
            target,
            media_type="application/json" if head == b"{" else "application/octet-stream",
            filename=name,
            background=BackgroundTask(shutil.rmtree, directory, True),
        )

    # -- break-glass ------------------------------------------------------------------------
    async def emergency_page(self, request: Request, session: PortalSession) -> Response:
        flow, patient = self.flow(session), session.patient

        def load() -> dict[str, Any]:
            entries = model.history(self.config, patient)
            return {"emergency": model.emergency(self.config, flow, patient, entries)}

        data = await run_in_threadpool(load)
        return self.render(request, session, "emergency.html", choices=_choices(), **data)

    async def emergency_review(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        if session.ward:
            raise PageError("break-glass preferences are the patient's own: a guardian cannot set them", 403)
        opt_out = _one(fields, "choice") == "opt-out"
        names = [n for n in fields.get("categories", []) if n]
        mask = 0 if opt_out or not names else _mask(category_mask, ",".join(names))
        if opt_out:
            sentence = "Nobody may open emergency (break-glass) access to your records, even in an emergency"
        elif mask:
            sentence = (
                "In an emergency, an active clinician or organisation may open your "
                f"{categories_phrase(mask)} for a limited time; every opening is logged for you"
            )
        else:
            sentence = (
                "In an emergency, an active clinician or organisation may open the emergency categories "
                "this ledger sets, for a limited time; every opening is logged for you"
            )
        return self.render(
            request,
            session,
            "confirm.html",
            title="Change break-glass preferences",
            before=None,
            lines=[sentence + "."],
            action="/emergency/confirm",
            hidden={"opt_out": "1" if opt_out else "0", "categories": str(mask)},
            button="Confirm and send",
        )

    async def emergency_confirm(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        if session.ward:
            raise PageError("break-glass preferences are the patient's own: a guardian cannot set them", 403)
        flow = self.flow(session)
        opt_out, mask = _one(fields, "opt_out") == "1", _int(fields, "categories")
        receipt = await run_in_threadpool(
            lambda: flow.ledger.emergency.set_preferences(opt_out=opt_out, categories=mask)
        )
        return self.redirect(session, "/emergency", f"Break-glass preferences saved. (transaction {receipt.tx_hash})")

    async def emergency_close(self, request: Request, session: PortalSession) -> Response:
        fields = await self.form(request, session)
        flow, patient = self.flow(session), session.patient
        provider = _address(fields, "provider")
        if _one(fields, "confirmed") != "1":
            label = self.config.names.label(provider)
            return self.render(
                request,
                session,
                "confirm.html",
                title=f"End {label}'s emergency access",
                before=None,
                lines=[f"{label} will no longer be able to read records under break-glass."],
                action="/emergency/close",
                hidden={"provider": provider, "confirmed": "1"},
                button="End emergency access",
                danger=True,
            )
        receipt = await run_in_threadpool(lambda: flow.ledger.emergency.close(patient, provider))
        return self.redirect(session, "/emergency", f"Emergency access ended. (transaction {receipt.tx_hash})")

    async def not_found(self, request: Request, session: PortalSession) -> Response:
        return self.render(request, session, "error.html", 404, message="There is no such page.")


def create_app(config: PortalConfig) -> ASGIApp:
    """The portal as an ASGI application (wrapped in the host, origin and header checks)."""
    return build(config)[0]


def build(config: PortalConfig) -> tuple[ASGIApp, Portal]:
    """The application and the Portal behind it (its sessions, for a test to look into)."""
    portal = Portal(config)
    page = portal.page
    routes = [
        Route("/login", page(portal.login_page, login=False), methods=["GET"]),
        Route("/login", page(portal.login, login=False), methods=["POST"]),
        Route("/logout", page(portal.logout), methods=["POST"]),
        Route("/", page(portal.overview), methods=["GET"]),
        Route("/act-as", page(portal.act_as), methods=["POST"]),
        Route("/names", page(portal.name_party), methods=["POST"]),
        Route("/grant", page(portal.grant_page), methods=["GET"]),
        Route("/grant/review", page(portal.grant_review), methods=["POST"]),
        Route("/grant/confirm", page(portal.grant_confirm), methods=["POST"]),
        Route("/revoke/review", page(portal.revoke_review), methods=["POST"]),
        Route("/revoke/confirm", page(portal.revoke_confirm), methods=["POST"]),
        Route("/timeline", page(portal.timeline_page), methods=["GET"]),
        Route("/records", page(portal.records_page), methods=["GET"]),
        Route("/records/download", page(portal.download), methods=["POST"]),
        Route("/emergency", page(portal.emergency_page), methods=["GET"]),
        Route("/emergency/review", page(portal.emergency_review), methods=["POST"]),
        Route("/emergency/confirm", page(portal.emergency_confirm), methods=["POST"]),
        Route("/emergency/close", page(portal.emergency_close), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return await page(portal.not_found, login=False)(request)

    async def failed(request: Request, exc: Exception) -> Response:
        logger.error("portal page %s failed with %s", request.url.path, type(exc).__name__)
        return HTMLResponse(
            "<!doctype html><title>Error</title><p>Something went wrong. The portal's log names the error.", 500
        )

    async def sweep() -> None:
        """Drop timed-out sessions (and their keys) even when no request comes to notice them."""
        interval = min(SWEEP_SECONDS, config.idle_timeout / 2)
        while True:
            await asyncio.sleep(interval)
            portal.sessions.sweep()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep())
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            portal.close()

    app = Starlette(routes=routes, exception_handlers={404: not_found, 500: failed}, lifespan=lifespan)
    return SecurityMiddleware(app, config.hosts), portal


# -- form fields ----------------------------------------------------------------------------


def _one(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0].strip()


def _int(fields: Mapping[str, list[str]], name: str) -> int:
    text = _one(fields, name)
    if not text.isdigit():
        raise PageError(f"{name} must be a whole number")
    return int(text)


def _address(fields: Mapping[str, list[str]], name: str) -> str:
    text = _one(fields, name)
    if not is_address(text):
        raise PageError(f"{text or 'nothing'} is not an Ethereum address (0x followed by 40 hex digits)")
    return to_checksum_address(text)


def _mask(parse: Callable[[str], int], text: str) -> int:
    try:
        return parse(text)
    except ScopeError as exc:
        raise PageError(str(exc)) from None


def _permissions(text: str) -> int:
    try:
        value = int(text) if text.isdigit() else int(permission(text))
        return int(permission(value))
    except ScopeError as exc:
        raise PageError(str(exc)) from None


def _grant_terms(fields: Mapping[str, list[str]]) -> dict[str, Any]:
    typed = _one(fields, "address")
    grantee = typed or _one(fields, "provider")
    if not grantee:
        raise PageError("choose a provider, or type its address")
    if not is_address(grantee):
        raise PageError(f"{grantee} is not an Ethereum address (0x followed by 40 hex digits)")
    categories = [c for c in fields.get("categories", []) if c]
    purposes = [p for p in fields.get("purposes", []) if p]
    if not categories:
        raise PageError("choose at least one kind of record")
    if not purposes:
        raise PageError("choose at least one purpose")
    return {
        "grantee": to_checksum_address(grantee),
        "categories": _mask(category_mask, ",".join(categories)),
        "purposes": _mask(purpose_mask, ",".join(purposes)),
        "permissions": _permissions(_one(fields, "access") or "read"),
        "until": _one(fields, "until"),
    }


def _expiry(text: str, now: int) -> int:
    """The end of access: the start (00:00 UTC) of the chosen day, which must be after today."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PageError(f"{text or 'nothing'} is not a date (YYYY-MM-DD)") from None
    expiry = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    if expiry <= now:
        raise PageError(f"{date_words(expiry)} is not in the future: choose a later day")
    return expiry


def _date_input(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d")


def _hours(seconds: int) -> str:
    """`24 hours`, `90 minutes`, `1 hour`."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour{'' if seconds == 3600 else 's'}"
    return f"{round(seconds / 60)} minutes"


def _purpose_codes(bits: int) -> list[str]:
    return [p.name for p in Purpose if bits >> p & 1]


def _choices() -> dict[str, Any]:
    return {"categories": CATEGORY_CHOICES, "purposes": PURPOSE_CHOICES, "access": ACCESS_CHOICES}


def _back(fields: Mapping[str, list[str]]) -> str:
    target = _one(fields, "back")
    return target if target in {"/", "/timeline", "/records", "/emergency"} else "/"


def _current_sentence(terms: ConsentTerms, label: str, mine: str) -> str | None:
    if not terms.exists:
        return None
    return consent_sentence(
        label,
        categories=terms.categories,
        purposes=terms.purposes,
        permissions=terms.permissions,
        expiry=terms.expiry,
        whose=mine,
    )


def _change_title(current: ConsentTerms, categories: int, purposes: int, permissions: int, expiry: int) -> str:
    """Grant, narrow (less of something, no later end), extend (the same, a later end), or change."""
    if not current.exists:
        return "Grant access"
    old = (current.categories, current.purposes, current.permissions)
    new = (categories, purposes, permissions)
    within = all(n & ~o == 0 for n, o in zip(new, old, strict=True))
    if within and new != old and expiry <= current.expiry:
        return "Narrow access"
    if new == old and expiry > current.expiry:
        return "Extend access"
    return "Change access"


__all__ = ["COOKIE", "Portal", "build", "create_app", "explain"]
