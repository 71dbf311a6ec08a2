//go:build unix

package imgproc

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user and system CPU time. Benchmarks report
// it per operation beside the wall time: on a loaded machine it counts the
// work done, where wall time also counts waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
