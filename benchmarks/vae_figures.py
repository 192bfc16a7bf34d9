"""README figures of the shipped VAEs, drawn from held-out images, and their held-out ELBO.

    python benchmarks/vae_figures.py [--out docs/figures]

vae-mnist and vae-mnist-2d: MNIST test digits 8000-9999 (trained on 0-7999); vae-fashion:
Fashion-MNIST test images 0-1999 (trained on the 60,000 training images). For each model NAME,
restora.train.objectives.vae.save_vae_figures writes NAME-samples.png (64 decoded z ~ N(0, I), fixed seed),
NAME-reconstructions.png, NAME-interpolation.png and, for the 2-D model, NAME-latent.png (posterior
means coloured by class). Prints the held-out negative ELBO (nats per image, the fixed noise of
training validation) as a Markdown table.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from restora.train.data import ImageCache
from restora.train.objectives.vae import held_out_elbo, save_vae_figures, stack_images
from restora.zoo import load_shipped

MNIST = "$RESTORA_DATA/digits/mnist-test/t10k-images-idx3-ubyte.gz[8000:]"
FASHION = "$RESTORA_DATA/digits/fashion-mnist/t10k-images-idx3-ubyte.gz[:2000]"
MODELS = {"vae-mnist": MNIST, "vae-mnist-2d": MNIST, "vae-fashion": FASHION}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/figures"))
    a = p.parse_args()
    lines = ["| model | held-out images | -ELBO | reconstruction | KL |", "|---|---|---|---|---|"]
    for name, source in MODELS.items():
        cache = ImageCache(source, "gray")
        images = stack_images(cache, source)
        net = load_shipped(name)
        for path in save_vae_figures(net, images, cache.labels, a.out, prefix=f"{name}-"):
            print(path)
        s = held_out_elbo(net, images)
        lines.append(f"| {name} | `{source}` | {s['val_loss']:.2f} | {s['val_recon']:.2f} | {s['val_kl']:.2f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
