"""nox sessions: `nox` runs tests (on every Python from 3.10 to 3.13 found), lint and
typecheck; `nox -s tests-3.12` runs the tests on one; `nox -s bench` runs the benchmarks;
`nox -s mutate` runs mutation testing (mutmut) over the modules listed in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PYTHON = None  # the interpreter nox runs under: CI and new users need only one Python
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")


def _runs(version: str) -> bool:
    """Whether `pythonX.Y` is on PATH and starts (a pyenv shim for a missing one does not)."""
    found = shutil.which(f"python{version}")
    if found is None:
        return False
    done = subprocess.run([found, "-c", "pass"], capture_output=True, check=False)  # noqa: S603
    return done.returncode == 0


#: The supported Pythons installed here; with none of them, the one nox runs under, so that
#: `nox` always runs the tests somewhere.
TEST_PYTHONS = [v for v in SUPPORTED if _runs(v)] or [PYTHON]


@nox.session(python=TEST_PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite against the emulator on loopback."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff==0.17.6")  # pinned with the dev extra: new rules land on purpose
    paths = ("jimeng_async", "tests", "benchmarks", "examples", "noxfile.py")
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and the tests (tests/test_typing.py guards the public
    signatures with assert_type)."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "jimeng_async", "tests")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmarks in benchmarks/, against the emulator; figures go to benchmarks/RESULTS.md."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=PYTHON)
def mutate(session: nox.Session) -> None:
    """Mutation testing with mutmut over `[tool.mutmut] only_mutate` in pyproject.toml.

    CPU heavy: run one module at a time, e.g. `nox -s mutate -- "jimeng_async.sigv4*"`
    (mutant names are fnmatch patterns); without arguments every listed module is mutated.
    Prints killed/survived per module; `mutmut results` and `mutmut show <name>` go further.
    """
    session.install("-e", ".[dev]", "mutmut>=3.3")
    patterns = session.posargs or []
    session.run("mutmut", "run", "--max-children", "2", *patterns, success_codes=[0, 1])
    listing = session.run("mutmut", "results", "--all", "true", silent=True) or ""
    for module, counts in sorted(_mutants_per_module(str(listing)).items()):
        killed, survived = counts.get("killed", 0), counts.get("survived", 0)
        rest = {k: v for k, v in counts.items() if k not in ("killed", "survived")}
        session.log(f"{module}: killed {killed}, survived {survived}, other {rest}")


def _mutants_per_module(listing: str) -> dict[str, dict[str, int]]:
    """Count `mutmut results --all true` lines ("pkg.module.x_f__mutmut_1: killed") by module."""
    counts: dict[str, dict[str, int]] = {}
    for line in listing.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if not sep or "__mutmut_" not in name:
            continue
        module = ".".join(name.split(".")[:2])
        per_status = counts.setdefault(module, {})
        per_status[status] = per_status.get(status, 0) + 1
    return counts
