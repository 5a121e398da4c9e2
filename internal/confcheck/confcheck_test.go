package confcheck

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type port interface{ Do() }
type impl struct{}

func (*impl) Do() {}

func TestCheckerNamesEveryField(t *testing.T) {
	var typedNil *impl
	c := For("x.Config")
	Positive(c, "Concurrency", -1)
	Positive(c, "LeaseTTL", time.Duration(0))
	NotNegative(c, "Gap", -time.Second)
	NotNegative(c, "Zero", 0)
	Positive(c, "Fine", 3)
	c.Present("Redis", nil)
	c.Present("Store", port(typedNil))
	c.Present("Name", "")
	c.Present("Set", "x")
	c.Require(false, "Key", 16, "must be 32 bytes")
	err := fmt.Errorf("new x: %w", c.Err())
	var got []string
	for _, fe := range Fields(err) {
		got = append(got, fe.Field)
	}
	want := "Concurrency LeaseTTL Gap Redis Store Name Key"
	if strings.Join(got, " ") != want {
		t.Errorf("faults %v, want %s", got, want)
	}
	if !strings.Contains(err.Error(), "x.Config.LeaseTTL 0s: must be more than 0") {
		t.Errorf("message %q", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "Concurrency" {
		t.Errorf("errors.As: %+v", fe)
	}
	if For("y").Err() != nil {
		t.Error("no fault, yet an error")
	}
}
