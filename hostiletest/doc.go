// Package hostiletest is the format of the catalogues of hostile inputs
// that each edge's hostile suite walks (testdata/hostile/*.json in api,
// dispatch, callback and webhook): one case per input, with what the edge
// must answer. It loads a catalogue, makes each case's body and names the
// classes of hostile input. A test helper: never imported by production code.
package hostiletest
