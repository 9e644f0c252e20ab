"""A window from devices to chain and back, on anvil and the real IPFS daemon: readings posted over
HTTP are sealed into one encrypted record per patient and window, anchored for several patients in
one transaction, read back and verified by the patient and the provider; every reading's proof
verifies off chain and on chain; a tampered, dropped or reordered reading is detected; a patient
who withdraws consent before the anchor loses the window, the others do not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medledger.crypto.merkle import leaf_hash, process_proof
from medledger.flows.windows import LEAF_TYPES, WindowContents, read_window, reading_hash, verify_window_contents
from medledger.gateway import Gateway, GatewayStore, ReadingRefusedError
from medledger.storage import Cid
from tests.gateway.conftest import CATEGORY, START


def _post_window(ward, seconds: int = 8) -> list[dict]:
    """Both registered devices send one reading a second for each patient."""
    sent = []
    for second in range(seconds):
        for device in ward.devices[:2]:
            for patient in (ward.patient.address, ward.other_patient.address):
                sent.append(device.reading(patient, 60 + second, START + second))
        assert ward.post(*sent[-4:]).status_code == 202
    return sent


def _proof(ward, reading: dict) -> dict:
    response = ward.http.get(f"{ward.server.url}/v1/proofs/{reading['device']}/{reading['sequence']}")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def anchored(ward):
    sent = _post_window(ward)
    ward.anchor_all()
    return sent


def test_one_transaction_anchors_every_patients_window(ward, anchored):
    health = ward.gateway.health()
    assert (health["anchoredWindows"], health["anchoredReadings"], health["transactions"]) == (2, 32, 1)


def test_the_patient_reads_and_verifies_their_window(ward, anchored):
    proof = _proof(ward, anchored[0])
    contents, verification = read_window(ward.patient, ward.patient.address, Cid.parse(proof["cid"]).digest)
    assert verification.ok, verification.problems
    assert (verification.count, verification.root.hex()) == (16, proof["root"][2:])
    assert {r.observation["subject"]["identifier"]["value"].rsplit(":", 1)[1] for r in contents.readings} == {
        ward.patient.address
    }


def test_the_provider_reads_the_window_it_authored(ward, anchored):
    proof = _proof(ward, anchored[1])
    pointer = ward.world.ledger().records.get(ward.other_patient.address, Cid.parse(proof["cid"]).digest)
    assert pointer.author == ward.provider.address
    _, verification = read_window(ward.provider, ward.other_patient.address, pointer.digest)
    assert verification.ok


def test_every_reading_has_a_proof_that_verifies_off_and_on_chain(ward, anchored):
    streams = ward.world.ledger().streams
    for reading in anchored[::5]:
        proof = _proof(ward, reading)
        values = (reading["device"], reading["sequence"], reading["timestamp"], reading_hash(reading["observation"]))
        leaf, siblings = leaf_hash(LEAF_TYPES, values), [bytes.fromhex(p[2:]) for p in proof["proof"]]
        assert "0x" + leaf.hex() == proof["leaf"]
        assert "0x" + process_proof(leaf, siblings).hex() == proof["root"]
        assert streams.verify_reading(bytes.fromhex(proof["windowId"][2:]), *values, siblings)


def _contents(ward, anchored) -> tuple[WindowContents, Cid]:
    cid = Cid.parse(_proof(ward, anchored[0])["cid"])
    contents, verification = read_window(ward.patient, ward.patient.address, cid.digest)
    assert verification.ok
    return contents, cid


def test_a_tampered_reading_is_detected(ward, anchored):
    contents, cid = _contents(ward, anchored)
    first = contents.readings[3]
    changed = dict(first.observation, valueQuantity=dict(first.observation["valueQuantity"], value=180))
    forged = replace(first, observation=changed, hashed=reading_hash(changed))
    tampered = replace(contents, readings=(*contents.readings[:3], forged, *contents.readings[4:]))
    problems = verify_window_contents(tampered, cid, ward.world.ledger().streams).problems
    assert any("not signed by its device" in p for p in problems)
    assert any("no window with this root and count" in p for p in problems)


def test_a_dropped_reading_is_detected(ward, anchored):
    contents, cid = _contents(ward, anchored)
    dropped = replace(contents, readings=contents.readings[:5] + contents.readings[6:])
    problems = verify_window_contents(dropped, cid, ward.world.ledger().streams).problems
    assert problems and "no window with this root and count (15 readings)" in problems[-1]


@pytest.mark.parametrize("first, second", [(0, 1), (2, 9)])
def test_a_reordered_reading_is_detected(ward, anchored, first, second):
    contents, cid = _contents(ward, anchored)
    readings = list(contents.readings)
    readings[first], readings[second] = readings[second], readings[first]
    problems = verify_window_contents(replace(contents, readings=tuple(readings)), cid, ward.world.ledger().streams)
    assert any("out of order" in p for p in problems.problems)


def test_a_window_claiming_other_bounds_is_detected(ward, anchored):
    contents, cid = _contents(ward, anchored)
    problems = verify_window_contents(replace(contents, end=contents.end + 60), cid, ward.world.ledger().streams)
    assert not problems.ok


def test_a_withdrawn_consent_drops_that_patients_window_and_no_other(ward):
    sent = _post_window(ward, seconds=3)
    ward.world.ledger(ward.world.actors.other_patient).consent.revoke(ward.world.actors.provider.address)
    ward.anchor_all()
    health = ward.gateway.health()
    assert (health["anchoredWindows"], health["skippedWindows"], health["transactions"]) == (1, 1, 1)
    kept = next(r for r in sent if ward.patient.address in r["observation"]["subject"]["identifier"]["value"])
    lost = next(r for r in sent if ward.other_patient.address in r["observation"]["subject"]["identifier"]["value"])
    assert _proof(ward, kept)["count"] == 6
    response = ward.http.get(f"{ward.server.url}/v1/proofs/{lost['device']}/{lost['sequence']}")
    assert (response.status_code, response.json()["error"]["code"]) == (410, "not-anchored")


def test_the_next_window_is_anchored_after_the_first(ward):
    _post_window(ward, seconds=2)
    ward.clock.now = START + 12
    assert ward.gateway.seal() == 2
    device = ward.devices[0]
    assert ward.post(device.reading(ward.patient.address, 70, START + 11)).status_code == 202
    ward.anchor_all()
    streams = ward.world.ledger().streams
    assert streams.stream_end(ward.patient.address, ward.gateway.session.address, CATEGORY) == START + 20
    assert ward.gateway.health()["anchoredWindows"] == 3


def test_a_restarted_gateway_still_refuses_replays(ward, anchored):
    again = Gateway(
        ward.gateway.session, GatewayStore(ward.home / "gateway.sqlite"), ward.gateway.policy, clock=ward.clock
    )
    again.started = START
    try:
        with pytest.raises(ReadingRefusedError, match="closed"):  # its window is sealed
            again.accept({"readings": [anchored[-1]]})
        device = next(d for d in ward.devices if d.address == anchored[-1]["device"])
        device.sequence = anchored[-1]["sequence"]  # an old sequence number, in a window still open
        with pytest.raises(ReadingRefusedError, match="already sent sequence"):
            again.accept({"readings": [device.reading(ward.patient.address, 70, START + 12)]})
        assert again.proof(anchored[0]["device"], anchored[0]["sequence"])["count"] == 16
    finally:
        again.close()


def test_a_proof_for_an_unknown_reading_is_not_found(ward):
    response = ward.http.get(f"{ward.server.url}/v1/proofs/{ward.devices[0].address}/99")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "unknown-reading")


def test_a_window_the_chain_refuses_does_not_hold_back_the_others(ward, anchored):
    from medledger.ledger.streams import Window

    anchored_window = ward.gateway.db.locate(anchored[0]["device"], anchored[0]["sequence"])[0].window
    overlapping = replace(anchored_window, digest=bytes(31) + b"\x01")  # the same span again: refused
    later = Window(
        ward.other_patient.address, CATEGORY, START + 20, START + 30, bytes(31) + b"\x02", bytes(31) + b"\x03", 0x55, 1
    )
    for key, window in (("again", overlapping), ("later", later)):
        ward.gateway.db.save_window(key, window, "bafkreigh2akiscaildc", [window.root], [], {})
    assert ward.gateway.anchor_pending() == 1
    assert ward.gateway.db.unanchored() == []  # the refused one is set aside, not retried for ever
    streams = ward.world.ledger().streams
    assert streams.stream_end(ward.other_patient.address, ward.gateway.session.address, CATEGORY) == START + 30


def test_a_restarted_gateway_opens_no_window_it_already_sealed(ward, anchored):
    again = Gateway(
        ward.gateway.session, GatewayStore(ward.home / "gateway.sqlite"), ward.gateway.policy, clock=ward.clock
    )
    again.started = START
    try:
        late = ward.devices[0].reading(ward.patient.address, 99, START + 9)
        with pytest.raises(ReadingRefusedError, match="closed"):
            again.accept({"readings": [late]})
    finally:
        again.close()
