#!/usr/bin/env bash
# Build and run crm's libFuzzer harnesses outside the server.
#
#   test/fuzz/run.sh [TARGET...]      default: every test/fuzz/*_fuzz.c
#   FUZZ_SECONDS=600 test/fuzz/run.sh email
#   FUZZ_FLAGS=-max_len=512 test/fuzz/run.sh names   (extra libFuzzer flags)
#
# Each harness names what it links in its first lines:
#   /* fuzz-sources: src/email_parse.c */
#   /* fuzz-libs: -licuuc -licudata */
# Seeds live in test/fuzz/corpus/TARGET/ (committed); the corpus grown by a
# run stays in test/fuzz/build/ (git-ignored).  A crash leaves its input in
# test/fuzz/build/ and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
BUILD=test/fuzz/build
mkdir -p "$BUILD"
CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc"

if [ $# -gt 0 ]; then targets=("$@")
else targets=(); for f in test/fuzz/*_fuzz.c; do [ -e "$f" ] && targets+=("$(basename "$f" _fuzz.c)"); done; fi
[ ${#targets[@]} -gt 0 ] || { echo "no fuzz harnesses"; exit 0; }

status=0
for t in "${targets[@]}"; do
	h=test/fuzz/${t}_fuzz.c
	[ -f "$h" ] || { echo "no harness $h" >&2; exit 2; }
	sources=$(sed -n 's|^/\* *fuzz-sources: *\(.*\) *\*/|\1|p' "$h")
	libs=$(sed -n 's|^/\* *fuzz-libs: *\(.*\) *\*/|\1|p' "$h")
	objs=()
	for s in $h $sources; do
		o=$BUILD/$(basename "${s%.*}")-$t.o
		case $s in
			*.cpp) clang++ -std=c++17 ${CFLAGS/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,} -c "$s" -o "$o";;
			*.c) clang ${CFLAGS/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,} -c "$s" -o "$o";;
		esac
		objs+=("$o")
	done
	clang++ $CFLAGS "${objs[@]}" $libs -o "$BUILD/$t"
	mkdir -p "$BUILD/corpus-$t" "test/fuzz/corpus/$t"
	echo "== fuzzing $t for ${FUZZ_SECONDS}s" >&2
	dict=(); [ -f "test/fuzz/$t.dict" ] && dict=(-dict="$PWD/test/fuzz/$t.dict")
	if ! (cd "$BUILD" && "./$t" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 ${FUZZ_FLAGS:-} \
			-artifact_prefix="$t-" ${dict[@]+"${dict[@]}"} \
			"corpus-$t" "../corpus/$t") 2>"$BUILD/$t.log"; then
		tail -40 "$BUILD/$t.log" >&2
		status=1
	fi
	grep -E 'stat::number_of_executed_units|stat::peak_rss' "$BUILD/$t.log" | sed "s/^/$t: /" >&2
done
exit $status
