"""deploy/nginx/entrypoint.sh, run here with openssl and envsubst and a stand-in for nginx: the
self-signed certificate names the configured hosts, is kept across starts and made again when
they change; an operator's certificate is used as given; the configuration is filled in."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
NGINX = ROOT / "deploy" / "nginx"

pytestmark = pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("envsubst")), reason="needs openssl, envsubst"
)


def start(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "nginx"  # `nginx -t` passes; the real test is make deploy-check
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    tls = tmp_path / "tls"
    tls.mkdir(exist_ok=True)
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AVQA_TLS_DIR": str(tls),
        "AVQA_NGINX_TEMPLATE": str(NGINX / "avqa.conf.template"),
        "AVQA_NGINX_CONF": str(tmp_path / "nginx.conf"),
        **variables,
    }
    return subprocess.run(
        ["sh", str(NGINX / "entrypoint.sh"), "true"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def names(certificate: Path) -> str:
    return subprocess.run(
        ["openssl", "x509", "-in", str(certificate), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.slow
def test_a_self_signed_certificate_for_the_host_names_kept_until_they_change(tmp_path):
    hosts = "avqa.lab.example,.example.org,10.0.0.7,[::1],*"
    result = start(tmp_path, AVQA_HOSTNAMES=hosts)
    assert result.returncode == 0, result.stderr
    certificate = tmp_path / "tls" / "tls.crt"
    san = names(certificate)
    assert "DNS:avqa.lab.example" in san and "DNS:*.example.org" in san
    assert "IP Address:10.0.0.7" in san and "IP Address:0:0:0:0:0:0:0:1" in san
    assert (tmp_path / "tls" / "tls.key").stat().st_mode & 0o077 == 0
    first = certificate.read_bytes()
    assert start(tmp_path, AVQA_HOSTNAMES=hosts).returncode == 0
    assert certificate.read_bytes() == first  # kept: browsers' exceptions stay valid
    assert start(tmp_path, AVQA_HOSTNAMES="avqa.other.example").returncode == 0
    assert "DNS:avqa.other.example" in names(certificate)


def test_the_operators_certificate_is_used_as_given(tmp_path):
    tls = tmp_path / "tls"
    tls.mkdir()
    (tls / "tls.crt").write_text("the operator's chain")
    (tls / "tls.key").write_text("the operator's key")
    result = start(tmp_path, AVQA_HOSTNAMES="elsewhere.example")
    assert result.returncode == 0, result.stderr
    assert (tls / "tls.crt").read_text() == "the operator's chain"
    assert "self-signed" not in result.stdout


@pytest.mark.slow
def test_the_configuration_is_filled_in(tmp_path):
    result = start(tmp_path, HTTPS_PORT="8443", PROXY_UPLOAD_MAX="2g")
    assert result.returncode == 0, result.stderr
    conf = (tmp_path / "nginx.conf").read_text()
    assert "return 301 https://$host:8443$request_uri;" in conf
    assert "client_max_body_size 2g;" in conf and "client_max_body_size 10m;" in conf
    assert "set $app http://web:8000;" in conf
    assert "${" not in conf  # every setting replaced, nginx's own $variables left alone
    assert start(tmp_path).returncode == 0
    assert "return 301 https://$host$request_uri;" in (tmp_path / "nginx.conf").read_text()


def test_a_folder_that_cannot_take_a_certificate_is_a_clear_error(tmp_path):
    """A read-only TLS_DIR without the two files (here: a folder that cannot be written, even
    by root)."""
    (tmp_path / "a-file").write_text("")
    result = start(tmp_path, AVQA_TLS_DIR=str(tmp_path / "a-file" / "tls"))
    assert result.returncode == 1
    assert "has no tls.crt and tls.key and is read-only" in result.stderr
