package api_test

import (
	"fmt"

	"github.com/tinmanhq/tinman/api"
)

// Tokens are configured as hashes, so that no secret sits in a flag or an
// environment variable; HashToken makes the configuration form.
func ExampleParseTokens() {
	spec := "admin:" + api.HashToken("s3cret-admin-token") + ",viewer:" + api.HashToken("s3cret-viewer-token")
	tokens, err := api.ParseTokens(spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	id, ok := tokens.Authenticate("s3cret-viewer-token")
	fmt.Println(tokens.Len(), id.Role, ok)
	_, ok = tokens.Authenticate("guess")
	fmt.Println(ok)
	// Output:
	// 2 viewer true
	// false
}

func ExampleParseSelector() {
	sel, err := api.ParseSelector("rack=r1,fleet=prod")
	fmt.Println(sel, err)
	// Output: map[fleet:prod rack:r1] <nil>
}
