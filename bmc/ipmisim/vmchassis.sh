#!/bin/sh
# The chassis that ipmi_sim drives when its host is a QEMU virtual machine
# (written by package ipmisim, StartVM). ipmi_sim runs it through popen as:
#   vmchassis.sh <statedir> get power|boot ...       -> prints "parm:value" lines
#   vmchassis.sh <statedir> set parm val [parm val]  -> prints nothing, exit 0
# power 1 starts QEMU with the command line for the boot device IPMI last set
# (<statedir>/qemu-<boot>.args, one argument a line, written by package
# ipmisim from qemu.Machine.Command), power 0 and shutdown stop it, reset
# stops and starts it; the power is on while the QEMU process lives. Boot
# devices: none|pxe|default (the disk)|cdrom|bios; a set device stays until
# the next is set. <statedir>/vm.env holds QEMU (the program) and OWNER (the
# pid of the test process: a watcher kills QEMU within a second of its end).
# Every set is appended to <statedir>/events.log as
# "<unix seconds.nanoseconds> <parm> <value>".
dir=$1; op=$2
[ -n "$dir" ] && [ -n "$op" ] || { echo "usage: $0 <statedir> get|set ..."; exit 1; }
shift 2
. "$dir/vm.env"
log() { echo "$(date +%s.%N) $*" >> "$dir/events.log"; }
rd()  { if [ -f "$dir/$1" ]; then cat "$dir/$1"; else echo "$2"; fi; }
# alive PID: the process exists and is not a zombie nobody reaped.
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat"; }
running() { [ -f "$dir/qemu.pid" ] && alive "$(cat "$dir/qemu.pid")"; }

start() {
    running && return 0
    boot=$(rd boot none)
    [ -f "$dir/qemu-$boot.args" ] || boot=none
    set --
    while IFS= read -r arg; do set -- "$@" "$arg"; done < "$dir/qemu-$boot.args"
    "$QEMU" "$@" >>"$dir/qemu.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" > "$dir/qemu.pid"
    (
        while alive "$pid"; do
            alive "$OWNER" || { kill -9 "$pid"; exit 0; }
            sleep 1
        done
    ) >/dev/null 2>&1 </dev/null &
    log "qemu $pid boot $boot"
}

stop() {
    running || return 0
    pid=$(cat "$dir/qemu.pid")
    kill "$pid" 2>/dev/null
    i=0
    while alive "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
    rm -f "$dir/qemu.pid"
}

case $op in
get)
    while [ -n "$1" ]; do
        case $1 in
            power) if running; then echo "power:1"; else echo "power:0"; fi ;;
            boot)  echo "boot:$(rd boot none)" ;;
            *) echo "Invalid parameter: $1"; exit 1 ;;
        esac
        shift
    done ;;
set)
    while [ -n "$1" ]; do
        parm=$1; val=$2
        [ -n "$val" ] || { echo "No value for $parm"; exit 1; }
        shift 2
        case $parm in
            power)
                log "power $val"
                if [ "$val" = 1 ]; then start; else stop; fi ;;
            reset) log "reset $val"; stop; start ;;
            boot)
                case $val in
                    none|pxe|default|cdrom|bios) echo "$val" > "$dir/boot"; log "boot $val" ;;
                    *) echo "Invalid boot value: $val"; exit 1 ;;
                esac ;;
            shutdown) log "shutdown $val"; stop ;;
            identify) log "identify $val" ;;
            *) echo "Invalid parameter: $parm"; exit 1 ;;
        esac
    done ;;
check) exit 1 ;;
*) echo "Unknown operation: $op"; exit 1 ;;
esac
exit 0
