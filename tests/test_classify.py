"""Image classification: the labelled-set readers (idx, class folders, CIFAR-10 python and binary
batches), the metrics against hand-computed values, the classification objective in the training
engine (learning, resume, torchrun, the card, mirror averaging), ``restora classify`` /
``evaluate-classifier``, and the shipped classifiers against their cards."""
from __future__ import annotations

import csv
import gzip
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from conftest import interrupt_then_resume
from restora.classify import load_classifier
from restora.errors import RestoraError
from restora.io.labelled import read_labelled
from restora.metrics.classification import (classification_report, confusion_matrix, expected_calibration_error,
                                            per_class)
from restora.train import Trainer, load_recipe, parse_recipe
from restora.zoo import read_metadata, shipped_models, zoo_root

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_images(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """n random 32x32 colour images as CIFAR rows (n, 3072) uint8, and their labels."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist()


def expected_image(row: np.ndarray) -> torch.Tensor:
    """A CIFAR row as (3, 32, 32): 1024 red values, then green, then blue, each plane row by row."""
    return torch.from_numpy(np.stack([row[c * 1024:(c + 1) * 1024].reshape(32, 32) for c in range(3)]))


def test_cifar_python_batches_are_read_with_their_class_names(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rows, labels = [], []
    for i in (1, 2):
        data, targets = cifar_images(5, i)
        batch = {b"batch_label": f"training batch {i} of 5".encode(), b"labels": targets, b"data": data,
                 b"filenames": [f"img{j}.png".encode() for j in range(5)]}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=2))
        rows.append(data)
        labels += targets
    meta = {b"num_cases_per_batch": 5, b"label_names": [n.encode() for n in CIFAR_NAMES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))

    both = read_labelled(folder / "data_batch_*")
    assert both.images.shape == (10, 3, 32, 32) and both.images.dtype == torch.uint8
    assert both.labels.tolist() == labels and both.classes == CIFAR_NAMES
    rows = np.concatenate(rows)
    assert all(torch.equal(both.images[i], expected_image(rows[i])) for i in range(10))
    one = read_labelled(folder / "data_batch_2")
    assert len(one) == 5 and torch.equal(one.images[0], expected_image(rows[5]))
    gray = read_labelled(folder / "data_batch_1", channels=1, size=16)
    assert gray.images.shape == (5, 1, 16, 16)


def test_a_cifar_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2))
    with pytest.raises(RestoraError, match="not a CIFAR python batch .*not allowed"):
        read_labelled(tmp_path / "data_batch_1")
    (tmp_path / "data_batch_2").write_bytes(pickle.dumps({b"labels": [0]}, protocol=2))
    with pytest.raises(RestoraError, match="'data' and 'labels'"):
        read_labelled(tmp_path / "data_batch_2")


def test_cifar_binary_batches_are_records_of_a_label_byte_and_3072_pixels(tmp_path):
    data, labels = cifar_images(7, 3)
    records = np.concatenate([np.array(labels, dtype=np.uint8)[:, None], data], axis=1)
    (tmp_path / "test_batch.bin").write_bytes(records.tobytes())
    (tmp_path / "batches.meta.txt").write_text("\n".join(CIFAR_NAMES) + "\n\n")
    read = read_labelled(tmp_path / "test_batch.bin")
    assert read.labels.tolist() == labels and read.classes == CIFAR_NAMES
    assert all(torch.equal(read.images[i], expected_image(data[i])) for i in range(7))
    (tmp_path / "bad.bin").write_bytes(records.tobytes()[:-1])
    with pytest.raises(RestoraError, match="not a whole number of CIFAR-10 records"):
        read_labelled(tmp_path / "bad.bin")
    with pytest.raises(RestoraError, match="no such file, folder or CIFAR batch"):
        read_labelled(tmp_path / "missing_batch_*")


def write_idx(path: Path, array: np.ndarray) -> None:
    """An unsigned-byte idx file, gzip-compressed."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_idx_images_come_with_the_labels_file_beside_them(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "x-images-idx3-ubyte.gz", images)
    with pytest.raises(RestoraError, match="no labels file"):
        read_labelled(tmp_path / "x-images-idx3-ubyte.gz")
    write_idx(tmp_path / "x-labels-idx1-ubyte.gz", np.arange(6) % 3)
    read = read_labelled(tmp_path / "x-images-idx3-ubyte.gz")
    assert torch.equal(read.images[:, 0], torch.from_numpy(images)) and read.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert read.classes is None and read_labelled(tmp_path / "x-images-idx3-ubyte.gz", channels=3).images.shape[1] == 3


def test_fashion_mnist_train_and_test_read_with_labels(data_dir):
    folder = data_dir / "digits" / "fashion-mnist"
    for name, count in (("train", 60000), ("t10k", 10000)):
        read = read_labelled(folder / f"{name}-images-idx3-ubyte.gz")
        assert read.images.shape == (count, 1, 28, 28)
        assert torch.bincount(read.labels).tolist() == [count // 10] * 10


def stripes(root: Path, per_class: int = 24, side: int = 16, seed: int = 0) -> Path:
    """A class-folder tree: ``horizontal/`` and ``vertical/`` stripes of random period and phase
    with noise, gray PNGs of side x side."""
    rng = np.random.default_rng(seed)
    for name in ("horizontal", "vertical"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            period = int(rng.integers(3, 7))
            line = ((np.arange(side) + rng.integers(period)) % period < period / 2).astype(float)
            image = np.tile(line[:, None], (1, side)) if name == "horizontal" else np.tile(line, (side, 1))
            image = 0.75 * image + 0.25 * rng.random((side, side))
            PILImage.fromarray((image * 255).astype(np.uint8)).save(root / name / f"{i:03d}.png")
    return root


def test_class_folders_are_labelled_by_sorted_subfolder_names(tmp_path):
    root = stripes(tmp_path / "set", per_class=3)
    read = read_labelled(root)
    assert read.classes == ["horizontal", "vertical"] and read.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert read.images.shape == (6, 1, 16, 16)
    assert read_labelled(root, channels=3, size=8).images.shape == (6, 3, 8, 8)
    PILImage.new("L", (20, 16)).save(root / "vertical" / "odd.png")
    with pytest.raises(RestoraError, match="odd.png: .* differs from the first image's"):
        read_labelled(root)
    with pytest.raises(RestoraError, match="no class subfolders"):
        read_labelled(root / "vertical")


# -- metrics: 6 images of 3 classes, computed by hand -------------------------------------------
LABELS = torch.tensor([0, 0, 1, 1, 2, 2])
PREDICTED = torch.tensor([0, 1, 1, 1, 2, 0])
CONFIDENCE = [0.9, 0.58, 0.78, 0.7, 0.95, 0.55]  # none on a bin edge (float32)


def probabilities() -> torch.Tensor:
    """Rows with the top probability CONFIDENCE[i] on PREDICTED[i], the rest shared equally."""
    probs = torch.tensor([[(1 - c) / 2] * 3 for c in CONFIDENCE])
    probs[torch.arange(6), PREDICTED] = torch.tensor(CONFIDENCE)
    return probs


def test_metrics_match_a_hand_computed_confusion_matrix():
    matrix = confusion_matrix(LABELS, PREDICTED, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    scores = per_class(matrix)
    assert scores["precision"].tolist() == pytest.approx([1 / 2, 2 / 3, 1])
    assert scores["recall"].tolist() == pytest.approx([1 / 2, 1, 1 / 2])
    assert scores["f1"].tolist() == pytest.approx([1 / 2, 4 / 5, 2 / 3])
    assert scores["support"].tolist() == [2, 2, 2]
    # ECE, 5 bins of 0.2: (0.4, 0.6] holds 0.58, 0.55 (both wrong), (0.6, 0.8] 0.78, 0.7 (both right),
    # (0.8, 1] 0.9, 0.95 (both right): 2/6 of the images each, |accuracy - mean confidence| 0.565, 0.26, 0.075
    assert expected_calibration_error(probabilities(), LABELS, bins=5) == pytest.approx(
        (2 * 0.565 + 2 * 0.26 + 2 * 0.075) / 6)
    report = classification_report(probabilities(), LABELS, ["a", "b", "c"], bins=5)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["macro_precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert report["macro_recall"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert report["macro_f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert report["loss"] == pytest.approx(-np.log([0.9, 0.21, 0.78, 0.7, 0.95, 0.225]).mean())
    assert report["classes"][1] == {"name": "b", "precision": pytest.approx(2 / 3), "recall": 1.0,
                                    "f1": pytest.approx(0.8), "support": 2}


def test_a_class_never_predicted_scores_zero_not_nan():
    scores = per_class(confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 0]), 2))
    assert scores["precision"].tolist() == [0.5, 0.0] and scores["f1"].tolist() == pytest.approx([2 / 3, 0.0])
    perfect = torch.eye(3)[LABELS]
    assert expected_calibration_error(perfect, LABELS) == 0.0


# -- training --------------------------------------------------------------------------------------
def stripes_recipe(root: Path, **overrides) -> dict:
    recipe = {
        "objective": "classification", "seed": 1,
        "net": {"name": "cnn-classifier", "args": {"classes": 2, "channels": 1, "width": 8, "depth": 2, "size": 16}},
        "data": {"train": str(root / "train"), "val": str(root / "val"), "batch": 16},
        "classify": {"augment": ["flip", "crop"], "label_smoothing": 0.1, "test": str(root / "val")},
        "optimizer": {"name": "adam", "lr": 0.01},
        "train": {"steps": 30, "log_every": 5, "val_every": 15},
    }
    for key, value in overrides.items():
        section, _, leaf = key.rpartition(".")
        (recipe[section] if section else recipe)[leaf] = value
    return recipe


@pytest.fixture(scope="module")
def stripe_sets(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stripes")
    stripes(root / "train", per_class=40, seed=0)
    stripes(root / "val", per_class=10, seed=1)
    return root


def read_log(run: Path) -> list[dict]:
    with (run / "log.csv").open() as f:
        return list(csv.DictReader(f))


def test_a_classifier_learns_class_folders_and_its_run_ships_with_a_card(stripe_sets, tmp_path, cli_inline):
    run = tmp_path / "run"
    Trainer(stripes_recipe(stripe_sets), run, progress=False, recipe_file="configs/stripes.yaml").run()
    rows = read_log(run)
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert float(rows[-1]["accuracy"]) >= 0.9 and {"train_accuracy", "val_loss", "accuracy"} <= set(rows[-1])
    for name in ("curves.png", "best.pt", "model.safetensors", "test.json", "confusion.png", "run.json"):
        assert (run / name).is_file(), name
    meta = read_metadata(run / "model.safetensors")
    assert meta["task"] == "classify" and json.loads(meta["classes"]) == ["horizontal", "vertical"]
    assert float(meta["best_accuracy"]) == max(float(r["accuracy"]) for r in rows if r["accuracy"])
    assert load_recipe(run / "recipe.yaml") == parse_recipe(stripes_recipe(stripe_sets))
    test = json.loads((run / "test.json").read_text())
    assert test["images"] == 20 and test["accuracy"] >= 0.9 and len(test["confusion"]) == 2
    assert json.loads((run / "run.json").read_text())["train_images"] == 80

    (tmp_path / "published.md").write_text("## Published results\n")
    (tmp_path / "budget.md").write_text("## Budget and notes\n")
    shipped = cli_inline("ship", run, "--name", "stripes", "--method", "cnn-classifier", "--summary", "stripes",
                         "--notes", tmp_path / "published.md", "--notes", tmp_path / "budget.md", "--zoo", tmp_path / "zoo")
    assert shipped.returncode == 0, shipped.stderr
    card = (tmp_path / "zoo" / "cards" / "stripes.md").read_text()
    assert card.endswith("\n## Published results\n\n## Budget and notes\n")
    assert "| classes | horizontal, vertical |" in card and "augmentation: flip, crop" in card
    assert "flip averaging" not in card
    assert f"| {100 * test['accuracy']:.2f} | {test['macro_precision']:.4f} |" in card
    assert "| horizontal | " in card and "## Validation curve" in card and "| 30 | " in card
    entry = json.loads((tmp_path / "zoo" / "models.json").read_text())[0]
    assert entry["task"] == "classify" and entry["channels"] == 1


def test_resume_after_interrupt_is_bit_exact(stripe_sets, tmp_path):
    recipe = stripes_recipe(stripe_sets, **{"train.steps": 12, "data.val": None, "classify.test": None})
    straight = Trainer(recipe, tmp_path / "a", progress=False)
    straight.run()
    resumed = interrupt_then_resume(recipe, tmp_path / "b", at_step=7)
    resumed.run()
    for (k, a), b in zip(straight.objective.net.state_dict().items(), resumed.objective.net.state_dict().values()):
        assert torch.equal(a, b), k


def test_torchrun_two_processes_end_with_identical_classifiers(stripe_sets, tmp_path):
    recipe = stripes_recipe(stripe_sets, **{"train.steps": 4, "data.val": None, "classify.test": None})
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(f"""
        import os, torch
        from restora.train import Trainer
        trainer = Trainer({recipe!r}, {str(tmp_path / "run")!r}, progress=False)
        trainer.run()
        torch.save(trainer.objective.net.state_dict(), {str(tmp_path)!r} + f"/rank{{os.environ['RANK']}}.pt")
    """))
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29523",
                    str(script)], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=tmp_path, timeout=300)
    a, b = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    # the weights agree; batch-norm statistics are rank 0's, sent to the others before each step, so each
    # rank's last step leaves its own (rank 0 exports)
    differ = {k for k in a if not torch.equal(a[k], b[k])}
    assert differ and all(k.endswith(("running_mean", "running_var")) for k in differ), differ
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_a_flip_averaging_classifier_says_so_in_its_weights_and_sees_mirror_images_alike(stripe_sets, tmp_path):
    recipe = stripes_recipe(stripe_sets, **{"train.steps": 6, "classify.test": None, "classify.flip_average": True})
    Trainer(recipe, tmp_path / "run", progress=False).run()
    assert read_metadata(tmp_path / "run" / "model.safetensors")["flip_average"] == "true"
    classifier = load_classifier(str(tmp_path / "run" / "model.safetensors"))
    images = read_labelled(stripe_sets / "val", 1, 16).images
    averaged = classifier.probabilities(images)
    assert classifier.flip_average and torch.allclose(averaged, classifier.probabilities(images.flip(-1)), atol=1e-6)
    classifier.flip_average = False
    plain, mirrored = classifier.probabilities(images), classifier.probabilities(images.flip(-1))
    assert not torch.allclose(plain, mirrored, atol=1e-6) and torch.allclose(averaged, (plain + mirrored) / 2, atol=1e-6)


