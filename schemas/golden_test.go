package schemas_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/schemas"
)

// golden is one case from testdata/{requests,events}/{valid,invalid}.
type golden struct {
	name string // "valid/power-cycle", "invalid/bad-action"
	data []byte
	want string // the exact err.Error(); "" for a valid case
}

func setup(t testing.TB) *schemas.Validator {
	t.Helper()
	v, err := schemas.New()
	if err != nil {
		t.Fatalf("schemas.New: %v", err)
	}
	return v
}

// goldens reads every case under testdata/dir. Each invalid NAME.json has a
// NAME.want beside it, and each .want a .json.
func goldens(t testing.TB, dir string) []golden {
	t.Helper()
	var out []golden
	for _, kind := range []string{"valid", "invalid"} {
		paths, err := filepath.Glob(filepath.Join("testdata", dir, kind, "*.json"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("no golden cases in testdata/%s/%s (%v)", dir, kind, err)
		}
		for _, p := range paths {
			out = append(out, readGolden(t, kind, p))
		}
	}
	checkNoOrphanWants(t, dir)
	return out
}

func readGolden(t testing.TB, kind, path string) golden {
	t.Helper()
	name := strings.TrimSuffix(filepath.Base(path), ".json")
	g := golden{name: kind + "/" + name, data: mustRead(t, path)}
	if kind == "invalid" {
		g.want = strings.TrimRight(string(mustRead(t, strings.TrimSuffix(path, ".json")+".want")), "\n")
		if g.want == "" {
			t.Fatalf("%s: empty .want", path)
		}
	}
	return g
}

func checkNoOrphanWants(t testing.TB, dir string) {
	t.Helper()
	wants, _ := filepath.Glob(filepath.Join("testdata", dir, "*", "*.want"))
	for _, w := range wants {
		if _, err := os.Stat(strings.TrimSuffix(w, ".want") + ".json"); err != nil {
			t.Errorf("%s has no .json beside it", w)
		}
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden case: %v", err)
	}
	return data
}

func TestRequestGolden(t *testing.T) {
	t.Parallel()
	v := setup(t)
	runGolden(t, goldens(t, "requests"), v.Request)
}

func TestEventGolden(t *testing.T) {
	t.Parallel()
	v := setup(t)
	runGolden(t, goldens(t, "events"), v.Event)
}

func runGolden(t *testing.T, cases []golden, validate func([]byte) error) {
	t.Helper()
	for _, g := range cases {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			err := validate(g.data)
			checkInvalidRequest(t, err)
			if got := errString(err); got != g.want {
				t.Errorf("got  %q\nwant %q", got, g.want)
			}
		})
	}
}

// checkInvalidRequest fails unless err is nil or a *jobs.Error with Code
// invalid_request that is not retryable.
func checkInvalidRequest(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *jobs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *jobs.Error", err, err)
	}
	if e.Code != jobs.CodeInvalidRequest || e.Retryable || e.Message == "" {
		t.Fatalf("error %+v: want a non-retryable invalid_request with a message", e)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func field(err error) string {
	var e *jobs.Error
	if errors.As(err, &e) {
		return e.Field
	}
	return "<not a *jobs.Error>"
}
