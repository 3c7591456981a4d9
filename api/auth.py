"""Bearer tokens: verification with python-jose, strict, and issuance for the embedded default.

python-jose is permissive by default (``algorithms=None`` takes whatever the token says,
``exp`` is optional, ``iss`` is checked only when passed), so nothing is left to it:

1. a token longer than ``max_token_bytes``, or not three base64url parts, is refused unread;
2. the header's ``alg`` must be in the configured list (``none`` never is); ``crit`` is
   refused (phiwatch understands no extension);
3. the key comes from the algorithm's family only: the HS* secret for HS*, a JWK of the
   right type from the configured key set for RS*/ES* (so a token "signed" with HS256
   using the RSA public key as a secret is never checked against that key as a secret);
4. ``jwt.decode`` gets that one key, ``algorithms=[alg]``, the audience, the issuer, the
   leeway, and every ``require_*`` we need;
5. then our own checks: ``exp``, ``iat`` numbers, ``iat`` not in the future, ``sub`` a
   non-empty string, the role claim and the hospital claim well-formed.

Any failure is a ``TokenError`` (401); its message says what was wrong with the token,
never anything about the keys.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWTClaimsError

from api.config import HMAC_ALGORITHMS, ORG_ID, AuthConfig
from api.jwks import JwksError, JwksSource
from api.roles import HOSPITAL_BOUND, ROLES, Role

_B64URL_TOKEN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
MIN_SECRET_BYTES = 32
MAX_SUBJECT_CHARS = 256


class TokenError(Exception):
    """The token is not acceptable; the message is safe to send back."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's subject, phiwatch role (None: not one of ours) and,
    for hospital IT, the hospital."""

    subject: str
    role: Role | None
    hospital: str | None
    token_id: str | None
    expires: datetime


def load_secret(auth: AuthConfig, environ: Mapping[str, str]) -> bytes | None:
    """The HS* secret from the environment, or None when no HS* algorithm is allowed;
    ``ValueError`` when one is allowed and the secret is missing or short."""
    if not auth.uses_secret:
        return None
    value = environ.get(auth.secret_env, "")
    secret = value.encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        hs = ", ".join(a for a in auth.algorithms if a in HMAC_ALGORITHMS)
        raise ValueError(f"{auth.secret_env} must hold a secret of at least {MIN_SECRET_BYTES} "
                         f"bytes for {hs} (for example: export "
                         f"{auth.secret_env}=$(python3 -c 'import secrets; "
                         "print(secrets.token_urlsafe(48))'))")
    return secret


class TokenVerifier:
    def __init__(
        self,
        auth: AuthConfig,
        secret: bytes | None,
        jwks: JwksSource | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.auth = auth
        self._secret = secret
        self._jwks = jwks
        self._clock = clock

    def verify(self, token: str) -> Principal:
        auth = self.auth
        if len(token) > auth.max_token_bytes:
            raise TokenError("token too long")
        if not _B64URL_TOKEN.match(token):
            raise TokenError("not a signed JWT (three base64url parts)")
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise TokenError("unreadable token header") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in auth.algorithms:
            raise TokenError("token algorithm not accepted")
        if "crit" in header:
            raise TokenError("token header has critical extensions")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str)
                                or typ.lower() not in ("jwt", "at+jwt")):
            raise TokenError("not a JWT")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenError("token key id is not a string")
        key = self._key(alg, kid)
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=auth.audience, issuer=auth.issuer,
                options={
                    "verify_signature": True, "verify_aud": True, "verify_iat": True,
                    "verify_exp": True, "verify_nbf": True, "verify_iss": True,
                    "verify_sub": True, "verify_jti": True, "verify_at_hash": False,
                    "require_aud": True, "require_iat": True, "require_exp": True,
                    "require_iss": True, "require_sub": True,
                    "leeway": auth.leeway_seconds,
                },
            )
        except ExpiredSignatureError:
            raise TokenError("token expired") from None
        except JWTClaimsError as e:
            raise TokenError(f"token claims rejected: {_claims_reason(e)}") from None
        except JOSEError:
            raise TokenError("token signature or format rejected") from None
        return self._principal(claims)

    def _key(self, alg: str, kid: str | None) -> Any:
        try:
            if alg in HMAC_ALGORITHMS:
                if self._secret is None:
                    raise TokenError("token algorithm not accepted")
                return jwk.construct(self._secret, alg)
            if self._jwks is None:
                raise TokenError("token algorithm not accepted")
            return jwk.construct(self._jwks.key_for(alg, kid), alg)
        except JwksError:
            raise TokenError("no key for this token") from None
        except JOSEError:
            raise TokenError("no key for this token") from None

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        now = self._clock()
        leeway = self.auth.leeway_seconds
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        for name, value in (("exp", exp), ("iat", iat), ("nbf", nbf)):
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, int | float)):
                raise TokenError(f"token claim {name} is not a number")
        assert isinstance(exp, int | float) and isinstance(iat, int | float)
        if exp < now - leeway:
            raise TokenError("token expired")
        if iat > now + leeway:
            raise TokenError("token issued in the future")
        if nbf is not None and nbf > now + leeway:
            raise TokenError("token not yet valid")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip() or len(sub) > MAX_SUBJECT_CHARS:
            raise TokenError("token subject missing or malformed")
        role = _role(_claim(claims, self.auth.role_claim))
        hospital = _claim(claims, self.auth.hospital_claim)
        if hospital is not None and (not isinstance(hospital, str) or not ORG_ID.match(hospital)
                                     or len(hospital) > 100):
            raise TokenError("token hospital claim malformed")
        if role in HOSPITAL_BOUND and hospital is None:
            raise TokenError(f"a {role} token must name its hospital")
        jti = claims.get("jti")
        return Principal(sub, role, hospital, jti if isinstance(jti, str) else None,
                         datetime.fromtimestamp(exp, UTC))


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _role(value: Any) -> Role | None:
    """The one phiwatch role a claim names; None when it names none, or several."""
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    ours: set[Role] = {n for n in names if isinstance(n, str) and n in ROLES}
    return ours.pop() if len(ours) == 1 else None


def _claims_reason(e: JWTClaimsError) -> str:
    text = str(e).lower()
    for word in ("audience", "issuer", "subject", "before", "iat", "nbf", "exp"):
        if word in text:
            return {"before": "not yet valid", "nbf": "not yet valid"}.get(word, word)
    return "invalid claims"


def issue_token(
    auth: AuthConfig,
    secret: bytes,
    *,
    subject: str,
    role: Role,
    hospital: str | None,
    ttl: timedelta,
    now: datetime | None = None,
    algorithm: str = "HS256",
) -> str:
    """A token of the embedded issuer (HS*), as ``phiwatch token issue`` prints it."""
    if algorithm not in HMAC_ALGORITHMS or algorithm not in auth.algorithms:
        raise ValueError(f"{algorithm} is not among api.auth.algorithms "
                         f"({', '.join(auth.algorithms)})")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    if role in HOSPITAL_BOUND and not hospital:
        raise ValueError(f"a {role} token needs --hospital")
    if hospital is not None and not ORG_ID.match(hospital):
        raise ValueError(f"{hospital!r} is not an organization id")
    if ttl <= timedelta(0) or ttl > timedelta(days=30):
        raise ValueError("the lifetime must be between 1 second and 30 days")
    issued = int((now or datetime.now(UTC)).timestamp())
    claims: dict[str, Any] = {
        "iss": auth.issuer, "aud": auth.audience, "sub": subject, "iat": issued,
        "nbf": issued, "exp": issued + int(ttl.total_seconds()), "jti": uuid.uuid4().hex,
        auth.role_claim: role,
    }
    if hospital is not None:
        claims[auth.hospital_claim] = hospital
    if "." in auth.role_claim or "." in auth.hospital_claim:
        raise ValueError("the embedded issuer writes flat claims: use a role_claim and "
                         "hospital_claim without dots")
    return str(jwt.encode(claims, secret.decode("utf-8"), algorithm=algorithm))
