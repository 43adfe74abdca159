"""The login page in a tablet browser: Chinese by default, nothing fetched from elsewhere."""

from gisgrid.web.auth import add_account


def test_login_on_a_tablet_in_chinese_with_no_offsite_request(tablet):
    password = add_account(tablet.server.store, "liu", "inspector")
    tablet.page.goto(tablet.server.url + "/login")
    assert tablet.page.locator("h1").inner_text() == "登录"
    button = tablet.page.locator("main button[type=submit]").bounding_box()
    assert button["height"] >= 48  # a thumb-sized target
    tablet.login("liu", password)
    assert "liu" in tablet.page.locator(".who").inner_text()
    assert tablet.offsite() == []


def test_wrong_password_shows_the_message_and_keeps_the_name(tablet):
    add_account(tablet.server.store, "chen", "inspector")
    tablet.login("chen", "wrong")
    assert "用户名或密码错误" in tablet.page.locator(".notice.bad").inner_text()
    assert tablet.page.input_value("input[name=name]") == "chen"
