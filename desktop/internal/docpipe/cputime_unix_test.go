//go:build unix

package docpipe_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time used so far by this process and its waited-for
// children (the tesseract processes).
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)     //nolint:errcheck // cannot fail with these arguments
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids) //nolint:errcheck
	return time.Duration(self.Utime.Nano() + self.Stime.Nano() + kids.Utime.Nano() + kids.Stime.Nano())
}
