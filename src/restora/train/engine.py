"""The one training engine: loop, schedules, logs, curves, checkpoints, resume, distribution.

Output directory layout:
  recipe.yaml        the recipe as run (after --set overrides)
  log.csv            step, seconds, lr, patches_per_s, losses, validation metrics
  curves.png         loss and validation curves
  last.pt, best.pt   checkpoints (model, optimisers, schedulers, RNG states, step), atomic
  model.safetensors  exported weights of the best checkpoint (or the last, without validation)

Under ``torchrun`` every rank trains a DistributedDataParallel replica on its own patches
(seeded by rank); rank 0 alone validates and writes.
"""
from __future__ import annotations

import csv
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml

from restora.errors import RestoraError
from restora.io.atomic import atomic_path, write_text_atomic
from restora.train.objectives import OBJECTIVES


def make_scheduler(opt: torch.optim.Optimizer, spec: dict[str, Any], steps: int):
    """``{name: cosine|step|constant, min_lr, milestones (fractions or steps), gamma, warmup}``."""
    name = spec.get("name", "cosine")
    warmup = int(spec.get("warmup", 0))
    base = opt.param_groups[0]["lr"]
    if name == "cosine":
        floor = float(spec.get("min_lr", base * 0.01)) / base
        def decay(s):
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    elif name == "step":
        marks = [int(m * steps) if m < 1 else int(m) for m in spec.get("milestones", [0.5, 0.75])]
        gamma = float(spec.get("gamma", 0.1))
        def decay(s):
            return gamma ** sum(s >= m for m in marks)
    elif name == "constant":
        def decay(s):
            return 1.0
    else:
        raise RestoraError(f"recipe: unknown schedule '{name}' (cosine, step, constant)")
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: decay(s) * min(1.0, (s + 1) / (warmup + 1)))


class Trainer:
    def __init__(self, recipe: dict[str, Any], out_dir: str | Path, resume: bool = False, progress: bool = True):
        self.recipe = recipe
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
        seed = int(recipe.get("seed", 0))
        torch.manual_seed(seed)  # identical initial weights on every rank
        self.gen = torch.Generator().manual_seed(seed + 1000 * self.rank)
        kind = recipe.get("objective", "restoration")
        if kind not in OBJECTIVES:
            raise RestoraError(f"recipe: unknown objective '{kind}' ({', '.join(OBJECTIVES)})")
        self.objective = OBJECTIVES[kind](recipe, self.device, self.gen)
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.objective.train_module = DDP(self.objective.train_module, device_ids=ids)
        t = recipe.get("train", {})
        self.steps = int(t.get("steps", 1000))
        self.log_every = int(t.get("log_every", 50))
        self.val_every = int(t.get("val_every", 500))
        self.ckpt_every = int(t.get("checkpoint_every", self.val_every))
        self.schedulers = {k: make_scheduler(o, recipe.get("schedule", {}), self.steps)
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
            self.gen.manual_seed(int(self.recipe.get("seed", 0)) + 1000 * self.rank + self.step)
        log = self.out / "log.csv"
        if log.is_file():
            with log.open() as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= self.step]
            self.seconds = float(self.rows[-1].get("seconds") or 0) if self.rows else 0.0

    # -- logs ----------------------------------------------------------------------------------
    def _write_log(self) -> None:
        keys: list[str] = []
        for row in self.rows:
            keys += [k for k in row if k not in keys]
        with atomic_path(self.out / "log.csv") as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        from restora.train.plots import plot_curves

        plot_curves(self.rows, self.out / "curves.png")

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.out / "recipe.yaml", yaml.safe_dump(self.recipe, sort_keys=False))
        sums: dict[str, float] = {}
        count, patches, started = 0, 0, time.perf_counter()
        bar = _progress(self.steps, self.step) if self.progress else None
        after_step = getattr(self.objective, "after_step", None) if self.main else None
        try:
            while self.step < self.steps:
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
                last = self.step == self.steps
                if self.step % self.log_every == 0 or last:
                    elapsed = time.perf_counter() - started
                    self.seconds += elapsed
                    row = {"step": self.step, "seconds": round(self.seconds, 1), "lr": self._lr(),
                           "patches_per_s": round(patches / elapsed, 2),
                           **{k: v / count for k, v in sums.items()}}
                    if self.main and (self.step % self.val_every == 0 or last):
                        row.update(self.objective.validate())
                    self.rows.append(row)
                    sums, count, patches = {}, 0, 0
                    self.seconds += time.perf_counter() - started - elapsed  # validation time
                    row["seconds"] = round(self.seconds, 1)
                    started = time.perf_counter()
                    if bar:
                        bar.update(self.step, row)
                    if self.main:
                        self._write_log()
                        self._maybe_best(row)
                if self.main and (self.step % self.ckpt_every == 0 or last):
                    self._save("last.pt")
                elif bar and self.step % max(1, self.log_every // 5) == 0:
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

    def _maybe_best(self, row: dict[str, Any]) -> None:
        score = row.get("psnr")
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
                              {"steps": str(self.step), "best_psnr": f"{self.best:.3f}"})
        if final:
            for k, m in self.objective.modules.items():
                m.load_state_dict(final[k])


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


def train(recipe: dict[str, Any], out_dir: str | Path, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run a recipe; returns the last log row."""
    return Trainer(recipe, out_dir, resume, progress).run()
