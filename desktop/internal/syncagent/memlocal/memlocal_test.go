package memlocal_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncagent/memlocal"
	"healthprep.dev/desktop/internal/syncagent/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		s := memlocal.New()
		return storetest.Harness{
			Store: s,
			Enqueue: func(t *testing.T, e syncagent.Entry) {
				if err := s.Enqueue(e); err != nil {
					t.Fatal(err)
				}
			},
			Upsert: func(i, v int, seq int64) syncagent.Change {
				return syncagent.Change{Kind: "patient", ID: fmt.Sprint(i), Payload: []byte(fmt.Sprintf(`{"v":%d}`, v)), Seq: seq}
			},
			Delete: func(i int, seq int64) syncagent.Change {
				return syncagent.Change{Kind: "patient", ID: fmt.Sprint(i), Delete: true, Seq: seq}
			},
			Version: func(_ *testing.T, i int) int {
				r, ok := s.Record("patient", fmt.Sprint(i))
				if !ok {
					return 0
				}
				v, _ := strconv.Atoi(strings.Trim(strings.TrimPrefix(r.Payload, `{"v":`), "}"))
				return v
			},
			Entry: func(n int) syncagent.Entry {
				return syncagent.Entry{ID: uuid.NewString(), Kind: "override", RecordID: fmt.Sprintf("o%d", n), BaseSeq: int64(n), Payload: []byte(`{}`)}
			},
		}
	})
}
