# Shared by the tools/*.sh scripts: where things are, and how to run as the
# postgres OS user.  Sourced, never run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BINDIR/pg_config
export PG_CONFIG

# Run a command as the owner of the throwaway cluster.  PostgreSQL refuses to
# run as root, so root hands over to the postgres OS user.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Everything the throwaway cluster owns lives under PGBASE: the data
# directory, the socket and a private install tree.  It is .pg/ inside the
# checkout unless the postgres user cannot reach the checkout or the socket
# path would be too long, then a folder under /tmp named after the checkout.
pick_pgbase() {
	local base="$ROOT/.pg"
	local reachable=yes
	if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
		runuser -u postgres -- test -x "$ROOT" 2>/dev/null || reachable=no
	fi
	if [ $reachable = no ] || [ ${#base} -gt 70 ]; then
		base=/tmp/crm-pg-$(printf %s "$ROOT" | md5sum | cut -c1-10)
	fi
	printf %s "$base"
}
PGBASE=${PGBASE:-$(pick_pgbase)}
PGDATA_DIR=$PGBASE/data
PGSOCK_DIR=$PGBASE/sock
STAGE=$PGBASE/install
export PGHOST=$PGSOCK_DIR
export PGPORT=${CRM_PGPORT:-54329}
export PGUSER=postgres

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Build the extension and install it into STAGE, a private copy of the
# PostgreSQL install tree (binaries copied, everything else symlinked), so
# tests never write into /usr and several checkouts can test at once.
# PostgreSQL finds its share and lib folders relative to its own binary.
build_and_stage() {
	local sys_lib sys_share
	sys_lib=$("$PG_CONFIG" --pkglibdir)
	sys_share=$("$PG_CONFIG" --sharedir)
	make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" ${CC:+CC="$CC"} >/dev/null || die "build failed"
	rm -rf "$STAGE"
	mkdir -p "$STAGE$PG_BINDIR" "$STAGE$sys_lib" "$STAGE$sys_share"
	cp -p "$PG_BINDIR"/* "$STAGE$PG_BINDIR/"
	cp -rs "$sys_lib/." "$STAGE$sys_lib/"
	cp -rs "$sys_share/." "$STAGE$sys_share/"
	rm -f "$STAGE$sys_lib"/crm.so "$STAGE$sys_share"/extension/crm[.-]*
	make -C "$ROOT" -s PG_CONFIG="$PG_CONFIG" install DESTDIR="$STAGE" >/dev/null \
		|| die "install into $STAGE failed"
	chmod -R a+rX "$STAGE"; chmod a+x "$PGBASE"
}
STAGE_BINDIR=$STAGE$PG_BINDIR
