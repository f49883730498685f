package domain_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/ordersettle/ordersettle/domain"
)

// TestImportsNothingOfTheProject: the domain's words depend on no other
// package of the project (River's rivertype is the model).
func TestImportsNothingOfTheProject(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/ordersettle/ordersettle/") && pkg != "github.com/ordersettle/ordersettle/domain" {
			t.Errorf("domain depends on %s", pkg)
		}
	}
}

func TestJobStatusRules(t *testing.T) {
	for _, tc := range []struct {
		st                      domain.JobStatus
		valid, final, retryable bool
	}{
		{domain.JobQueued, true, false, false},
		{domain.JobRunning, true, false, false},
		{domain.JobCompleted, true, true, false},
		{domain.JobFailed, true, true, true},
		{domain.JobCancelled, true, true, true},
		{"PAUSED", false, false, false},
	} {
		if tc.st.Valid() != tc.valid || tc.st.Final() != tc.final || tc.st.Retryable() != tc.retryable {
			t.Errorf("%s: valid %v final %v retryable %v", tc.st, tc.st.Valid(), tc.st.Final(), tc.st.Retryable())
		}
	}
	if got := len(domain.JobStatuses()); got != 5 {
		t.Errorf("%d statuses", got)
	}
}
