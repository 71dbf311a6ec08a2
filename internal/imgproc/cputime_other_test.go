//go:build !unix

package imgproc

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
