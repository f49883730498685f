package app_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ordersettle/ordersettle/"

// TestREADMEDiagramMatchesImports: every line of the README's "How it is
// built" diagram that names a package lists exactly the packages of this
// module it imports (internal/buildinfo aside), as go list says.
func TestREADMEDiagramMatchesImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## How it is built\n")
	if !ok {
		t.Fatal(`README has no "How it is built" section`)
	}
	_, diagram, _ := strings.Cut(section, "```\n")
	diagram, _, _ = strings.Cut(diagram, "```")

	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	imports := map[string][]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		imports[pkg] = []string{}
		for _, dep := range f[1:] {
			if d, ok := strings.CutPrefix(dep, module); ok && d != "internal/buildinfo" {
				imports[pkg] = append(imports[pkg], d)
			}
		}
	}

	drawn := map[string]bool{}
	for line := range strings.SplitSeq(diagram, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkg := strings.TrimSuffix(f[0], "/")
		if _, ok := imports[pkg]; !ok {
			continue // not a line about a package
		}
		drawn[pkg] = true
		var deps []string
		if len(f) > 1 && f[1] == "─▶" {
			for _, tok := range f[2:] {
				dep := strings.TrimSuffix(tok, "/")
				if _, ok := imports[dep]; !ok {
					break // the comment starts
				}
				deps = append(deps, dep)
			}
		}
		slices.Sort(deps)
		want := slices.Clone(imports[pkg])
		slices.Sort(want)
		if !slices.Equal(deps, want) {
			t.Errorf("README draws %s ─▶ %v; go list says it imports %v", pkg, deps, want)
		}
	}
	for _, pkg := range []string{"cmd/server", "internal/app", "server", "ordercommit", "settlement", "store", "domain",
		"migrations", "internal/config", "internal/localdb", "cmd/migrate", "cmd/seed", "cmd/settle"} {
		if !drawn[pkg] {
			t.Errorf("the README diagram does not draw %s", pkg)
		}
	}
}
