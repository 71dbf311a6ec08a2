# vouchsafe: see README.md. `make demo` and `make test` are the two set-up commands.
GO        ?= go
ORT_DIR   ?= $(CURDIR)/.cache/ort
BIN       ?= bin/vouchsafe
FUZZTIME  ?= 10s
export VOUCHSAFE_ORT_DIR := $(ORT_DIR)
# ONNX Runtime's telemetry client stays off in everything make runs (tests that
# load the library directly too); vouchsafe itself always sets it.
export ORT_DISABLE_TELEMETRY := 1

# How the go commands build: scripts/deps.sh installs libjpeg-turbo for the cgo
# JPEG decoder (internal/jpeg) when it can (apt-get, sudo when not root) and
# otherwise falls back to the pure-Go build, saying so. TURBOJPEG_PREFIX points the check
# elsewhere (nothing is installed then). Worked out once, when first needed.
TURBOJPEG_PREFIX ?= /usr
CGO_SETTING = $(eval CGO_SETTING := $$(shell scripts/deps.sh $(TURBOJPEG_PREFIX)))$(CGO_SETTING)

.PHONY: all build ort ort-cuda demo test fuzz bench vsbench eval-report gpu-pack gpu-check gpu-check-dry models torture vet clean

all: build

build:
	$(CGO_SETTING) $(GO) build -o $(BIN) ./cmd/vouchsafe

# libonnxruntime.so.1 (ORT 1.29.0) from the npm registry, sha256-checked.
ort:
	@scripts/fetch-ort.sh cpu $(ORT_DIR)

# The CUDA 13 execution provider, placed beside libonnxruntime.so.1.
ort-cuda: ort
	@scripts/fetch-ort.sh cuda $(ORT_DIR)

# Hash the bundled sample photos with the embedded default model. ONNX Runtime
# is fetched only for a cgo build: the pure-Go one cannot load it.
demo:
	@$(if $(filter CGO_ENABLED=0,$(CGO_SETTING)),,scripts/fetch-ort.sh cpu $(ORT_DIR))
	$(CGO_SETTING) $(GO) build -o $(BIN) ./cmd/vouchsafe
	$(BIN) hash testdata/photos

vet:
	$(CGO_SETTING) $(GO) vet ./...

test: ort vet
	$(CGO_SETTING) $(GO) test -count=1 ./...
	# The pure-Go build (no cgo): Go decoders, the default model in Go, PDQ.
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) test -count=1 ./engine ./cmd/vouchsafe ./pdq ./internal/imgproc ./derivative
	# The generic (purego) field code of internal/p256, and the race detector
	# on the packages whose tests run goroutines against each other.
	$(GO) test -count=1 -tags purego ./internal/p256
	$(CGO_SETTING) $(GO) test -count=1 -race ./engine ./internal/jpeg ./internal/recon/store ./internal/recon/service ./psi ./internal/inputs ./internal/keyfile ./internal/results ./internal/safeio ./internal/shard
	$(MAKE) gpu-check-dry CGO_SETTING='$(CGO_SETTING)'
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME) CGO_SETTING='$(CGO_SETTING)'

# Corrupt, hostile and special inputs mixed with good ones, through the real
# binary (NeuralHash and PDQ); `make test` runs a small size of it.
TORTURE ?= 1200
torture: ort
	VOUCHSAFE_TORTURE=$(TORTURE) VOUCHSAFE_TORTURE_BOMBS=1 $(CGO_SETTING) $(GO) test -count=1 -timeout 60m -v -run '^TestTorture$$' ./cmd/vouchsafe

# Every parser, fuzzed briefly. scripts/fuzz.sh lists the targets.
fuzz:
	@$(CGO_SETTING) scripts/fuzz.sh $(FUZZTIME)

bench: ort
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Per-stage throughput (decode, inference, hashing, end to end) on a folder of
# photos, per device; see bench/README.md. PHOTOS=dir DEVICES=cpu,cuda.
PHOTOS  ?= testdata/photos
DEVICES ?= cpu
vsbench: ort
	$(GO) build -o bin/vsbench ./bench/cmd/vsbench
	mkdir -p bench/out && bin/vsbench --devices $(DEVICES) --json bench/out/vsbench.json $(PHOTOS)

# The robustness and false-positive report on 77 real photos (CC0 samples and
# Debian's wallpaper and camera-photo packages, scaled to 1024 px), as in the
# README; needs `apt-get download` to work.
eval-report: ort build
	scripts/eval-photos.sh .cache/photos/eval
	$(BIN) eval --max-side 1024 --model default --pdq -o eval-report .cache/photos/eval

# Everything a GPU machine needs (binaries, ONNX Runtime, the CUDA provider),
# split into parts small enough to carry; see bench/README.md.
gpu-pack: ort-cuda
	bench/gpu-pack.sh .gpu

# The GPU check as one command, on the lent GPU machine once the parts of
# gpu-pack are there (bench/README.md): one JSON + one Markdown table in
# GPU_CHECK_OUT (default $$OUT, else bench/out/gpu-check).
GPU_CHECK_OUT ?=
gpu-check:
	bash bench/gpu-check.sh $(GPU_CHECK_OUT)

# The same script, CPU only, tiny inputs (part of make test, so it cannot rot):
# packs without the CUDA provider, unpacks, runs every step, checks the report.
gpu-check-dry: ort
	@if [ "$(filter CGO_ENABLED=0,$(CGO_SETTING))" ]; then \
	  echo "gpu-check-dry: skipped: the pure-Go build cannot load ONNX Runtime"; \
	else \
	  set -e; rm -rf .cache/gpu-dry; \
	  bench/gpu-pack.sh --cpu-only --fast .cache/gpu-dry/parts; \
	  bash bench/gpu-check.sh --dry-run --budget 600 --parts .cache/gpu-dry/parts --dest .cache/gpu-dry/vs .cache/gpu-dry/out; \
	  grep -q '"name": "camera-photos"' .cache/gpu-dry/out/gpu-check.json; \
	  rm -rf .cache/gpu-dry/parts .cache/gpu-dry/vs; \
	fi

# Regenerate the embedded models (a test checks they match what is committed).
models:
	$(GO) generate ./models

clean:
	rm -rf bin
