package pglocal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindBinaries(t *testing.T) {
	dir, err := FindBinaries()
	if err != nil {
		t.Fatalf("FindBinaries: %v", err)
	}
	if missing := missingBinaries(dir); len(missing) > 0 {
		t.Errorf("FindBinaries() = %s, which lacks %v", dir, missing)
	}
	if fi, err := os.Stat(filepath.Join(dir, "postgres")); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("no executable postgres in %s: %v", dir, err)
	}
}

func TestFindBinariesEnv(t *testing.T) {
	real, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(binDirEnv, real)
	if got, err := FindBinaries(); err != nil || got != real {
		t.Errorf("with %s=%s: FindBinaries() = %q, %v", binDirEnv, real, got, err)
	}
	empty := t.TempDir()
	t.Setenv(binDirEnv, empty)
	if _, err := FindBinaries(); !errors.Is(err, ErrNoBinaries) || !strings.Contains(err.Error(), empty) {
		t.Errorf("with %s=%s: err = %v, want ErrNoBinaries naming the directory", binDirEnv, empty, err)
	}
}

// fakeInstall creates dir holding the given (empty, executable) binaries.
func fakeInstall(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBinarySearchOrder(t *testing.T) {
	root := t.TempDir()
	all := requiredBinaries
	fakeInstall(t, filepath.Join(root, "lib", "9.6", "bin"), all...)
	fakeInstall(t, filepath.Join(root, "lib", "10", "bin"), all...)
	fakeInstall(t, filepath.Join(root, "lib", "15", "bin"), all...)
	fakeInstall(t, filepath.Join(root, "lib", "16", "bin"), "initdb", "pg_ctl") // no postgres
	fakeInstall(t, filepath.Join(root, "lib", "devel", "bin"), all...)          // not a version
	fakeInstall(t, filepath.Join(root, "local"), all...)
	fakeInstall(t, filepath.Join(root, "path"), "pg_ctl") // incomplete install on PATH
	noPath := func(string) (string, error) { return "", errors.New("not found") }

	tests := []struct {
		name   string
		search binarySearch
		want   string
	}{
		{"highest numeric version", binarySearch{lookPath: noPath, first: []string{filepath.Join(root, "lib", "*", "bin")}}, filepath.Join(root, "lib", "15", "bin")},
		{"fixed after versioned", binarySearch{lookPath: noPath, first: []string{filepath.Join(root, "none", "*")}, fixed: []string{filepath.Join(root, "local")}}, filepath.Join(root, "local")},
		{"incomplete PATH install skipped", binarySearch{
			lookPath: func(name string) (string, error) { return filepath.Join(root, "path", name), nil },
			fixed:    []string{filepath.Join(root, "local")},
		}, filepath.Join(root, "local")},
		{"PATH symlink resolved", binarySearch{
			lookPath: func(name string) (string, error) {
				link := filepath.Join(root, "links", name)
				_ = os.MkdirAll(filepath.Dir(link), 0o755)
				_ = os.Symlink(filepath.Join(root, "lib", "10", "bin", name), link)
				return link, nil
			},
			first: []string{filepath.Join(root, "lib", "*", "bin")},
		}, filepath.Join(root, "lib", "10", "bin")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.search.find()
			if err != nil || got != tt.want {
				t.Errorf("find() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestBinarySearchNothingFound(t *testing.T) {
	s := binarySearch{fixed: []string{filepath.Join(t.TempDir(), "nothing")}}
	_, err := s.find()
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install postgresql", "brew install postgresql@15", "DATABASE_URL", "docker compose up -d postgres"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
