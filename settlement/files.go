package settlement

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// importFiles stores the <job_id>.csv files of the settlement directory
// (written before results lived in the database) as the results of their
// COMPLETED jobs that have none. Files stay where they are; errors are
// logged (a job without a result answers 410 FILE_GONE).
func (e *Engine) importFiles(ctx context.Context) {
	entries, err := os.ReadDir(e.cfg.Dir)
	if err != nil {
		if !os.IsNotExist(err) {
			e.log.Warn("listing the settlement directory for files to import failed", "dir", e.cfg.Dir, "err", err)
		}
		return
	}
	for _, ent := range entries {
		idText, ok := strings.CutSuffix(ent.Name(), ".csv")
		id, err := uuid.Parse(idText)
		if !ok || err != nil || id.String() != idText || !ent.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(e.cfg.Dir, ent.Name()))
		if err != nil {
			e.log.Warn("reading a settlement file to import failed", "file", ent.Name(), "err", err)
			continue
		}
		stored, err := e.store.ImportResult(ctx, id, data)
		if err != nil {
			e.log.Warn("importing a settlement file failed", "file", ent.Name(), "err", err)
			continue
		}
		if stored {
			e.log.Info("imported a settlement file as its job's result", "job", id)
		}
	}
}
