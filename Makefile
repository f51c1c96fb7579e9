# Entry points (see README.md):
#   make demo    build warmstart-finetune (release preset) and run the fine-tuning demo:
#                pretrain on four shape classes, fine-tune to three new ones, compare with
#                training from scratch (examples/finetune/demo.sh; about 3 minutes on 2 cores)
#   make inspect-demo  build the CLI, inspect a checkpoint and plan a fine-tune from it
#   make test    configure, build and run every test with the ci preset (-Werror)
#   make asan    the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench   build the benchmarks (release preset) and run each once
#   make deps    install missing Debian packages (apt-get; sudo when not root)
#   make clean   remove build/
# Every target but clean starts with deps, which runs apt-get only when a package is missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
JOBS ?= 2

PACKAGES := build-essential cmake libeigen3-dev nlohmann-json3-dev catch2 libcli11-dev libsnappy-dev libstb-dev libleveldb-dev python3-numpy

# The demo checkpoint: $DEMO_CKPT (any path `warmstart inspect` accepts), else one that
# examples/demo/make_demo_checkpoint writes to build/release/demo/.
DEMO_CKPT ?=

.PHONY: all deps test demo inspect-demo asan bench clean

all: test

deps:
	@if ! command -v dpkg >/dev/null 2>&1; then \
	  echo "deps: no dpkg (not Debian/Ubuntu); make sure these are installed: $(PACKAGES)"; \
	  exit 0; \
	fi; \
	missing=""; \
	for p in $(PACKAGES); do \
	  dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	else echo "deps: missing$$missing, and not root and no sudo: install them yourself" >&2; exit 1; fi; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing

test: deps
	cd "$(ROOT)" && cmake --preset ci && cmake --build --preset ci -j$(JOBS) && ctest --preset ci

demo: deps
	cd "$(ROOT)" && cmake --preset release && cmake --build --preset release -j$(JOBS) --target warmstart_finetune
	cd "$(ROOT)" && examples/finetune/demo.sh build/release/warmstart-finetune

inspect-demo: deps
	cd "$(ROOT)" && cmake --preset release && cmake --build --preset release -j$(JOBS) --target warmstart_cli make_demo_checkpoint
	@ckpt="$(DEMO_CKPT)"; \
	if [ -z "$$ckpt" ]; then \
	  ckpt="$(ROOT)/build/release/demo/model.ckpt"; \
	  "$(ROOT)/build/release/make_demo_checkpoint" "$$ckpt"; \
	fi; \
	echo; echo "== warmstart inspect $$ckpt"; \
	"$(ROOT)/build/release/warmstart" inspect "$$ckpt"; \
	echo; echo "== warmstart inspect --verify $$ckpt"; \
	"$(ROOT)/build/release/warmstart" inspect --verify "$$ckpt"; \
	if [ -z "$(DEMO_CKPT)" ]; then \
	  echo; echo "== warmstart plan: fine-tune the demo checkpoint to 3 classes (examples/demo/pipeline.config)"; \
	  "$(ROOT)/build/release/warmstart" plan --config "$(ROOT)/examples/demo/pipeline.config" \
	    --checkpoint "$$ckpt" --model-vars "$(ROOT)/examples/demo/model_vars.json"; \
	fi

asan: deps
	cd "$(ROOT)" && cmake --preset asan && cmake --build --preset asan -j$(JOBS) && ctest --preset asan

# Benchmarks are bench/<name>_bench.cpp, built as build/release/bench/bench_<name>; they run
# from the repository root (scratch data belongs in bench-data/, which git ignores).
bench: deps
	cd "$(ROOT)" && cmake --preset release && cmake --build --preset release -j$(JOBS)
	@cd "$(ROOT)"; shopt -s nullglob; benches=(build/release/bench/bench_*); \
	if [ $${#benches[@]} -eq 0 ]; then echo "bench: no benchmarks yet (bench/*_bench.cpp)"; exit 0; fi; \
	for b in "$${benches[@]}"; do echo "== $$b"; "$$b"; done

clean:
	rm -rf "$(ROOT)/build"
