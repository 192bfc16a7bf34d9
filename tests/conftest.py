"""Shared fixtures: small crops of scikit-image's bundled photos (always there), the shared data
folder (``RESTORA_DATA``, default ``<repo>/../shared/data``; tests needing it skip when absent),
and a runner for the command line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from skimage import data as skdata

REPO = Path(__file__).resolve().parents[1]


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W) or (H, W, 3) uint8 -> (C, H, W) float32 in [0, 1]."""
    t = torch.from_numpy(array).float() / 255
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


@pytest.fixture(scope="session")
def camera() -> torch.Tensor:
    """Gray (1, 96, 96) crop of the cameraman (face and tripod)."""
    return to_tensor(skdata.camera()[60:156, 200:296])


@pytest.fixture(scope="session")
def astronaut() -> torch.Tensor:
    """Colour (3, 96, 96) crop of the astronaut (face)."""
    return to_tensor(skdata.astronaut()[30:126, 170:266])


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("RESTORA_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} absent (set RESTORA_DATA)")
    return path


@pytest.fixture(scope="session")
def set5(data_dir: Path) -> Path:
    path = data_dir / "sr" / "set5"
    if not (path / "image_SRF_2").is_dir():
        pytest.skip(f"{path} absent")
    return path


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """A small tree of real photos: photos/astronaut.png (RGB 48x64), photos/sub/camera.png (gray 40x40)."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    PILImage.fromarray(skdata.astronaut()[40:136:2, 160:288:2]).save(root / "astronaut.png")
    PILImage.fromarray(skdata.camera()[80:160:2, 220:300:2]).save(root / "sub" / "camera.png")
    return root


def _command() -> list[str]:
    """The installed console script when there is one, else ``python -m restora``."""
    script = Path(sys.executable).with_name("restora")
    return [str(script)] if script.exists() else [sys.executable, "-m", "restora"]


@pytest.fixture
def cli(tmp_path: Path):
    """cli(*args, module=False) -> CompletedProcess, run in tmp_path through the entry point."""
    def run(*args: str, module: bool = False) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "restora"] if module else _command()
        return subprocess.run(command + [str(a) for a in args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "COLUMNS": "200"})
    return run


@pytest.fixture
def cli_inline(tmp_path: Path, capsys, monkeypatch):
    """Like ``cli`` but in this process (fast): returns CompletedProcess-like results from ``main``."""
    from restora.cli.main import main

    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess:
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in args])
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, exit_info.value.code, captured.out, captured.err)
    return run


def read_u8(path: Path) -> np.ndarray:
    with PILImage.open(path) as im:
        return np.asarray(im).copy()

