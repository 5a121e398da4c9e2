package jobs

import "testing"

func TestFieldSpelling(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{FieldKey("", "server"), "server"},
		{FieldKey("params", "action"), "params.action"},
		{FieldKey("params.selector", "rack a"), `params.selector["rack a"]`},
		{FieldKey("", "a.b"), `["a.b"]`},
		{FieldKey("", ""), `[""]`},
		{FieldIndex("params.servers", 2), "params.servers[2]"},
		{FieldPath("params", "selector", "rack a"), `params.selector["rack a"]`},
		{FieldPath("", "bmc", "address"), "bmc.address"},
		{FieldUnder("", "bmc.address"), "bmc.address"},
		{FieldUnder("params", ""), "params"},
		{FieldUnder("params", "selector.rack"), "params.selector.rack"},
		{FieldUnder("params", `["a b"]`), `params["a b"]`},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
