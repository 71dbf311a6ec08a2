//go:build !unix

package pdq

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
