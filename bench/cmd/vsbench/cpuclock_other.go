//go:build !unix

package main

import "time"

// cpuClock is not measured on this OS: the CPU-time column stays empty.
func cpuClock() time.Duration { return 0 }
