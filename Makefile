# Set-up, demo, tests and the benchmark tables (docs/benchmarks.md, headline ones in README.md). Everything runs in .venv.
PYTHON ?= python3
TORCH := torch==2.13.0
RESTORA_DATA ?= ../shared/data
STAMP := .venv/.installed

.PHONY: .venv demo test bench bench-denoise bench-upscale bench-inpaint

# torch first (the local CPU build), then restora with torch pinned so nothing pulls another one
.venv: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv .venv
	.venv/bin/pip install $(TORCH)
	echo "$(TORCH)" > constraints.txt
	.venv/bin/pip install -c constraints.txt -e '.[test]'
	touch $@

demo: .venv
	.venv/bin/python -m restora.demo --out out

test: .venv
	.venv/bin/pytest -q

# Regenerates the tables between <!-- bench:NAME --> markers in docs/benchmarks.md (exact rows: out/bench/*.json),
# then copies the ones README.md shows into it (benchmarks/readme_tables.py)
bench: bench-denoise bench-upscale bench-inpaint

bench-denoise: .venv
	.venv/bin/restora bench denoise --data $(RESTORA_DATA)/denoise/gray/set12 --methods nlm,bm3d,unet-denoiser,unet-denoiser:ensemble=true \
		--sigma 15,25,50 --format json --out out/bench/denoise-set12.json --readme docs/benchmarks.md
	.venv/bin/restora bench denoise --data $(RESTORA_DATA)/denoise/color/mcmaster --methods nlm,bm3d,unet-denoiser,unet-denoiser:ensemble=true \
		--sigma 15,25,50 --format json --out out/bench/denoise-mcmaster.json --readme docs/benchmarks.md
	.venv/bin/python benchmarks/readme_tables.py

bench-upscale: .venv
	.venv/bin/restora bench upscale --data $(RESTORA_DATA)/sr/set5 \
		--methods bicubic,lanczos,srcnn-915,srcnn-955,fsrcnn,espcn,compact-sr,compact-sr:ensemble=true \
		--scale 2,3,4 --format json --out out/bench/upscale-set5.json --readme docs/benchmarks.md
	.venv/bin/python benchmarks/readme_tables.py

# GAN-prior on the first 120 of the 500 held-out faces (about 2.4 s per face on a CPU thread),
# the classical methods and the feed-forward face inpainter on all 500
bench-inpaint: .venv
	.venv/bin/restora bench inpaint --data $(RESTORA_DATA)/faces/celeba-train --offset 8500 --limit 120 \
		--mask center,boxes --methods telea,navier-stokes,gan-prior \
		--format json --out out/bench/inpaint-faces-120.json --readme docs/benchmarks.md
	.venv/bin/restora bench inpaint --data $(RESTORA_DATA)/faces/celeba-train --offset 8500 \
		--mask center,boxes --methods telea,navier-stokes,face-inpainter \
		--format json --out out/bench/inpaint-faces-500.json --readme docs/benchmarks.md
	.venv/bin/python benchmarks/readme_tables.py
