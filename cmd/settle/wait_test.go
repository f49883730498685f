package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ordersettle/ordersettle/gen/client"
)

func TestBarShowsStatusCountsAndPercent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newBarProgress(&buf)
	p.update(&client.Job{Status: client.JobQueued})
	p.update(&client.Job{Status: client.JobRunning, Progress: 63, Processed: 630_000, Total: 1_000_000})
	if out := buf.String(); !strings.Contains(out, "RUNNING 630,000/1,000,000 rows") || !strings.Contains(out, "63%") {
		t.Errorf("bar output lacks the description or the percent:\n%q", out)
	}
	// 100% while RUNNING must not finish the bar.
	p.update(&client.Job{Status: client.JobRunning, Progress: 100, Processed: 10, Total: 10})
	if p.bar.IsFinished() {
		t.Error("the bar finished before the job COMPLETED")
	}
	p.end(&client.Job{Status: client.JobCompleted, Progress: 100, Processed: 10, Total: 10})
	out := buf.String()
	if !p.bar.IsFinished() || !strings.Contains(out, "100%") || !strings.HasSuffix(out, "\n") {
		t.Errorf("the bar did not end full on its own line:\n%q", out)
	}
}

func TestProgressLinesAtMostOncePerSecond(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := &lineProgress{w: &buf}
	p.update(&client.Job{Status: client.JobQueued})
	p.update(&client.Job{Status: client.JobRunning, Progress: 63, Processed: 630000, Total: 1000000})
	p.update(&client.Job{Status: client.JobRunning, Progress: 64, Processed: 640000, Total: 1000000})
	p.end(&client.Job{Status: client.JobCompleted, Progress: 100, Processed: 1000000, Total: 1000000})
	want := "QUEUED 0.0% 0/0\nCOMPLETED 100.0% 1000000/1000000\n"
	if buf.String() != want {
		t.Errorf("lines = %q, want %q", buf.String(), want)
	}
}

// TestEstimatedTotalShownAsSuch: an estimated total reads "≈" in the bar,
// the progress lines and `jobs get`; an exact one does not.
func TestEstimatedTotalShownAsSuch(t *testing.T) {
	t.Parallel()
	est := &client.Job{Status: client.JobRunning, Progress: 40, Processed: 400_000, Total: 1_000_000, TotalEstimated: true}
	exact := &client.Job{Status: client.JobRunning, Progress: 40, Processed: 400_000, Total: 1_000_000}
	if got := describe(est); got != "RUNNING 400,000/≈1,000,000 rows" {
		t.Errorf("bar label %q", got)
	}
	if got := describe(exact); got != "RUNNING 400,000/1,000,000 rows" {
		t.Errorf("bar label %q", got)
	}
	if got := progressText(est); got != "40.0% (400,000 of ≈1,000,000 rows)" {
		t.Errorf("progress %q", got)
	}
	var buf bytes.Buffer
	p := &lineProgress{w: &buf}
	p.print(est)
	if buf.String() != "RUNNING 40.0% 400000/≈1000000\n" {
		t.Errorf("line %q", buf.String())
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 630000: "630,000", 1000000: "1,000,000", -12345: "-12,345"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseArgsAcceptsFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	fs := newFlagSet("test")
	out := fs.String("out", "", "")
	pos, err := parseArgs(fs, []string{"ID", "--out", "f.csv", "--", "--not-a-flag"})
	if err != nil || *out != "f.csv" || strings.Join(pos, " ") != "ID --not-a-flag" {
		t.Errorf("parseArgs = %q, out %q, err %v", pos, *out, err)
	}
}
