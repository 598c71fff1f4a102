//go:build !unix

package docpipe_test

import "time"

// cpuTime is not measured here; the cpu-s/page metric reads 0.
func cpuTime() time.Duration { return 0 }
