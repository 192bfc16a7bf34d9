"""``restora classify`` (top-k classes of images) and ``restora evaluate-classifier`` (accuracy,
per-class precision / recall / F1, confusion matrix and calibration on a labelled test set)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Optional

import torch
import typer
from rich.table import Table

from restora.cli.common import MaxPixels, Overwrite, app, error_line, note, out_console
from restora.errors import RestoraError
from restora.io import list_images, read_image, write_text_atomic
from restora.io.image import DEFAULT_MAX_PIXELS

Model = Annotated[str, typer.Option("--model", "-m", help="Shipped classifier (see `restora models`) or a "
                                    ".safetensors weight file of one.", show_default=False)]
FOLDER_CSV = Path("predictions.csv")


@app.command()
def classify(
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders (searched recursively).",
                                                 show_default=False)],
    model: Model,
    top: Annotated[int, typer.Option("--top", "-k", help="Classes shown per image, most probable first.")] = 3,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help=f"CSV of the predictions (default with a "
                                                f"folder among the inputs: {FOLDER_CSV}).", show_default=False)]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    overwrite: Overwrite = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
) -> None:
    """Classify images: the top-k classes of each with their probabilities.

    Every image is converted to the classifier's channels and resized to its input size first. With
    a folder, the predictions go to a CSV (image, then class and probability for each of the top k);
    an image that cannot be read is reported and skipped.
    """
    from restora.classify import load_classifier

    if top < 1:
        raise RestoraError(f"--top {top}: show at least 1 class")
    classifier = load_classifier(model)
    folder_mode = any(Path(p).is_dir() for p in inputs)
    csv_path = out or (FOLDER_CSV if folder_mode else None)
    if csv_path and csv_path.exists() and not overwrite:
        raise RestoraError(f"{csv_path}: exists already (pass --overwrite to replace it)")
    files, images, failed = [], [], 0
    for path, _ in list_images(inputs):
        try:
            images.append(classifier.prepare(read_image(path, max_pixels=max_pixels).data))
            files.append(path)
        except RestoraError as exc:
            if not folder_mode and len(inputs) == 1:
                raise
            failed += 1
            note(error_line(str(exc)))
    if not images:
        raise RestoraError("no image could be read")
    ranked = classifier.top(classifier.probabilities(torch.stack(images)), top)
    rows = [{"image": str(f), "top": [{"class": c, "probability": round(p, 6)} for c, p in r]}
            for f, r in zip(files, ranked)]
    if csv_path:
        write_text_atomic(csv_path, _csv(rows, min(top, len(classifier.classes))))
        note(f"wrote {csv_path} ({len(rows)} images, {model})")
    if as_json:
        print(json.dumps(rows, indent=1))
    elif not folder_mode:
        _print_top(rows)
    else:
        _print_counts(rows)
    if failed:
        raise RestoraError(f"{failed} of {failed + len(rows)} images could not be read")


def _csv(rows: list[dict], k: int) -> str:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["image"] + [f"{field}_{i}" for i in range(1, k + 1) for field in ("class", "probability")])
    for row in rows:
        writer.writerow([row["image"]] + [v for t in row["top"] for v in (t["class"], f"{t['probability']:.6f}")])
    return text.getvalue()


def _print_top(rows: list[dict]) -> None:
    table = Table("image", "class", "probability", "next", show_edge=False)
    for row in rows:
        first, rest = row["top"][0], row["top"][1:]
        table.add_row(row["image"], first["class"], f"{first['probability']:.3f}",
                      ", ".join(f"{t['class']} {t['probability']:.3f}" for t in rest))
    out_console.print(table)


def _print_counts(rows: list[dict]) -> None:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["top"][0]["class"]] = counts.get(row["top"][0]["class"], 0) + 1
    table = Table("predicted class", "images", show_edge=False)
    for name, count in sorted(counts.items(), key=lambda item: -item[1]):
        table.add_row(name, str(count))
    out_console.print(table)


@app.command("evaluate-classifier")
def evaluate_classifier(
    sources: Annotated[list[str], typer.Argument(help="Labelled test images: an idx image file (its labels file "
                                                 "beside it), a folder with one subfolder per class, or CIFAR-10 "
                                                 "batch files (python or .bin; a glob such as "
                                                 "'cifar-10-batches-py/test_batch' works too).", show_default=False)],
    model: Model,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder for metrics.json and confusion.png.",
                                                show_default=False)] = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N images.", min=1, show_default=False)] = None,
    bins: Annotated[int, typer.Option(help="Confidence bins of the expected calibration error.", min=1)] = 15,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Evaluate a classifier on a labelled test set: accuracy, precision / recall / F1, confusion, calibration.

    Per class and as macro averages (unweighted means over the classes); the expected calibration
    error (ECE) is the gap between the classifier's confidence and its accuracy, over confidence bins.
    """
    from restora.classify import load_classifier
    from restora.io.labelled import LabelledImages, read_labelled
    from restora.metrics.classification import plot_confusion

    classifier = load_classifier(model)
    parts = [read_labelled(s, classifier.channels, classifier.size) for s in sources]
    data = LabelledImages.join(parts, ", ".join(sources)).subset(slice(limit))
    report = {"model": model, "sources": sources, **classifier.evaluate(data, bins)}
    if out:
        write_text_atomic(out / "metrics.json", json.dumps(report, indent=1) + "\n")
        plot_confusion(report["confusion"], classifier.classes, out / "confusion.png",
                       f"{model}: accuracy {100 * report['accuracy']:.2f} % on {report['images']} images")
        note(f"wrote {out / 'metrics.json'} and {out / 'confusion.png'}")
    if as_json:
        print(json.dumps(report, indent=1))
        return
    table = Table("class", "precision", "recall", "F1", "images", show_edge=False)
    for row in report["classes"]:
        table.add_row(row["name"], f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}",
                      str(row["support"]))
    table.add_row("macro average", *(f"{report[f'macro_{k}']:.4f}" for k in ("precision", "recall", "f1")),
                  str(report["images"]), style="bold")
    out_console.print(table)
    out_console.print(f"accuracy {100 * report['accuracy']:.2f} % on {report['images']} images, "
                      f"cross-entropy {report['loss']:.4f}, ECE {report['ece']:.4f} ({bins} bins)")
