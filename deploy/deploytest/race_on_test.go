//go:build race

package deploytest

// raceBuild: this test binary has the race detector, so the tinman it
// builds does too and reuses the packages `go test -race` compiled.
const raceBuild = true
