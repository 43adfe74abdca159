"""One settings object: every setting is documented in README's table and read from both the
instance folder's config.py and the GISGRID_* environment (the environment winning)."""

import re
from pathlib import Path

import pytest

from gisgrid import settings
from gisgrid.domain.rulebook import SHIPPED_DIR
from gisgrid.storage import Store

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
SAMPLES = {str: "other", float: 2.5, int: 12345, settings._bool: False, settings._text_or_none: "given"}
TEXT = {str: "other", float: "2.5", int: "12345", settings._bool: "false", settings._text_or_none: "given"}


def test_every_setting_is_in_the_readme_table():
    documented = set(re.findall(r"^\| `GISGRID_([A-Z0-9_]+)` \|", README, flags=re.M))
    assert documented == set(settings.BY_NAME)


@pytest.mark.parametrize("option", [o for o in settings.OPTIONS if o.name != "INSTANCE_PATH"], ids=lambda o: o.name)
def test_each_setting_is_read_from_config_py_and_the_environment(tmp_path, option):
    instance = tmp_path / "instance"
    instance.mkdir()
    value = SAMPLES[option.parse]
    (instance / "config.py").write_text(f"{option.name} = {value!r}\n", encoding="utf-8")
    environ = {"GISGRID_INSTANCE_PATH": str(instance)}
    assert settings.load(environ=environ)[option.name] == value != option.default
    from_env = settings.load(environ={**environ, f"GISGRID_{option.name}": TEXT[option.parse]})
    assert from_env[option.name] == option.parse(TEXT[option.parse])
    assert settings.load(environ={})[option.name] == option.default


def test_the_instance_path_comes_from_the_environment_or_the_caller(tmp_path):
    assert settings.load(environ={"GISGRID_INSTANCE_PATH": str(tmp_path)}).instance_path == tmp_path
    assert settings.load({"INSTANCE_PATH": str(tmp_path / "x")}, environ={}).instance_path == tmp_path / "x"


def test_a_bad_value_is_a_user_error_naming_it():
    with pytest.raises(settings.GisgridError, match="GISGRID_PLAN_VIEW_LIMIT"):
        settings.load(environ={"GISGRID_PLAN_VIEW_LIMIT": "many"})


def test_the_rulebook_dir_of_config_py_is_honoured(tmp_path):
    """README said it worked; the module read os.environ and ignored config.py."""
    own = tmp_path / "rulebooks"
    own.mkdir()
    shipped = (SHIPPED_DIR / "yancheng-2012.toml").read_text(encoding="utf-8")
    (own / "ours.toml").write_text(shipped.replace('id = "yancheng-2012"', 'id = "ours-2026"')
                                   .replace('effective_from = "2012-01"', 'effective_from = "2026-10"'),
                                   encoding="utf-8")
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(f"RULEBOOK_DIR = {str(own)!r}\nTIMEZONE = 'Asia/Urumqi'\n", encoding="utf-8")
    store = Store(str(tmp_path / "g.sqlite"), settings.load(environ={"GISGRID_INSTANCE_PATH": str(instance)}))
    store.migrate()
    try:
        assert [b.id for b in store.rulebooks()] == ["yancheng-2012", "ours-2026"]
        assert str(store.timezone()) == "Asia/Urumqi"
    finally:
        store.dispose()
