"""Accounts: add, disable, enable, reset a password. Only the district office (or the operator
at the command line) manages them; disabling or a reset ends every session of the account in
the same transaction (storage does that)."""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from .. import clock
from ..domain import throttle
from ..domain.errors import LoginRefused, PasswordRefused, TooManyAttempts
from ..settings import Settings
from ..storage import Store
from ..storage import accounts as stored_accounts
from .policy import Actor, decide


@functools.cache
def _dummy_hash() -> str:
    """A hash of the same method and cost as the accounts', checked when the name is unknown,
    so that a login answers in the same time whether the account exists."""
    return generate_password_hash(secrets.token_urlsafe(16))


def login_limits(settings: Settings) -> throttle.Limits:
    return throttle.Limits(window=timedelta(minutes=settings["LOGIN_WINDOW_MINUTES"]),
                           per_account=settings["LOGIN_FAILURES_PER_ACCOUNT"],
                           unknown_addresses=settings["LOGIN_FAILURES_UNKNOWN_ADDRESSES"],
                           per_address=settings["LOGIN_FAILURES_PER_ADDRESS"])


def authenticate(store: Store, limits: throttle.Limits, name: str, password: str, address: str,
                 user_agent: str | None) -> dict:
    """The account whose name and password these are, or a refusal (`LoginRefused`,
    `TooManyAttempts`); every attempt is recorded. The throttle weighs the name tried, whether
    or not such an account exists, so its refusals do not tell either."""
    now = clock.now()
    wait = throttle.wait_seconds(stored_accounts.failures(store, name, address, limits, now), limits, now)
    if wait:
        stored_accounts.record_attempt(store, name, None, address, "throttled", user_agent, now)
        raise TooManyAttempts("Too many failed logins; try again in {minutes} min.",
                              minutes=throttle.minutes(wait))
    row = store.user(name=name)
    matches = check_password_hash(row["password_hash"] if row else _dummy_hash(), password)
    if row and matches and row["active"]:
        return row
    stored_accounts.record_attempt(store, name, row["id"] if row else None, address,
                            "inactive" if row and matches else "wrong", user_agent, now)
    raise LoginRefused("Wrong user name or password.")


def start_session(store: Store, account: dict, address: str, user_agent: str | None) -> str:
    """A new server-side session of a logged-in account: the cookie's random token."""
    return stored_accounts.start_session(store, account, address, user_agent, clock.now())


def session_account(store: Store, settings: Settings, token: str) -> dict | None:
    """The account of a live session (its cookie's token), or None: ended, unused too long, too
    old, or its account disabled."""
    return stored_accounts.session_account(store, token, clock.now(),
                                           idle=timedelta(minutes=settings["SESSION_IDLE_MINUTES"]),
                                           lifetime=timedelta(hours=settings["SESSION_MAX_HOURS"]))


def log_out(store: Store, actor: Actor) -> int:
    """End every session of the account, on every device and app server: a cookie copied
    before logout is worth nothing after it."""
    return stored_accounts.end_account_sessions(store, actor.id, "logout", clock.now())


MIN_PASSWORD = 10


def change_own_password(store: Store, actor: Actor, limits: throttle.Limits, current: str, new: str, again: str,
                        address: str, user_agent: str | None, session_id: int | None) -> None:
    """Change one's own password; the account's other sessions end (this one stays). The
    current password is checked as a login is, throttle and audit included: a session left
    open must not become a way to guess it."""
    try:
        authenticate(store, limits, actor.name, current, address, user_agent)
    except LoginRefused:
        raise PasswordRefused("The current password is wrong.") from None
    if len(new) < MIN_PASSWORD:
        raise PasswordRefused("The new password must have at least {n} characters.", n=MIN_PASSWORD)
    if new != again:
        raise PasswordRefused("The two new passwords differ.")
    stored_accounts.set_password(store, actor.name, generate_password_hash(new), "password", clock.now(),
                                 keep=session_id)


def set_language(store: Store, actor: Actor, lang: str) -> None:
    """One's own UI language."""
    store.set_user_lang(actor.id, lang)


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
    return stored_accounts.set_active(store, name, active, clock.now())


def reset_password(store: Store, actor: Actor, name: str) -> str:
    """A new generated password for the account, to be shown once; every session of it ends."""
    decide("manage_users", actor)
    password = new_password()
    stored_accounts.set_password(store, name, generate_password_hash(password), "reset", clock.now())
    return password
