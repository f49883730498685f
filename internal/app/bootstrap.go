package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/internal/config"
	"github.com/ordersettle/ordersettle/store"
)

// AdminTokenFile is where a server on the local PostgreSQL writes the token
// of the admin key it creates on its first start, inside LOCAL_PG_DIR.
const AdminTokenFile = "admin-token"

// bootstrapAdminKey gives a newcomer on the local database a way in: when
// the database has no API key at all, it creates one with every scope (named
// local-admin) and writes its token to LOCAL_PG_DIR/admin-token, readable by
// the owner only. The log names the file, never the token. A server on a
// configured database (DATABASE_URL or DB_HOST) never does this: its first
// key comes from `server keys create`.
func bootstrapAdminKey(ctx context.Context, st *store.Store, cfg config.Config, log *slog.Logger) error {
	if !cfg.UsesLocalDB() {
		return nil
	}
	n, err := st.CountAPIKeys(ctx)
	if err != nil {
		return fmt.Errorf("count API keys: %w", err)
	}
	if n > 0 {
		return nil
	}
	dir, err := filepath.Abs(cfg.LocalPGDir)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, AdminTokenFile)
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	// The file first: a key whose token nobody can read would lock the
	// newcomer out (the next start sees a key and creates none).
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the admin token: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write the admin token: %w", err)
	}
	k, err := st.CreateAPIKey(ctx, store.NewAPIKey{Name: "local-admin", Hash: hash, Scopes: auth.AllScopes})
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("create the local admin key: %w", err)
	}
	log.Info("created an admin API key for the local database; its token is in the file (send it as Authorization: Bearer <token>)",
		"key", "key:"+k.ID.String(), "file", path)
	return nil
}
