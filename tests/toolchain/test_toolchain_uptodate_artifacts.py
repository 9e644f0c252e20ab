"""The artifacts shipped inside the package are what the contracts compile to today."""

from __future__ import annotations


def test_build_artifacts_check_passes_because_the_committed_artifacts_are_fresh(freshness_check):
    completed = freshness_check.result()
    assert completed.returncode == 0, completed.stderr


def test_committed_artifact_records_the_pinned_compiler_and_settings(build_artifacts, committed_artifact):
    assert committed_artifact["compiler"].startswith("0.8.28+commit.")
    assert committed_artifact["settings"] == {
        k: v for k, v in build_artifacts.SETTINGS.items() if k != "outputSelection"
    }
