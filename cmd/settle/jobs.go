package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/gen/client"
)

// setupJobsCreate is "settle jobs create": POST /jobs/settlement, then
// optionally wait for the job and download its CSV.
func setupJobsCreate(fs *flag.FlagSet) action {
	from := fs.String("from", "", "first day to settle, `YYYY-MM-DD` (UTC; required)")
	to := fs.String("to", "", "last day to settle, `YYYY-MM-DD` (UTC; required, not before --from)")
	wait := fs.Bool("wait", false, "follow the job with a progress bar on stderr until it ends")
	out := fs.String("out", "", "when the job completes, write its CSV to `FILE` (- for stdout); implies --wait")
	return func(ctx context.Context, s *session, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		fromDay, err := parseDate("from", *from)
		if err != nil {
			return err
		}
		toDay, err := parseDate("to", *to)
		if err != nil {
			return err
		}
		if toDay.Before(fromDay) {
			return badUsage("--to %s is before --from %s", *to, *from)
		}
		download := isSet(fs, "out")
		if download {
			if err := checkOutPath(*out); err != nil {
				return err
			}
			if *out == "-" && s.json {
				return badUsage("--json and --out - would both write to stdout; drop one")
			}
		}

		start := time.Now()
		r, err := s.api.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{
			From: openapi_types.Date{Time: fromDay},
			To:   openapi_types.Date{Time: toDay},
		})
		queued, err := result(s, r, err, http.StatusAccepted, func() *client.Job { return r.JSON202 })
		if err != nil {
			return err
		}
		if !*wait && !download {
			return s.showJob(r.Body, queued)
		}

		id := queued.JobID
		fmt.Fprintf(s.stderr, "job %s queued for %s..%s\n", id, *from, *to)
		job, body, err := s.waitJob(ctx, queued, r.Body)
		if err != nil {
			if job != nil && s.json {
				_ = printJSON(s.stdout, body)
			}
			return err
		}
		var n int64
		if download {
			if n, err = s.download(ctx, id, *out); err != nil {
				return err
			}
		}

		// With --json or a CSV on stdout, stdout carries only that; the
		// summary goes to stderr.
		notes := s.stdout
		if s.json || *out == "-" {
			notes = s.stderr
		}
		fmt.Fprintf(notes, "job %s COMPLETED: %s in %s\n", id, plural(job.Processed, "row"), time.Since(start).Round(10*time.Millisecond))
		if download && *out != "-" {
			fmt.Fprintf(notes, "wrote %s (%d bytes)\n", *out, n)
		}
		if s.json {
			return printJSON(s.stdout, body)
		}
		return nil
	}
}

// setupJobsGet is "settle jobs get ID": GET /jobs/{id}.
func setupJobsGet(*flag.FlagSet) action {
	return func(ctx context.Context, s *session, args []string) error {
		id, err := oneID("job", args)
		if err != nil {
			return err
		}
		r, err := s.api.GetJobWithResponse(ctx, id)
		job, err := result(s, r, err, http.StatusOK, func() *client.Job { return r.JSON200 })
		if err != nil {
			return err
		}
		return s.showJob(r.Body, job)
	}
}

// setupJobsList is "settle jobs list": GET /jobs.
func setupJobsList(fs *flag.FlagSet) action {
	status := fs.String("status", "", "only jobs in `STATUS`: QUEUED, RUNNING, COMPLETED, FAILED or CANCELLED")
	limit := fs.Int64("limit", 20, "at most `N` jobs, 1..100")
	return func(ctx context.Context, s *session, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		n, err := intInRange("limit", *limit, 1, 100)
		if err != nil {
			return err
		}
		params := client.ListJobsParams{Limit: &n}
		if *status != "" {
			st := client.JobStatus(strings.ToUpper(*status))
			if !st.Valid() {
				return badUsage("--status %q is not one of QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED", *status)
			}
			params.Status = &st
		}
		r, err := s.api.ListJobsWithResponse(ctx, &params)
		list, err := result(s, r, err, http.StatusOK, func() *client.JobList { return r.JSON200 })
		if err != nil {
			return err
		}
		if s.json {
			return printJSON(s.stdout, r.Body)
		}
		return writeJobs(s.stdout, list.Items)
	}
}

// setupJobsCancel is "settle jobs cancel ID": POST /jobs/{id}/cancel.
func setupJobsCancel(*flag.FlagSet) action {
	return func(ctx context.Context, s *session, args []string) error {
		id, err := oneID("job", args)
		if err != nil {
			return err
		}
		r, err := s.api.CancelJobWithResponse(ctx, id)
		job, err := result(s, r, err, http.StatusAccepted, func() *client.Job { return r.JSON202 })
		if err != nil {
			return err
		}
		if job.Status == client.JobRunning {
			fmt.Fprintf(s.stderr, "cancel recorded: job %s is winding down and will end CANCELLED within seconds\n", id)
		}
		return s.showJob(r.Body, job)
	}
}

// setupJobsDownload is "settle jobs download ID": GET /downloads/{id}.csv,
// streamed to a file or stdout.
func setupJobsDownload(fs *flag.FlagSet) action {
	out := fs.String("out", "", "write the CSV to `FILE`, or - for stdout (default settlement-ID.csv)")
	return func(ctx context.Context, s *session, args []string) error {
		id, err := oneID("job", args)
		if err != nil {
			return err
		}
		path := *out
		if !isSet(fs, "out") {
			path = fmt.Sprintf("settlement-%s.csv", id)
		}
		if err := checkOutPath(path); err != nil {
			return err
		}
		if path == "-" && s.json {
			return badUsage("--json and --out - would both write to stdout; drop one")
		}
		n, err := s.download(ctx, id, path)
		if err != nil || path == "-" {
			return err
		}
		if s.json {
			b, err := json.Marshal(struct {
				File  string `json:"file"`
				Bytes int64  `json:"bytes"`
			}{path, n})
			if err != nil {
				return err
			}
			return printJSON(s.stdout, b)
		}
		_, err = fmt.Fprintf(s.stdout, "wrote %s (%d bytes)\n", path, n)
		return err
	}
}
