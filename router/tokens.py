"""Bearer tokens (JWT, HS256) with the roles of DESIGN §8: supervisor, department:<code>, agent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ROLE = re.compile(r"^(supervisor|agent|department:[a-z0-9-]+)$")
ALGORITHM = "HS256"
ISSUER = "hotline-router"


class TokenError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: str

    @property
    def department(self) -> str | None:
        return self.role.split(":", 1)[1] if self.role.startswith("department:") else None


def mint(secret: str, role: str, *, now: datetime, ttl: timedelta, subject: str = "dev") -> str:
    if not ROLE.match(role):
        raise TokenError(f"role must be supervisor, agent or department:<code>, not {role!r}")
    claims = {"sub": subject, "role": role, "iss": ISSUER, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "role", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from exc
    role = str(claims["role"])
    if not ROLE.match(role):
        raise TokenError(f"unknown role {role!r}")
    return Principal(subject=str(claims["sub"]), role=role)
