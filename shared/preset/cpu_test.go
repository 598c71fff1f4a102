package preset

import "runtime"

func testingCPU() int { return runtime.GOMAXPROCS(0) }
