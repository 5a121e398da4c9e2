package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
)

// maxJSONDepth is how deep CheckDuplicateKeys looks: encoding/json refuses
// deeper input itself (its limit is 10000).
const maxJSONDepth = 10000

// CheckDuplicateKeys refuses JSON in which an object gives a key twice, at
// any depth, naming the key's path. encoding/json keeps the last of them and
// a schema validator may read the first: {"action":"status","action":"off"}
// must not pass as a status read and run as a power off. Input that is not
// valid JSON passes: the decoder that follows says what is wrong with it.
func CheckDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := checkValue(dec, "", 0); !errors.Is(err, errNotJSON) {
		return err
	}
	return nil // not JSON: the decoder that follows says what is wrong
}

// errNotJSON stops the walk at input that is not JSON (or too deep): every
// level returns at once, so no loop waits on a token that never comes.
var errNotJSON = errors.New("not JSON")

// checkValue reads one value from dec, checking the objects in it.
func checkValue(dec *json.Decoder, path string, depth int) error {
	if depth > maxJSONDepth {
		return errNotJSON
	}
	tok, err := dec.Token()
	if err != nil {
		return errNotJSON
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			key, ok := kt.(string)
			if err != nil || !ok {
				return errNotJSON
			}
			field := FieldKey(path, key)
			if seen[key] {
				return Invalid(field, "is given more than once: each key may appear once")
			}
			seen[key] = true
			if err := checkValue(dec, field, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errNotJSON
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, FieldIndex(path, i), depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errNotJSON
		}
	}
	return nil
}
