# crm: PGXS build.  The version lives only in crm.control.

EXTENSION = crm
EXTVERSION = $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big = crm
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c))) \
	$(patsubst %.cpp,%.o,$(sort $(wildcard src/*.cpp)))

# The install script is built from the editable sources in sql/install/,
# concatenated in file-name order; upgrade scripts are kept as written.
INSTALL_SOURCES = $(sort $(wildcard sql/install/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*--*.sql)) \
	$(wildcard sql/data/*.csv) $(wildcard sql/data/*.txt)

# pg_regress on PostgreSQL 15 reads sql/NAME.sql and expected/NAME.out;
# every sql/*.sql that is not an extension script is a regression test.
REGRESS = $(sort $(filter-out $(EXTENSION)--%,$(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --outputdir=test/regress --load-extension=$(EXTENSION)

PG_CPPFLAGS = -DCRM_VERSION=\"$(EXTVERSION)\" -I$(srcdir)/src
# Our own code is warning-free; these three only fire on PostgreSQL's own
# macros (PG_FUNCTION_ARGS, struct initializers, signed/unsigned in varlena).
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare
# PostgreSQL's CFLAGS were chosen for gcc; let clang ignore the gcc-only ones.
ifneq (,$(findstring clang,$(CC)))
PG_CFLAGS += -Wno-ignored-optimization-argument -Wno-unknown-warning-option -Wno-ignored-attributes \
	-Wno-unused-command-line-argument
endif
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -Wno-unused-parameter -fno-strict-aliasing
ifneq (,$(findstring clang,$(CXX)))
PG_CXXFLAGS += -Wno-unknown-warning-option -Wno-unused-command-line-argument
endif
SHLIB_LINK = -lphonenumber -lprotobuf -licui18n -licuuc -licudata -lpsl -lstdc++

# No LLVM bitcode: the C++ libphonenumber shim cannot be inlined by the JIT
# anyway, and this keeps the build free of a clang/llvm-lto dependency.
override with_llvm = no

EXTRA_CLEAN = test/regress

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track header dependencies; rebuild every object when any of
# our headers changes, so a struct change never mixes old and new layouts.
$(OBJS): $(wildcard src/*.h)

$(DATA_built): $(INSTALL_SOURCES) $(EXTENSION).control
	cat $(INSTALL_SOURCES) > $@

installcheck: | test/regress
test/regress:
	mkdir -p $@

# The README's commands, and the other project tasks.
.PHONY: demo test bench fuzz format
demo:
	tools/demo.sh
test:
	tools/test.sh
bench:
	tools/bench.sh
fuzz:
	test/fuzz/run.sh
format:
	@# pgindent, when installed, uses our typedefs.list; clang-format is a fallback
	pgindent --typedefs=src/typedefs.list src/*.c src/*.h 2>/dev/null || \
	clang-format -i src/*.c src/*.h
