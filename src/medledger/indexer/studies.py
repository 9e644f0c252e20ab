"""Reading studies from the index: the `events` table holds the Studies contract's events beside
the ledger's (the indexer follows every module of the deployment record).

    studies(store)                    every study with its counters, as the events tell it
    participants(store, study_id)     who enrolled, withdrew, was read, was paid
    patient_studies(store, patient)   the studies one patient took part in
    unlogged_study_reads(store)       reads a researcher logged on the ledger (AccessLogged, HRESCH)
                                      of a participant's study record with no StudyDataAccessed for
                                      it: data read without the study's log, so without the reward.
                                      Key release needs only the ledger's log; this is how an
                                      operator or a registrar finds a researcher who skips the study's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from medledger.indexer.store import Store
from medledger.scopes import Purpose, categories_in

STUDY_EVENTS = (
    "StudyRegistered",
    "StudySuspended",
    "StudyReinstated",
    "ParticipantEnrolled",
    "ParticipantWithdrawn",
    "StudyDataAccessed",
    "RewardPaid",
    "StudyClosed",
)


@dataclass
class IndexedStudy:
    study_id: int
    researcher: str
    token: str
    reward: int
    places: int
    categories: list[str]
    enrolment_end: int
    end: int
    registered_block: int
    status: str = "open"  # open | suspended | closed (by the events; `ended` is a matter of time)
    enrolled: int = 0
    withdrawn: int = 0
    earned: int = 0
    paid: int = 0
    refund: int | None = None


@dataclass
class IndexedParticipant:
    patient: str
    enrolled_block: int
    records: list[str] = field(default_factory=list)
    withdrawn: bool = False
    reads: int = 0
    earned: bool = False
    paid: int = 0


@dataclass(frozen=True)
class UnloggedRead:
    study_id: int
    patient: str
    digest: str
    researcher: str
    block: int
    tx_hash: str


def _rows(store: Store, events: tuple[str, ...], *, patient: str | None = None) -> list[tuple[Any, ...]]:
    marks = ", ".join("?" for _ in events)
    sql = f"SELECT block_number, log_index, tx_hash, event, args FROM events WHERE event IN ({marks})"
    params: list[Any] = list(events)
    if patient is not None:
        sql += " AND patient = ?"
        params.append(to_checksum_address(patient))
    return store.query(sql + " ORDER BY block_number, log_index", params)


def _int(value: Any) -> int:
    return int(value)  # big integers are stored as decimal strings


def studies(store: Store) -> list[IndexedStudy]:
    """Every study the index has seen, its counters replayed from the events."""
    found: dict[int, IndexedStudy] = {}
    for block, _index, _tx, event, args in _rows(store, STUDY_EVENTS):
        a = json.loads(args)
        study_id = _int(a["studyId"])
        if event == "StudyRegistered":
            found[study_id] = IndexedStudy(
                study_id,
                a["researcher"],
                a["token"],
                _int(a["reward"]),
                _int(a["maxParticipants"]),
                categories_in(_int(a["categories"])),
                _int(a["enrolmentEnd"]),
                _int(a["end"]),
                int(block),
            )
            continue
        study = found.get(study_id)
        if study is None:
            continue  # the index started after the registration
        if event == "StudySuspended":
            study.status = "suspended"
        elif event == "StudyReinstated":
            study.status = "open"
        elif event == "ParticipantEnrolled":
            study.enrolled += 1
        elif event == "ParticipantWithdrawn":
            study.withdrawn += 1
        elif event == "StudyDataAccessed" and a["first"]:
            study.earned += 1
        elif event == "RewardPaid":
            study.paid += 1
        elif event == "StudyClosed":
            study.status = "closed"
            study.refund = _int(a["refund"])
    return [found[key] for key in sorted(found)]


def participants(store: Store, study_id: int) -> list[IndexedParticipant]:
    """The participants of one study, in order of enrolment."""
    found: dict[str, IndexedParticipant] = {}
    for block, _index, _tx, event, args in _rows(store, STUDY_EVENTS[3:7]):
        a = json.loads(args)
        if _int(a["studyId"]) != int(study_id):
            continue
        patient = a["patient"]
        if event == "ParticipantEnrolled":
            found[patient] = IndexedParticipant(patient, int(block), list(a["digests"]))
            continue
        entry = found.get(patient)
        if entry is None:
            continue
        if event == "ParticipantWithdrawn":
            entry.withdrawn = True
        elif event == "StudyDataAccessed":
            entry.reads += 1
            entry.earned = entry.earned or bool(a["first"])
        elif event == "RewardPaid":
            entry.paid += _int(a["amount"])
    return list(found.values())


def patient_studies(store: Store, patient: str) -> list[int]:
    """The studies `patient` enrolled in (withdrawn ones included)."""
    return sorted(
        {_int(json.loads(args)["studyId"]) for *_, args in _rows(store, ("ParticipantEnrolled",), patient=patient)}
    )


def unlogged_study_reads(store: Store) -> list[UnloggedRead]:
    """Research reads of participants' study records logged on the ledger without the study's own
    log in the same transaction or later (so never rewarded): see the module docstring."""
    records: dict[tuple[str, str], list[tuple[int, str]]] = {}  # (patient, digest) -> [(study, researcher)]
    researchers = {s.study_id: s.researcher for s in studies(store)}
    logged: set[tuple[int, str, str]] = set()
    for _block, _index, _tx, event, args in _rows(store, ("ParticipantEnrolled", "StudyDataAccessed")):
        a = json.loads(args)
        study_id = _int(a["studyId"])
        if event == "ParticipantEnrolled":
            for digest in a["digests"]:
                records.setdefault((a["patient"], digest), []).append((study_id, researchers.get(study_id, "")))
        else:
            logged.add((study_id, a["patient"], a["digest"]))
    unlogged = []
    for block, _index, tx_hash, _event, args in _rows(store, ("AccessLogged",)):
        a = json.loads(args)
        if _int(a["purpose"]) != int(Purpose.HRESCH):
            continue
        for study_id, researcher in records.get((a["patient"], a["digest"]), []):
            if researcher == a["accessor"] and (study_id, a["patient"], a["digest"]) not in logged:
                unlogged.append(UnloggedRead(study_id, a["patient"], a["digest"], researcher, int(block), tx_hash))
    return unlogged
