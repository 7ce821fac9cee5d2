"""nox sessions: `nox` runs tests (on every Python from 3.10 to 3.13 found), lint and
typecheck; `nox -s tests-3.12` runs the tests on one; `nox -s bench` runs the benchmarks;
`nox -s mutate` runs mutation testing (mutmut), one module at a time (MUTATION_TARGETS)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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


#: The modules under mutation testing and the test files that must kill their mutants. Each
#: module runs alone in its own copy (mutants/<module>/) with only its tests selected, so a
#: mutant costs seconds, not a run of the emulator suites.
MUTATION_TARGETS: dict[str, tuple[str, ...]] = {
    "sigv4": ("tests/test_sigv4.py",),
    "auth": ("tests/test_auth.py",),
    "cache": ("tests/test_cache.py",),
    "transport": ("tests/test_transport_unit.py", "tests/test_transport_exact.py"),
    "drafts": ("tests/test_drafts.py",),
    "polling": (
        "tests/test_polling.py",
        "tests/test_polling_schedule.py",
        "tests/test_polling_groups.py",
        "tests/test_polling_contention.py",
        "tests/test_waiting.py",
    ),
    "slots": ("tests/test_perf_units.py", "tests/test_transport_exact.py"),
    "waiting": ("tests/test_waiting.py",),
    "tasks": ("tests/test_waiting.py", "tests/test_generation.py", "tests/test_results.py"),
    "sources": ("tests/test_sources.py", "tests/test_upload.py", "tests/test_hardening.py"),
    "headers": ("tests/test_perf_units.py", "tests/test_transport_exact.py"),
}


@nox.session(python=PYTHON)
def mutate(session: nox.Session) -> None:
    """Mutation testing with mutmut, one module at a time: `nox -s mutate -- sigv4 auth`.

    CPU heavy (2 workers); without arguments every module of MUTATION_TARGETS runs, in turn.
    Prints killed/survived per module; `cd mutants/<module> && mutmut show <name>` goes further.
    """
    session.install("-e", ".[dev]", "mutmut>=3.3,<4")
    modules = session.posargs or list(MUTATION_TARGETS)
    unknown = sorted(set(modules) - set(MUTATION_TARGETS))
    if unknown:
        session.error(f"no mutation target {unknown}; choose from {sorted(MUTATION_TARGETS)}")
    for module in modules:
        workdir = prepare_mutation_copy(Path.cwd(), module)
        with session.chdir(workdir):
            session.run("mutmut", "run", "--max-children", "2", success_codes=[0, 1])
            listing = session.run("mutmut", "results", "--all", "true", silent=True) or ""
        for name, counts in sorted(_mutants_per_module(str(listing)).items()):
            session.log(f"{name}: {_summary(counts)}")


def prepare_mutation_copy(root: Path, module: str) -> Path:
    """mutants/<module>/: the package, tests and README, with a pyproject whose [tool.mutmut]
    mutates only `module` and selects only its test files (mutmut reads ./pyproject.toml)."""
    workdir = root / "mutants" / module
    for name in ("jimeng_async", "tests"):
        shutil.rmtree(workdir / name, ignore_errors=True)
        shutil.copytree(root / name, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(root / "README.md", workdir / "README.md")
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    head, sep, rest = text.partition("\n[tool.mutmut]\n")
    tail = rest[rest.index("\n[") :] if sep and "\n[" in rest else ""
    tests = ", ".join(f'"{t}"' for t in MUTATION_TARGETS[module])
    section = (
        "\n[tool.mutmut]\n"
        'source_paths = ["jimeng_async"]\n'
        f'only_mutate = ["jimeng_async/{module}.py"]\n'
        f"pytest_add_cli_args_test_selection = [{tests}]\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
        'also_copy = ["README.md"]\n'
    )
    (workdir / "pyproject.toml").write_text(head + section + tail, encoding="utf-8")
    return workdir


def _summary(counts: dict[str, int]) -> str:
    killed, survived = counts.get("killed", 0), counts.get("survived", 0)
    rest = {k: v for k, v in counts.items() if k not in ("killed", "survived")}
    return f"killed {killed}, survived {survived}, other {rest}"


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
