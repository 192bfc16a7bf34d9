"""The one training engine: loop, schedules, logs, curves, checkpoints, resume, distribution.

Output directory layout:
  recipe.yaml        the recipe as run (after --set overrides), every default filled (Recipe.to_dict)
  run.json           what a model card needs beyond the recipe and log (restora.train.ship): the recipe
                     file, torch threads and machine, the objective's facts, and every earlier stage
                     of the ``init:`` chain (recipe file, recipe and log of each), taken from the run
                     folder the init weights come from
  log.csv            step, seconds, lr, patches_per_s, losses, validation metrics
  curves.png         loss and validation curves, drawn at each validation and at the end
  last.pt, best.pt   checkpoints (model, optimisers, schedulers, RNG states, step), atomic
  model.safetensors  exported weights of the best checkpoint (or the last, without validation)

Under ``torchrun`` every rank trains a DistributedDataParallel replica on its own patches
(seeded by rank); rank 0 alone validates and writes.
"""
from __future__ import annotations

import csv
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml

from restora.errors import RestoraError
from restora.io.atomic import atomic_path, write_text_atomic
from restora.train.data import resolve_data_path
from restora.train.objectives import get_objective
from restora.train.optim import make_scheduler
from restora.train.recipe import Recipe, parse_recipe


