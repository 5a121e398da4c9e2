package main

import (
	"fmt"
	"syscall"
)

// fdReserve is the descriptors a process needs beyond its listeners: its
// connections to Redis and NATS, the BMC connections in flight, files.
const fdReserve = 1024

// raiseFileLimit raises the soft limit of open files (RLIMIT_NOFILE) to
// the hard limit, and says, naming the limit and the flag that asks for
// them, when that still holds fewer than need descriptors.
func raiseFileLimit(need uint64, flag string) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open files limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raise the open files limit to its hard limit %d: %w", lim.Max, err)
		}
	}
	if lim.Cur < need {
		return usageErr("%s needs about %d open files and the limit (RLIMIT_NOFILE, ulimit -n) is %d, its hard limit %d: "+
			"raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd) or ask for fewer", flag, need, lim.Cur, lim.Max)
	}
	return nil
}
