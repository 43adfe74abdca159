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


def test_changing_the_password_on_the_tablet_logs_the_desk_out(tablet, chromium, live_server):
    old = add_account(tablet.server.store, "zhou", "reviewer")
    desk = type(tablet)(chromium, live_server)  # a second device: the office desk
    try:
        desk.login("zhou", old)
        tablet.login("zhou", old)
        tablet.page.click("header a[href='/password']")
        tablet.page.fill("input[name=old]", old)
        tablet.page.fill("input[name=new]", "street-tablet-2026")
        tablet.page.fill("input[name=again]", "street-tablet-2026")
        tablet.page.click("main button[type=submit]")
        assert "其他会话已结束" in tablet.page.locator(".notice.good").inner_text()
        desk.page.goto(live_server.url + "/")
        desk.page.wait_for_url("**/login**")
        assert desk.page.locator("h1").inner_text() == "登录"
        tablet.page.goto(live_server.url + "/")
        assert "zhou" in tablet.page.locator(".who").inner_text()
    finally:
        desk.close()


def test_a_throttled_login_says_how_long_to_wait(tablet):
    password = add_account(tablet.server.store, "wu", "inspector")
    for _ in range(5):
        tablet.login("wu", "wrong")
    tablet.login("wu", password)
    assert "登录失败次数过多，请 15 分钟后再试" in tablet.page.locator(".notice.bad").inner_text()
    assert tablet.page.input_value("input[name=name]") == "wu"
