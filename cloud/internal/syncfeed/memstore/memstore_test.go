package memstore_test

import (
	"testing"

	"healthprep.dev/cloud/internal/syncfeed/memstore"
	"healthprep.dev/cloud/internal/syncfeed/syncfeedtest"
	"healthprep.dev/cloud/internal/tenancy"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	syncfeedtest.Run(t, func(t *testing.T) syncfeedtest.Harness {
		s := memstore.New()
		return syncfeedtest.Harness{Store: s, Publish: s.Publish, A: tenancy.NewOrgID(), B: tenancy.NewOrgID()}
	})
}
