"""Every internal link of the documentation resolves, without MkDocs (`make docs` checks the same
while building the site): in README.md, CHANGELOG.md, the package README and docs/*.md, each
relative link names a file of the repository, and each anchor a heading of its target, as GitHub
and MkDocs both spell it. The README stays short, and every docs page is in the site's navigation.
"""

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
DOCUMENTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "auth0_jwt" / "README.md", *PAGES]
FENCE = re.compile(r"^( *)(```|~~~).*?^\1\2\s*$", re.S | re.M)
CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6}) +(.+?) *#*$", re.M)
# pymdownx.snippets: a page made of a repository file (CHANGELOG.md, auth0_jwt/README.md).
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.M)
README_LIMIT = 10 * 1024


def prose(text: str) -> str:
    """The Markdown outside fenced code blocks and code spans."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def rendered(path: Path) -> str:
    """The page's Markdown with its snippets included, as MkDocs renders it."""
    return SNIPPET.sub(lambda match: (ROOT / match.group(1)).read_text(), path.read_text())


def github_slug(heading: str) -> str:
    text = re.sub(r"[`*_]|\[([^]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def mkdocs_slug(heading: str) -> str:
    """Python-Markdown's toc slugify, over the heading's text."""
    text = re.sub(r"`|\*|\[([^]]*)\]\([^)]*\)", r"\1", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path, slug) -> set[str]:
    found: set[str] = set()
    for _level, heading in HEADING.findall(FENCE.sub("", rendered(path))):
        name = slug(heading)
        suffix = 0
        while name in found:  # a repeated heading gets a numbered anchor
            suffix += 1
            name = f"{slug(heading)}{'-' if slug is github_slug else '_'}{suffix}"
        found.add(name)
    return found


def internal_links(path: Path):
    for target in LINK.findall(prose(path.read_text())):
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            yield target


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_internal_link_and_anchor_resolves(document):
    broken = []
    for target in internal_links(document):
        location, _, anchor = target.partition("#")
        file = (document.parent / location).resolve() if location else document
        if not file.exists():
            broken.append(f"{target}: no such file")
            continue
        if document.parent == DOCS and not file.is_relative_to(DOCS):
            broken.append(f"{target}: the site has only docs/ (include the file as a snippet)")
        if anchor:
            for slug in (github_slug, mkdocs_slug):
                if anchor not in anchors(file, slug):
                    broken.append(f"{target}: no heading with the anchor #{anchor}")
                    break
    assert broken == []


def test_the_link_check_finds_a_broken_anchor_and_a_missing_file(tmp_path):
    page = DOCS / "dpop.md"
    assert "dpop-sender-constrained-tokens" in anchors(page, github_slug)
    assert "dpop-sender-constrained-tokens" in anchors(page, mkdocs_slug)
    assert "no-such-heading" not in anchors(page, mkdocs_slug)
    assert list(internal_links(DOCS / "index.md"))  # the check sees the links it must check
    assert "nope.md" in list(
        LINK.findall(prose("see [x](nope.md), not `[y](code.md)`\n```\n[z](fenced.md)\n```\n"))
    )


def test_headings_slug_as_github_and_mkdocs_spell_them():
    assert github_slug("DPoP (sender-constrained tokens)") == "dpop-sender-constrained-tokens"
    assert mkdocs_slug("The `AUTH0` setting") == "the-auth0-setting"
    assert github_slug("The `AUTH0` setting") == "the-auth0-setting"


def test_every_docs_page_is_in_the_sites_navigation():
    navigation = set(re.findall(r":\s+([\w-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M))
    assert navigation == {page.name for page in PAGES}


def test_the_snippet_pages_include_files_that_exist():
    included = [name for page in PAGES for name in SNIPPET.findall(page.read_text())]
    assert sorted(included) == ["CHANGELOG.md", "auth0_jwt/README.md"]


def test_the_readme_is_short_and_links_into_the_docs():
    readme = ROOT / "README.md"
    assert readme.stat().st_size < README_LIMIT
    linked = {target.partition("#")[0] for target in internal_links(readme)}
    assert {"docs/index.md", "docs/getting-started.md", "docs/configuration.md"} <= linked
