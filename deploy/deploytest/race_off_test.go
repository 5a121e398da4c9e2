//go:build !race

package deploytest

// raceBuild: see race_on_test.go.
const raceBuild = false
