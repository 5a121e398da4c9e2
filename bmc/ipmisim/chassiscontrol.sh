#!/bin/sh
# The chassis that ipmi_sim drives, backed by files (written by package ipmisim).
# ipmi_sim runs it through popen as:
#   chassiscontrol.sh <statedir> get power|boot ...       -> prints "parm:value" lines
#   chassiscontrol.sh <statedir> set parm val [parm val]  -> prints nothing, exit 0
# power/reset: 1|0; boot: none|pxe|default|cdrom|bios; identify: "<interval> <force>".
# State: <statedir>/power (0|1), <statedir>/boot. Every set is appended to
# <statedir>/events.log as "<unix seconds.nanoseconds> <parm> <value>".
dir=$1; op=$2
[ -n "$dir" ] && [ -n "$op" ] || { echo "usage: $0 <statedir> get|set ..."; exit 1; }
shift 2
log() { echo "$(date +%s.%N) $*" >> "$dir/events.log"; }
rd()  { if [ -f "$dir/$1" ]; then cat "$dir/$1"; else echo "$2"; fi; }

case $op in
get)
    while [ -n "$1" ]; do
        case $1 in
            power) echo "power:$(rd power 0)" ;;
            boot)  echo "boot:$(rd boot default)" ;;
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
            power) echo "$val" > "$dir/power"; log "power $val" ;;
            reset) log "reset $val" ;;
            boot)
                case $val in
                    none|pxe|default|cdrom|bios) echo "$val" > "$dir/boot"; log "boot $val" ;;
                    *) echo "Invalid boot value: $val"; exit 1 ;;
                esac ;;
            shutdown) echo 0 > "$dir/power"; log "shutdown $val" ;;
            identify) log "identify $val" ;;
            *) echo "Invalid parameter: $parm"; exit 1 ;;
        esac
    done ;;
check) exit 1 ;;
*) echo "Unknown operation: $op"; exit 1 ;;
esac
exit 0
