"""README stays true: its two commands come first, and every setting is documented."""

import re
from pathlib import Path

from gisgrid.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
CI = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_starts_with_the_run_and_test_commands():
    head = README.split("```sh", 1)[1].split("```", 1)[0].strip().splitlines()
    assert head[0].startswith("# run:") and head[2].startswith("# test:")
    assert "gisgrid" in head[1] and "pytest" in head[3]
    assert "'^# test:'" in CI  # .ci/run runs exactly that line


def test_every_command_is_documented():
    def commands(group, prefix=""):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from commands(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}"

    for command in commands(cli):
        assert re.search(rf"gisgrid (\[--db URL\] )?{command}\b", README), command
