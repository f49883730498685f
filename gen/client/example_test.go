package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/gen/client"
)

// Example settles three days of payments and lists one merchant's
// settlements, page by page. It is the program of the README's "Go client"
// section (TestREADMEShowsTheExample keeps the two the same), run against a
// real server with a token that holds the jobs:write, jobs:read and
// settlements:read scopes.
func Example() {
	if err := run(context.Background(), exampleURL, exampleToken); err != nil {
		log.Fatal(err)
	}
	// Output:
	// job COMPLETED: 7 transactions, 5 settlements
	// 2025-01-01 merchant 1: net 16005 cents, txn_count 2
	// 2025-01-02 merchant 1: net 6790 cents, txn_count 1
	// 2025-01-03 merchant 1: net 29100 cents, txn_count 1
}

func run(ctx context.Context, baseURL, token string) error {
	// Every request carries "Authorization: Bearer <token>".
	c, err := client.NewClientWithResponses(baseURL, client.WithBearerToken(token))
	if err != nil {
		return err
	}

	// Queue a settlement job for 2025-01-01..2025-01-03 (UTC days).
	day := func(s string) openapi_types.Date {
		t, _ := time.Parse(time.DateOnly, s)
		return openapi_types.Date{Time: t}
	}
	from, to := day("2025-01-01"), day("2025-01-03")
	created, err := c.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: from, To: to})
	if err != nil {
		return err
	}
	if created.JSON202 == nil {
		return fmt.Errorf("queue job: HTTP %d: %s", created.StatusCode(), created.Body)
	}

	// Wait until it ends.
	job := *created.JSON202
	for job.Status == client.JobQueued || job.Status == client.JobRunning {
		time.Sleep(250 * time.Millisecond)
		got, err := c.GetJobWithResponse(ctx, job.JobID)
		if err != nil {
			return err
		}
		if got.JSON200 == nil {
			return fmt.Errorf("get job: HTTP %d: %s", got.StatusCode(), got.Body)
		}
		job = *got.JSON200
	}
	if job.Status != client.JobCompleted {
		return fmt.Errorf("job %s ended %s", job.JobID, job.Status)
	}
	fmt.Printf("job %s: %d transactions, %d settlements\n", job.Status, job.Processed, *job.Settlements)

	// List merchant 1's settlements of those days, following next_cursor
	// (pages of 2 here, to show the cursor; up to 1000 are allowed).
	merchant, pageSize := int32(1), int32(2)
	params := client.ListSettlementsParams{From: &from, To: &to, MerchantID: &merchant, Limit: &pageSize}
	for {
		page, err := c.ListSettlementsWithResponse(ctx, &params)
		if err != nil {
			return err
		}
		if page.JSON200 == nil {
			return fmt.Errorf("list settlements: HTTP %d: %s", page.StatusCode(), page.Body)
		}
		for _, s := range page.JSON200.Items {
			fmt.Printf("%s merchant %d: net %d cents, txn_count %d\n", s.Date, s.MerchantID, s.NetCents, s.TxnCount)
		}
		if page.JSON200.NextCursor == nil {
			return nil
		}
		params.Cursor = page.JSON200.NextCursor
	}
}
