package main

import (
	"context"
	"encoding/json"
	"errors"
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
			var exit *exitError
			if job != nil && s.json && printJSON(s.stdout, body) == nil && errors.As(err, &exit) {
				exit.shown = true // the job's JSON says how it ended
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

// setupJobsList is "settle jobs list": GET /jobs, following next_cursor.
func setupJobsList(fs *flag.FlagSet) action {
	status := fs.String("status", "", "only jobs in `STATUS`: QUEUED, RUNNING, COMPLETED, FAILED or CANCELLED")
	limits := registerPaging(fs, "jobs", defaultJobsShown)
	return func(ctx context.Context, s *session, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		limit, err := limits.limit(fs)
		if err != nil {
			return err
		}
		var st *client.JobStatus
		if *status != "" {
			v := client.JobStatus(strings.ToUpper(*status))
			if !v.Valid() {
				return badUsage("--status %q is not one of QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED", *status)
			}
			st = &v
		}
		jobs, next, err := collect(ctx, limit, maxJobsPage, func(ctx context.Context, size int32, cursor *string) ([]client.Job, *string, error) {
			r, err := s.api.ListJobsWithResponse(ctx, &client.ListJobsParams{Status: st, Limit: &size, Cursor: cursor})
			page, err := result(s, r, err, http.StatusOK, func() *client.JobList { return r.JSON200 })
			if err != nil {
				return nil, nil, err
			}
			return page.Items, page.NextCursor, nil
		})
		if err != nil {
			return err
		}
		if s.json {
			return printJSONValue(s.stdout, client.JobList{Items: jobs, NextCursor: next})
		}
		if err := writeJobs(s.stdout, jobs); err != nil {
			return err
		}
		s.noteMore(next, "jobs")
		return nil
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

// setupJobsRetry is "settle jobs retry ID": POST /jobs/{id}/retry.
func setupJobsRetry(*flag.FlagSet) action {
	return func(ctx context.Context, s *session, args []string) error {
		id, err := oneID("job", args)
		if err != nil {
			return err
		}
		r, err := s.api.RetryJobWithResponse(ctx, id)
		job, err := result(s, r, err, http.StatusAccepted, func() *client.Job { return r.JSON202 })
		if err != nil {
			return err
		}
		fmt.Fprintf(s.stderr, "job %s is queued again; follow it with: settle jobs get %s\n", id, id)
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
