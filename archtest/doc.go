// Package archtest holds the tests that keep the code base's shape: rules
// that a compiler does not enforce but a reviewer would, checked over every
// package of the module from its source and type information. It has no
// code of its own; nothing imports it.
package archtest
