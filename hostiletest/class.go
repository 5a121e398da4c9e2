package hostiletest

// Class is a kind of hostile input. Every case belongs to one.
type Class string

// Classes are the kinds of hostile input the catalogues cover, with what
// each is.
var Classes = map[Class]string{
	"duplicate-keys":  "a key given twice in one object, at any depth",
	"key-case":        "a key spelt in other letter cases than the contract's",
	"unknown-keys":    "a key the contract does not know",
	"wrong-types":     "a value of the wrong JSON type",
	"huge-numbers":    "numbers past every bound: 1e400, 2^64, -0, fractions",
	"nan-strings":     "NaN, Infinity and numbers written as strings",
	"deep-nesting":    "arrays or objects nested thousands deep",
	"oversize":        "bodies, payloads, headers and fields past their bounds",
	"invalid-utf8":    "bytes that are not UTF-8, and escaped lone surrogates",
	"control-chars":   "control characters: raw in JSON, escaped in ids, in paths and headers",
	"malformed":       "not JSON, not an object, empty, trailing data",
	"missing-fields":  "a required field left out, or empty",
	"bad-values":      "a value of the right type outside what the contract allows",
	"odd-ids":         "ids that look like internal words, subjects or keys: pending, open, server.x, rejected.x, .., %2F, lookalikes, 64+ characters",
	"path-traversal":  "paths with .., encoded slashes and dots",
	"repeated-params": "a query parameter or header given twice",
	"empty-selector":  "selectors with empty, repeated or malformed terms",
	"bad-type":        "event type patterns that cannot match, or are not patterns",
	"content-type":    "a body declared as something other than JSON",
	"auth":            "no credentials, unknown tokens, Basic auth where only Bearer is taken",
	"roles":           "a token whose role is too low for the route",
	"method":          "a method the route does not take",
	"headers":         "a header whose value is not what the contract allows",
	"replay":          "a delivery or request already seen, under the same or another id",
	"bad-signature":   "a webhook signature missing, malformed, of another body or secret",
	"wrong-token":     "an installer report with a wrong, another job's or an ended token",
	"out-of-order":    "an installer report before the one it must follow",
	"subject":         "a NATS subject that names no type, or another than the body's",
}
