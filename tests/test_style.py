"""Style transfer and DeepDream (restora.stylize, restora.features, `restora style` / `restora dream`):
a few steps lower the style loss and raise the dreamed activation; a VGG19 in torchvision's key
layout loads from .pth and .safetensors (a narrow one: every width / 8; the full shapes are checked
against torchvision's); a file of the wrong layout is a one-line error."""
from __future__ import annotations

import re

import pytest
import torch
from PIL import Image as PILImage
from safetensors.torch import save_file
from skimage import data as skdata

from restora.errors import RestoraError
from restora.features import DiscriminatorFeatures, RandomFeatures, VGG19Features, load_vgg19, vgg19_shapes
from restora.stylize import StyleLoss, activation, dream, style_transfer

from conftest import read_u8


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread for these tiny images: a second one only adds waiting, and on a busy CPU each
    operation then waits for a core (50 ms instead of 0.5)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Content (the astronaut's face) and style (coffee beans), (3, 32, 32) each in [0, 1]."""
    content = torch.from_numpy(skdata.astronaut()[30:126:3, 170:266:3]).permute(2, 0, 1).float() / 255
    style = torch.from_numpy(skdata.coffee()[100:196:3, 300:396:3]).permute(2, 0, 1).float() / 255
    return content.contiguous(), style.contiguous()


@pytest.fixture
def photos(tmp_path, pair):
    paths = []
    for name, x in zip(("content.png", "style.png"), pair):
        PILImage.fromarray((x.permute(1, 2, 0) * 255).round().byte().numpy()).save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


def narrow_vgg19(seed: int = 0) -> VGG19Features:
    """VGG19 with every width / 8, initialised as torchvision does (Kaiming normal, fan out; zero bias)."""
    torch.manual_seed(seed)
    net = VGG19Features(width=8)
    for conv in net.features:
        if isinstance(conv, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            torch.nn.init.zeros_(conv.bias)
    return net.eval().requires_grad_(False)


def tiny_vgg19_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """narrow_vgg19 as torchvision saves a vgg19: features.N.* and classifier.* (the latter ignored by
    the loader)."""
    state = {f"features.{k}": v for k, v in narrow_vgg19(seed).features.state_dict().items()}
    state["classifier.0.weight"] = torch.randn(16, 64 * 7 * 7)
    state["classifier.0.bias"] = torch.zeros(16)
    return state


@pytest.mark.parametrize("net", [RandomFeatures(), narrow_vgg19()], ids=["random", "vgg19-narrow"])
def test_a_few_steps_reduce_the_style_loss(pair, net):
    content, style = pair
    loss = StyleLoss(net.requires_grad_(False), content, style)
    before = float(loss(content)[1])
    after = float(loss(style_transfer(content, style, net, steps=5, levels=1))[1])
    assert after < 0.7 * before, (before, after)


@pytest.mark.parametrize("net", [RandomFeatures(), DiscriminatorFeatures()], ids=["random", "discriminator"])
def test_a_few_dream_steps_raise_the_activation(pair, net):
    image = pair[0]
    net.eval().requires_grad_(False)
    result = dream(image, net, octaves=2, steps=3, octave_scale=1.5)
    assert result.shape == image.shape and 0 <= float(result.min()) and float(result.max()) <= 1
    with torch.no_grad():
        assert float(activation(net, result, net.dream_layer)) > 1.1 * float(activation(net, image, net.dream_layer))


def test_vgg19_shapes_are_torchvisions():
    shapes = vgg19_shapes()
    convs = sorted({int(k.split(".")[1]) for k in shapes})
    assert convs == [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    assert shapes["features.0.weight"] == (64, 3, 3, 3) and shapes["features.34.weight"] == (512, 512, 3, 3)
    assert sum(torch.Size(s).numel() for s in shapes.values()) == 20_024_384  # vgg19().features, torchvision


def test_a_vgg19_file_in_torchvision_layout_runs_through_the_cli(tmp_path, photos, cli_inline):
    state = tiny_vgg19_state()
    torch.save(state, tmp_path / "vgg.pth")
    save_file(state, str(tmp_path / "vgg.safetensors"))
    pth, st = load_vgg19(tmp_path / "vgg.pth"), load_vgg19(tmp_path / "vgg.safetensors")
    assert torch.equal(pth.features[34].weight, state["features.34.weight"])
    assert torch.equal(st.features[0].bias, state["features.0.bias"])
    content, style = photos
    run = cli_inline("style", content, style, "-o", "styled.png", "--features", "vgg.pth", "--steps", 2, "--size", 32,
                      "--levels", 2)
    assert run.returncode == 0, run.stderr
    assert read_u8(tmp_path / "styled.png").shape == (32, 32, 3)
    run = cli_inline("dream", content, "-o", "dream.png", "--features", "vgg.safetensors", "--steps", 2,
                     "--octaves", 2, "--layer", "relu3_1")
    assert run.returncode == 0, run.stderr
    assert read_u8(tmp_path / "dream.png").shape == (32, 32, 3)


def test_the_default_network_needs_no_file(tmp_path, photos, cli_inline):
    run = cli_inline("style", *photos, "-o", "out.png", "--steps", 2, "--size", 24)
    assert run.returncode == 0, run.stderr
    assert read_u8(tmp_path / "out.png").shape == (24, 24, 3)
    run = cli_inline("dream", photos[0], "-o", "out.png", "--steps", 1, "--octaves", 1)
    assert run.returncode == 2 and "exists already" in run.stderr
    assert cli_inline("dream", photos[0], "-o", "d.png", "--layer", "conv9_9").stderr.count("\n") == 1


def wrong_files(tmp_path) -> dict[str, tuple[str, str]]:
    """name -> (file, words the error must contain)."""
    state = tiny_vgg19_state()
    missing = {k: v for k, v in state.items() if k != "features.16.weight"}
    torch.save(missing, tmp_path / "missing.pth")
    shapes = dict(state, **{"features.2.weight": torch.zeros(8, 8, 5, 5)})
    save_file(shapes, str(tmp_path / "shape.safetensors"))
    (tmp_path / "text.pth").write_text("not weights\n")
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "other.pth")
    torch.save(torch.nn.Conv2d(3, 8, 3), tmp_path / "module.pth")  # a pickled module, not a state dict
    return {"missing key": ("missing.pth", "missing features.16.weight"),
            "wrong shape": ("shape.safetensors", "features.2.weight has shape (8, 8, 5, 5)"),
            "not a weight file": ("text.pth", "not a readable weight file"),
            "another network": ("other.pth", "not VGG19"),
            "a pickled module": ("module.pth", "holds pickled objects")}


def test_a_wrong_layout_file_is_a_one_line_error_through_the_entry_point(tmp_path, photos, cli):
    file, words = wrong_files(tmp_path)["wrong shape"]
    run = cli("dream", photos[0], "-o", "out.png", "--features", file)  # fails before any computing
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"restora: error: {file}: ") and words in run.stderr
    assert not (tmp_path / "out.png").exists()


def test_each_wrong_layout_names_the_file_and_the_problem(tmp_path, photos, cli_inline):
    for name, (file, words) in wrong_files(tmp_path).items():
        with pytest.raises(RestoraError, match=re.escape(words)):
            load_vgg19(tmp_path / file)
        run = cli_inline("style", *photos, "-o", "out.png", "--features", file)
        assert run.returncode == 2 and run.stderr.count("\n") == 1, (name, run.stderr)
        assert file in run.stderr and words in run.stderr, (name, run.stderr)
