"""publish -> fetch returns exactly the bytes published, on both stores, from 1 B to 50 MB
(an empty file is refused before anything is stored: see test_flows_bad_input)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medledger.flows.records import fetch, publish

from .conftest import LABS, MiB, People, sha256_of, write_source

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]

SIZES = {"1 B": 1, "1 MiB": MiB, "50 MB": 50_000_000}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_fetch_returns_the_published_bytes_exactly(people_on_any_store: People, tmp_path: Path, size: int) -> None:
    people = people_on_any_store
    source = tmp_path / "source.bin"
    expected = write_source(source, size, seed=size)

    published = publish(people.lab, people.patient.address, LABS, source)
    fetched = fetch(people.patient, people.patient.address, published.digest, tmp_path / "out" / "record.bin")

    assert fetched.size == size
    assert fetched.path.stat().st_size == size
    assert sha256_of(fetched.path) == expected
