"""The portal's parts that need no chain: plain words, the address book, sessions, the chart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from medledger.addressbook import AddressBook, AddressBookError
from medledger.chain.accounts import anvil_account
from medledger.indexer import HistoryEntry
from medledger.portal import timeline
from medledger.portal.security import host_name
from medledger.portal.sessions import MAX_ANONYMOUS, SessionStore
from medledger.scopes import Category, Purpose
from medledger.wording import consent_sentence, date_words, grant_confirmation, revocation_sentence

MARCH_1 = int(datetime(2027, 3, 1, tzinfo=UTC).timestamp())
CLINIC = anvil_account(2).address


def test_a_consent_reads_as_one_plain_sentence() -> None:
    sentence = consent_sentence(
        "Lakeside Clinic", categories=1 << Category.LABS, purposes=1 << Purpose.TREAT, permissions=1, expiry=MARCH_1
    )
    assert sentence == "Lakeside Clinic may read your lab results for your treatment until 1 March 2027"


def test_several_categories_and_purposes_are_listed_as_people_list_them() -> None:
    sentence = consent_sentence(
        "Lakeside Clinic",
        categories=(1 << Category.LABS) | (1 << Category.ALLERGIES) | (1 << Category.IMAGING),
        purposes=(1 << Purpose.TREAT) | (1 << Purpose.HPAYMT),
        permissions=3,
        expiry=MARCH_1 + 14 * 3600 + 30 * 60,
        whose="Sam's",
    )
    assert sentence == (
        "Lakeside Clinic may read and add to Sam's lab results, imaging and allergies "
        "for Sam's treatment and payment for Sam's care until 1 March 2027, 14:30 UTC"
    )


def test_the_grant_confirmation_is_the_clis_lines_under_the_sentence() -> None:
    lines = grant_confirmation(
        "You (0xPatient)",
        CLINIC,
        "clinician, active",
        categories=1 << Category.LABS,
        purposes=1 << Purpose.TREAT,
        permissions=1,
        expiry=MARCH_1,
        sentence="Lakeside Clinic may read your lab results for your treatment until 1 March 2027",
    )
    assert lines[0].endswith("until 1 March 2027.")
    assert lines[1:5] == [
        f"You (0xPatient) are about to let {CLINIC} (clinician, active)",
        "  read your records in: labs",
        "  for: TREAT",
        "  until: 2027-03-01 00:00 UTC",
    ]


def test_a_revocation_says_what_was_read_stays_read() -> None:
    assert revocation_sentence("Lakeside Clinic", categories=1 << Category.LABS) == (
        "Lakeside Clinic may no longer read or add to your lab results; what it has already read, it keeps"
    )
    assert date_words(MARCH_1) == "1 March 2027"


def test_the_address_book_round_trips_and_refuses_nonsense(tmp_path: Path) -> None:
    path = tmp_path / "names.toml"
    book = AddressBook.load(path)
    book.set(CLINIC.lower(), '  Lakeside "Clinic"  ')
    assert AddressBook.load(path).name_of(CLINIC) == 'Lakeside "Clinic"'
    assert AddressBook.load(path).label(anvil_account(3).address) == "0x90F7…b906"
    for address, name in ((CLINIC, ""), (CLINIC, "x" * 61), (CLINIC, "bell\x07"), ("0x12", "Nobody")):
        with pytest.raises(AddressBookError):
            book.set(address, name)
    path.write_text("[names]\n'0x12' = 'short'\n")
    with pytest.raises(AddressBookError, match="is not an address and a name"):
        AddressBook.load(path)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_after_its_idle_time_and_after_its_maximum_age() -> None:
    clock = Clock()
    store = SessionStore(idle_timeout=60, max_age=300, clock=clock)
    session = store.login(store.new(), anvil_account(4), object())  # type: ignore[arg-type]
    clock.now += 59
    assert store.get(session.id)[0] is session
    clock.now += 61
    assert store.get(session.id) == (None, True)  # expired, and it was signed in
    again = store.login(store.new(), anvil_account(4), object())  # type: ignore[arg-type]
    for _ in range(6):
        clock.now += 50
        assert store.get(again.id)[0] is again
    clock.now += 50
    assert store.get(again.id)[0] is None


def test_sign_in_replaces_the_session_id_and_its_csrf_token() -> None:
    store = SessionStore()
    anonymous = store.new()
    signed_in = store.login(anonymous, anvil_account(4), object())  # type: ignore[arg-type]
    assert (signed_in.id, signed_in.csrf) != (anonymous.id, anonymous.csrf)
    assert store.get(anonymous.id) == (None, False)
    assert signed_in.csrf_ok(signed_in.csrf) and not signed_in.csrf_ok(anonymous.csrf)
    assert not signed_in.csrf_ok(None)


def test_anonymous_sessions_are_capped_and_never_push_out_a_signed_in_one() -> None:
    store = SessionStore()
    signed_in = store.login(store.new(), anvil_account(4), object())  # type: ignore[arg-type]
    for _ in range(MAX_ANONYMOUS * 2):
        store.new()
    assert len(store) == MAX_ANONYMOUS + 1
    assert store.get(signed_in.id)[0] is signed_in


def test_host_names_are_compared_without_their_port() -> None:
    assert host_name("127.0.0.1:8600") == "127.0.0.1"
    assert host_name("[::1]:8600") == "::1"
    assert host_name("LOCALHOST") == "localhost"
    assert host_name("evil.example:80") == "evil.example"


def _entry(t: int, event: str, actor: str, **details: object) -> HistoryEntry:
    return HistoryEntry(t, t, "0x" + "00" * 32, 0, event, actor, dict(details))


def test_the_chart_draws_a_consent_as_a_bar_ended_by_its_revocation_and_a_read_as_a_dot() -> None:
    patient, day = anvil_account(4).address, 86400
    start = MARCH_1
    entries = [
        _entry(start, "ConsentGranted", patient, grantee=CLINIC, categories=["labs"], expiry=start + 30 * day),
        _entry(start + 2 * day, "AccessLogged", CLINIC, accessor=CLINIC, purpose="TREAT", category="labs"),
        _entry(start + 4 * day, "ConsentRevoked", patient, grantee=CLINIC),
    ]
    chart = timeline.build(entries, start + 10 * day, lambda a: "Lakeside Clinic", patient)
    assert [lane.label for lane in chart.lanes] == ["Lakeside Clinic"]
    (bar,) = chart.bars
    assert bar.kind == "consent" and not bar.continues
    read, revoked = chart.marks
    assert (read.kind, revoked.kind) == ("read", "revoke")
    assert bar.x < read.x < bar.x + bar.width
    assert bar.x + bar.width == pytest.approx(revoked.x, abs=0.2)  # the bar ends at the revocation
    assert chart.plot_left <= bar.x and revoked.x < chart.now_x <= chart.plot_right
    assert "1 consent period, 1 read" in chart.summary
    assert [tick.label for tick in chart.ticks] == ["4 Mar", "11 Mar"]  # weekly over 12 days


def test_a_consent_that_outlasts_the_chart_is_drawn_as_continuing() -> None:
    patient = anvil_account(4).address
    entries = [_entry(MARCH_1, "ConsentGranted", patient, grantee=CLINIC, categories=["labs"], expiry=MARCH_1 + 10**7)]
    (bar,) = timeline.build(entries, MARCH_1 + 3600, str, patient).bars
    assert bar.continues
