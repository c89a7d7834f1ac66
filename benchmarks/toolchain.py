"""What the suite installs for itself, into a cache folder, before anything is timed: the
open-loop generator (Go, built from benchmarks/openloop with modules from the Go proxy) and
the kserve peer's Python environment.

Why kserve has an environment of its own rather than a dependency group in pyproject: kserve
0.21 requires starlette >= 1.3.1 (so fastapi >= 0.116) and MLServer 1.7.1 requires
fastapi < 0.116. `[tool.uv] conflicts` only separates extras or groups from each other, never
a group from the project's own dependencies (which every group is resolved and installed
with), so `uv lock` cannot solve a `bench` group holding kserve. The environment is still
locked: benchmarks/kserve_env/requirements.txt is compiled with hashes from requirements.in
(`uv pip compile --generate-hashes`), and `uv pip sync` installs exactly it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from core.errors import CalhousingError

HERE = Path(__file__).resolve().parent
OPENLOOP_SOURCE = HERE / "openloop"
KSERVE_REQUIREMENTS = HERE / "kserve_env" / "requirements.txt"
KSERVE_SERVER = HERE / "kserve_env" / "serve.py"
DEFAULT_CACHE = Path.home() / ".cache" / "calhousing" / "bench"


def _tool(name: str, hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise CalhousingError(f"{name} is not on PATH: {hint}")
    return found


def _run(argv: list[str], cwd: Path | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CalhousingError(f"`{' '.join(argv)}` failed:\n{done.stderr[-3000:]}")


def openloop_binary(cache: Path) -> Path:
    """Build (or reuse, through Go's build cache) the generator; go.sum pins its modules."""
    go = _tool("go", "install Go >= 1.26 (https://go.dev/dl/, or the golang Debian package)")
    binary, fresh = cache / "openloop", cache / f"openloop.{os.getpid()}"
    cache.mkdir(parents=True, exist_ok=True)
    _run([go, "build", "-mod=readonly", "-o", str(fresh), "."], cwd=OPENLOOP_SOURCE)
    # A rename, not a write in place: another run may be executing the previous binary.
    fresh.replace(binary)
    return binary


def kserve_python(cache: Path) -> Path:
    """The kserve peer's interpreter, its environment synced to the locked requirements."""
    uv = _tool("uv", "install uv (https://docs.astral.sh/uv/)")
    venv = cache / "kserve-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        # The interpreter this suite runs on, so no download is ever needed.
        _run([uv, "venv", "--python", sys.executable, str(venv)])
    _run([uv, "pip", "sync", "--python", str(python), "--require-hashes", str(KSERVE_REQUIREMENTS)])
    return python
