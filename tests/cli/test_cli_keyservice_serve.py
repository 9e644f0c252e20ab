"""`medledger keyservice serve` without a config file: a devnet operator runs a service from the
same account and connection options as every other command, and `--announce` publishes its URL."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx

from medledger.devnet.ports import free_loopback_port

from .conftest import ADMIN, REGISTRAR, Cli, address, assert_clear_failure, clean_environ, medledger_executable

SERVICE = 6


def _serve(cli: Cli, port: int) -> subprocess.Popen[str]:
    argv = [
        medledger_executable(),
        *cli.argv(
            ["keyservice", "serve", "--port", str(port), "--announce"], account=SERVICE, connect=True, as_json=False
        ),
    ]
    return subprocess.Popen(
        argv, cwd=cli.workdir, env=clean_environ(cli.env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the service exited: {process.stderr.read() if process.stderr else ''}")
        try:
            return httpx.get(url + "/health", timeout=1.0).json()
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the service never answered /health")


def test_serve_from_the_connection_options_announces_its_url_and_stops_cleanly(cli: Cli) -> None:
    cli.ok("deploy", "--registrar", address(REGISTRAR), "--admin-delay", "1s", account=ADMIN)
    cli.ok("keys", "publish", account=SERVICE)
    cli.ok("admin", "propose-services", "--member", address(SERVICE), "-k", "1", account=ADMIN)
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    process = _serve(cli, port)
    try:
        health = _wait_healthy(url, process)
        assert health["service"] == address(SERVICE) and health["memberIndex"] == 1 and health["holdsKey"]
        shown = cli.json("provider", "keyservices")
        assert [member["endpoint"] for member in shown["services"]] == [url]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "key-release service stopped" in stderr
    assert "Traceback" not in stderr
    log = cli.home / "keyservice" / f"{address(SERVICE)}.sqlite"
    assert log.is_file()


def test_serve_refuses_the_embedded_chain_in_one_line(cli: Cli) -> None:
    result = cli.invoke("keyservice", "serve", "--rpc-url", "embedded", "--dev-account", "1", connect=False)
    line = assert_clear_failure(result, 2)
    assert "--rpc-url" in line
