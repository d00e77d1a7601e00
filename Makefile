# lua-cloudops build. `make` builds the C core for LUA (lua5.4 by default, or luajit) from the
# Cloud Ops API schema in CLOUD_API_DIR, or, when none is given, from the pinned upstream schema
# it fetches with git into build/cloud-api; everything generated goes to build/.

LUA ?= lua5.4
CLOUD_API_DIR ?=
PROTOBUF_INCLUDE ?= /usr/include
# Lua used to run the build's own scripts (proto/*.lua), whichever Lua the module is built for.
BUILD_LUA ?= lua5.4
CC ?= cc
PREFIX ?= /usr/local

SHELL := /bin/bash
BUILD := build
GEN := $(BUILD)/gen
SCHEMA := $(BUILD)/schema
FETCHED_API_DIR := $(BUILD)/cloud-api
SERVICE_PROTO := temporal/api/cloud/cloudservice/v1/service.proto

# luarocks passes LUA_INCDIR (and the interpreter's path as LUA): the headers decide the build.
ifneq ($(findstring luajit,$(LUA_INCDIR)),)
  override LUA := luajit
endif
ifneq ($(SANITIZE),)
  OUT := $(BUILD)/asan
  LUA_PKG := $(LUA)
  LUA_ABI := $(patsubst lua%,%,$(LUA))
else ifeq ($(LUA),luajit)
  LUA_PKG := luajit
  OUT := $(BUILD)/luajit
  LUA_ABI := 5.1
else ifneq ($(LUA_INCDIR),)
  LUA_PKG := lua$(shell sed -n 's/^\#define LUA_VERSION_NUM[ \t]*50*\([0-9]\)$$/5.\1/p' $(LUA_INCDIR)/lua.h)
  LUA_ABI := $(patsubst lua%,%,$(LUA_PKG))
  # one build directory per Lua ABI: objects of one must never be linked for another
  OUT := $(if $(filter 5.4,$(LUA_ABI)),$(BUILD),$(BUILD)/$(LUA_PKG))
else
  LUA_PKG := $(LUA)
  OUT := $(BUILD)
  LUA_ABI := $(patsubst lua%,%,$(LUA))
endif

LUA_CFLAGS := $(if $(LUA_INCDIR),-I$(LUA_INCDIR),$(shell pkg-config --cflags $(LUA_PKG) 2>/dev/null))
DEP_LIBS := $(shell pkg-config --libs grpc libprotobuf-c 2>/dev/null)
OPT ?= -O2 -g
CFLAGS_ALL := -std=c11 $(OPT) -fPIC -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
              $(LUA_CFLAGS) -Isrc -I$(GEN) $(SANITIZE) $(CFLAGS)
LDFLAGS_ALL := -shared $(SANITIZE) $(LDFLAGS)

# The schema files the module is built from: those service.proto imports, directly or not,
# listed by proto/prepare.lua in $(SCHEMA)/protos.mk (CLOUD_PROTOS, GOOGLE_PROTOS, SCHEMA_FROM).
# Goals that need no schema do not make it.
NO_SCHEMA_GOALS := clean distclean fetch-schema check-schema uninstall lint
ifneq ($(filter-out $(NO_SCHEMA_GOALS),$(or $(MAKECMDGOALS),all)),)
include $(SCHEMA)/protos.mk
endif
# The schema directory: CLOUD_API_DIR when given; else the one prepared last; else build/cloud-api.
API_DIR := $(abspath $(or $(CLOUD_API_DIR),$(SCHEMA_FROM),$(FETCHED_API_DIR)))
OWN_PROTOS := rpc_status.proto
ALL_PROTOS := $(CLOUD_PROTOS) $(GOOGLE_PROTOS) $(OWN_PROTOS)
PROTO_PATH := -I$(SCHEMA) -I$(PROTOBUF_INCLUDE) -Iproto

