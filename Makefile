# Set-up, demo, tests and the README benchmark tables. Everything runs in .venv.
PYTHON ?= python3
TORCH := torch==2.13.0
RESTORA_DATA ?= ../shared/data
STAMP := .venv/.installed

.PHONY: .venv demo test bench bench-denoise bench-upscale

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

# Regenerates the tables between <!-- bench:NAME --> markers in README.md (exact rows: out/bench/*.json)
bench: bench-denoise bench-upscale

bench-denoise: .venv
	.venv/bin/restora bench denoise --data $(RESTORA_DATA)/denoise/gray/set12 --methods nlm,bm3d,unet-denoiser \
		--sigma 15,25,50 --format json --out out/bench/denoise-set12.json --readme README.md
	.venv/bin/restora bench denoise --data $(RESTORA_DATA)/denoise/color/mcmaster --methods nlm,bm3d,unet-denoiser \
		--sigma 15,25,50 --format json --out out/bench/denoise-mcmaster.json --readme README.md

bench-upscale: .venv
	.venv/bin/restora bench upscale --data $(RESTORA_DATA)/sr/set5 \
		--methods bicubic,lanczos,srcnn-915,srcnn-955,fsrcnn,espcn,compact-sr \
		--scale 2,3,4 --format json --out out/bench/upscale-set5.json --readme README.md
