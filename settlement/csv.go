package settlement

import (
	"bufio"
	"iter"
	"strconv"
	"time"

	"github.com/ordersettle/ordersettle/store"
)

// CSVHeader is the first line of every settlement file.
const CSVHeader = "merchant_id,date,gross_cents,fee_cents,net_cents,txn_count\n"

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