def test_a_classification_recipe_has_its_defaults():
    recipe = parse_recipe({"objective": "classification", "net": {"name": "cnn-classifier"}, "data": {"train": "a"}})
    assert (recipe.task, recipe.data.batch, recipe.data.color) == ("classify", 128, "gray")
    assert (recipe.classify.label_smoothing, recipe.classify.augment, recipe.classify.test) == (0.0, [], None)


def test_recipe_mistakes_are_one_line_errors(stripe_sets):
    with pytest.raises(RestoraError, match=r"^recipe: classify.augment: unknown augmentation 'flipp' \(use flip, "):
        parse_recipe(stripes_recipe(stripe_sets, **{"classify.augment": ["flipp"]}))
    with pytest.raises(RestoraError, match=r"classify.label_smoothing must be a number from 0 up to"):
        parse_recipe(stripes_recipe(stripe_sets, **{"classify.label_smoothing": 1.5}))
    with pytest.raises(RestoraError, match="3 class names for a network of 2 classes"):
        Trainer(stripes_recipe(stripe_sets, **{"classify.names": ["a", "b", "c"]}), "unused", progress=False)


def test_a_tiny_recipe_learns_fashion_mnist(data_dir, tmp_path, monkeypatch):
    folder = "$RESTORA_DATA/digits/fashion-mnist"
    recipe = {
        "objective": "classification", "seed": 0,
        "net": {"name": "cnn-classifier", "args": {"classes": 10, "width": 16, "depth": 2, "dropout": 0.0}},
        "data": {"train": f"{folder}/train-images-idx3-ubyte.gz[:400]", "val": f"{folder}/t10k-images-idx3-ubyte.gz",
                 "val_limit": 300, "batch": 32},
        "classify": {"augment": ["flip"]},
        "optimizer": {"name": "adam", "lr": 0.01},
        "train": {"steps": 80, "log_every": 10, "val_every": 80},
    }
    monkeypatch.setenv("RESTORA_DATA", str(data_dir))
    Trainer(recipe, tmp_path / "run", progress=False).run()
    rows = read_log(tmp_path / "run")
    losses = [float(r["loss"]) for r in rows]
    assert losses[-1] < 0.8 * losses[0], losses
    assert float(rows[-1]["accuracy"]) > 0.4, rows[-1]  # chance: 0.1 (0.66 when written)


