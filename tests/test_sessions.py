"""Sessions live in the database: logout, a password change, disabling or resetting an account
end them; the CSRF token changes at login; logins are throttled without a lockout an attacker
can use against a colleague, answer alike whether the account exists, and are audited."""

import hashlib
import json
import re
from datetime import timedelta

import pytest

from gisgrid.cli import main
from gisgrid.storage import accounts
from gisgrid.services import accounts as account_work
from gisgrid.web import auth as web_auth

HOME = "10.0.0.2"        # the account's own tablet
ATTACKER = "10.0.9.9"    # a colleague's machine, failing on purpose


def store_of(app):
    return app.extensions["gisgrid.storage"]


def csrf(client, path="/login"):
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def try_login(client, name, password, address=HOME):
    token = csrf(client)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def logged_in(client) -> bool:
    response = client.get("/password")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def copy_cookie(app, client):
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


# sessions end ----------------------------------------------------------------------------


def test_a_cookie_copied_before_logout_no_longer_works_after_it(app, client, auth):
    auth.login("wang", "inspector")
    copy = copy_cookie(app, client)
    assert logged_in(copy)
    auth.logout()
    assert not logged_in(client)
    assert not logged_in(copy)
    account = store_of(app).user(name="wang")
    assert accounts.live_sessions(store_of(app), account["id"]) == []


def test_logout_ends_every_session_of_the_account(app, client, auth):
    password = auth.account("wang", "inspector")
    tablet = app.test_client()
    assert try_login(tablet, "wang", password).status_code == 302
    auth.login("wang", "inspector")
    assert logged_in(tablet) and logged_in(client)
    auth.logout()
    assert not logged_in(tablet)


def test_the_cookie_carries_a_random_session_id_and_the_database_only_its_hash(app, client, auth):
    import base64
    import zlib

    auth.login("wang", "inspector")
    value = client.get_cookie("session").value  # signed by Flask, not encrypted: readable here
    payload = value.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    token = json.loads(zlib.decompress(data) if value.startswith(".") else data)["_user_id"]
    account = store_of(app).user(name="wang")
    assert len(token) >= 43 and token != str(account["id"])
    [row] = accounts.live_sessions(store_of(app), account["id"])
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(app, client, auth):
    old = auth.account("wang", "inspector")
    tablet = app.test_client()
    assert try_login(tablet, "wang", old).status_code == 302
    auth.login("wang", "inspector")
    response = client.post("/password", data={"old": old, "new": "a-longer-one-1", "again": "a-longer-one-1",
                                              "csrf_token": csrf(client, "/password")})
    assert response.status_code == 200 and "其他会话已结束" in response.get_data(as_text=True)
    assert logged_in(client)
    assert not logged_in(tablet)
    fresh = app.test_client()
    assert try_login(fresh, "wang", old).status_code == 401
    assert try_login(fresh, "wang", "a-longer-one-1").status_code == 302


@pytest.mark.parametrize("form, message", [
    ({"old": "wrong-old-password", "new": "a-longer-one-1", "again": "a-longer-one-1"}, "当前密码不正确"),
    ({"new": "short", "again": "short"}, "至少需要 10 个字符"),
    ({"new": "a-longer-one-1", "again": "a-longer-one-2"}, "两次输入的新密码不一致"),
])
def test_a_password_change_is_refused_with_a_message(app, client, auth, form, message):
    old = auth.account("wang", "inspector")
    auth.login("wang", "inspector")
    response = client.post("/password", data={"old": old, **form, "csrf_token": csrf(client, "/password")})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert try_login(app.test_client(), "wang", old).status_code == 302  # unchanged


def test_user_disable_ends_every_session_and_enable_lets_the_account_in_again(app, client, auth, db_url, capsys):
    password = auth.account("wang", "inspector")
    tablet = app.test_client()
    assert try_login(tablet, "wang", password).status_code == 302
    auth.login("wang", "inspector")
    assert main(["--db", db_url, "user", "disable", "wang"]) == 0
    assert "2 sessions ended" in capsys.readouterr().err
    assert not logged_in(client) and not logged_in(tablet)
    assert try_login(app.test_client(), "wang", password).status_code == 401
    assert accounts.attempts(store_of(app), "wang")[-1]["outcome"] == "inactive"
    assert main(["--db", db_url, "user", "enable", "wang"]) == 0
    assert try_login(app.test_client(), "wang", password).status_code == 302


