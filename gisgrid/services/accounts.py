"""Accounts: log in and out, one's own password and language; and the office's management of
accounts: add, change role, disable and enable, reset a password, set towns, the first admin.
Only the district office (or the operator at the command line) manages them; every change is
written with its audit row in one transaction, and disabling, a reset or a new role ends the
account's sessions in that transaction too."""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from collections.abc import Iterable

from .. import clock
from ..domain import throttle
from ..domain.errors import Conflict, GisgridError, LoginRefused, NotFound, PasswordRefused, TooManyAttempts
from ..settings import Settings
from ..storage import LANGS, Store, audit
from ..storage import accounts as stored_accounts
from .policy import ROLES, Actor, Facts, decide


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
    with store.begin() as conn:
        ended = stored_accounts.set_password_in(conn, actor.name, generate_password_hash(new), "password",
                                                clock.now(), keep=session_id)
        audit.record(conn, "account_own_password", actor.name, subject=actor.name, after={"sessions_ended": ended})


def set_language(store: Store, actor: Actor, lang: str) -> None:
    """One's own UI language."""
    store.set_user_lang(actor.id, lang)


def new_password() -> str:
    """A generated password: 12 characters, 72 random bits."""
    return secrets.token_urlsafe(9)


ACCOUNT_ROLES = tuple(r for r in ROLES if r != "operator")   # the operator is the command line, not an account
WITH_TOWNS = ("inspector", "town")


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise GisgridError("A user name must have 1 to 64 characters")
    return name


def _check_role(role: str) -> str:
    if role not in ACCOUNT_ROLES:
        raise GisgridError("Unknown role {role!r}; choose one of {roles}", role=role, roles=", ".join(ACCOUNT_ROLES))
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise PasswordRefused("The new password must have at least {n} characters.", n=MIN_PASSWORD)
    return password


def _shown(account: dict) -> dict:
    """An account as the audit log and the lists show it (never a password or its hash)."""
    return {"role": account["role"], "active": bool(account["active"]), "lang": account["lang"],
            "towns": list(account.get("towns", ()))}


def _keep_an_admin(conn, account: dict, losing: bool) -> None:
    """Refuse a change that leaves the installation without an active admin: nobody could then
    manage accounts from the web app."""
    if losing and account["role"] == "admin" and account["active"] and stored_accounts.active_admins_in(conn) <= 1:
        raise Conflict("{name} is the only active administrator; make another account an administrator first",
                       name=account["name"])


def list_accounts(store: Store, actor: Actor) -> list[dict]:
    """Every account: name, role, active, language, towns (no passwords)."""
    decide("manage_users", actor)
    store.require_schema()
    return [{"name": a["name"], **_shown(a), "created_at": a["created_at"]}
            for a in stored_accounts.accounts(store)]


def add_account(store: Store, actor: Actor, name: str, role: str, password: str | None = None,
                lang: str = "zh", towns: Iterable[str] = ()) -> str:
    """Create an account; returns its password (generated when not given), shown once."""
    decide("manage_users", actor)
    name, role = _check_name(name), _check_role(role)
    if lang not in LANGS:
        raise GisgridError("Unknown language {lang!r}", lang=lang)
    typed = bool(password)
    password = _check_password(password) if password else new_password()
    towns = _known_towns(store, towns)
    if towns and role not in WITH_TOWNS:
        raise GisgridError("Only an inspector or a town office works for towns; {name} is {role}",
                           name=name, role=role)
    with store.begin() as conn:
        account_id = stored_accounts.insert_account(conn, name, generate_password_hash(password), role, lang,
                                                    clock.now())
        if towns:
            store.set_towns(conn, account_id, towns)
        audit.record(conn, "account_add", actor.name, subject=name,
                     after={"role": role, "active": True, "lang": lang, "towns": towns,
                            "password": "typed" if typed else "generated"})
    return password


def set_active(store: Store, actor: Actor, name: str, active: bool) -> int:
    """Disable (every session ends: returns how many) or enable an account."""
    decide("manage_users", actor)
    with store.begin() as conn:
        before = stored_accounts.account_in(conn, name)
        _keep_an_admin(conn, before, losing=not active)
        ended = stored_accounts.set_active_in(conn, name, active, clock.now())
        audit.record(conn, "account_enable" if active else "account_disable", actor.name, subject=name,
                     before={"active": bool(before["active"])}, after={"active": active, "sessions_ended": ended})
    return ended


