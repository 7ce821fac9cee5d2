"""nox sessions: `nox` runs tests, lint and typecheck; `nox -s bench` runs the benchmarks."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PYTHON = None  # the interpreter nox runs under: CI and new users need only one Python


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite against the emulator on loopback."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff==0.17.6")  # pinned with the dev extra: new rules land on purpose
    session.run("ruff", "check", "jimeng_async", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "jimeng_async", "tests", "benchmarks", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "jimeng_async")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmarks in benchmarks/, against the emulator; figures go to benchmarks/RESULTS.md."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "benchmarks", *session.posargs)
