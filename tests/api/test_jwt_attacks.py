"""JWT attacks, each refused with 401, over real HTTP against a server that accepts HS256
(the embedded secret), RS256 and ES256 (a JWKS file, as from a hospital's Keycloak).

Good tokens of each kind are accepted first, so every refusal is the attack's doing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from apikit import SECRET, Running, World
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jwt


def pem(private: Any) -> str:
    return private.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()


def public_pem(private: Any) -> str:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_jwk(private: Any, alg: str, kid: str) -> dict[str, Any]:
    key = jwk.construct(public_pem(private), alg).to_dict()
    return {**key, "kid": kid, "use": "sig", "alg": alg}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()),
                     b64(signature)])


@dataclass
class Keys:
    rsa: Any
    ec: Any
    rogue_rsa: Any
    running: Running
    client: httpx.Client

    def claims(self, **over: Any) -> dict[str, Any]:
        auth = self.running.config.api.auth
        now = int(time.time())
        base: dict[str, Any] = {"iss": auth.issuer, "aud": auth.audience, "sub": "keycloak-u1",
                                "iat": now, "nbf": now, "exp": now + 600, "role": "inspector"}
        base.update(over)
        return {k: v for k, v in base.items() if v is not None}

    def status(self, token: str) -> int:
        return self.client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.fixture(scope="module")
def keys(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    folder = tmp_path_factory.mktemp("jwks")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps({"keys": [public_jwk(rsa_key, "RS256", "rsa-1"),
                                         public_jwk(ec_key, "ES256", "ec-1")]}))
    running = world.serve({"auth": {"algorithms": ["HS256", "RS256", "ES256"],
                                    "jwks_file": str(jwks), "issuer": "https://sso.test/realm",
                                    "audience": "phiwatch", "leeway_seconds": 30}})
    yield Keys(rsa_key, ec_key, rogue, running, running.client())


def rs256(keys: Keys, claims: dict[str, Any], kid: str | None = "rsa-1", key: Any = None
          ) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return str(jwt.encode(claims, pem(key or keys.rsa), algorithm="RS256", headers=headers))


def test_good_tokens_of_every_allowed_kind_are_accepted(keys: Keys) -> None:
    assert keys.status(rs256(keys, keys.claims())) == 200
    assert keys.status(rs256(keys, keys.claims(), kid=None)) == 200  # one RSA key: no kid
    assert keys.status(jwt.encode(keys.claims(), pem(keys.ec), algorithm="ES256",
                                  headers={"kid": "ec-1"})) == 200
    assert keys.status(jwt.encode(keys.claims(), SECRET, algorithm="HS256")) == 200
    # Keycloak style: the role in a list among others, audience a list.
    assert keys.status(rs256(keys, keys.claims(role=["offline_access", "inspector"],
                                                aud=["account", "phiwatch"]))) == 200


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(keys: Keys, alg: str) -> None:
    assert keys.status(forge({"alg": alg, "typ": "JWT"}, keys.claims())) == 401
    assert keys.status(forge({"alg": alg}, keys.claims()) + "") == 401


def test_hs256_signed_with_the_rs256_public_key_is_refused(keys: Keys) -> None:
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    for secret in (public_pem(keys.rsa).encode(),
                   json.dumps(public_jwk(keys.rsa, "RS256", "rsa-1")).encode()):
        unsigned = forge(header, keys.claims()).rsplit(".", 1)[0]
        signature = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
        assert keys.status(f"{unsigned}.{b64(signature)}") == 401


def test_expired_and_not_yet_valid_tokens_are_refused(keys: Keys) -> None:
    now = int(time.time())
    assert keys.status(rs256(keys, keys.claims(exp=now - 120))) == 401
    assert keys.status(rs256(keys, keys.claims(nbf=now + 3600))) == 401
    assert keys.status(rs256(keys, keys.claims(iat=now + 3600, nbf=None))) == 401
    # Within the configured leeway (30 s): accepted; the leeway is never above 60 s.
    assert keys.status(rs256(keys, keys.claims(exp=now - 5))) == 200


@pytest.mark.parametrize("claims", [
    {"aud": "someone-else"}, {"aud": ["account"]}, {"iss": "https://evil.test/realm"},
    {"iss": None}, {"aud": None}, {"exp": None}, {"iat": None}, {"sub": None}, {"sub": ""},
    {"sub": 42}, {"exp": "tomorrow"}, {"exp": True}, {"role": "hospital_it"},
], ids=lambda c: json.dumps(c))
def test_wrong_or_missing_claims_are_refused(keys: Keys, claims: dict[str, Any]) -> None:
    full = keys.claims()
    full.update(claims)
    assert keys.status(rs256(keys, {k: v for k, v in full.items() if v is not None})) == 401


def test_a_tampered_payload_is_refused(keys: Keys) -> None:
    token = rs256(keys, keys.claims(role="department"))
    header, _, signature = token.split(".")
    promoted = b64(json.dumps(keys.claims(role="admin")).encode())
    assert keys.status(f"{header}.{promoted}.{signature}") == 401
    hs = jwt.encode(keys.claims(), SECRET, algorithm="HS256").split(".")
    assert keys.status(f"{hs[0]}.{b64(json.dumps(keys.claims(role='admin')).encode())}."
                       f"{hs[2]}") == 401
    assert keys.status(f"{header}.{token.split('.')[1]}.{signature[:-4]}AAAA") == 401


def test_a_one_megabyte_token_is_refused(keys: Keys) -> None:
    big = rs256(keys, keys.claims(padding="x" * (1 << 20)))
    assert len(big) > 1 << 20
    assert keys.status(big) == 401
    assert keys.status("a" * (1 << 20)) == 401


@pytest.mark.parametrize("kid", ["../../../../etc/passwd", "https://evil.test/jwks.json",
                                 "file:///etc/shadow", "rsa-2", "", "rsa-1\x00", "ec-1"])
def test_a_kid_outside_the_key_set_is_refused(keys: Keys, kid: str) -> None:
    assert keys.status(rs256(keys, keys.claims(), kid=kid)) == 401


def test_keys_the_token_brings_are_ignored(keys: Keys) -> None:
    """A token signed by the attacker's key, naming it by ``jwk``/``jku``/``x5u`` or by
    the real ``kid``, is checked against the configured key only."""
    rogue_jwk = public_jwk(keys.rogue_rsa, "RS256", "rsa-1")
    for extra in ({"jwk": rogue_jwk}, {"jku": "https://evil.test/jwks.json"},
                  {"x5u": "https://evil.test/cert.pem"}, {}):
        token = jwt.encode(keys.claims(), pem(keys.rogue_rsa), algorithm="RS256",
                           headers={"kid": "rsa-1", **extra})
        assert keys.status(token) == 401


def test_other_header_tricks_are_refused(keys: Keys) -> None:
    claims = keys.claims()
    good = rs256(keys, claims)
    # Algorithm swapped in the header (RS512 is not allowed; ES256 with an RSA key).
    _, payload, signature = good.split(".")
    for header in ({"alg": "RS512", "kid": "rsa-1"}, {"alg": "ES256", "kid": "rsa-1"},
                   {"alg": "RS256", "kid": "rsa-1", "crit": ["exp"]},
                   {"alg": "RS256", "kid": "rsa-1", "typ": "JWE"}, {"alg": ["RS256"]},
                   {"kid": "rsa-1"}):
        assert keys.status(f"{b64(json.dumps(header).encode())}.{payload}.{signature}") == 401
    for garbage in ("x", "a.b", "a.b.c.d", "....", "!!.!!.!!", "eyJ.eyJ.", "Bearer x"):
        assert keys.status(garbage) == 401
    # The scheme must be Bearer.
    r = keys.client.get("/me", headers={"Authorization": f"Basic {good}"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_jwks_from_a_url_and_rotation(world: World, keys: Keys,
                                      tmp_path: Path) -> None:
    """The key set by URL (a local server): a new kid after rotation is fetched once."""
    served = {"keys": [public_jwk(keys.rsa, "RS256", "rsa-1")]}
    fetched: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            body = json.dumps(served).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/certs"
        running = world.serve({"auth": {"algorithms": ["RS256"], "jwks_url": url,
                                        "jwks_cache_seconds": 3600,
                                        "issuer": "https://sso.test/realm",
                                        "audience": "phiwatch"}})
        client = running.client()

        def status(token: str) -> int:
            return client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code

        assert status(rs256(keys, keys.claims())) == 200
        assert len(fetched) == 1
        # HS256 is not in this server's list: even a token with the right secret fails.
        assert status(jwt.encode(keys.claims(), SECRET, algorithm="HS256")) == 401
        # Rotation: the provider now signs with a new key; the first token naming it
        # makes one fetch, later ones none; unknown kids do not fetch again at once.
        served["keys"].append(public_jwk(keys.rogue_rsa, "RS256", "rsa-2"))
        new = jwt.encode(keys.claims(), pem(keys.rogue_rsa), algorithm="RS256",
                         headers={"kid": "rsa-2"})
        assert status(new) == 200
        assert status(new) == 200
        assert len(fetched) == 2
        for n in range(5):
            assert status(rs256(keys, keys.claims(), kid=f"random-{n}")) == 401
        assert len(fetched) == 2
    finally:
        server.shutdown()
        server.server_close()
