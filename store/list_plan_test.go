package store_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/store"
)

// planNode is the part of EXPLAIN (FORMAT JSON) the plan tests read.
type planNode struct {
	Type  string     `json:"Node Type"`
	Index string     `json:"Index Name"`
	Plans []planNode `json:"Plans"`
}

// nodes lists the plan's nodes, depth first.
func (n planNode) nodes() []planNode {
	out := []planNode{n}
	for _, c := range n.Plans {
		out = append(out, c.nodes()...)
	}
	return out
}

// TestEveryPageIsAnIndexRange: each shape of the list queries reads its page
// as a range of the index meant for it, in order: no sort, no OFFSET. With
// sequential scans, bitmap scans and sorts disabled, a query that needs any
// of them would still get one, so their absence proves the index serves it.
func TestEveryPageIsAnIndexRange(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	day := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)
	from, to := day.AddDate(0, 0, -5), day.AddDate(0, 0, 5)
	merchant := int32(7)
	sKey := &store.SettlementKey{Date: day, MerchantID: 3}
	jKey := &store.JobKey{CreatedAt: time.Now().UTC(), ID: uuid.New()}

	const byDate, byMerchant = "settlements_date_merchant_idx", "settlements_merchant_id_date_key"
	const jobsByTime, jobsByStatus = "jobs_created_at_idx", "jobs_status_created_at_idx"
	tests := []struct {
		name  string
		query func() (string, []any)
		index string
	}{
		{"settlements", settlements(store.SettlementQuery{Limit: 100}), byDate},
		{"settlements from..to", settlements(store.SettlementQuery{From: &from, To: &to, Limit: 100}), byDate},
		{"settlements after a key", settlements(store.SettlementQuery{After: sKey, Limit: 100}), byDate},
		{"settlements from..to after a key", settlements(store.SettlementQuery{From: &from, To: &to, After: sKey, Limit: 100}), byDate},
		{"one merchant's settlements", settlements(store.SettlementQuery{MerchantID: &merchant, Limit: 100}), byMerchant},
		{"one merchant's settlements after a key", settlements(store.SettlementQuery{MerchantID: &merchant, After: sKey, Limit: 100}), byMerchant},
		{"one merchant's settlements from..to after a key", settlements(store.SettlementQuery{MerchantID: &merchant, From: &from, To: &to, After: sKey, Limit: 100}), byMerchant},
		{"jobs", jobs(store.JobQuery{Limit: 20}), jobsByTime},
		{"jobs after a key", jobs(store.JobQuery{After: jKey, Limit: 20}), jobsByTime},
		{"jobs by status", jobs(store.JobQuery{Status: store.JobFailed, Limit: 20}), jobsByStatus},
		{"jobs by status after a key", jobs(store.JobQuery{Status: store.JobFailed, After: jKey, Limit: 20}), jobsByStatus},
	}
	tx, err := st.DB().Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, set := range []string{"enable_seqscan", "enable_bitmapscan", "enable_sort", "enable_incremental_sort"} {
		if _, err := tx.Exec(`SET LOCAL ` + set + ` = off`); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tests {
		query, args := tt.query()
		var out string
		if err := tx.Get(&out, `EXPLAIN (FORMAT JSON) `+query, args...); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var plans []struct {
			Plan planNode `json:"Plan"`
		}
		if err := json.Unmarshal([]byte(out), &plans); err != nil || len(plans) != 1 {
			t.Fatalf("%s: plan %s: %v", tt.name, out, err)
		}
		var scans []string
		for _, n := range plans[0].Plan.nodes() {
			switch {
			case strings.Contains(n.Type, "Sort"), n.Type == "Seq Scan", strings.HasPrefix(n.Type, "Bitmap"):
				t.Errorf("%s: the plan has a %s:\n%s", tt.name, n.Type, out)
			case strings.HasPrefix(n.Type, "Index"):
				scans = append(scans, n.Index)
			}
		}
		if len(scans) != 1 || scans[0] != tt.index {
			t.Errorf("%s: scans %v, want one of %s:\n%s", tt.name, scans, tt.index, out)
		}
	}
}

func settlements(q store.SettlementQuery) func() (string, []any) {
	return func() (string, []any) { return store.SettlementListQuery(q) }
}

func jobs(q store.JobQuery) func() (string, []any) {
	return func() (string, []any) { return store.JobListQuery(q) }
}