def reset_password(store: Store, actor: Actor, name: str, password: str | None = None) -> str:
    """A new password for the account (generated when not given), to be shown once; every
    session of it ends."""
    decide("manage_users", actor)
    password = _check_password(password) if password else new_password()
    with store.begin() as conn:
        stored_accounts.account_in(conn, name)
        ended = stored_accounts.set_password_in(conn, name, generate_password_hash(password), "reset", clock.now())
        audit.record(conn, "account_password", actor.name, subject=name, after={"sessions_ended": ended})
    return password


def set_role(store: Store, actor: Actor, name: str, role: str) -> None:
    """Another role for the account; its sessions end (what it may do changed under them). A
    role without towns drops the account's towns."""
    decide("manage_users", actor)
    role = _check_role(role)
    with store.begin() as conn:
        before = stored_accounts.account_in(conn, name)
        if before["role"] == role:
            return
        _keep_an_admin(conn, before, losing=True)
        stored_accounts.set_role_in(conn, before["id"], role)
        if role not in WITH_TOWNS:
            store.set_towns(conn, before["id"], [])
        ended = stored_accounts.end_sessions(conn, before["id"], "role", clock.now())
        audit.record(conn, "account_role", actor.name, subject=name,
                     before={"role": before["role"], "towns": before["towns"]},
                     after={"role": role, "sessions_ended": ended})


def set_towns(store: Store, actor: Actor, name: str, towns: Iterable[str]) -> list[str]:
    """The towns an inspector or a town office works for, each one a town of the district's
    grids; returns them as stored."""
    decide("manage_users", actor)
    wanted = _known_towns(store, towns)
    with store.begin() as conn:
        before = stored_accounts.account_in(conn, name)
        if before["role"] not in WITH_TOWNS:
            raise GisgridError("Only an inspector or a town office works for towns; {name} is {role}",
                               name=name, role=before["role"])
        store.set_towns(conn, before["id"], wanted)
        audit.record(conn, "account_towns", actor.name, subject=name, before={"towns": before["towns"]},
                     after={"towns": wanted})
    return wanted


def _known_towns(store: Store, towns: Iterable[str]) -> list[str]:
    """The towns asked for, each one a town of the district's grids (a typo would otherwise
    keep an inspector on their own town's roads without anyone noticing)."""
    wanted = sorted({t.strip() for t in towns if t and t.strip()})
    known = {g["town"] for g in store.grid_details().values() if g.get("town")}
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise GisgridError("No grid belongs to the town {town!r}; choose towns of the district's grids",
                           town=unknown[0])
    return wanted


def needs_first_admin(store: Store) -> bool:
    """True while the installation has no active admin: the first-run page is open."""
    with store.engine.connect() as conn:
        return stored_accounts.active_admins_in(conn) == 0


def set_first_admin(store: Store, actor: Actor, name: str, password: str, again: str) -> None:
    """On a new installation (no active admin), the first admin's account with the password the
    person types twice; an existing inactive account of that name is made admin and enabled.
    Checked again inside the transaction: two first-run forms sent at once make one admin."""
    name = _check_name(name)
    _check_password(password)
    if password != again:
        raise PasswordRefused("The two new passwords differ.")
    with store.begin() as conn:
        decide("set_first_admin", actor, Facts(admin_exists=stored_accounts.active_admins_in(conn) > 0))
        now = clock.now()
        try:
            existing = stored_accounts.account_in(conn, name)
        except NotFound:
            stored_accounts.insert_account(conn, name, generate_password_hash(password), "admin", "zh", now)
            audit.record(conn, "account_first_admin", actor.name, subject=name, after={"role": "admin"})
            return
        stored_accounts.set_role_in(conn, existing["id"], "admin")
        stored_accounts.set_active_in(conn, name, True, now)
        stored_accounts.set_password_in(conn, name, generate_password_hash(password), "reset", now)
        audit.record(conn, "account_first_admin", actor.name, subject=name, before=_shown(existing),
                     after={"role": "admin", "active": True})
