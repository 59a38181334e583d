"""The README's and the package docstring's examples run as written (doctest)."""

import doctest
from pathlib import Path

import symcnn

ROOT = Path(__file__).parent.parent


def test_readme_examples():
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0


def test_package_docstring():
    result = doctest.testmod(symcnn)
    assert result.attempted >= 2 and result.failed == 0


def test_readme_states_the_true_seed_memory():
    text = (ROOT / "README.md").read_text()
    assert "15,237,608" in text and "60,950,432 bytes" in text and "24M" in text