class Trainer:
    """One training run of a recipe (a Recipe, or a raw recipe dict, parsed here) into ``out_dir``."""

    def __init__(self, recipe: Recipe | dict[str, Any], out_dir: str | Path, resume: bool = False,
                 progress: bool = True, recipe_file: str | None = None):
        self.recipe = recipe if isinstance(recipe, Recipe) else parse_recipe(recipe)
        self.recipe_file = recipe_file
        self.out = Path(out_dir)
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        if self.distributed and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self.rank = dist.get_rank() if self.distributed else 0
        self.main = self.rank == 0
        if torch.cuda.is_available():
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        else:
            self.device = torch.device("cpu")
        torch.manual_seed(self.recipe.seed)  # identical initial weights on every rank
        self.gen = torch.Generator().manual_seed(self.recipe.seed + 1000 * self.rank)
        self.objective = get_objective(self.recipe.objective)(self.recipe, self.device, self.gen)
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.objective.train_module = DDP(self.objective.train_module, device_ids=ids)
        self.schedulers = {k: make_scheduler(o, self.recipe.schedule, self.recipe.train.steps)
                           for k, o in self.objective.optimizers.items()}
        self.step = 0
        self.best = -math.inf
        self.rows: list[dict[str, Any]] = []
        self.seconds = 0.0  # training wall time, validation included, summed over resumed sessions
        self.progress = progress and self.main
        if resume:
            self._load(self.out / "last.pt")
        elif self.main and (self.out / "last.pt").exists():
            raise RestoraError(f"{self.out}: holds a run already (use --resume, or another --out)")

    # -- checkpoints ---------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step, "best": self.best,
            "modules": {k: m.state_dict() for k, m in self.objective.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.objective.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "gen": self.gen.get_state(), "torch_rng": torch.get_rng_state(),
        }

    def _save(self, name: str) -> None:
        with atomic_path(self.out / name) as tmp:
            torch.save(self._state(), tmp)

    def _load(self, path: Path) -> None:
        if not path.is_file():
            raise RestoraError(f"{path}: no checkpoint to resume from")
        state = torch.load(path, map_location=self.device, weights_only=True)
        for k, m in self.objective.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.objective.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        self.gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        self.step, self.best = int(state["step"]), float(state["best"])
        if self.rank:  # rank streams must differ after resume too
            self.gen.manual_seed(self.recipe.seed + 1000 * self.rank + self.step)
        log = self.out / "log.csv"
        if log.is_file():
            with log.open() as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= self.step]
            self.seconds = float(self.rows[-1].get("seconds") or 0) if self.rows else 0.0

    # -- logs ----------------------------------------------------------------------------------
    def _write_log(self, chart: bool) -> None:
        """log.csv, and with ``chart`` curves.png too."""
        keys: list[str] = []
        for row in self.rows:
            keys += [k for k in row if k not in keys]
        with atomic_path(self.out / "log.csv") as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        if chart:
            from restora.train.plots import plot_curves

            plot_curves(self.rows, self.out / "curves.png")

    def _facts(self) -> dict[str, Any]:
        """run.json (see the module docstring)."""
        device = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else \
            f"{os.cpu_count()}-core {platform.machine()} CPU"
        return {"recipe_file": self.recipe_file, "threads": torch.get_num_threads(), "machine": device,
                **getattr(self.objective, "facts", dict)(), "stages": earlier_stages(self.recipe.init)}

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.out / "recipe.yaml", yaml.safe_dump(self.recipe.to_dict(), sort_keys=False))
            write_text_atomic(self.out / "run.json", json.dumps(self._facts(), indent=1) + "\n")
        loop = self.recipe.train
        sums: dict[str, float] = {}
        count, patches, started = 0, 0, time.perf_counter()
        bar = _progress(loop.steps, self.step) if self.progress else None
        after_step = getattr(self.objective, "after_step", None) if self.main else None
        try:
            while self.step < loop.steps:
                losses = self.objective.train_step(self.gen)
                for s in self.schedulers.values():
                    s.step()
                self.step += 1
                if after_step:
                    after_step(self.step, self.out)
                patches += losses.pop("patches", 0)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                last = self.step == loop.steps
                if self.step % loop.log_every == 0 or last:
                    elapsed = time.perf_counter() - started
                    self.seconds += elapsed
                    row = {"step": self.step, "seconds": round(self.seconds, 1), "lr": self._lr(),
                           "patches_per_s": round(patches / elapsed, 2),
                           **{k: v / count for k, v in sums.items()}}
                    validating = self.main and (self.step % loop.val_every == 0 or last)
                    scores = self.objective.validate() if validating else {}
                    row.update(scores)
                    self.rows.append(row)
                    sums, count, patches = {}, 0, 0
                    self.seconds += time.perf_counter() - started - elapsed  # validation time
                    row["seconds"] = round(self.seconds, 1)
                    started = time.perf_counter()
                    if bar:
                        bar.update(self.step, row)
                    if self.main:
                        self._write_log(chart=bool(scores) or last)
                        self._maybe_best(row)
                if self.main and (self.step % loop.checkpoint_every == 0 or last):
                    self._save("last.pt")
                elif bar and self.step % max(1, loop.log_every // 5) == 0:
                    bar.update(self.step, None)
        except KeyboardInterrupt:
            if self.main:
                self._save("last.pt")
                raise RestoraError(f"interrupted at step {self.step}: checkpoint saved in {self.out / 'last.pt'} "
                                   "(continue with --resume)") from None
            raise
        finally:
            if bar:
                bar.close()
        if self.main:
            self._export()
        if self.distributed:
            dist.barrier()
        return self.rows[-1] if self.rows else {}

    def _lr(self) -> float:
        opt = next(iter(self.objective.optimizers.values()))
        return opt.param_groups[0]["lr"]

    @property
    def score(self) -> str:
        """The validation figure the best checkpoint maximises: the objective's ``score``, else psnr."""
        return getattr(self.objective, "score", "psnr")

    def _maybe_best(self, row: dict[str, Any]) -> None:
        score = row.get(self.score)
        if score is not None and float(score) > self.best:
            self.best = float(score)
            self._save("best.pt")

    def _export(self) -> None:
        best = self.out / "best.pt"
        if best.is_file():  # export the best validated weights, then restore the final ones
            final = {k: {n: t.clone() for n, t in m.state_dict().items()} for k, m in self.objective.modules.items()}
            state = torch.load(best, map_location=self.device, weights_only=True)
            for k, m in self.objective.modules.items():
                m.load_state_dict(state["modules"][k])
        else:
            final = None
        self.objective.export(self.out / "model.safetensors", self.recipe,
                              {"steps": str(self.step), f"best_{self.score}": f"{self.best:.4f}"})
        if final:
            for k, m in self.objective.modules.items():
                m.load_state_dict(final[k])


def earlier_stages(init: str | None) -> list[dict[str, Any]]:
    """The stages before a run that starts from ``init`` (a run folder's model.safetensors): that
    run's own earlier stages, then that run (recipe file, recipe as run, log rows). Empty when the
    weights do not come from a run folder with a log."""
    folder = resolve_data_path(init).parent if init else None
    if folder is None or not (folder / "log.csv").is_file() or not (folder / "recipe.yaml").is_file():
        return []
    facts_file = folder / "run.json"
    facts = json.loads(facts_file.read_text()) if facts_file.is_file() else {}
    with (folder / "log.csv").open() as f:
        log = list(csv.DictReader(f))
    return facts.get("stages", []) + [{"recipe_file": facts.get("recipe_file") or f"{folder}/recipe.yaml",
                                      "recipe": yaml.safe_load((folder / "recipe.yaml").read_text()), "log": log}]


class _progress:
    """A rich progress bar showing step, loss, patches/s and ETA."""

    def __init__(self, total: int, done: int):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.p = Progress(TextColumn("step {task.completed}/{task.total}"), BarColumn(),
                          TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn())
        self.task = self.p.add_task("train", total=total, completed=done, info="")
        self.p.start()

    def update(self, step: int, row: dict[str, Any] | None) -> None:
        info = None
        if row:
            parts = [f"{k} {float(v):.4g}" for k, v in row.items() if k not in ("step", "lr") and
                     not k.startswith(("psnr_", "ssim_"))]
            info = "  ".join(parts)
        self.p.update(self.task, completed=step, **({"info": info} if info else {}))

    def close(self) -> None:
        self.p.stop()


def train(recipe: Recipe | dict[str, Any], out_dir: str | Path, resume: bool = False, progress: bool = True,
          recipe_file: str | None = None) -> dict[str, Any]:
    """Run a recipe (a Recipe, or a raw recipe dict; ``recipe_file`` names its file for the card);
    returns the last log row."""
    return Trainer(recipe, out_dir, resume, progress, recipe_file).run()
