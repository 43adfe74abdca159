"""Accounts in the web app: hashed passwords, login/logout, CSRF, roles, language."""

import re

import pytest

from gisgrid.storage import ROLES


def test_passwords_are_stored_hashed(app, auth):
    password = auth.account("zhang", "planner")
    row = app.extensions["gisgrid.storage"].user(name="zhang")
    assert password not in row["password_hash"]
    assert row["password_hash"].startswith(("scrypt:", "pbkdf2:"))


def test_login_and_logout(client, auth):
    assert client.get("/").headers["Location"].endswith("/login")
    response = auth.login("li", "reviewer")
    assert response.status_code == 302
    assert "li" in client.get("/", follow_redirects=True).get_data(as_text=True)
    auth.logout()
    assert client.get("/").headers["Location"].endswith("/login")


def test_wrong_password_is_refused_with_a_message(client, auth):
    auth.account("wang", "inspector")
    response = client.post("/login", data={"name": "wang", "password": "nope", "csrf_token": auth.csrf()})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_login_form_without_csrf_token_is_refused(client, auth):
    password = auth.account("zhao", "inspector")
    response = client.post("/login", data={"name": "zhao", "password": password})
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # nobody is logged in


def test_logout_needs_csrf(client, auth):
    auth.login()
    assert client.post("/logout", data={}).status_code == 400
    assert "inspector1" in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_open_redirect_is_not_followed(client, auth):
    password = auth.account("sun", "planner")
    response = client.post("/login?next=//evil.example/", data={"name": "sun", "password": password,
                                                               "csrf_token": auth.csrf()})
    assert response.headers["Location"] == "/"


def test_language_switch_is_kept_per_user(app, client, auth):
    auth.login("qian", "planner")
    assert "退出" in client.get("/", follow_redirects=True).get_data(as_text=True)
    client.post("/lang/en", data={"csrf_token": auth.csrf("/")})
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Log out" in page and "退出" not in page
    assert app.extensions["gisgrid.storage"].user(name="qian")["lang"] == "en"


def test_the_language_switch_stays_on_the_page(client, auth):
    """Pages send no Referer (Referrer-Policy: no-referrer): the switch carries the page's path,
    written into the form by the server, and goes back to it, query included."""
    auth.login("zhou", "inspector")
    page = client.get("/inspect/?month=2026-03").get_data(as_text=True)
    assert 'name="next" value="/inspect/?month=2026-03"' in page
    response = client.post("/lang/en", data={"csrf_token": auth.csrf("/"), "next": "/inspect/?month=2026-03"})
    assert response.status_code == 302 and response.headers["Location"] == "/inspect/?month=2026-03"
    assert "My roads this month" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/inspect/"' in client.get("/inspect/").get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "\\evil.example",
                                    "/\t/evil.example", "javascript:alert(1)", "evil.example", ""])
def test_the_language_switch_is_no_open_redirect(client, auth, target):
    auth.login("wu", "planner")
    response = client.post("/lang/zh", data={"csrf_token": auth.csrf("/"), "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_language_switch_needs_csrf(client, auth):
    auth.login("zheng", "planner")
    assert client.post("/lang/en", data={"next": "/plan/history"}).status_code == 400


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "/\t/evil.example"])
def test_the_login_is_no_open_redirect(client, auth, target):
    password = auth.account("feng", "planner")
    response = client.post("/login", query_string={"next": target},
                           data={"name": "feng", "password": password, "csrf_token": auth.csrf()})
    assert response.headers["Location"] == "/"


def test_session_cookie_is_secure_by_default(db_url, tmp_path):
    from gisgrid.web import create_app

    app = create_app({"DATABASE_URL": db_url, "INSTANCE_PATH": str(tmp_path / "i")})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert re.fullmatch(r"[0-9a-f]{64}", app.config["SECRET_KEY"])
    app.extensions["gisgrid.storage"].dispose()


@pytest.mark.parametrize("config, expected", [
    ({"TILES": "none"}, None),
    ({"TILES": "osm"}, "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
    ({"TILES": "tianditu"}, None),  # no key: no tiles rather than a broken layer
    ({"TILES": "tianditu", "TIANDITU_KEY": "k1"}, "tk=k1"),
    ({"TILES": "osm", "TILE_URL": "http://tiles.local/{z}/{x}/{y}.png"}, "http://tiles.local/{z}/{x}/{y}.png"),
])
def test_base_map_presets(config, expected):
    from gisgrid.web import tile_layer

    layer = tile_layer(config)
    if expected is None:
        assert layer is None
    else:
        assert expected in layer["url"]


def test_a_town_office_acts_with_its_towns(app):
    """The towns stored for an account reach the actor the use cases take."""
    from datetime import timedelta

    from gisgrid import clock
    from gisgrid.storage.accounts import session_account, start_session
    from gisgrid.web.auth import add_account

    store = app.extensions["gisgrid.storage"]
    add_account(store, "zhou", "town", "a-long-password")
    account = store.user(name="zhou")
    with store.begin() as conn:
        store.set_towns(conn, account["id"], ["沙北街道", " 城关镇 ", ""])
    token = start_session(store, account, "127.0.0.1", None, clock.now())
    found = session_account(store, token, clock.now(), timedelta(hours=1), timedelta(days=1))
    assert found["role"] == "town" and found["towns"] == ["城关镇", "沙北街道"]
