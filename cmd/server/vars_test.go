package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ordersettle/ordersettle/internal/config"
)

// TestEveryVariableHasOneDefault: a variable another package owns gets its
// default here, from that package, and only such variables do; config owns
// the others' defaults.
func TestEveryVariableHasOneDefault(t *testing.T) {
	names := map[string]bool{}
	for _, v := range config.Vars {
		names[v.Name] = true
		_, here := packageDefaults[v.Name]
		switch {
		case v.Owner != "" && !here:
			t.Errorf("%s belongs to %s but has no default in packageDefaults", v.Name, v.Owner)
		case v.Owner == "" && here:
			t.Errorf("%s is config's own setting but packageDefaults gives it a default too", v.Name)
		case v.Owner != "" && v.Default != "":
			t.Errorf("%s belongs to %s but config gives it a default too", v.Name, v.Owner)
		}
	}
	for name := range packageDefaults {
		if !names[name] {
			t.Errorf("packageDefaults has %s, which config does not read", name)
		}
	}
}

// TestREADMEListsPackageDefaults: the README's configuration table shows the
// defaults the packages own.
func TestREADMEListsPackageDefaults(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for line := range strings.SplitSeq(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		for _, name := range strings.Fields(strings.ReplaceAll(cells[1], "`", "")) {
			rows[name] = strings.TrimSpace(cells[2])
		}
	}
	for name, def := range packageDefaults {
		if row := rows[name]; !strings.Contains(row, "`"+def+"`") {
			t.Errorf("README: %s defaults to %q; its row says %q", name, def, row)
		}
	}
}

// TestCommandsLinkNoServer: cmd/migrate and cmd/seed link neither Gin nor
// kin-openapi (configuration imports nothing of the app).
func TestCommandsLinkNoServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "../migrate", "../seed").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, banned := range []string{"github.com/gin-gonic/gin", "github.com/getkin/kin-openapi/openapi3",
		"github.com/ordersettle/ordersettle/server", "github.com/swaggest/swgui"} {
		if slices.Contains(deps, banned) {
			t.Errorf("cmd/migrate or cmd/seed links %s", banned)
		}
	}
	if !slices.Contains(deps, "github.com/ordersettle/ordersettle/internal/config") {
		t.Errorf("go list -deps does not show internal/config; the check looks at the wrong list:\n%s", out)
	}
}