def test_user_reset_password_prints_a_new_one_once_and_ends_the_sessions(app, client, auth, db_url, capsys):
    old = auth.account("wang", "inspector")
    auth.login("wang", "inspector")
    assert main(["--db", db_url, "user", "reset-password", "wang"]) == 0
    new = re.fullmatch(r"wang password: (\S+)\n", capsys.readouterr().out).group(1)
    assert len(new) >= 10 and new != old
    assert not logged_in(client)
    assert try_login(app.test_client(), "wang", old).status_code == 401
    assert try_login(app.test_client(), "wang", new).status_code == 302


def test_user_list_and_unknown_names(app, auth, db_url, capsys):
    auth.account("wang", "inspector")
    auth.account("li", "reviewer")
    assert main(["--db", db_url, "user", "disable", "li"]) == 0
    capsys.readouterr()
    assert main(["--db", db_url, "user", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"users": [   # the shape issue 15 gives
        {"name": "li", "role": "reviewer", "active": False, "lang": "zh", "towns": []},
        {"name": "wang", "role": "inspector", "active": True, "lang": "zh", "towns": []}]}
    assert main(["--db", db_url, "user", "list"]) == 0
    assert re.search(r"^wang\s+inspector\s+yes\s+zh\s*$", capsys.readouterr().out, flags=re.M)
    assert main(["--db", db_url, "user", "disable", "nobody"]) == 2
    assert "No account named 'nobody'" in capsys.readouterr().err


def test_a_session_ends_when_idle_and_after_its_lifetime(app, client, auth, clock):
    from sqlalchemy import select

    auth.login("wang", "inspector")
    clock.shift(timedelta(minutes=479))
    assert logged_in(client)  # used: the idle time starts again
    for _hour in range(16):  # up to 23 h 59 min after the login
        clock.shift(timedelta(hours=1))
        assert logged_in(client)
    clock.shift(timedelta(minutes=2))
    assert not logged_in(client)  # 24 hours after login, used or not
    auth.login("wang", "inspector")
    clock.shift(timedelta(minutes=481))
    assert not logged_in(client)
    with store_of(app).engine.connect() as conn:
        reasons = conn.execute(select(accounts.session_t.c.end_reason).order_by(accounts.session_t.c.id)).scalars()
        assert list(reasons) == ["expired", "expired"]


# CSRF -------------------------------------------------------------------------------------


def test_the_csrf_token_changes_at_login(client, auth):
    before = csrf(client, "/login")
    auth.login("wang", "inspector")
    after = csrf(client, "/password")
    assert before != after
    # the token of before the login is worth nothing after it
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert logged_in(client)
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302
    assert not logged_in(client)


# throttle and audit ---------------------------------------------------------------------


def test_the_sixth_wrong_password_is_refused_and_so_is_the_right_one_until_the_window_passes(app, client, auth,
                                                                                             clock):
    password = auth.account("wang", "inspector")
    for _ in range(5):
        assert try_login(client, "wang", "guess", ATTACKER).status_code == 401
    response = try_login(client, "wang", "guess", ATTACKER)
    assert response.status_code == 429
    assert "登录失败次数过多，请 15 分钟后再试" in response.get_data(as_text=True)
    assert try_login(client, "wang", password, ATTACKER).status_code == 429
    clock.shift(timedelta(minutes=14))
    response = try_login(client, "wang", password, ATTACKER)
    assert response.status_code == 429 and "请 1 分钟后再试" in response.get_data(as_text=True)
    clock.shift(timedelta(minutes=1, seconds=30))
    assert try_login(client, "wang", password, ATTACKER).status_code == 302
    outcomes = [a["outcome"] for a in accounts.attempts(store_of(app), "wang")]
    assert outcomes == ["wrong"] * 5 + ["throttled"] * 3 + ["ok"]


def test_a_colleague_failing_on_purpose_locks_neither_the_account_elsewhere_nor_other_accounts(app, auth, clock):
    password = auth.account("wang", "inspector")
    li = auth.account("li", "reviewer")
    assert try_login(app.test_client(), "wang", password, HOME).status_code == 302
    attacker = app.test_client()
    for _ in range(30):
        try_login(attacker, "wang", "guess", ATTACKER)
    assert try_login(attacker, "wang", password, ATTACKER).status_code == 429
    assert try_login(app.test_client(), "wang", password, HOME).status_code == 302
    assert try_login(app.test_client(), "wang", password, "10.0.7.1").status_code == 302  # 5 counted, not 20
    assert try_login(attacker, "li", li, ATTACKER).status_code == 302
    clock.shift(timedelta(minutes=15))
    assert try_login(attacker, "wang", password, ATTACKER).status_code == 302


def test_failures_from_the_accounts_own_address_hold_it_there_for_one_window_at_most(app, auth, clock):
    password = auth.account("wang", "inspector")
    assert try_login(app.test_client(), "wang", password, HOME).status_code == 302
    for _ in range(8):  # a colleague at the same machine (or behind the same NAT)
        try_login(app.test_client(), "wang", "guess", HOME)
    assert try_login(app.test_client(), "wang", password, HOME).status_code == 429
    clock.shift(timedelta(minutes=15))
    assert try_login(app.test_client(), "wang", password, HOME).status_code == 302


def test_the_account_from_its_own_address_is_not_slowed_by_failures_elsewhere(app, auth):
    password = auth.account("wang", "inspector")
    assert try_login(app.test_client(), "wang", password, HOME).status_code == 302
    attacker = app.test_client()
    for n in range(22):
        try_login(attacker, "wang", "guess", f"10.0.8.{n}")
    assert try_login(app.test_client(), "wang", password, "10.0.7.1").status_code == 429  # unknown: slowed
    assert try_login(app.test_client(), "wang", password, HOME).status_code == 302     # its own: not


def test_one_address_trying_many_names_waits_for_accounts_it_never_logged_in_to(db_url, tmp_path):
    from gisgrid.web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False,
                      "LOGIN_FAILURES_PER_ADDRESS": 6})
    try:
        password = web_auth.add_account(store_of(app), "li", "reviewer")
        own = web_auth.add_account(store_of(app), "zhao", "reviewer")
        assert try_login(app.test_client(), "zhao", own, ATTACKER).status_code == 302
        client = app.test_client()
        for n in range(6):
            assert try_login(client, f"name{n}", "guess", ATTACKER).status_code == 401
        assert try_login(client, "li", password, ATTACKER).status_code == 429
        assert try_login(client, "zhao", own, ATTACKER).status_code == 302  # it logged in from here before
        assert try_login(client, "li", password, HOME).status_code == 302
    finally:
        store_of(app).dispose()