# -- the command line ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stripe_model(stripe_sets, tmp_path_factory) -> Path:
    """A classifier of stripes, trained briefly: its weight file."""
    run = tmp_path_factory.mktemp("stripe-model")
    Trainer(stripes_recipe(stripe_sets, **{"classify.test": None}), run, progress=False).run()
    return run / "model.safetensors"


def test_classify_prints_top_k_and_writes_a_csv_for_a_folder(stripe_sets, stripe_model, cli_inline, tmp_path):
    one = stripe_sets / "val" / "vertical" / "000.png"
    result = cli_inline("classify", one, "--model", stripe_model, "-k", "2", "--json")
    assert result.returncode == 0, result.stderr
    top = json.loads(result.stdout)[0]["top"]
    assert [t["class"] for t in top] == ["vertical", "horizontal"]
    assert sum(t["probability"] for t in top) == pytest.approx(1, abs=1e-5)

    result = cli_inline("classify", stripe_sets / "val", "--model", stripe_model, "-k", "1")
    assert result.returncode == 0, result.stderr
    with (tmp_path / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20 and set(rows[0]) == {"image", "class_1", "probability_1"}
    right = sum(Path(r["image"]).parent.name == r["class_1"] for r in rows)
    assert right >= 18
    again = cli_inline("classify", stripe_sets / "val", "--model", stripe_model)
    assert again.returncode == 2 and again.stderr.strip() == \
        "restora: error: predictions.csv: exists already (pass --overwrite to replace it)"


def test_evaluate_classifier_reports_every_metric_and_plots_the_confusion(stripe_sets, stripe_model, cli_inline,
                                                                          tmp_path):
    result = cli_inline("evaluate-classifier", stripe_sets / "val", "--model", stripe_model, "-o", "report", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["images"] == 20 and report["accuracy"] >= 0.9 and 0 <= report["ece"] <= 1
    assert {"macro_precision", "macro_recall", "macro_f1", "classes", "confusion"} <= set(report)
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["accuracy"] == report["accuracy"]
    with PILImage.open(tmp_path / "report" / "confusion.png") as plot:
        assert plot.size[0] > 200


def test_a_shipped_classifier_is_found_by_name_and_a_wrong_model_is_a_one_line_error(stripe_sets, stripe_model,
                                                                                     cli_inline, tmp_path, monkeypatch):
    from restora.zoo import add_model

    add_model(stripe_model, {"name": "stripes", "task": "classify", "method": "cnn-classifier",
                             "file": "stripes.safetensors", "card": "stripes.md"}, "# stripes\n", tmp_path / "zoo")
    monkeypatch.setenv("RESTORA_ZOO", str(tmp_path / "zoo"))
    image = stripe_sets / "val" / "horizontal" / "001.png"
    result = cli_inline("classify", image, "--model", "stripes")
    assert result.returncode == 0 and "horizontal" in result.stdout, result.stderr
    for model, message in (("no-such-model", "unknown model 'no-such-model' (see `restora models`"),
                           (str(tmp_path / "missing.safetensors"), "missing.safetensors: no such weight file")):
        result = cli_inline("classify", image, "--model", model)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    stripes(tmp_path / "other", per_class=1)  # renamed: classes the model does not know
    (tmp_path / "other" / "horizontal").rename(tmp_path / "other" / "diagonal")
    (tmp_path / "other" / "vertical").rename(tmp_path / "other" / "tilted")
    for source, message in ((tmp_path / "nothing-here", "nothing-here: no such file, folder or CIFAR batch"),
                            (tmp_path / "other", "test classes diagonal, tilted are not among the model's: "
                                                 "horizontal, vertical")):
        result = cli_inline("evaluate-classifier", source, "--model", "stripes")
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


CLASSIFIERS = [e for e in shipped_models() if e["task"] == "classify"]


@pytest.mark.parametrize("entry", CLASSIFIERS, ids=[e["name"] for e in CLASSIFIERS])
def test_a_shipped_classifier_scores_its_cards_test_accuracy(entry, data_dir):
    card = (zoo_root() / "cards" / entry["card"]).read_text()
    source, stated = re.search(r"## Test set: `\$RESTORA_DATA/([^`]+)`.*?\n\| ([\d.]+) \| ", card, re.S).groups()
    classifier = load_classifier(entry["name"])
    report = classifier.evaluate(read_labelled(str(data_dir / source), classifier.channels, classifier.size))
    assert report["images"] == 10000 and f"{100 * report['accuracy']:.2f}" == stated
