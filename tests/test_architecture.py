"""The architecture as a whole: import layers and no cycles, inference without training code, the
registries' contracts (every network, every restorer), one mask reading for the CLI and the web."""
from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image as PILImage

from restora.io import read_image
from restora.methods import TASKS, get_method, list_methods
from restora.nets import NETS, build_net

SRC = Path(__file__).resolve().parents[1] / "src" / "restora"

# Lower layers never import higher ones (a package's modules may import each other).
LAYERS = [
    {"errors", "color", "dihedral", "registry", "reporting"},
    {"io"},
    {"degrade", "metrics"},
    {"nets", "protocols", "augment"},
    {"zoo", "faces"},
    {"methods", "generate", "classify", "features", "stylize"},
    {"train", "bench"},
    {"cli", "web", "demo", "__init__", "__main__"},
]
LAYER = {part: i for i, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path) -> str:
    parts = ("restora",) + path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The restora modules ``name`` imports anywhere in its file (lazy imports too; not the imports
    for type checkers only, under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(MODULES[name].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("restora")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("restora"):
            subs = {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
            found |= subs or {node.module}
    return found & set(MODULES)


def layer(name: str) -> int:
    parts = name.split(".")
    return LAYER["__init__" if len(parts) == 1 else parts[1]]


def test_every_module_has_a_layer_and_imports_none_above_it():
    upward = [(name, other) for name in MODULES for other in imports(name) if layer(other) > layer(name)]
    assert upward == []


def test_there_is_no_import_cycle():
    graph = {name: imports(name) for name in MODULES}
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in graph[name]:
            assert state.get(other) != 1, " -> ".join(path + [other])
            if other not in state:
                visit(other, path + [other])
        state[name] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_inference_loads_no_training_code():
    code = """
import sys
import restora
from restora.methods import TASKS, get_method
for task in TASKS:
    get_method(task)
from restora.web import create_app
create_app()
from restora.cli.main import main
try:
    main(["--help"])
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.startswith("restora.train"))
assert not loaded, loaded
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(NETS))
def test_every_network_builds_with_its_defaults_and_maps_shapes(name):
    net = build_net(name).eval()
    inputs, shape = net.example()
    with torch.no_grad():
        out = net(*inputs)
    out = out[0] if isinstance(out, tuple) else out
    assert tuple(out.shape) == shape and torch.isfinite(out).all()


EXAMPLE_INPUTS = {"denoise": {"sigma": 25}, "upscale": {"scale": 2}, "inpaint": {"mask": "center"},
                  "deblur": {"kernel": "gaussian:1"}, "dejpeg": {"quality": 30}, "restore": {"scale": 2}}
FAST_OPTIONS = {"gan-prior": {"iterations": 3, "starts": 2}}


def expected_size(task: str, x: torch.Tensor) -> tuple[int, int]:
    scale = EXAMPLE_INPUTS[task].get("scale", 1)
    return x.shape[1] * scale, x.shape[2] * scale


@pytest.mark.parametrize("method", [(m["task"], m["name"]) for m in list_methods()], ids="/".join)
def test_every_restorer_keeps_the_contract(method, camera, astronaut):
    """Values in [0, 1], the expected size, gray and colour, and the input never changed."""
    task, name = method
    assert set(EXAMPLE_INPUTS) == set(TASKS)  # a new task adds its example here
    restorer = get_method(task, name)
    for image in (camera[:, :64, :64], astronaut[:, :64, :64]):
        x = image.clone()
        inputs, _ = TASKS[task].resolve(EXAMPLE_INPUTS[task], x)
        out = restorer.restore(x, **inputs, **FAST_OPTIONS.get(name, {}))
        assert torch.equal(x, image)
        assert out.shape == (image.shape[0], *expected_size(task, image))
        assert 0 <= out.min() and out.max() <= 1


def test_a_mask_file_gives_the_same_mask_through_the_cli_and_the_web(cli_inline, tmp_path, image_dir):
    """A painted layer: red strokes on a transparent RGBA image (as an editor saves it)."""
    with warnings.catch_warnings():  # starlette's note that its test client will move from httpx to httpx2
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from restora.web import Settings, create_app

    photo = image_dir / "astronaut.png"
    h, w = read_image(photo).size
    layer = torch.zeros(h, w, 4, dtype=torch.uint8)
    layer[10:30, 20:40] = torch.tensor([200, 30, 30, 255], dtype=torch.uint8)
    layer[35:40, :] = torch.tensor([255, 255, 255, 128], dtype=torch.uint8)
    PILImage.fromarray(layer.numpy(), "RGBA").save(tmp_path / "mask.png")
    result = cli_inline("inpaint", photo, "-o", "cli.png", "--mask", "mask.png", "--method", "telea")
    assert result.returncode == 0, result.stderr
    with TestClient(create_app(Settings(result_dir=str(tmp_path / "results")))) as client:
        job = client.post("/api/jobs", data={"task": "inpaint", "method": "telea"},
                          files={"image": ("a.png", photo.read_bytes(), "image/png"),
                                 "mask": ("mask.png", (tmp_path / "mask.png").read_bytes(), "image/png")}).json()
        while (status := client.get(f"/api/jobs/{job['id']}").json())["state"] in ("queued", "running"):
            pass
        assert status["state"] == "done", status
        web = client.get(status["result_url"]).content
    (tmp_path / "web.png").write_bytes(web)
    cli_out, web_out = read_image(tmp_path / "cli.png").data, read_image(tmp_path / "web.png").data
    assert torch.equal(cli_out, web_out)
    assert not torch.equal(cli_out, read_image(photo).data)  # the strokes were filled
