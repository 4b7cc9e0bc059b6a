"""The catalogue check (``manage.py pulse_catalogues --check``, run by ``make check``) fails on a marked
string without a translation, so the German catalogue cannot fall behind the code (docs/languages.md §6).

Each test runs the real command, with Django's real ``makemessages`` and GNU gettext, over a small source
tree of its own, and shows the project's own catalogue is left untouched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

pytestmark = pytest.mark.skipif(
    shutil.which("msgattrib") is None, reason="GNU gettext is not installed (make installs it)"
)

TRANSLATED = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

msgid "Send my answers"
msgstr "Antworten absenden"
"""


def _tree(tmp_path: Path, template: str, catalogue: str = TRANSLATED) -> tuple[Path, Path]:
    source = tmp_path / "src"
    (source / "templates").mkdir(parents=True)
    (source / "templates" / "page.html").write_text("{% load i18n %}" + template, encoding="utf-8")
    locale = tmp_path / "locale"
    (locale / "de" / "LC_MESSAGES").mkdir(parents=True)
    (locale / "de" / "LC_MESSAGES" / "django.po").write_text(catalogue, encoding="utf-8")
    return source, locale


def _check(source: Path, locale: Path) -> None:
    call_command("pulse_catalogues", "--check", "--source", str(source), "--locale-dir", str(locale))


def test_a_complete_catalogue_passes(tmp_path: Path) -> None:
    source, locale = _tree(tmp_path, '<button>{% translate "Send my answers" %}</button>')
    _check(source, locale)


def test_a_new_untranslated_string_fails_the_check_and_is_named(tmp_path: Path) -> None:
    source, locale = _tree(
        tmp_path,
        '<button>{% translate "Send my answers" %}</button><p>{% translate "A sentence added today" %}</p>',
    )
    before = (locale / "de" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    with pytest.raises(CommandError) as failure:
        _check(source, locale)
    assert "de: no translation: A sentence added today" in str(failure.value)
    assert "Send my answers" not in str(failure.value)
    # The check ran on a scratch copy: the catalogue itself is as it was.
    assert (locale / "de" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8") == before


def test_a_fuzzy_translation_fails_the_check(tmp_path: Path) -> None:
    fuzzy = TRANSLATED.replace('msgid "Send my answers"', '#, fuzzy\nmsgid "Send my answers"')
    source, locale = _tree(tmp_path, '{% translate "Send my answers" %}', fuzzy)
    with pytest.raises(CommandError, match="de: fuzzy \\(check it\\): Send my answers"):
        _check(source, locale)


def test_a_changed_string_fails_until_it_is_translated_again(tmp_path: Path) -> None:
    source, locale = _tree(tmp_path, '{% translate "Send my answer" %}')
    with pytest.raises(CommandError, match="Send my answer"):
        _check(source, locale)


def test_every_configured_language_but_the_source_language_is_checked(
    tmp_path: Path, settings: Settings
) -> None:
    settings.LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français")]
    source, locale = _tree(tmp_path, '{% translate "Send my answers" %}')
    with pytest.raises(CommandError) as failure:
        _check(source, locale)
    assert "fr: no translation: Send my answers" in str(failure.value)
    assert "de:" not in str(failure.value)


def test_the_project_keeps_one_catalogue_per_language_and_no_compiled_file_in_git() -> None:
    from django.conf import settings

    root = Path(settings.BASE_DIR)
    for code, _name in settings.LANGUAGES:
        if code != settings.LANGUAGE_CODE:
            assert (root / "locale" / code / "LC_MESSAGES" / "django.po").exists()
    assert "*.mo" in (root / ".gitignore").read_text(encoding="utf-8").splitlines()
