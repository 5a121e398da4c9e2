# Leases a Redis database the way Tinman's tests do (servicetest): the key
# tinman:test:lease:<db> in database 0 holds the owner, so that scripts and
# test runs sharing one Redis never use the same database. Sourced; needs
# rcli (redis-cli with the host and port) and owner; sets db.

db=""

# lease_db TTL [DBS]: the first free of DBS (default 15 down to 1: the
# tests lease from 1 up), held for TTL seconds; 1 when all are leased.
lease_db() {
	local d
	for d in ${2:-$(seq 15 -1 1)}; do
		if [[ $(rcli -n 0 SET "tinman:test:lease:$d" "$owner" NX EX "$1") == OK ]]; then
			db=$d
			return 0
		fi
	done
	return 1
}

# release_db flushes the leased database and gives the lease back if it is
# still this owner's.
release_db() {
	[[ -n "$db" ]] || return 0
	rcli -n "$db" FLUSHDB >/dev/null || true
	if [[ $(rcli -n 0 GET "tinman:test:lease:$db") == "$owner" ]]; then
		rcli -n 0 DEL "tinman:test:lease:$db" >/dev/null || true
	fi
	db=""
}
