package preset

import "testing"

func TestDefaultLoads(t *testing.T) {
	t.Parallel()
	lib, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(lib.Types); got < 25 {
		t.Errorf("default library has %d types, want at least 25", got)
	}
}
