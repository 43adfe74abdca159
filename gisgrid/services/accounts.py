"""Accounts: add, disable, enable, reset a password. Only the district office (or the operator
at the command line) manages them; disabling or a reset ends every session of the account in
the same transaction (storage does that)."""

from __future__ import annotations

import secrets

from werkzeug.security import generate_password_hash

from .. import clock
from ..store import Store
from ..store import accounts as stored_accounts
from .policy import Actor, decide


def new_password() -> str:
    """A generated password: 12 characters, 72 random bits."""
    return secrets.token_urlsafe(9)


def add_account(store: Store, actor: Actor, name: str, role: str, password: str | None = None,
                lang: str = "zh") -> str:
    """Create an account; returns its password (generated when not given), shown once."""
    decide("manage_users", actor)
    password = password or new_password()
    store.add_user(name, generate_password_hash(password), role, lang)
    return password


def set_active(store: Store, actor: Actor, name: str, active: bool) -> int:
    """Disable (every session ends: returns how many) or enable an account."""
    decide("manage_users", actor)
    return stored_accounts.set_active(store, name, active, clock.utcnow())


def reset_password(store: Store, actor: Actor, name: str) -> str:
    """A new generated password for the account, to be shown once; every session of it ends."""
    decide("manage_users", actor)
    password = new_password()
    stored_accounts.set_password(store, name, generate_password_hash(password), "reset", clock.utcnow())
    return password
