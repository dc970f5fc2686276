# Stable-SAM Annotator — the two set-up commands are `make run` and `make test`.
# Both install what is missing (apt), build, and fetch + convert the default model once.
BUILD ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?=

.PHONY: all deps deps-test build model samples run test test-asan bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

deps-test:
	@bash scripts/install-deps.sh --test

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: $(BUILD)/build.ninja
	meson compile -C $(BUILD)

model: build
	$(BUILD)/app/stablesam fetch-model

samples:
	@bash scripts/samples.sh $(BUILD)/samples

run: deps
	$(MAKE) build
	$(MAKE) model
	$(MAKE) samples
	$(BUILD)/ui/stablesam-annotate $(BUILD)/samples

# The whole suite: engine, golden, app, ui, e2e (TAP), then the engine and app tests again
# under AddressSanitizer + UndefinedBehaviorSanitizer.
test: deps-test
	$(MAKE) build
	$(MAKE) model
	@bash tools/fetch-model.sh --keep-tarball >/dev/null
	meson test -C $(BUILD) --print-errorlogs --num-processes 2
	$(MAKE) test-asan

test-asan:
	[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) -Dgui=false -Dbuildtype=debugoptimized \
	    -Db_sanitize=address,undefined -Db_lundef=false
	meson compile -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2 --suite engine --suite app

bench: build model
	bash bench/compare.sh
	bash bench/rss.sh

# One libFuzzer target for a while (clang, ASan + UBSan build in build-fuzz), e.g.
# `make fuzz TARGET=project SECONDS=600`. TARGET: weights plugin model rle image project coco dataset.
TARGET ?= project
SECONDS ?= 120
fuzz:
	bash scripts/fuzz.sh $(TARGET) $(SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
