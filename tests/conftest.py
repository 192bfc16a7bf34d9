"""Shared fixtures: small crops of scikit-image's bundled photos (always there), the shared data
folder (``RESTORA_DATA``, default ``<repo>/../shared/data``; tests needing it skip when absent),
and a runner for the command line."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from skimage import data as skdata

REPO = Path(__file__).resolve().parents[1]
# exported ONNX graphs (restora.zoo.onnx) go to a folder of this test session, not the user's cache
os.environ.setdefault("RESTORA_CACHE", tempfile.mkdtemp(prefix="restora-cache-"))


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


def shared_data() -> Path:
    """The shared data folder: ``$RESTORA_DATA``, default ``<repo>/../shared/data`` (may be absent)."""
    return Path(os.environ.get("RESTORA_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data()
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



@pytest.fixture
def temp_zoo(tmp_path: Path, monkeypatch):
    """temp_zoo(entries) -> folder: a model zoo holding only ``entries`` becomes the active zoo
    (``RESTORA_ZOO``) for the test, so the learned methods come from it alone. Each entry is a
    models.json dict (name, task, method, file, arch, channels, scale, priority, ...) plus ``net``
    (the module saved with restora.zoo.save_weights) and ``kwargs`` (its build arguments)."""
    import json

    import restora.zoo as zoo

    def make(entries: list[dict]) -> Path:
        root = tmp_path / "zoo"
        (root / "weights").mkdir(parents=True)
        index = []
        for entry in entries:
            entry = dict(entry)
            zoo.save_weights(entry.pop("net"), root / "weights" / entry["file"], entry["arch"], entry.pop("kwargs"))
            index.append(entry)
        (root / "models.json").write_text(json.dumps(index))
        monkeypatch.setenv("RESTORA_ZOO", str(root))
        return root

    return make


@pytest.fixture
def extra_method():
    """extra_method(cls): register a restorer class for the test only."""
    from restora.methods import register, unregister

    added = []
    yield lambda cls: added.append(register(cls))
    for cls in added:
        unregister(cls)


def tiny_sr_entries(method: str = "tiny-sr", priority: int = 10) -> list[dict]:
    """temp_zoo entries: an x2, x3 and x4 compact-sr (width 8, one block) whose detail layer is
    random (seeded), so it differs from its bicubic base."""
    from restora.nets import build_net

    entries = []
    for scale in (2, 3, 4):
        kwargs = {"scale": scale, "channels": 1, "width": 8, "blocks": 1}
        torch.manual_seed(scale)
        net = build_net("compact-sr", **kwargs)
        torch.nn.init.normal_(net.up[0].weight, std=0.02)
        entries.append({"name": f"{method}-x{scale}", "task": "upscale", "method": method,
                        "file": f"{method}-x{scale}.safetensors", "card": f"{method}-x{scale}.md",
                        "arch": "compact-sr", "channels": 1, "scale": scale, "priority": priority,
                        "summary": "tiny test model", "net": net, "kwargs": kwargs})
    return entries


@pytest.fixture
def tiny_sr(temp_zoo) -> str:
    """A temporary zoo whose only learned method is the upscaler 'tiny-sr' (tiny_sr_entries)."""
    temp_zoo(tiny_sr_entries())
    return "tiny-sr"


def interrupt_then_resume(recipe: dict, out: Path, at_step: int):
    """Train ``recipe`` into ``out`` until a Ctrl-C (KeyboardInterrupt) arrives at ``at_step``, check
    the engine reports the saved checkpoint, and return the Trainer resumed from it (not yet run)."""
    from restora.errors import RestoraError
    from restora.train import Trainer

    trainer = Trainer(recipe, out, progress=False)
    real_step = trainer.objective.train_step

    def step_then_stop(gen):
        if trainer.step == at_step:
            raise KeyboardInterrupt
        return real_step(gen)
    trainer.objective.train_step = step_then_stop
    with pytest.raises(RestoraError, match=f"interrupted at step {at_step}"):
        trainer.run()
    return Trainer(recipe, out, resume=True, progress=False)
