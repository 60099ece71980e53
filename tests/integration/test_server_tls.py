"""HTTPS: ``lovemart server --certfile/--keyfile`` serves TLS itself, and shops refuse plain HTTP off the loopback.

The certificate is made for the test (self-signed for 127.0.0.1) with the ``openssl`` command; the
server is the real ``lovemart server`` process on a free loopback port.
"""

from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lovemart import cli as cli_module
from lovemart.settings import load, update
from lovemart.sync_wiring import plain_http_warning
from sync.client import SyncClient
from sync.errors import SyncError
from sync.http import Http, check_transport
from tests.server_harness import ROOT, free_port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def https_server(certificate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cert, key = certificate
    folder = tmp_path_factory.mktemp("central")
    port = free_port()
    argv = [
        sys.executable,
        "-c",
        "import sys; from lovemart.cli import main; sys.exit(main())",
        "--home",
        str(folder),
        "server",
        "--database-url",
        f"sqlite:///{folder / 'central.sqlite3'}",
        "--port",
        str(port),
        "--certfile",
        str(cert),
        "--keyfile",
        str(key),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/v1/health", verify=context, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                assert proc.stderr is not None
                raise RuntimeError(f"lovemart server exited: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("lovemart server did not answer over HTTPS")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_the_server_speaks_https_with_its_certificate(https_server: str, certificate: tuple[Path, Path]) -> None:
    cert, _ = certificate
    context = ssl.create_default_context(cafile=str(cert))
    reply = httpx.get(https_server + "/v1/health", verify=context)
    assert reply.status_code == 200 and reply.json()["ok"] is True
    assert reply.url.scheme == "https"
    # Without trusting the certificate the client refuses it: it really is TLS with that certificate.
    with pytest.raises(httpx.ConnectError):
        httpx.get(https_server + "/v1/health")
    # Plain HTTP to the same port gets no answer a client could take for the API.
    with pytest.raises(httpx.HTTPError):
        httpx.get(https_server.replace("https://", "http://") + "/v1/health", timeout=5)


def test_the_sync_client_reaches_an_https_server(https_server: str, certificate: tuple[Path, Path]) -> None:
    cert, _ = certificate
    context = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(verify=context) as client:
        http = Http(https_server, "no-such-token", client, 10)
        with pytest.raises(SyncError) as caught:
            http.request("GET", "/v1/status")
    assert caught.value.code == "token_invalid"  # the request went through TLS and was answered


def test_the_server_refuses_half_a_certificate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_module.main(["--home", str(tmp_path), "server", "--certfile", "x.pem", "--json"])
    assert code == 1
    assert '"tls_incomplete"' in capsys.readouterr().out


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000", "https://township.example.cn"],
)
def test_loopback_and_https_need_no_permission(url: str) -> None:
    assert check_transport(url) is False


def test_plain_http_off_the_loopback_is_refused_unless_the_settings_allow_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "http://192.0.2.7:8000"
    with pytest.raises(SyncError) as caught:
        Http(url, "token", None, 5)
    assert caught.value.code == "plain_http_refused" and caught.value.status == 400
    assert "allow_plain_http" in caught.value.message("en")
    with caplog.at_level(logging.WARNING, logger="sync.client"):
        assert check_transport(url, allow_plain_http=True) is True
    assert "plain HTTP" in caplog.text
    # provision refuses before sending the enrolment token anywhere.
    code = cli_module.main(["--home", str(tmp_path / "shop"), "provision", "--server", url, "--token", "t", "--json"])
    assert code == 1 and '"plain_http_refused"' in capsys.readouterr().out
    # With [sync] allow_plain_http = true the shop is warned instead.
    settings = update(load(tmp_path / "allowed"), {"sync": {"allow_plain_http": True}})
    warning = plain_http_warning(settings, url)
    assert warning is not None and "http://" in warning.message("en")
    assert plain_http_warning(settings, "https://township.example.cn") is None


def test_the_sync_client_itself_refuses_plain_http(tmp_path: Path) -> None:
    options: dict[str, Any] = {}
    with pytest.raises(SyncError) as caught:
        SyncClient(None, "http://10.1.2.3:8000", "token", **options)  # type: ignore[arg-type]
    assert caught.value.code == "plain_http_refused"
