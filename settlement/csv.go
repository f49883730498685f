package settlement

import (
	"bufio"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/store"
)

// CSVHeader is the first line of every settlement file.
const CSVHeader = "merchant_id,date,gross_cents,fee_cents,net_cents,txn_count\n"

// FileName is the name of a job's CSV file in the settlement directory.
func FileName(id uuid.UUID) string { return id.String() + ".csv" }

// Path is where the CSV of job id is published.
func (e *Engine) Path(id uuid.UUID) string { return filepath.Join(e.cfg.Dir, FileName(id)) }

// WriteCSV writes rows in the settlement file format: the header, then one
// line per row in the given order, integers only, dates as YYYY-MM-DD, LF
// line endings and a newline after the last line.
func WriteCSV(w *bufio.Writer, rows iter.Seq[store.Settlement]) error {
	if _, err := w.WriteString(CSVHeader); err != nil {
		return err
	}
	var line []byte
	for r := range rows {
		line = strconv.AppendInt(line[:0], int64(r.MerchantID), 10)
		line = append(line, ',')
		line = r.Date.UTC().AppendFormat(line, time.DateOnly)
		for _, v := range [...]int64{r.GrossCents, r.FeeCents, r.NetCents, r.TxnCount} {
			line = append(line, ',')
			line = strconv.AppendInt(line, v, 10)
		}
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return w.Flush()
}

// writeTempCSV writes rows to a new hidden temporary file of job id in dir
// (see tempPrefix), synced to disk, and returns its path.
func writeTempCSV(dir string, id uuid.UUID, rows iter.Seq[store.Settlement]) (path string, err error) {
	f, err := os.CreateTemp(dir, tempPrefix(id)+"*")
	if err != nil {
		return "", fmt.Errorf("create settlement file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := WriteCSV(bufio.NewWriterSize(f, 64<<10), rows); err != nil {
		return "", fmt.Errorf("write settlement file: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return "", fmt.Errorf("write settlement file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("write settlement file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write settlement file: %w", err)
	}
	return f.Name(), nil
}

// publish moves a complete temporary file to its final path atomically and
// syncs the directory so that the rename survives a crash.
func publish(tmp, final string) error {
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("publish settlement file: %w", err)
	}
	dir, err := os.Open(filepath.Dir(final))
	if err != nil {
		return fmt.Errorf("publish settlement file: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("publish settlement file: %w", err)
	}
	return nil
}
