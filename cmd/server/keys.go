package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/internal/config"
	"github.com/ordersettle/ordersettle/internal/localdb"
	"github.com/ordersettle/ordersettle/migrations"
	"github.com/ordersettle/ordersettle/store"
)

const keysUsageText = `usage:
  server keys create --name NAME --scopes LIST [--merchant-id N] [--buyer-id ID]
                     [--expires-in DURATION] [--rate-limit N]
  server keys list
  server keys revoke ID

Manages API keys in the server's database (the same environment as the
server; the schema is migrated first unless MIGRATE=false). create prints the
new key's token alone on stdout (it is shown only once; the database keeps a
hash) and the key's details on stderr. LIST is comma-separated scopes or all:
` + "  products:write orders:write orders:read jobs:write jobs:read settlements:read keys:admin metrics:read\n"

// keysCommand runs `server keys …` and returns the exit code.
func keysCommand(args []string, stdout, stderr io.Writer) int {
	bad := func(problem string) int {
		fmt.Fprintf(stderr, "server keys: %s\n\n%s", problem, keysUsageText)
		return 2
	}
	if len(args) == 0 {
		return bad("missing subcommand (create, list or revoke)")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, keysUsageText)
		return 0
	case "create":
		in, err := parseCreate(args[1:])
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, keysUsageText)
			return 0
		}
		if err != nil {
			return bad(err.Error())
		}
		return withStore(stderr, func(ctx context.Context, st *store.Store) error {
			token, k, err := createKey(ctx, st, in)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, token)
			fmt.Fprintf(stderr, "created key %s (%q, scopes %s%s); the token above is shown only once\n",
				k.ID, k.Name, k.Scopes, bindingText(k))
			return nil
		})
	case "list":
		if len(args) > 1 {
			return bad("list takes no arguments")
		}
		return withStore(stderr, func(ctx context.Context, st *store.Store) error {
			return listKeys(ctx, st, stdout)
		})
	case "revoke":
		if len(args) != 2 {
			return bad("revoke takes one key ID")
		}
		id, err := uuid.Parse(args[1])
		if err != nil {
			return bad("revoke: " + strconv.Quote(args[1]) + " is not a key ID (a UUID)")
		}
		return withStore(stderr, func(ctx context.Context, st *store.Store) error {
			k, err := st.RevokeAPIKey(ctx, id)
			if errors.Is(err, store.ErrKeyNotFound) {
				return fmt.Errorf("no key has the ID %s", id)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked key %s (%q) at %s; every server refuses it within seconds\n",
				k.ID, k.Name, k.RevokedAt.Format(time.RFC3339))
			return nil
		})
	default:
		return bad("unknown subcommand " + strconv.Quote(args[0]))
	}
}

// parseCreate reads the flags of `server keys create`.
func parseCreate(args []string) (store.NewAPIKey, error) {
	fs := flag.NewFlagSet("server keys create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "what the key is for")
	scopes := fs.String("scopes", "", "comma-separated scopes, or all")
	merchant := fs.Int64("merchant-id", 0, "bind the key to this merchant")
	buyer := fs.String("buyer-id", "", "bind the key to this buyer")
	expiresIn := fs.Duration("expires-in", 0, "the key expires after this long")
	rateLimit := fs.Int64("rate-limit", 0, "requests per second")
	if err := fs.Parse(args); err != nil {
		return store.NewAPIKey{}, err
	}
	if fs.NArg() > 0 {
		return store.NewAPIKey{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	in := store.NewAPIKey{Name: *name}
	switch n := len([]rune(*name)); {
	case !set["name"]:
		return in, errors.New("--name is required")
	case n < 1 || n > 100 || strings.TrimFunc(*name, unicode.IsSpace) == "":
		return in, errors.New("--name must be 1 to 100 characters, not blank")
	}
	if !set["scopes"] {
		return in, errors.New("--scopes is required (comma-separated scopes, or all)")
	}
	s, err := auth.ParseScopes(strings.Split(*scopes, ","))
	if err != nil || s == 0 {
		return in, fmt.Errorf("--scopes: %v", err)
	}
	in.Scopes = s
	if set["merchant-id"] {
		if *merchant < 1 || *merchant > 1<<31-1 {
			return in, errors.New("--merchant-id must be from 1 to 2147483647")
		}
		m := int32(*merchant)
		in.MerchantID = &m
	}
	if set["buyer-id"] {
		if n := len([]rune(*buyer)); n < 1 || n > 255 || strings.TrimFunc(*buyer, unicode.IsSpace) == "" {
			return in, errors.New("--buyer-id must be 1 to 255 characters, not blank")
		}
		in.BuyerID = buyer
	}
	if set["expires-in"] {
		if *expiresIn <= 0 {
			return in, errors.New("--expires-in must be a positive duration, such as 720h")
		}
		at := time.Now().Add(*expiresIn).UTC()
		in.ExpiresAt = &at
	}
	if set["rate-limit"] {
		if *rateLimit < 1 || *rateLimit > 100000 {
			return in, errors.New("--rate-limit must be from 1 to 100000 requests per second")
		}
		r := int32(*rateLimit)
		in.RateLimit = &r
	}
	return in, nil
}

// createKey makes up a token for in and stores the key.
func createKey(ctx context.Context, st *store.Store, in store.NewAPIKey) (string, auth.Key, error) {
	token, hash, err := auth.NewToken()
	if err != nil {
		return "", auth.Key{}, err
	}
	in.Hash = hash
	k, err := st.CreateAPIKey(ctx, in)
	return token, k, err
}

// listKeys prints every key, newest first.
func listKeys(ctx context.Context, st *store.Store, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tBINDING\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
	q := store.APIKeyQuery{Limit: 100}
	for {
		keys, more, err := st.ListAPIKeys(ctx, q)
		if err != nil {
			return err
		}
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Scopes, orDash(strings.TrimPrefix(bindingText(k), ", ")),
				k.CreatedAt.Format(time.RFC3339), timeOrDash(k.ExpiresAt), timeOrDash(k.LastUsedAt), timeOrDash(k.RevokedAt))
		}
		if !more {
			break
		}
		last := keys[len(keys)-1]
		q.After = &store.APIKeyCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return tw.Flush()
}

// bindingText describes a key's bindings as ", merchant_id N, buyer_id X",
// or "".
func bindingText(k auth.Key) string {
	var b strings.Builder
	if k.MerchantID != nil {
		fmt.Fprintf(&b, ", merchant_id %d", *k.MerchantID)
	}
	if k.BuyerID != nil {
		fmt.Fprintf(&b, ", buyer_id %q", *k.BuyerID)
	}
	if k.RateLimit != nil {
		fmt.Fprintf(&b, ", rate_limit %d/s", *k.RateLimit)
	}
	return b.String()
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// withStore opens the server's database (migrating it unless MIGRATE=false)
// and runs do; it returns the exit code: 0, or 1 with the error on stderr.
func withStore(stderr io.Writer, do func(ctx context.Context, st *store.Store) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintln(stderr, "server keys:", err)
		return 1
	}
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return fail(err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, closeDB, err := localdb.OpenStore(ctx, cfg, log, store.Options{MaxOpenConns: 2})
	if err != nil {
		return fail(err)
	}
	defer closeDB()
	if cfg.Migrate {
		if err := migrations.Up(ctx, st.DB().DB); err != nil {
			return fail(err)
		}
	}
	if err := do(ctx, st); err != nil {
		return fail(err)
	}
	return 0
}
