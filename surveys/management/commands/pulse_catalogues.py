"""``manage.py pulse_catalogues``: keep the translation catalogues complete (docs/languages.md §6).

``--check`` (``make check``, and ``tests/surveys/test_catalogues.py``) runs ``makemessages`` over a scratch
copy of the sources and catalogues, so the working tree is left alone, and fails naming every marked
string that has an empty or fuzzy translation in any configured language. ``--update`` (``make messages``)
runs the same ``makemessages`` on the real catalogues, adding each new string with an empty translation for
a translator to fill in. Every language in ``settings.LANGUAGES`` but the source language (English) is
checked, so a third language is checked as soon as it is configured.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

# Where no user-facing string lives (the tests' strings are fixtures, not Pulse's texts).
IGNORED_DIRS = {
    ".git",
    ".venv",
    "var",
    "tests",
    "docs",
    "stubs",
    "staticfiles",
    "test-artifacts",
    "bench-out",
    "node_modules",
    "locale",
}
SOURCE_SUFFIXES = {".py", ".html", ".txt"}
MSGATTRIB = shutil.which("msgattrib") or ""
# Stable output: no file:line references (every edit of a template would otherwise change the catalogue),
# and strings no longer used are dropped, not kept commented out.
MAKEMESSAGES_OPTIONS: dict[str, Any] = {"no_location": True, "no_obsolete": True, "verbosity": 0}


def target_languages() -> list[str]:
    """Every configured language that needs a catalogue: all but the language the source is written in."""
    return [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def _copy_sources(source: Path, scratch: Path) -> None:
    for directory, subdirectories, files in os.walk(source):
        subdirectories[:] = [name for name in subdirectories if name not in IGNORED_DIRS]
        for name in files:
            path = Path(directory) / name
            if path.suffix in SOURCE_SUFFIXES:
                target = scratch / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)


def _msgattrib(po: Path, flag: str) -> list[str]:
    """The msgids of the entries GNU ``msgattrib`` selects with ``flag`` (``--untranslated``,
    ``--only-fuzzy``)."""
    output = subprocess.run(  # noqa: S603 - a fixed program and flags, on a file of our own
        [MSGATTRIB, flag, "--no-wrap", "--no-location", str(po)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [
        line.removeprefix("msgid ").strip('"')
        for line in output.splitlines()
        if line.startswith('msgid "') and line != 'msgid ""'
    ]


def catalogue_problems(*, source: Path, locale_dir: Path, languages: list[str]) -> list[str]:
    """Run makemessages over a copy of ``source`` and ``locale_dir``; every empty or fuzzy entry, named."""
    if not MSGATTRIB:
        raise CommandError("GNU gettext is not installed (apt-get install gettext); `make` installs it.")
    problems = []
    with tempfile.TemporaryDirectory(prefix="pulse-catalogues-") as scratch_name:
        scratch = Path(scratch_name)
        _copy_sources(source, scratch)
        for language in languages:
            po = locale_dir / language / "LC_MESSAGES" / "django.po"
            copy = scratch / "locale" / language / "LC_MESSAGES" / "django.po"
            copy.parent.mkdir(parents=True, exist_ok=True)
            if po.exists():
                shutil.copyfile(po, copy)
        with (
            override_settings(LOCALE_PATHS=[str(scratch / "locale")]),
            contextlib.chdir(scratch),
        ):
            call_command("makemessages", locale=languages, **MAKEMESSAGES_OPTIONS)
        for language in languages:
            copy = scratch / "locale" / language / "LC_MESSAGES" / "django.po"
            problems += [f"{language}: no translation: {text}" for text in _msgattrib(copy, "--untranslated")]
            problems += [f"{language}: fuzzy (check it): {text}" for text in _msgattrib(copy, "--only-fuzzy")]
    return problems


class Command(BaseCommand):
    help = "Check (--check) or update (--update) the translation catalogues under locale/."

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--check", action="store_true", help="fail on any empty or fuzzy translation")
        action.add_argument("--update", action="store_true", help="add new strings to the catalogues")
        parser.add_argument(
            "--source", type=Path, default=Path(settings.BASE_DIR), help="the sources (default: the project)"
        )
        parser.add_argument(
            "--locale-dir",
            type=Path,
            default=Path(settings.LOCALE_PATHS[0]),
            help="the catalogues (default: locale/)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        languages = target_languages()
        source: Path = options["source"].resolve()
        locale_dir: Path = options["locale_dir"].resolve()
        if options["update"]:
            for language in languages:
                (locale_dir / language / "LC_MESSAGES").mkdir(parents=True, exist_ok=True)
            with contextlib.chdir(source):
                call_command(
                    "makemessages",
                    locale=languages,
                    ignore_patterns=sorted(IGNORED_DIRS - {"locale"}),
                    **MAKEMESSAGES_OPTIONS,
                )
            self.stdout.write(f"Updated the catalogues of {', '.join(languages)} under {locale_dir}.")
            return
        problems = catalogue_problems(source=source, locale_dir=locale_dir, languages=languages)
        if problems:
            raise CommandError(
                f"{len(problems)} marked strings lack a translation; run `make messages`, translate them in "
                "locale/<language>/LC_MESSAGES/django.po (docs/languages.md), and clear any fuzzy flag:\n"
                + "\n".join(problems)
            )
        self.stdout.write(f"Catalogues complete: {', '.join(languages)}.")