GEN_SRCS := $(addprefix $(GEN)/,$(ALL_PROTOS:.proto=.pb-c.c)) $(GEN)/registry.c
GEN_HDRS := $(addprefix $(GEN)/,$(ALL_PROTOS:.proto=.pb-c.h))
CORE_SRCS := $(wildcard src/*.c)
CORE_OBJS := $(patsubst src/%.c,$(OUT)/obj/%.o,$(CORE_SRCS))
GEN_OBJS := $(patsubst $(GEN)/%.c,$(OUT)/obj/gen/%.o,$(GEN_SRCS))
CORE_SO := $(OUT)/lua/cloudops/core.so

.PHONY: all schema check-schema python test test-luajit lint test-asan test-valgrind test-valgrind-torture bench bench-load demo fuzz install uninstall clean distclean fetch-schema

all: $(CORE_SO)

check-schema:
	@test -f "$(API_DIR)/$(SERVICE_PROTO)" || { \
	  echo "error: CLOUD_API_DIR=$(CLOUD_API_DIR) does not hold the Cloud Ops API schema" >&2; \
	  echo "  (expected $(API_DIR)/$(SERVICE_PROTO))." >&2; \
	  echo "  Point CLOUD_API_DIR at a copy of it, or leave CLOUD_API_DIR out: make then fetches" >&2; \
	  echo "  the pinned upstream schema with git (make fetch-schema)." >&2; \
	  exit 1; }
	@test -f "$(PROTOBUF_INCLUDE)/google/protobuf/timestamp.proto" || { \
	  echo "error: $(PROTOBUF_INCLUDE)/google/protobuf/timestamp.proto is missing: install libprotobuf-dev" >&2; exit 1; }

# Where the schema comes from: CLOUD_API_DIR, checked; or, when it is not given, the schema
# prepared last; or the pinned upstream schema, fetched into build/cloud-api the first time
# (`make clean` keeps it).
ifneq ($(CLOUD_API_DIR),)
SCHEMA_SOURCE := check-schema
else ifeq ($(SCHEMA_FROM),)
SCHEMA_SOURCE := $(FETCHED_API_DIR)/$(SERVICE_PROTO)
endif
$(FETCHED_API_DIR)/$(SERVICE_PROTO):
	@echo "CLOUD_API_DIR is not set: fetching the pinned Cloud Ops API schema with git into $(FETCHED_API_DIR)"
	@rm -rf "$(FETCHED_API_DIR).partial"
	@$(FETCH_SCHEMA) sh proto/fetch-schema.sh "$(abspath $(FETCHED_API_DIR)).partial" || { \
	  echo "error: could not fetch the Cloud Ops API schema (is this machine offline?). Either" >&2; \
	  echo "  - build from a copy of it: make CLOUD_API_DIR=/path/to/cloud-api (laid out as" >&2; \
	  echo "    proto/fetch-schema.sh says: temporal/api/cloud/**, temporal/api/{common,enums}/v1), or" >&2; \
	  echo "  - fetch from mirrors of the three repositories: make CLOUD_API_REPO=URL" >&2; \
	  echo "    TEMPORAL_API_REPO=URL GRPC_GATEWAY_REPO=URL (git URLs or paths; the commits are pinned)." >&2; \
	  rm -rf "$(FETCHED_API_DIR).partial"; exit 1; }
	@rm -rf "$(FETCHED_API_DIR)" && mv "$(FETCHED_API_DIR).partial" "$(FETCHED_API_DIR)"

# The prepared schema: the files service.proto needs, stripped of REST annotations, and their
# list. Prepared again when CLOUD_API_DIR names another schema directory.
$(SCHEMA)/protos.mk: proto/prepare.lua proto/strip.lua proto/rpc_status.proto \
    $(if $(and $(CLOUD_API_DIR),$(SCHEMA_FROM),$(filter-out $(realpath $(API_DIR)),$(realpath $(SCHEMA_FROM)))),FORCE) | $(SCHEMA_SOURCE)
	@test -f "$(PROTOBUF_INCLUDE)/google/protobuf/timestamp.proto" || { \
	  echo "error: $(PROTOBUF_INCLUDE)/google/protobuf/timestamp.proto is missing: install libprotobuf-dev" >&2; exit 1; }
	@rm -rf $(SCHEMA) && mkdir -p $(SCHEMA)
	@$(BUILD_LUA) proto/prepare.lua "$(API_DIR)" "$(PROTOBUF_INCLUDE)" proto $(SCHEMA) $(OWN_PROTOS)

.PHONY: FORCE
FORCE:

# protoc-c sources, the descriptor set, and the registry generated from it.
$(GEN)/.stamp: $(SCHEMA)/protos.mk proto/gen_registry.lua proto/versioning.lua proto/rpc_status.proto
	@rm -rf $(GEN) && mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) $(PROTO_PATH) $(ALL_PROTOS)
	protoc --include_imports --include_source_info --descriptor_set_out=$(GEN)/schema.desc $(PROTO_PATH) $(ALL_PROTOS)
	cd $(GEN) && $(BUILD_LUA) $(CURDIR)/proto/gen_registry.lua schema.desc "$$(cat $(CURDIR)/$(SCHEMA)/VERSION)" \
	  registry.c $(ALL_PROTOS:.proto=.pb-c.h)
	@touch $@

schema: $(GEN)/.stamp

$(GEN_SRCS) $(GEN_HDRS): $(GEN)/.stamp

$(OUT)/obj/gen/%.o: $(GEN)/%.c $(GEN)/.stamp
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS_ALL) -w -c $< -o $@

$(OUT)/obj/%.o: src/%.c $(wildcard src/*.h) $(GEN)/.stamp
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS_ALL) -c $< -o $@

$(CORE_SO): $(CORE_OBJS) $(GEN_OBJS)
	@mkdir -p $(dir $@)
	@echo "LINK $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DEP_LIBS) -lpthread -lm

# Python code for the cross-checks against an independent protobuf implementation.
# google/protobuf is left out: python3-protobuf ships its own, which generated copies would shadow.
python: $(BUILD)/python/.stamp
$(BUILD)/python/.stamp: $(GEN)/.stamp
	@rm -rf $(BUILD)/python && mkdir -p $(BUILD)/python
	protoc --python_out=$(BUILD)/python $(PROTO_PATH) $(CLOUD_PROTOS) $(OWN_PROTOS)
	@touch $@

# ---- tests, benchmarks, demo ------------------------------------------------------------------

# busted runs under the Lua it tests: `lua` may be another version (luarocks pulls in lua5.1).
BUSTED ?= $(if $(filter luajit,$(LUA)),luajit,$(LUA)) /usr/bin/busted$(if $(filter luajit,$(LUA)), --run=luajit)
FUZZ_SMOKE_SECONDS ?= 15
LUA54_LOG := $(BUILD)/test-lua54.log
JIT_LOG := $(BUILD)/test-luajit.log
BUILD_LOG := $(BUILD)/test-build.log
FUZZ_LOG := $(BUILD)/test-fuzz.log

# The README's test command, in three lanes at once (most specs wait on servers more than they
# compute): every spec under Lua 5.4 but spec/00-build's; spec/00-build's (make, luarocks, the
# schema build); and under LuaJIT, against the LuaJIT build of the core, the specs that depend
# on the Lua (.busted says which), then a short run of each fuzzer. The other lanes' output is
# shown after the first's; the run fails if any lane does. A failed lane's report (busted's
# failures, from its summary line on) is shown again last, where a log's tail shows it. An
# interrupted run stops them all.
test: all python
	$(MAKE) --no-print-directory LUA=luajit all # the LuaJIT pass, and the nginx specs, load the LuaJIT core
	@echo "busted (Lua 5.4); at the same time spec/00-build into $(BUILD_LOG), and busted --run=luajit" \
	  "then the fuzzers into $(JIT_LOG) and $(FUZZ_LOG)"
	@rm -f $(BUILD_LOG).status $(JIT_LOG).status $(FUZZ_LOG).status; \
	  ( $(BUSTED) spec/00-build > $(BUILD_LOG) 2>&1; echo $$? > $(BUILD_LOG).status ) & b=$$!; \
	  ( luajit /usr/bin/busted --run=luajit > $(JIT_LOG) 2>&1; echo $$? > $(JIT_LOG).status; \
	    $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) > $(FUZZ_LOG) 2>&1; \
	    echo $$? > $(FUZZ_LOG).status ) & j=$$!; \
	  trap 'pkill -P $$b; pkill -P $$j; kill $$b $$j 2>/dev/null; exit 130' INT TERM; \
	  $(LUA) /usr/bin/busted --run=nobuild 2>&1 | tee $(LUA54_LOG); echo $${PIPESTATUS[0]} > $(LUA54_LOG).status; \
	  wait $$b $$j; \
	  echo "== spec/00-build (Lua 5.4):"; cat $(BUILD_LOG); \
	  echo "== busted --run=luajit (LuaJIT):"; cat $(JIT_LOG); \
	  echo "== make fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS):"; cat $(FUZZ_LOG); \
	  failed=0; \
	  for lane in $(LUA54_LOG) $(BUILD_LOG) $(JIT_LOG) $(FUZZ_LOG); do \
	    test "$$(cat $$lane.status 2>/dev/null)" = 0 && continue; \
	    failed=1; echo "== failed: $$lane"; \
	    sed -n '/ pending : /,$$p' $$lane | grep . || tail -n 40 $$lane; \
	  done; \
	  test $$failed -eq 0

# The LuaJIT pass alone.
test-luajit: python
	$(MAKE) --no-print-directory LUA=luajit all
	luajit /usr/bin/busted --run=luajit

# Lua style (.luacheckrc, Debian's lua-check): 0 warnings.
lint:
	luacheck -q --no-color .

# The Lua 5.4 suite against a core built with AddressSanitizer and UBSan, float-to-integer
# overflow included (GCC's -fsanitize=undefined leaves it out). lua5.4 itself is not
# instrumented, so the runtime is preloaded. Servers the specs start use the same core. Leaks are
# valgrind's to find (make test-valgrind): the preload reaches every child, sh and openssl too.
# Then the core specs again in the GC-torture mode (the collector running continuously,
# finalizers at its allocations: spec/07-reliability/gc_torture_helper.lua). ASAN_SPECS and
# TORTURE_SPECS restrict the two runs (ASAN_SPECS empty: the whole suite).
ASAN_LIBS := $(shell $(CC) -print-file-name=libasan.so) $(shell $(CC) -print-file-name=libubsan.so)
ASAN_SPECS ?=
TORTURE_SPECS ?= $(CORE_SPECS) spec/07-reliability/gc_torture_spec.lua spec/07-reliability/exit_paths_spec.lua
TORTURE_HELPER := --helper=spec/07-reliability/gc_torture_helper.lua
ASAN_ENV := CLOUDOPS_CORE_CPATH="$(CURDIR)/$(BUILD)/asan/lua/?.so" LD_PRELOAD="$(ASAN_LIBS)" \
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-asan: python
	$(MAKE) SANITIZE="-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow"
	$(ASAN_ENV) $(LUA) /usr/bin/busted --run=asan $(ASAN_SPECS)
	$(ASAN_ENV) $(LUA) /usr/bin/busted --run=asan $(TORTURE_HELPER) $(TORTURE_SPECS)

# The C core's specs (those that drive cloudops.core), under valgrind memcheck, with every Lua
# process they start (servers) under valgrind too. Clean means 0 errors and nothing definitely or
# indirectly lost (docs/design.md "Testing"); the core pins itself loaded, so gRPC's
# process-lifetime state stays reachable and needs no suppression.
CORE_SPECS ?= spec/01-core spec/02-client spec/08-concurrency/core_calls_spec.lua spec/08-concurrency/map_spec.lua
VALGRIND ?= valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --num-callers=30 --child-silent-after-fork=yes
VG_LOGS := $(CURDIR)/$(BUILD)/valgrind
test-valgrind: VG_ARGS = $(CORE_SPECS)

# The GC-torture mode under valgrind (by hand, slow): the torture scenarios (fewer rounds: each
# allocation of theirs is a whole collection), the started calls and the exit paths, with the
# collector running continuously in busted too, every process under valgrind.
VG_TORTURE_SPECS ?= spec/07-reliability/gc_torture_spec.lua spec/08-concurrency/core_calls_spec.lua \
  spec/07-reliability/exit_paths_spec.lua
test-valgrind-torture: VG_ARGS = $(TORTURE_HELPER) $(VG_TORTURE_SPECS)
test-valgrind-torture: VG_ENV = CLOUDOPS_TORTURE_ROUNDS=40

test-valgrind test-valgrind-torture: all python
	@rm -rf $(VG_LOGS) && mkdir -p $(VG_LOGS)
	$(VG_ENV) CLOUDOPS_SPEC_LUA="$(VALGRIND) --log-file=$(VG_LOGS)/%p.log $(LUA)" \
	  $(VALGRIND) --log-file=$(VG_LOGS)/%p.log $(LUA) /usr/bin/busted $(VG_ARGS)
	@bad=$$(grep -L 'ERROR SUMMARY: 0 errors' $(VG_LOGS)/*.log); \
	  if [ -n "$$bad" ]; then echo "valgrind found errors or leaks, see:"; echo "$$bad"; exit 1; fi; \
	  echo "valgrind: $$(ls $(VG_LOGS)/*.log | wc -l) processes checked, 0 errors, 0 bytes definitely or indirectly lost"

# The README's main job: the tour of the library against a local emulator.
demo: all
	$(LUA) examples/tour.lua

BENCH_BINS := $(BUILD)/bench/raw_client $(OUT)/bench/protobuf_c.so
# The baselines use the generated messages, not the core's registry.
BENCH_GEN_OBJS := $(filter-out $(OUT)/obj/gen/registry.o,$(GEN_OBJS))
$(BUILD)/bench/%: bench/%.c $(GEN_OBJS)
	@mkdir -p $(dir $@)
	@echo "CC $@"
	@$(CC) -std=c11 -O2 -D_GNU_SOURCE -I$(GEN) -o $@ $< $(BENCH_GEN_OBJS) $(DEP_LIBS)
# bench/convert.lua's baseline, a module loaded into the bench's process (bench/protobuf_c.c).
$(OUT)/bench/protobuf_c.so: bench/protobuf_c.c $(GEN_OBJS)
	@mkdir -p $(dir $@)
	@echo "LINK $@"
	@$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(BENCH_GEN_OBJS) $(DEP_LIBS)

# BENCH_DATA=FILE: the GetNamespacesResponse bytes bench/convert.lua measures (default: a page it makes).
# Every script runs and prints its figures beside their targets; make fails at the end if one
# missed.
bench: all $(BENCH_BINS)
	@missed=0; \
	$(LUA) bench/run.lua || missed=1; \
	BENCH_DATA="$(BENCH_DATA)" $(LUA) bench/convert.lua || missed=1; \
	for b in ratelimit_batch latency_batch settle_batch slots_batch redis_limit snapshot desired_apply; do \
	  $(LUA) bench/$$b.lua || missed=1; \
	done; \
	exit $$missed

# Memory under load: 100,000 calls and 10,000 clients, RSS sampled (issue 7); by hand.
bench-load: all
	$(LUA) bench/load.lua

# ---- fuzzing (libFuzzer with ASan and UBSan, clang from Debian) ------------------------------

FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_TARGETS := decode encode unknown
FUZZERS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%_fuzzer)

$(FUZZ_DIR)/%_fuzzer: fuzz/lua_fuzzer.c $(CORE_SRCS) $(wildcard src/*.h) $(GEN)/.stamp
	@mkdir -p $(dir $@)
	@echo "FUZZER $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -DFUZZ_TARGET='"$*"' $(shell pkg-config --cflags lua5.4) \
	  -Isrc -I$(GEN) -w -o $@ fuzz/lua_fuzzer.c $(CORE_SRCS) $(GEN_SRCS) -llua5.4 $(DEP_LIBS) -lm

$(FUZZ_DIR)/corpus/.stamp: fuzz/make_corpus.lua $(CORE_SO)
	@rm -rf $(FUZZ_DIR)/corpus
	$(LUA) fuzz/make_corpus.lua $(FUZZ_DIR)/corpus
	@touch $@

# Each fuzzer for FUZZ_SECONDS; what they find is kept in build/fuzz/findings/.
fuzz: $(FUZZERS) $(FUZZ_DIR)/corpus/.stamp
	@mkdir -p $(FUZZ_DIR)/findings
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/work/$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS)s"; \
	  $(FUZZ_DIR)/$${t}_fuzzer -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=$(FUZZ_DIR)/findings/$$t- -print_final_stats=1 \
	    $(FUZZ_DIR)/work/$$t $(FUZZ_DIR)/corpus/$$t 2>&1 | grep -E '^(stat::number_of_executed_units|Done|==[0-9]+==ERROR|SUMMARY|property broken)' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# ---- install ----------------------------------------------------------------------------------

# Under PREFIX (default /usr/local, which Debian's Lua 5.4 and LuaJIT search), or wherever
# LUA_LMOD, LUA_CMOD and BINDIR say; DESTDIR is prepended to all three.
LUA_LMOD ?= $(PREFIX)/share/lua/$(LUA_ABI)
LUA_CMOD ?= $(PREFIX)/lib/lua/$(LUA_ABI)
LUA_FILES := $(shell find lua -name '*.lua')
BINDIR ?= $(PREFIX)/bin
TOOLS := $(notdir $(wildcard bin/cloudops bin/cloudops-emulator bin/cloudops-repl))
# The interpreter the installed tools run on: the one the core was built for.
TOOL_LUA := $(if $(filter luajit,$(LUA_PKG)),luajit,$(LUA_PKG))

# The tools are installed knowing where the modules went (their `local INSTALLED` line), so
# they work from any PREFIX without LUA_PATH.
install: all
	@for f in $(LUA_FILES); do d="$(DESTDIR)$(LUA_LMOD)/$$(dirname $${f#lua/})"; \
	  install -d "$$d" && install -m 644 "$$f" "$$d/" || exit 1; done
	install -d $(DESTDIR)$(LUA_CMOD)/cloudops
	install -m 755 $(CORE_SO) $(DESTDIR)$(LUA_CMOD)/cloudops/core.so
	install -d $(DESTDIR)$(BINDIR)
	@for b in $(TOOLS); do \
	  sed -e '1s|.*|#!/usr/bin/env $(TOOL_LUA)|' \
	      -e 's|^local INSTALLED = nil .*|local INSTALLED = { lmod = "$(LUA_LMOD)", cmod = "$(LUA_CMOD)" }|' \
	      bin/$$b > $(DESTDIR)$(BINDIR)/$$b && chmod 755 $(DESTDIR)$(BINDIR)/$$b || exit 1; \
	  echo "installed $(DESTDIR)$(BINDIR)/$$b"; done

uninstall:
	rm -rf $(DESTDIR)$(LUA_LMOD)/cloudops $(DESTDIR)$(LUA_LMOD)/cloudops.lua $(DESTDIR)$(LUA_CMOD)/cloudops
	for b in $(TOOLS); do rm -f $(DESTDIR)$(BINDIR)/$$b; done

# clean keeps the fetched schema (fetching it again needs the network); distclean does not.
clean:
	@test -d $(BUILD) && find $(BUILD) -mindepth 1 -maxdepth 1 ! -name cloud-api -exec rm -rf {} + || true

distclean:
	rm -rf $(BUILD)

# ---- the pinned upstream schema, for networked machines ---------------------------------------

CLOUD_API_REPO ?= https://github.com/temporalio/cloud-api.git
CLOUD_API_COMMIT ?= d4a03495f1d6e7a2da6001507b5f99430618080d
TEMPORAL_API_REPO ?= https://github.com/temporalio/api.git
TEMPORAL_API_COMMIT ?= f53963d4489c8a73aa30bd7091fe758f9896c08c
GRPC_GATEWAY_REPO ?= https://github.com/grpc-ecosystem/grpc-gateway.git
GRPC_GATEWAY_COMMIT ?= 9648db43c0246058bec6e832bd53adb0cdf4eead
FETCH_SCHEMA = CLOUD_API_REPO=$(CLOUD_API_REPO) CLOUD_API_COMMIT=$(CLOUD_API_COMMIT) \
  TEMPORAL_API_REPO=$(TEMPORAL_API_REPO) TEMPORAL_API_COMMIT=$(TEMPORAL_API_COMMIT) \
  GRPC_GATEWAY_REPO=$(GRPC_GATEWAY_REPO) GRPC_GATEWAY_COMMIT=$(GRPC_GATEWAY_COMMIT)
# Fetches the pinned schema into CLOUD_API_DIR (default build/cloud-api).
fetch-schema:
	$(FETCH_SCHEMA) sh proto/fetch-schema.sh "$(API_DIR)"
# ---- readline binding (issue 6) ----
# cloudops.readline, for bin/cloudops-repl (Lua 5.4 only: the REPL's Lua). Built when
# libreadline's headers are there; without it the REPL runs without completion and history.
READLINE_INCLUDE ?= /usr/include
READLINE_SO := $(OUT)/lua/cloudops/readline.so
ifneq ($(LUA),luajit)
ifneq ($(wildcard $(READLINE_INCLUDE)/readline/readline.h),)
all: $(READLINE_SO)
install: install-readline
endif
endif
$(READLINE_SO): src/readline/lreadline.c
	@mkdir -p $(dir $@)
	@echo "CC $@"
	@$(CC) -std=c11 $(OPT) -fPIC -Wall -Wextra -D_GNU_SOURCE $(LUA_CFLAGS) -I$(READLINE_INCLUDE) $(SANITIZE) $(CFLAGS) \
	  $(LDFLAGS_ALL) -o $@ $< -lreadline
.PHONY: install-readline
install-readline: $(READLINE_SO)
	install -d $(DESTDIR)$(LUA_CMOD)/cloudops
	install -m 755 $(READLINE_SO) $(DESTDIR)$(LUA_CMOD)/cloudops/readline.so
# ---- end readline binding ----
