"""The built wheel: one import package, and a working ``newswire`` outside any checkout.

The wheel is installed without dependencies into a fresh virtual environment that sees the
locked dependencies of the project's own environment through a ``.pth`` line (a plain path:
the editable install's finder there is not activated), so every ``newswire`` module comes from
the wheel and nothing from the repository.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests import avro_files, golden
from tests.conftest import ROOT, SEED

pytestmark = pytest.mark.e2e

PACKAGE_SOURCES = ("pyproject.toml", "README.md", "pipelines", "connectors", "schemas", "bench", "seeds")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of what the distribution is made of, so the build leaves nothing in the checkout."""
    source = tmp_path_factory.mktemp("source")
    for name in PACKAGE_SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(folder), str(source)], check=True, capture_output=True, timeout=300)
    [built] = folder.glob("newswire-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh environment with the wheel installed, and a process environment with no NEWSWIRE_* set."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "locked-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env["PATH"] = f"{home / 'bin'}{os.pathsep}{env['PATH']}"
    return home, env


def test_the_wheel_installs_newswire_only(wheel):
    with zipfile.ZipFile(wheel) as archive:
        [top_level] = [n for n in archive.namelist() if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["newswire"]
        names = archive.namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"newswire"}
    assert "newswire/schemas/newswire.Article.avsc" in names
    assert f"newswire/seeds/{SEED.name}" in names


def test_installed_newswire_runs_and_benches_outside_the_checkout(installed, tmp_path):
    home, env = installed
    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(SEED, work / "feed.txt")
    imported = "import newswire.pipelines.cli as cli; print(cli.__file__)"
    where = subprocess.run([str(home / "bin" / "python"), "-c", imported], cwd=work, env=env,
                           check=True, capture_output=True, text=True).stdout
    assert where.startswith(str(home)), where
    run = subprocess.run(["newswire", "run", "--input", "feed.txt", "--output", "out"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert "records in = written + duplicates + dead letters: 4 = 4 + 0 + 0 (balanced)" in run.stdout
    assert sorted(r["headline"] for r in avro_files.read_fastavro(work / "out", "articles")) == \
        sorted(r["headline"] for r in golden.load(SEED.name))
    bench = subprocess.run(["newswire", "bench", "--articles", "50"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=900, check=False)
    assert bench.returncode == 0, bench.stderr
    assert '"articles": 50' in bench.stdout.strip().splitlines()[-1]


def test_installed_newswire_names_what_to_set_for_the_checkouts_scripts(installed, tmp_path):
    _, env = installed
    flink = subprocess.run(["newswire", "run", "--runner", "FlinkRunner", "--input", str(SEED),
                            "--output", str(tmp_path)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert flink.returncode != 0
    assert "NEWSWIRE_FLINK_JOB_SERVER_SCRIPT" in flink.stderr