def test_failed_and_successful_logins_are_audited(app, client, auth):
    password = auth.account("wang", "inspector")
    try_login(client, "wang", "nope", "10.0.0.7")
    try_login(client, "ghost", "nope", "10.0.0.7")
    try_login(client, "wang", password, "10.0.0.8")
    rows = accounts.attempts(store_of(app))
    wang = store_of(app).user(name="wang")["id"]
    assert [(r["name"], r["account_id"], r["address"], r["outcome"]) for r in rows] == [
        ("wang", wang, "10.0.0.7", "wrong"), ("ghost", None, "10.0.0.7", "wrong"), ("wang", wang, "10.0.0.8", "ok")]
    assert all(r["attempted_at"] is not None and r["user_agent"] for r in rows)


def test_an_unknown_name_costs_the_same_password_hash_as_a_wrong_password(app, client, auth, monkeypatch):
    """No timing: the hash function itself is counted (the real one, called through)."""
    auth.account("wang", "inspector")
    account_work._dummy_hash()  # made once per process, before counting
    calls = []
    real = hashlib.scrypt

    def counted(*args, **kwargs):
        calls.append((kwargs["n"], kwargs["r"], kwargs["p"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    assert try_login(client, "wang", "nope").status_code == 401
    assert try_login(client, "ghost", "nope").status_code == 401
    assert len(calls) == 2 and calls[0] == calls[1]
    assert "用户名或密码错误" in try_login(client, "ghost", "nope").get_data(as_text=True)


def test_the_migration_creates_exactly_the_session_tables_of_the_schema(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gisgrid.storage.schema import Base

    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in differences if re.search(r"user_session|login_attempt", str(d))]
    assert ours == []
    tables = {t for t in Base.metadata.tables}
    assert {"user_session", "login_attempt"} <= tables


def test_behind_a_trusted_proxy_the_throttle_and_the_audit_see_the_clients_address(db_url, tmp_path):
    from gisgrid.web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False, "TRUSTED_PROXIES": 1})
    try:
        web_auth.add_account(store_of(app), "wang", "inspector")
        client = app.test_client()
        client.post("/login", data={"name": "wang", "password": "nope", "csrf_token": csrf(client)},
                    headers={"X-Forwarded-For": "10.1.2.3"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert [a["address"] for a in accounts.attempts(store_of(app))] == ["10.1.2.3"]
    finally:
        store_of(app).dispose()
