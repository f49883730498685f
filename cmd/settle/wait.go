package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"

	"github.com/ordersettle/ordersettle/gen/client"
)

const (
	// pollInterval is how often a waiting command asks for the job's state.
	pollInterval = 250 * time.Millisecond
	// retryWindow is how long polling rides out network errors, 5xx and 429
	// answers in a row before it gives up.
	retryWindow = 10 * time.Second
	// cancelGrace bounds how long an interrupted wait spends cancelling the
	// job and confirming that it stopped.
	cancelGrace = 5 * time.Second
	// lineInterval is the least time between two progress lines when stderr
	// is not a terminal.
	lineInterval = time.Second
)

// isFinal reports whether a job in status st can no longer change.
func isFinal(st client.JobStatus) bool {
	return st == client.JobCompleted || st == client.JobFailed || st == client.JobCancelled
}

// waitJob polls job until it is final, showing its progress on stderr, and
// returns the final job with its response body. A job that ends FAILED or
// CANCELLED is returned together with an error that says so.
//
// If ctx is cancelled (Ctrl-C) while waiting, waitJob cancels the job on the
// server, waits up to cancelGrace for it to stop, and returns a nil job and an
// error with exit status 130.
func (s *session) waitJob(ctx context.Context, job *client.Job, body []byte) (*client.Job, []byte, error) {
	p := s.newProgress()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var failingSince time.Time
	for !isFinal(job.Status) {
		p.update(job)
		select {
		case <-ctx.Done():
		case <-ticker.C:
		}
		if ctx.Err() != nil {
			p.end(job)
			return nil, nil, s.cancelInterrupted(ctx, job.JobID)
		}
		r, err := s.api.GetJobWithResponse(ctx, job.JobID)
		if ctx.Err() != nil {
			p.end(job)
			return nil, nil, s.cancelInterrupted(ctx, job.JobID)
		}
		retry := false
		switch {
		case err != nil:
			var uerr *url.Error
			retry = errors.As(err, &uerr) // the network, not a bad response
			err = s.fail(err)
		case r.StatusCode() != http.StatusOK:
			retry = r.StatusCode() >= 500 || r.StatusCode() == http.StatusTooManyRequests
			err = s.expect(r, http.StatusOK)
		case r.JSON200 == nil:
			err = s.unexpected(r)
		}
		if err != nil {
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			if retry && time.Since(failingSince) < retryWindow {
				// Over the rate limit: wait as long as the server asks
				// (the ticker adds its interval) before polling again.
				var api *apiError
				if errors.As(err, &api) && api.retryAfter > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(time.Duration(api.retryAfter) * time.Second):
					}
				}
				continue
			}
			p.end(job)
			return nil, nil, err
		}
		failingSince = time.Time{}
		job, body = r.JSON200, r.Body
	}
	p.end(job)
	switch job.Status {
	case client.JobFailed:
		msg := "no reason given"
		if job.Error != nil {
			msg = *job.Error
		}
		return job, body, &exitError{code: exitFailure, msg: fmt.Sprintf("job %s FAILED: %s", job.JobID, msg)}
	case client.JobCancelled:
		return job, body, &exitError{code: exitFailure, msg: fmt.Sprintf("job %s was CANCELLED", job.JobID)}
	}
	return job, body, nil
}

// cancelInterrupted cancels job id after an interrupt, reports on stderr how
// that went, and returns the error that exits with status 130. It runs on a
// context of its own, bounded by cancelGrace, since ctx is already done.
func (s *session) cancelInterrupted(ctx context.Context, id uuid.UUID) error {
	interrupted := &exitError{code: exitInterrupted}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelGrace)
	defer cancel()

	fmt.Fprintf(s.stderr, "interrupted: cancelling job %s\n", id)
	r, err := s.api.CancelJobWithResponse(ctx, id)
	switch {
	case err != nil:
		err = s.fail(err)
	case r.StatusCode() != http.StatusAccepted:
		err = s.expect(r, http.StatusAccepted)
	case r.JSON202 == nil:
		err = s.unexpected(r)
	}
	var api *apiError
	if errors.As(err, &api) && api.status == http.StatusConflict {
		fmt.Fprintf(s.stderr, "%v; the job had already finished\n", api)
		return interrupted
	}
	if err != nil {
		fmt.Fprintf(s.stderr, "could not cancel job %s: %v\nCancel it with: settle jobs cancel %s\n", id, err, id)
		return interrupted
	}

	job := r.JSON202
	for !isFinal(job.Status) {
		select {
		case <-ctx.Done():
			fmt.Fprintf(s.stderr, "job %s is still %s after %s; check it with: settle jobs get %s\n", id, job.Status, cancelGrace, id)
			return interrupted
		case <-time.After(pollInterval):
		}
		g, err := s.api.GetJobWithResponse(ctx, id)
		if err == nil && g.StatusCode() == http.StatusOK && g.JSON200 != nil {
			job = g.JSON200
		}
	}
	fmt.Fprintf(s.stderr, "job %s %s\n", id, job.Status)
	return interrupted
}

// progress shows a waiting job's state on stderr.
type progress interface {
	// update shows the latest state of a job that is not final.
	update(j *client.Job)
	// end shows the last state seen and stops.
	end(j *client.Job)
}

// newProgress returns a progress bar when stderr is a terminal, and progress
// lines otherwise.
func (s *session) newProgress() progress {
	if s.tty {
		return newBarProgress(s.stderr)
	}
	return &lineProgress{w: s.stderr}
}

// barProgress draws a progress bar bound to the job's progress (0..100).
type barProgress struct {
	bar *progressbar.ProgressBar
}

func newBarProgress(w io.Writer) *barProgress {
	return &barProgress{bar: progressbar.NewOptions(100,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetDescription(string(client.JobQueued)),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)}
}

func (b *barProgress) update(j *client.Job) {
	b.bar.Describe(describe(j))
	// A job at 100% that is not yet COMPLETED must not finish the bar.
	_ = b.bar.Set(min(int(j.Progress), 99))
}

func (b *barProgress) end(j *client.Job) {
	b.bar.Describe(describe(j))
	if j.Status == client.JobCompleted {
		_ = b.bar.Finish()
		return
	}
	_ = b.bar.Set(min(int(j.Progress), 99))
	_ = b.bar.Exit()
}

// describe is the bar's label, e.g. "RUNNING 630,000/1,000,000 rows".
func describe(j *client.Job) string {
	switch {
	case j.Status == client.JobQueued:
		return string(j.Status)
	case j.Total == 0 && j.Status == client.JobRunning:
		return "RUNNING counting rows"
	}
	return fmt.Sprintf("%s %s/%s%s rows", j.Status, thousands(j.Processed), approx(j), thousands(j.Total))
}

// lineProgress prints a line such as "RUNNING 63.0% 630000/1000000" when the
// state changes, at most once per lineInterval; the last state is always
// printed.
type lineProgress struct {
	w        io.Writer
	last     time.Time // when the last line was printed
	lastLine string
}

func (p *lineProgress) update(j *client.Job) {
	if !p.last.IsZero() && time.Since(p.last) < lineInterval {
		return
	}
	p.print(j)
}

func (p *lineProgress) end(j *client.Job) {
	p.print(j)
}

func (p *lineProgress) print(j *client.Job) {
	line := fmt.Sprintf("%s %.1f%% %d/%s%d", j.Status, j.Progress, j.Processed, approx(j), j.Total)
	if line == p.lastLine {
		return
	}
	fmt.Fprintln(p.w, line)
	p.last, p.lastLine = time.Now(), line
}
