"""Chinese is the default UI language: every message id has a translation, and the compiled
catalogues are the ones the .po files make."""

from gisgrid import i18n


def test_every_message_is_translated_to_chinese():
    catalogues = {d: i18n.read_catalogue(d) for d in i18n.DOMAINS}
    translated = {m.id for c in catalogues.values() for m in c if m.id and m.string}
    assert sorted(i18n.message_ids() - translated) == []


def test_compiled_catalogues_are_up_to_date():
    for domain in i18n.DOMAINS:
        assert i18n.stale_messages(domain) == [], domain


def test_placeholders_survive_translation():
    import re

    for domain in i18n.DOMAINS:
        for message in i18n.read_catalogue(domain):
            if message.id and message.string:
                names = lambda text: sorted(re.findall(r"%\(\w+\)\w|\{\w+(?:!r)?\}", text))  # noqa: E731
                assert names(message.id) == names(message.string), message.id
