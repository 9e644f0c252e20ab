"""Loopback helpers for local daemons."""

from __future__ import annotations

import socket

import httpx
import pytest

from medledger.devnet.ipfs import IpfsDaemon, IpfsDaemonError
from medledger.devnet.ports import free_loopback_port


def test_free_loopback_port_can_be_bound_on_127_0_0_1():
    port = free_loopback_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_daemon_without_node_modules_says_to_run_npm_ci(tmp_path):
    with pytest.raises(IpfsDaemonError, match="npm ci"):
        IpfsDaemon(project_root=tmp_path)


def test_api_url_before_start_is_an_error(tmp_path, ipfs_daemon):
    daemon = IpfsDaemon(project_root=ipfs_daemon.project_root)
    with pytest.raises(IpfsDaemonError, match="not started"):
        _ = daemon.api_url


@pytest.mark.ipfs
def test_session_daemon_serves_the_rpc_api_on_loopback(ipfs_daemon):
    assert ipfs_daemon.api_url.startswith("http://127.0.0.1:")
    response = httpx.post(f"{ipfs_daemon.api_url}/api/v0/id", trust_env=False)
    assert response.status_code == 200 and response.json()["ID"]
