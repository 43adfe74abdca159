"""Accounts: who may add them (the district office, or the operator at the command line)."""

from __future__ import annotations

import secrets

from werkzeug.security import generate_password_hash

from ..store import Store
from .policy import Actor, decide


def add_account(store: Store, actor: Actor, name: str, role: str, password: str | None = None,
                lang: str = "zh") -> str:
    """Create an account; returns its password (generated when not given), shown once."""
    decide("manage_users", actor)
    password = password or secrets.token_urlsafe(9)
    store.add_user(name, generate_password_hash(password), role, lang)
    return password
