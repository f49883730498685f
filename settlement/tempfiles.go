package settlement

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/domain"
)

// A job's CSV is written to a temporary file named
// ".<job_id>.csv.tmp-<random>" in the settlement directory and renamed to
// "<job_id>.csv" when the job completes. The job id in the name tells whose
// file it is, so leftovers of interrupted runs (a killed process, a lost
// lease) can be removed without touching a file another live server is
// writing: a job's own temporary files go when an engine claims the job or
// reaps its expired run, and at start an engine removes those of every job
// that is not RUNNING.
const tempMarker = ".csv.tmp-"

// tempPrefix is how the temporary files of job id start.
func tempPrefix(id uuid.UUID) string { return "." + id.String() + tempMarker }

// tempJobID returns the job whose temporary file name is, if it is one.
func tempJobID(name string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return uuid.UUID{}, false
	}
	idText, _, ok := strings.Cut(rest, tempMarker)
	if !ok {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(idText)
	if err != nil || id.String() != idText {
		return uuid.UUID{}, false
	}
	return id, true
}

// removeJobTemps removes the temporary files of job id in dir.
func removeJobTemps(dir string, id uuid.UUID, log *slog.Logger) {
	matches, err := filepath.Glob(filepath.Join(dir, tempPrefix(id)+"*"))
	if err != nil {
		return // only for a malformed pattern, which a job id cannot make
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("removing a leftover temporary settlement file failed", "file", m, "err", err)
			continue
		}
		log.Info("removed a leftover temporary settlement file", "file", m)
	}
}

// cleanTemps removes the temporary files in the settlement directory whose
// job is not RUNNING (or no longer exists). A RUNNING job's file may be
// being written by another server sharing the directory; it goes when the
// job is claimed again or reaped. Errors are logged: a leftover file is
// harmless to the service.
func (e *Engine) cleanTemps(ctx context.Context) {
	entries, err := os.ReadDir(e.cfg.Dir)
	if err != nil {
		e.log.Warn("listing the settlement directory failed; leftover temporary files stay", "err", err)
		return
	}
	checked := map[uuid.UUID]bool{}
	for _, ent := range entries {
		id, ok := tempJobID(ent.Name())
		if !ok || ent.IsDir() || checked[id] {
			continue
		}
		checked[id] = true
		j, err := e.store.GetJob(ctx, id)
		switch {
		case errors.Is(err, domain.ErrJobNotFound):
		case err != nil:
			e.log.Warn("checking a temporary settlement file's job failed; the file stays", "job", id, "err", err)
			continue
		case j.Status == domain.JobRunning:
			continue
		}
		removeJobTemps(e.cfg.Dir, id, e.log)
	}
}
