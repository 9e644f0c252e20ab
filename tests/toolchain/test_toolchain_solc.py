"""tools/solc.cjs speaks the subset of native solc's command line that py-solc-x, brownie and forge use."""

from __future__ import annotations

import json
import re

from .conftest import PIPE_BUFFER, ROOT, run_solc


def test_version_prints_a_version_line_that_solc_parsers_read():
    completed = run_solc("--version")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert any(re.fullmatch(r"Version: 0\.8\.28\+commit\.[0-9a-f]{8}\S*", line) for line in lines), lines


def test_standard_json_output_larger_than_a_pipe_buffer_arrives_whole(build_artifacts):
    request = build_artifacts.standard_json_input()
    # Every source's AST: several hundred KiB, without spending time on code generation.
    request["settings"] = {**build_artifacts.SETTINGS, "outputSelection": {"*": {"": ["ast"]}}}
    completed = run_solc("--standard-json", "--base-path", str(ROOT), stdin=json.dumps(request))
    assert completed.returncode == 0, completed.stderr
    assert len(completed.stdout.encode()) > PIPE_BUFFER
    output = json.loads(completed.stdout)
    assert not [e for e in output.get("errors", []) if e["severity"] == "error"]
    assert set(request["sources"]) <= set(output["sources"])
    assert all(entry["ast"]["nodeType"] == "SourceUnit" for entry in output["sources"].values())


def test_import_of_a_missing_file_is_a_compiler_error_in_the_json_not_a_crash(tmp_path):
    source = (
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n"
        'import {Nothing} from "./does/not/exist.sol";\ncontract A {}\n'
    )
    request = {
        "language": "Solidity",
        "sources": {"A.sol": {"content": source}},
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }
    completed = run_solc("--standard-json", "--base-path", str(tmp_path), stdin=json.dumps(request), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    errors = [e for e in json.loads(completed.stdout)["errors"] if e["severity"] == "error"]
    assert len(errors) == 1
    assert "not found" in errors[0]["message"] and "does/not/exist.sol" in errors[0]["message"]


def test_import_climbing_out_of_the_search_roots_is_refused(tmp_path):
    secret = tmp_path / "outside.sol"
    secret.write_text("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0; contract Outside {}\n")
    base = tmp_path / "project"
    base.mkdir()
    request = {
        "language": "Solidity",
        "sources": {
            "A.sol": {
                "content": "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n"
                'import "lib/../../outside.sol";\ncontract A {}\n'
            }
        },
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }
    completed = run_solc("--standard-json", "--base-path", str(base), stdin=json.dumps(request), cwd=base)
    output = json.loads(completed.stdout)
    assert any(e["severity"] == "error" and "not found" in e["message"] for e in output["errors"])
    assert "Outside" not in json.dumps(output.get("contracts", {}))


def test_unsupported_argument_exits_non_zero_with_a_usage_message():
    completed = run_solc("--bin", "A.sol")
    assert completed.returncode != 0
    assert "unsupported argument --bin" in completed.stderr
    assert "usage: solc --version | solc --standard-json" in completed.stderr
    assert completed.stdout == ""


def test_allow_paths_is_accepted_for_compatibility():
    request = {
        "language": "Solidity",
        "sources": {"A.sol": {"content": "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0; contract A {}"}},
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }
    completed = run_solc("--standard-json", "--allow-paths", "/tmp,/work", stdin=json.dumps(request))
    assert completed.returncode == 0, completed.stderr
    assert "A" in json.loads(completed.stdout)["contracts"]["A.sol"]
