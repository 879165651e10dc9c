"""Generates the certificates and keys a throwaway control plane needs, with the openssl CLI.

ECDSA P-256 keys keep generation to a few milliseconds, so every cluster gets fresh ones.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    """Paths of the generated files."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr.strip()}")


def _key(path: Path) -> None:
    _openssl(
        "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(path), cwd=path.parent
    )


def _signed(directory: Path, name: str, subject: str, extensions: str) -> tuple[Path, Path]:
    """A key and a certificate for it signed by the CA in the same directory."""
    key, csr, cert, ext = (directory / f"{name}{s}" for s in (".key", ".csr", ".crt", ".ext"))
    _key(key)
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr), cwd=directory)
    ext.write_text(extensions)
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "30", "-sha256", "-extfile", str(ext), "-out", str(cert),
        cwd=directory,
    )  # fmt: skip
    return cert, key


def generate(directory: Path) -> Pki:
    """A CA, the API server's serving cert, an admin client cert and the SA signing key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    _key(directory / "ca.key")
    _openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=hypersearch-test-ca",
        "-days", "30", "-sha256", "-out", "ca.crt",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        cwd=directory,
    )  # fmt: skip
    names = [
        "DNS:localhost",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
        "IP:127.0.0.1",
        "IP:10.0.0.1",
    ]
    server_cert, server_key = _signed(
        directory,
        "apiserver",
        "/CN=kube-apiserver",
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName={','.join(names)}\n",
    )
    # system:masters bypasses RBAC: the harness and control-plane components act as admin.
    admin_cert, admin_key = _signed(
        directory,
        "admin",
        "/O=system:masters/CN=hypersearch-admin",
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    )
    sa_key = directory / "sa.key"
    sa_pub = directory / "sa.pub"
    _key(sa_key)
    _openssl("ec", "-in", str(sa_key), "-pubout", "-out", str(sa_pub), cwd=directory)
    return Pki(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=server_cert,
        server_key=server_key,
        admin_cert=admin_cert,
        admin_key=admin_key,
        sa_key=sa_key,
        sa_pub=sa_pub,
    )


def write_kubeconfig(path: Path, server: str, pki: Pki) -> Path:
    """An admin kubeconfig with absolute paths, usable by kubectl, helm and the Python client."""
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: hypersearch-test
  cluster:
    server: {server}
    certificate-authority: {pki.ca_cert}
users:
- name: admin
  user:
    client-certificate: {pki.admin_cert}
    client-key: {pki.admin_key}
contexts:
- name: hypersearch-test
  context:
    cluster: hypersearch-test
    user: admin
    namespace: default
current-context: hypersearch-test
"""
    )
    return path
