"""`medledger portal` on the command line: loopback unless told otherwise, one-line refusals, and
the sign-in with an access code when the key is already in hand (a devnet's dev account)."""

from __future__ import annotations

import html
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

import httpx
from click.testing import CliRunner

from medledger.cli import main
from tests.portal.conftest import (
    CLINIC,
    CLINIC_NAME,
    GUARDIAN,
    PASSWORD,
    PATIENT,
    PortalWorld,
    account,
    csrf_of,
    login,
    portal_process,
    write_keystore,
)


def _run(world: PortalWorld, tmp_path: Path, *args: str) -> tuple[int, str]:
    argv = ["--home", str(tmp_path / "home"), "portal", "--rpc-url", world.anvil.rpc_url]
    argv += ["--deployments", str(world.deployments), *args]
    result = CliRunner().invoke(main, argv, catch_exceptions=True)
    return result.exit_code, result.output


def _one_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def test_a_non_loopback_host_is_refused_without_public(world: PortalWorld, tmp_path: Path) -> None:
    code, output = _run(world, tmp_path, "--host", "0.0.0.0", "--dev-account", str(PATIENT))
    assert code == 2
    assert "is not a loopback address" in _one_line(output) and "--public" in output


def test_a_port_in_use_is_refused_in_one_line(world: PortalWorld, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, output = _run(world, tmp_path, "--port", str(port), "--dev-account", str(PATIENT))
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in _one_line(output)


def test_without_any_account_it_says_how_to_get_one(world: PortalWorld, tmp_path: Path) -> None:
    code, output = _run(world, tmp_path, "--port", "0")
    assert code == 2
    assert "no account to sign in with" in _one_line(output)


def test_a_dev_account_signs_in_with_the_printed_access_code(world: PortalWorld, tmp_path: Path) -> None:
    with portal_process(world, tmp_path, "--dev-account", str(PATIENT)) as (url, printed):
        code = printed.split("access code: ")[1].split()[0]
        with httpx.Client(base_url=url) as http:
            token = csrf_of(http.get("/login").text)
            wrong = http.post("/login", data={"csrf": token, "code": code + "x"})
            assert wrong.status_code == 401 and code not in wrong.text
            right = http.post("/login", data={"csrf": csrf_of(wrong.text), "code": code})
            assert (right.status_code, right.headers["location"]) == (303, "/")
            assert account(PATIENT).address in http.get("/").text


def test_the_cli_and_the_portal_confirm_a_grant_in_the_same_words(
    world: PortalWorld, tmp_path: Path, client: httpx.Client
) -> None:
    clinic = account(CLINIC).address
    day = datetime.fromtimestamp(world.chain.now() + 60 * 86400, UTC).strftime("%Y-%m-%d")
    token = login(client)
    form = {"csrf": token, "provider": clinic, "categories": ["labs"], "purposes": ["TREAT"], "until": day}
    review = client.post("/grant/review", data=form).text
    sentence = html.unescape(review.split('id="confirm-sentence">')[1].split("</span>", 1)[1].split("</p>")[0]).strip()
    details = html.unescape(review.split("<pre>")[1].split("</pre>")[0]).strip().splitlines()

    home = tmp_path / "cli-home"
    home.mkdir()
    shutil.copy(world.names_file, home / "names.toml")
    argv = ["--home", str(home), "consent", "grant", clinic, "--categories", "labs", "--purpose", "treatment"]
    argv += ["--expires", day, "--yes", "--rpc-url", world.anvil.rpc_url, "--deployments", str(world.deployments)]
    result = CliRunner().invoke(main, [*argv, "--dev-account", str(PATIENT)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    printed = result.stderr.strip().splitlines()
    assert printed[0] == sentence
    assert printed[1 : 1 + len(details)] == details
    assert sentence.startswith(f"{CLINIC_NAME} may read your lab results for your treatment until")


def test_named_accounts_in_the_home_are_offered_and_unlocked_with_their_password(
    world: PortalWorld, tmp_path: Path
) -> None:
    keystores = tmp_path / "home" / "keystores"
    write_keystore(keystores, account(PATIENT), "patient")
    write_keystore(keystores, account(GUARDIAN), "guardian")
    with portal_process(world, tmp_path) as (url, printed), httpx.Client(base_url=url) as http:
        assert "sign in with the password of" in printed
        page = http.get("/login").text
        assert f'<option value="{account(PATIENT).address}">patient' in page
        assert f'<option value="{account(GUARDIAN).address}">' in page
        token = csrf_of(page)
        reply = http.post("/login", data={"csrf": token, "account": account(PATIENT).address, "password": PASSWORD})
        assert (reply.status_code, reply.headers["location"]) == (303, "/")
    with portal_process(world, tmp_path, "--account", "guardian") as (url, _), httpx.Client(base_url=url) as http:
        page = http.get("/login").text
        assert account(GUARDIAN).address in page and account(PATIENT).address not in page
