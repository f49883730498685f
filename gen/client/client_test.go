package client_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSDKPullsInNoServerCode: importing the client brings only the standard
// library, oapi-codegen's small runtime (with the two modules it needs) and
// its nullable type (a merge patch's "set to null"), never Gin, kin-openapi,
// sqlx, lib/pq or the service's own packages.
func TestSDKPullsInNoServerCode(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := []string{
		"github.com/ordersettle/ordersettle/gen/client",
		"github.com/oapi-codegen/runtime",
		"github.com/google/uuid",
		"github.com/apapsch/go-jsonmerge",
		"github.com/oapi-codegen/nullable",
	}
	for _, pkg := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(pkg, "/")
		if !strings.Contains(first, ".") || strings.HasPrefix(pkg, "vendor/") {
			continue // the standard library
		}
		ok := false
		for _, a := range allowed {
			ok = ok || strings.HasPrefix(pkg, a)
		}
		if !ok {
			t.Errorf("the client imports %s; it must stay free of the server's dependencies", pkg)
		}
	}
}

// TestREADMEShowsTheExample: the program in the README's "Go client" section
// is the one Example runs.
func TestREADMEShowsTheExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fromExample := funcRun(string(example))
	_, section, found := strings.Cut(string(readme), "\n## Go client\n")
	if !found {
		t.Fatal(`the README has no "## Go client" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, code, found := strings.Cut(section, "```go\n")
	code, _, _ = strings.Cut(code, "```")
	if !found || fromExample == "" {
		t.Fatal("the Go client section has no Go program, or example_test.go no func run")
	}
	if got := funcRun(code); got != fromExample {
		t.Errorf("the README's func run differs from example_test.go's:\n--- README\n%s\n--- example_test.go\n%s", got, fromExample)
	}
	for _, want := range []string{"go get github.com/ordersettle/ordersettle/gen/client", `run(context.Background(), "http://localhost:8080", os.Getenv("ORDERSETTLE_TOKEN"))`, "client.WithBearerToken"} {
		if !strings.Contains(section, want) {
			t.Errorf("the Go client section lacks %s", want)
		}
	}
}

// funcRun returns the text of func run, from its signature to the closing
// brace at the start of a line.
func funcRun(src string) string {
	i := strings.Index(src, "\nfunc run(")
	if i < 0 {
		return ""
	}
	body := src[i+1:]
	end := strings.Index(body, "\n}\n")
	if end < 0 {
		return ""
	}
	return body[:end+2]
}
