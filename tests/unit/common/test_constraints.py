"""constraints.txt pins every installed dependency exactly, and agrees with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[3]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;@]+)$")


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact name==version pin: {line!r}"
        pins[canonicalize_name(match["name"])] = match["version"]
    return pins


def test_every_line_is_an_exact_pin_without_an_address() -> None:
    text = (REPO / "constraints.txt").read_text()
    assert "://" not in text
    assert "@" not in text
    assert _constraints()


def test_the_direct_pins_of_pyproject_are_the_constraints_versions() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    direct = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = _constraints()
    for text in direct:
        requirement = Requirement(text)
        (specifier,) = requirement.specifier
        assert specifier.operator == "=="
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in constraints.txt: run make constraints"
        assert pins[name] == specifier.version, f"{requirement.name}: run make constraints"


def test_faust_and_mode_whose_internals_are_subclassed_are_pinned() -> None:
    pins = _constraints()
    assert {"faust-streaming", "mode-streaming", "aiokafka"} <= set(pins)


def test_the_venv_installed_exactly_the_constrained_versions() -> None:
    """bootstrap.sh installs with -c constraints.txt: a drift means someone
    changed a pin without `make constraints`."""
    pins = _constraints()
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in distributions()
        if canonicalize_name(dist.metadata["Name"]) in pins
    }
    assert installed == pins
