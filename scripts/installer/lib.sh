# Shared by the installer's /init and the OS's /init (busybox sh, PID 1).
# Sourced, never run. Everything a machine says goes to the console (ttyS0)
# prefixed with "tinman-$ROLE:", which the tests read.

say() { echo "tinman-$ROLE: $*"; }

# idle keeps PID 1 alive: the machine stays on until its BMC turns it off or
# cycles it (Tinman's workflow does one or the other after each report).
idle() {
	say "$*"
	while :; do sleep 3600; done
}

# start_system mounts the kernel's file systems, gives the console to this
# script and installs busybox's applets.
start_system() {
	/bin/busybox mount -t devtmpfs devtmpfs /dev
	exec </dev/console >/dev/console 2>&1
	/bin/busybox --install -s
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	for m in $(cat /lib/modules/load-order); do
		insmod "/lib/modules/$m.ko" || say "insmod $m failed"
	done
}

# cmdline_arg NAME prints the value of NAME=value on the kernel command line.
cmdline_arg() {
	for arg in $(cat /proc/cmdline); do
		case $arg in "$1"=*) echo "${arg#*=}"; return 0 ;; esac
	done
	return 1
}

# net_up configures the first Ethernet interface by DHCP.
net_up() {
	ip link set lo up
	for dev in /sys/class/net/*; do
		iface=${dev##*/}
		[ "$iface" = lo ] && continue
		ip link set "$iface" up
		if udhcpc -i "$iface" -s /etc/udhcpc.script -q -n -t 10 -T 1 >/dev/null 2>&1; then
			say "network up on $iface"
			return 0
		fi
	done
	return 1
}

# find_disk prints the machine's disk: the first of vda, sda, nvme0n1.
find_disk() {
	for d in vda sda nvme0n1; do
		[ -b "/dev/$d" ] && { echo "/dev/$d"; return 0; }
	done
	return 1
}

# partition DISK N prints the device of DISK's Nth partition.
partition() {
	case $1 in *[0-9]) echo "$1p$2" ;; *) echo "$1$2" ;; esac
}

# load_env FILE checks that FILE holds nothing but NAME='value' lines (no
# quote inside a value, so sourcing it runs nothing) and sources it.
load_env() {
	if grep -qvE "^([A-Z_][A-Z0-9_]*='[^']*')?$" "$1"; then
		say "refusing $1: a line is not NAME='value'"
		return 1
	fi
	. "$1"
}

# json_string STR prints STR as the inside of a JSON string.
json_string() {
	printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g'
}

# report EVENT [CODE MESSAGE] posts the job's callback: JSON with job_id,
# token and event; a failure adds code and message; REPORT_IMAGE, when set,
# adds image. This is the one place that knows the callback's shape. A
# refusal (4xx) ends the tries; anything else is tried again, 2 s apart, for
# about a minute.
report() {
	body="{\"job_id\":\"$(json_string "$JOB_ID")\",\"token\":\"$(json_string "$TOKEN")\",\"event\":\"$1\""
	if [ -n "$2" ]; then
		body="$body,\"code\":\"$(json_string "$2")\",\"message\":\"$(json_string "$3")\""
	fi
	if [ -n "$REPORT_IMAGE" ]; then
		body="$body,\"image\":\"$(json_string "$REPORT_IMAGE")\""
	fi
	body="$body}"
	tries=0
	while [ $tries -lt 30 ]; do
		tries=$((tries + 1))
		if out=$(timeout 20 wget -q -S -O /dev/null --header 'Content-Type: application/json' \
			--post-data "$body" "$CALLBACK_URL" 2>&1); then
			say "reported $1"
			return 0
		fi
		case $out in *"HTTP/1."?" 4"*)
			say "report $1 refused: $(echo "$out" | grep -m1 'HTTP/1')"
			return 1 ;;
		esac
		sleep 2
	done
	say "report $1 failed: $out"
	return 1
}
