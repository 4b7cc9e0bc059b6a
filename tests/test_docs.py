"""The project's own documents are the ones its code cites, and every citation leads somewhere.

Comments, docstrings, templates and tests cite sections as ``docs/<name>.md §N`` (``docs/science.md §3.2``).
A citation of a section that does not exist, a document outside the repository, or an issue number (which
says nothing to a reader without the tracker) would send the reader nowhere, so each is a failure here,
naming the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SKIPPED_DIRS = {".git", ".venv", "var", "staticfiles", "node_modules", "__pycache__", ".mypy_cache"}
SCANNED_SUFFIXES = {".py", ".html", ".txt", ".md", ".toml", ".in", ".js", ".css"}
CITATION = re.compile(r"docs/([a-z0-9_]+)\.md §(\d+(?:\.\d+)*)")
HEADING = re.compile(r"^#+ §(\d+(?:\.\d+)*)\s")
# A section number not preceded by a document's name refers to the document it stands in.
BARE_SECTION = re.compile(r"(?<!\.md )§(\d+(?:\.\d+)*)")
# The notes the documents replaced, which are not in the repository (spelled apart so this file passes).
OUTSIDE_NOTES = ("SCIENCE" + ".md", "DESIGN" + ".md")
ISSUE_NUMBER = re.compile(r"\bissues? \d+", re.IGNORECASE)


def scanned_files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRS for part in relative.parts[:-1]):
            continue
        if path.is_file() and (path.suffix in SCANNED_SUFFIXES or path.name == "Makefile"):
            yield path


def lines_of(path: Path) -> Iterator[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return
    yield from enumerate(text.splitlines(), start=1)


def sections(document: Path) -> set[str]:
    return {match.group(1) for _, line in lines_of(document) if (match := HEADING.match(line))}


def where(path: Path, number: int) -> str:
    return f"{path.relative_to(ROOT)}:{number}"


def test_every_cited_section_is_a_heading_of_its_document() -> None:
    known: dict[str, set[str]] = {}
    broken = []
    for path in scanned_files():
        for number, line in lines_of(path):
            for name, section in CITATION.findall(line):
                document = DOCS / f"{name}.md"
                if name not in known:
                    known[name] = sections(document) if document.exists() else set()
                if not document.exists():
                    broken.append(f"{where(path, number)}: docs/{name}.md does not exist")
                elif section not in known[name]:
                    broken.append(f"{where(path, number)}: docs/{name}.md has no heading §{section}")
    assert not broken, "\n".join(broken)


def test_a_document_s_own_section_numbers_exist() -> None:
    broken = []
    for document in sorted(DOCS.glob("*.md")):
        own = sections(document)
        for number, line in lines_of(document):
            for section in BARE_SECTION.findall(line):
                if section not in own:
                    broken.append(f"{where(document, number)}: §{section} is not a heading of this document")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("note", OUTSIDE_NOTES)
def test_nothing_cites_notes_outside_the_repository(note: str) -> None:
    found = [
        where(path, number) for path in scanned_files() for number, line in lines_of(path) if note in line
    ]
    assert not found, f"{note} is not part of the repository; cite docs/ instead: " + ", ".join(found)


def test_code_and_templates_name_no_issue_numbers() -> None:
    found = [
        f"{where(path, number)}: {line.strip()}"
        for path in scanned_files()
        if path.suffix in {".py", ".html", ".txt", ".js"} and path != Path(__file__).resolve()
        for number, line in lines_of(path)
        if ISSUE_NUMBER.search(line)
    ]
    assert not found, "say why, not which issue:\n" + "\n".join(found)


def test_the_numbered_documents_exist() -> None:
    for name in ("science", "operations", "anonymity"):
        assert sections(DOCS / f"{name}.md"), f"docs/{name}.md has no numbered sections"


def test_operations_names_every_variable_the_settings_read() -> None:
    settings_source = "\n".join(
        (ROOT / "config" / name).read_text(encoding="utf-8") for name in ("settings.py", "email.py")
    )
    read = set(re.findall(r'\b(?:env_\w+|require)\(\s*"([A-Z][A-Z0-9_]*)"', settings_source))
    assert "SECRET_KEY" in read, "the settings' readers were renamed; update this test"
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", (DOCS / "operations.md").read_text(encoding="utf-8")))
    assert not read - documented, f"docs/operations.md §3 does not describe {sorted(read - documented)}"
