# Set-up, demo, tests and the benchmark tables (docs/benchmarks.md, headline ones in README.md). Everything runs in .venv.
PYTHON ?= python3
TORCH := torch==2.13.0
RESTORA_DATA ?= ../shared/data
STAMP := .venv/.installed

.PHONY: .venv demo test bench bench-denoise bench-upscale bench-inpaint bench-deblur

# torch first (the local CPU build), then restora with torch pinned so nothing pulls another one;
# the cluster extra (Ray, about 500 MB) too, so CI runs the --ray tests
.venv: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv .venv
	.venv/bin/pip install $(TORCH)
	echo "$(TORCH)" > constraints.txt
	.venv/bin/pip install -c constraints.txt -e '.[test,cluster,bench]'
	touch $@

demo: .venv
	.venv/bin/python -m restora.demo --out out

test: .venv
	.venv/bin/pytest -q

# Regenerates the tables between <!-- bench:NAME --> markers in docs/benchmarks.md (exact rows: out/bench/*.json),
# then copies the ones README.md shows into it (benchmarks/readme_tables.py)
bench: bench-denoise bench-upscale bench-inpaint bench-deblur

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
# the classical methods and the feed-forward face inpainter on all 500; photos with free-form holes
# in the four hole-ratio bins (McMaster, never trained on)
bench-inpaint: .venv
	.venv/bin/restora bench inpaint --data $(RESTORA_DATA)/denoise/color/mcmaster \
		--mask freeform:10-20,freeform:20-30,freeform:30-40,freeform:40-50 --methods telea,navier-stokes,photo-inpainter \
		--format json --out out/bench/inpaint-mcmaster.json --readme docs/benchmarks.md
	.venv/bin/restora bench inpaint --data $(RESTORA_DATA)/faces/celeba-train --offset 8500 --limit 120 \
		--mask center,boxes --methods telea,navier-stokes,gan-prior \
		--format json --out out/bench/inpaint-faces-120.json --readme docs/benchmarks.md
	.venv/bin/restora bench inpaint --data $(RESTORA_DATA)/faces/celeba-train --offset 8500 \
		--mask center,boxes --methods telea,navier-stokes,face-inpainter \
		--format json --out out/bench/inpaint-faces-500.json --readme docs/benchmarks.md
	.venv/bin/python benchmarks/readme_tables.py

# camera blur on McMaster: the blind deblurrer beside the non-blind methods given the kernel;
# Levin's kernels and two Gaussian kernels on Set3C (the IRCNN / DPIR tables) by benchmarks/deblur_set3c.py
bench-deblur: .venv
	.venv/bin/restora bench deblur --data $(RESTORA_DATA)/denoise/color/mcmaster \
		--kernel gaussian:1.5,disk:2,motion:9,30 --methods wiener,richardson-lucy,pnp,unet-deblur \
		--format json --out out/bench/deblur-mcmaster.json --readme docs/benchmarks.md
	.venv/bin/python benchmarks/deblur_set3c.py
	.venv/bin/python benchmarks/deblur_set3c.py --kernels gaussian
	.venv/bin/python benchmarks/readme_tables.py
