package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
)

// printJSON writes a response body to w, indented, as one JSON object.
func printJSON(w io.Writer, body []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		return fmt.Errorf("the response is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// printJSONValue writes v to w as indented JSON.
func printJSONValue(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return printJSON(w, b)
}

// showJob prints a job: its response body with --json, else key: value lines.
func (s *session) showJob(body []byte, j *client.Job) error {
	if s.json {
		return printJSON(s.stdout, body)
	}
	return writeJob(s.stdout, s.baseURL, j)
}

// writeJob writes a job as aligned key: value lines. A relative download_url
// is shown against baseURL, so that it can be pasted into a browser.
func writeJob(w io.Writer, baseURL string, j *client.Job) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "job_id:\t%s\n", j.JobID)
	fmt.Fprintf(tw, "status:\t%s\n", j.Status)
	fmt.Fprintf(tw, "progress:\t%s\n", progressText(j))
	fmt.Fprintf(tw, "from:\t%s\n", j.From)
	fmt.Fprintf(tw, "to:\t%s\n", j.To)
	fmt.Fprintf(tw, "attempts:\t%d\n", j.Attempts)
	fmt.Fprintf(tw, "created_at:\t%s\n", j.CreatedAt.Format(time.RFC3339))
	if j.StartedAt != nil {
		fmt.Fprintf(tw, "started_at:\t%s\n", j.StartedAt.Format(time.RFC3339))
	}
	if j.FinishedAt != nil {
		fmt.Fprintf(tw, "finished_at:\t%s\n", j.FinishedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "updated_at:\t%s\n", j.UpdatedAt.Format(time.RFC3339))
	if j.Settlements != nil {
		fmt.Fprintf(tw, "settlements:\t%s\n", thousands(*j.Settlements))
	}
	if j.DownloadURL != nil {
		u := *j.DownloadURL
		if strings.HasPrefix(u, "/") {
			u = baseURL + u
		}
		fmt.Fprintf(tw, "download_url:\t%s\n", u)
	}
	if j.Error != nil {
		fmt.Fprintf(tw, "error:\t%s\n", *j.Error)
	}
	return tw.Flush()
}

// writeJobs writes jobs as a table.
func writeJobs(w io.Writer, jobs []client.Job) error {
	if len(jobs) == 0 {
		_, err := fmt.Fprintln(w, "no jobs")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "JOB ID\tSTATUS\tPROGRESS\tFROM\tTO\tATTEMPTS\tCREATED")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%.1f%%\t%s\t%s\t%d\t%s\n",
			j.JobID, j.Status, j.Progress, j.From, j.To, j.Attempts, j.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

// writeOrder writes an order as aligned key: value lines.
func writeOrder(w io.Writer, o *client.Order) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "id:\t%s\n", o.ID)
	fmt.Fprintf(tw, "product_id:\t%d\n", o.ProductID)
	fmt.Fprintf(tw, "quantity:\t%d\n", o.Quantity)
	fmt.Fprintf(tw, "buyer_id:\t%s\n", o.BuyerID)
	fmt.Fprintf(tw, "total_amount_cents:\t%d\n", o.TotalAmountCents)
	fmt.Fprintf(tw, "status:\t%s\n", o.Status)
	fmt.Fprintf(tw, "created_at:\t%s\n", o.CreatedAt.Format(time.RFC3339))
	return tw.Flush()
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// progressText is a job's progress in words, e.g. "63.0% (630,000 of
// 1,000,000 rows)", or "of ≈1,000,000 rows" while the total is an estimate.
func progressText(j *client.Job) string {
	if j.Total == 0 && !isFinal(j.Status) {
		return fmt.Sprintf("%.1f%% (rows not counted yet)", j.Progress)
	}
	return fmt.Sprintf("%.1f%% (%s of %s%s)", j.Progress, thousands(j.Processed), approx(j), plural(j.Total, "row"))
}

// approx is "≈" when the job's total is an estimate.
func approx(j *client.Job) string {
	if j.TotalEstimated && j.Status != client.JobCompleted {
		return "≈"
	}
	return ""
}

// plural formats n with thousands separators and the noun, e.g. "1,000 rows".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

// thousands formats n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return sign + b.String()
}
