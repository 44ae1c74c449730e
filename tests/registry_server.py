"""A real OCI registry for tests: Debian's ``docker-registry`` (the CNCF distribution registry).

:func:`start_registry` writes a config (filesystem storage in a temporary folder, listening on
127.0.0.1), starts ``docker-registry serve CONFIG``, waits until ``/v2/`` answers and returns
a :class:`RegistryServer`; :meth:`RegistryServer.stop` ends it. With a :class:`TokenIssuer` the
registry uses token auth: it trusts the issuer's self-signed certificate (the config's
``rootcertbundle``), and the issuer, a small HTTP server on 127.0.0.1, hands out RS256 JWTs
whose header carries that certificate (``x5c``) and whose ``access`` claim grants the scope
asked for, to a client with the right basic-auth credentials.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from tests.conftest import stop_process

REGISTRY_BINARY = "/usr/bin/docker-registry"
START_TIMEOUT_S = 20.0


def registry_binary() -> str | None:
    """Path of the registry binary, or None when the package is not installed."""
    found = shutil.which("docker-registry")
    if found:
        return found
    return REGISTRY_BINARY if Path(REGISTRY_BINARY).exists() else None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """A token server for the registry's bearer flow, signing with a fresh RSA key."""

    service = "rollguard-test-registry"
    issuer = "rollguard-test-issuer"

    def __init__(self, folder: Path, *, users: dict[str, str]) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.users = users
        self.requests: list[dict[str, Any]] = []  # what clients asked for (no secrets)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rollguard test issuer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.bundle = folder / "token-issuer.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.realm = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def sign(self, *, subject: str, scopes: list[str]) -> str:
        """A JWT granting ``scopes`` (``repository:chat:pull,push``) to ``subject``."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self._cert_der).decode()]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                url = urlparse(self.path)
                query = parse_qs(url.query)
                user = self._user()
                issuer.requests.append(
                    {
                        "service": query.get("service", [""])[0],
                        "scope": query.get("scope", []),
                        "user": user,
                    }
                )
                if url.path != "/token" or user is None:
                    self._reply(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                    return
                token = issuer.sign(subject=user, scopes=query.get("scope", []))
                self._reply(200, {"token": token, "access_token": token, "expires_in": 300})

            def _user(self) -> str | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return user if issuer.users.get(user) == password else None

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@dataclass
class RegistryServer:
    """A running registry: ``host`` is ``127.0.0.1:PORT``, ``url`` its http base URL."""

    host: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    token: TokenIssuer | None = None
    stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; also stops the token issuer."""
        if not self.stopped:
            self.stopped = True
            stop_process(self.proc)
        if self.token is not None:
            self.token.stop()
            self.token = None


def start_registry(folder: Path, *, port: int, token: TokenIssuer | None = None) -> RegistryServer:
    """Start ``docker-registry`` on 127.0.0.1:``port`` with storage under ``folder``."""
    binary = registry_binary()
    if binary is None:
        raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
    folder.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(folder / "data")},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    if token is not None:
        config["auth"] = {
            "token": {
                "realm": token.realm,
                "service": token.service,
                "issuer": token.issuer,
                "rootcertbundle": str(token.bundle),
            }
        }
        token.start()
    config_path = folder / "config.yml"
    config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    log_path = folder / "registry.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [binary, "serve", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = RegistryServer(host=f"127.0.0.1:{port}", proc=proc, log_path=log_path, token=token)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            server.stop()
            raise RuntimeError(f"docker-registry exited {proc.returncode}:\n{server.log()}")
        try:
            answer = httpx.get(f"{server.url}/v2/", timeout=1)
            if answer.status_code in (200, 401):
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"docker-registry did not answer /v2/:\n{server.log()}")
        time.sleep(0.05)
