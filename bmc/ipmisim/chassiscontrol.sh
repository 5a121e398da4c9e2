#!/bin/sh
# The chassis that ipmi_sim drives, backed by files (written by package ipmisim).
# ipmi_sim runs it through popen as:
#   chassiscontrol.sh <statedir> get power|boot ...       -> prints "parm:value" lines
#   chassiscontrol.sh <statedir> set parm val [parm val]  -> prints nothing, exit 0
# power/reset: 1|0; boot: none|pxe|default|cdrom|bios; identify: "<interval> <force>".
# State: <statedir>/power (0|1), <statedir>/boot. Every set is appended to
# <statedir>/events.log as "<unix seconds.nanoseconds> <parm> <value>".
# A host other than the files (StartVM: a QEMU machine) is <statedir>/host.sh,
# which redefines power_get, power_set, reset_host and shutdown_host and may
# set boot_default.
dir=$1; op=$2
[ -n "$dir" ] && [ -n "$op" ] || { echo "usage: $0 <statedir> get|set ..."; exit 1; }
shift 2
log() { echo "$(date +%s.%N) $*" >> "$dir/events.log"; }
rd()  { if [ -f "$dir/$1" ]; then cat "$dir/$1"; else echo "$2"; fi; }

boot_default=default
power_get()     { rd power 0; }
power_set()     { echo "$1" > "$dir/power"; }
reset_host()    { :; }
shutdown_host() { echo 0 > "$dir/power"; }
if [ -f "$dir/host.sh" ]; then . "$dir/host.sh"; fi

case $op in
get)
    while [ -n "$1" ]; do
        case $1 in
            power) echo "power:$(power_get)" ;;
            boot)  echo "boot:$(rd boot "$boot_default")" ;;
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
            power) log "power $val"; power_set "$val" ;;
            reset) log "reset $val"; reset_host ;;
            boot)
                case $val in
                    none|pxe|default|cdrom|bios) echo "$val" > "$dir/boot"; log "boot $val" ;;
                    *) echo "Invalid boot value: $val"; exit 1 ;;
                esac ;;
            shutdown) log "shutdown $val"; shutdown_host ;;
            identify) log "identify $val" ;;
            *) echo "Invalid parameter: $parm"; exit 1 ;;
        esac
    done ;;
check) exit 1 ;;
*) echo "Unknown operation: $op"; exit 1 ;;
esac
exit 0
