package settlement_test

import (
	"bufio"
	"context"
	"log"
	"os"
	"slices"
	"time"

	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// The settlement file format: a header, one line per merchant and day.
func ExampleWriteCSV() {
	rows := []store.Settlement{
		{MerchantID: 7, Date: day("2025-01-01"), GrossCents: 125000, FeeCents: 3655, NetCents: 121345, TxnCount: 9},
		{MerchantID: 3, Date: day("2025-01-02"), GrossCents: 5000, FeeCents: 175, NetCents: 4825, TxnCount: 1},
	}
	w := bufio.NewWriter(os.Stdout)
	if err := settlement.WriteCSV(w, slices.Values(rows)); err != nil {
		log.Fatal(err)
	}
	// Output:
	// merchant_id,date,gross_cents,fee_cents,net_cents,txn_count
	// 7,2025-01-01,125000,3655,121345,9
	// 3,2025-01-02,5000,175,4825,1
}

// Wiring an engine: Run blocks until ctx ends, then hands running jobs back.
// Any engine on the same database may run a submitted job.
func ExampleEngine() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	st, err := store.Open(ctx, os.Getenv("DATABASE_URL"), store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	eng := settlement.New(st, settlement.Config{Workers: 4, BatchSize: 10000})
	go func() {
		if err := eng.Run(ctx); err != nil {
			log.Fatal(err)
		}
	}()

	job, err := eng.Submit(ctx, day("2025-01-01"), day("2025-01-31"))
	if err != nil {
		log.Fatal(err)
	}
	for job.Status != store.JobCompleted {
		time.Sleep(time.Second)
		if job, err = eng.Get(ctx, job.ID); err != nil {
			log.Fatal(err)
		}
		log.Printf("%s %.0f%% (%d/%d)", job.Status, job.Progress, job.Processed, job.Total)
	}
	csv, err := st.ReadResult(ctx, job.ID)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("CSV of %d bytes", len(csv))
}
