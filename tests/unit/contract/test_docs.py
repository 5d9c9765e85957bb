"""The channel teams' pages name every code and type the models know."""

from pathlib import Path

import pytest

from libs.contract.dlq import ErrorCode
from libs.contract.suppression import SuppressionReason
from libs.contract.vocabulary import EventType

DOCS = Path(__file__).resolve().parents[3] / "docs" / "contract"


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("page", ["interaction.md", "dead-letter.md"])
def test_error_code_tables_are_complete(page: str) -> None:
    text = _page(page)
    missing = [code.value for code in ErrorCode if f"| `{code.value}` |" not in text]
    assert not missing, f"{page} does not document {missing}"


def test_vocabulary_is_documented() -> None:
    text = _page("interaction.md")
    assert not [t.value for t in EventType if f"`{t.value}`" not in text]


def test_suppression_reasons_are_documented() -> None:
    text = _page("suppression.md")
    assert not [r.value for r in SuppressionReason if f"| `{r.value}` |" not in text]


def test_index_links_every_page() -> None:
    index = _page("README.md")
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"]({page.name})" in index
