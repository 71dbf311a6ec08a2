//go:build unix

package main

import (
	"syscall"
	"time"
)

// cpuClock reads the process's CPU time (all threads, user + system).
func cpuClock() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
