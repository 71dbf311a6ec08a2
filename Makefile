# vouchsafe: see README.md. `make demo` and `make test` are the two set-up commands.
GO        ?= go
ORT_DIR   ?= $(CURDIR)/.cache/ort
BIN       ?= bin/vouchsafe
FUZZTIME  ?= 10s
export VOUCHSAFE_ORT_DIR := $(ORT_DIR)

.PHONY: all build ort ort-cuda demo test torture fuzz bench vsbench eval-report gpu-pack models vet clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/vouchsafe

# libonnxruntime.so.1 (ORT 1.29.0) from the npm registry, sha256-checked.
ort:
	@scripts/fetch-ort.sh cpu $(ORT_DIR)

# The CUDA 13 execution provider, placed beside libonnxruntime.so.1.
ort-cuda: ort
	@scripts/fetch-ort.sh cuda $(ORT_DIR)

# Hash the bundled sample photos with the embedded default model.
demo: ort build
	$(BIN) hash testdata/photos

vet:
	$(GO) vet ./...

test: ort vet
	$(GO) test -count=1 ./...
	# The pure-Go build (no cgo): Go decoders, the default model in Go, PDQ.
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) test -count=1 ./engine ./cmd/vouchsafe ./pdq ./internal/imgproc
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)

# Corrupt, hostile and special inputs mixed with good ones, through the real
# binary (NeuralHash and PDQ); `make test` runs a small size of it.
TORTURE ?= 1200
torture: ort
	VOUCHSAFE_TORTURE=$(TORTURE) VOUCHSAFE_TORTURE_BOMBS=1 $(GO) test -count=1 -timeout 60m -v -run '^TestTorture$$' ./cmd/vouchsafe

# Every parser, fuzzed briefly. scripts/fuzz.sh lists the targets.
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

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

# Regenerate the embedded models (a test checks they match what is committed).
models:
	$(GO) generate ./models

clean:
	rm -rf bin
