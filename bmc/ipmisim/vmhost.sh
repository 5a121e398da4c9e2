# The host of chassiscontrol.sh when it is a QEMU virtual machine (written
# as <statedir>/host.sh by package ipmisim, StartVM; sourced, never run).
# power 1 starts QEMU with the command line for the boot device IPMI last set
# (<statedir>/qemu-<boot>.args, one argument a line, from
# qemu.Machine.Command), power 0 and shutdown stop it, reset stops and starts
# it; the power is on while the QEMU process lives. A set boot device stays
# until the next is set. <statedir>/vm.env holds QEMU (the program) and OWNER
# (the pid of the test process: a watcher kills QEMU within a second of its
# end).
. "$dir/vm.env"
boot_default=none

# alive PID: the process exists and is not a zombie nobody reaped.
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat"; }
running() { [ -f "$dir/qemu.pid" ] && alive "$(cat "$dir/qemu.pid")"; }

power_get() { if running; then echo 1; else echo 0; fi; }
power_set() { if [ "$1" = 1 ]; then vm_start; else vm_stop; fi; }
reset_host() { vm_stop; vm_start; }
shutdown_host() { vm_stop; }

vm_start() {
    running && return 0
    boot=$(rd boot "$boot_default")
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

vm_stop() {
    running || return 0
    pid=$(cat "$dir/qemu.pid")
    kill "$pid" 2>/dev/null
    i=0
    while alive "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
    rm -f "$dir/qemu.pid"
}
