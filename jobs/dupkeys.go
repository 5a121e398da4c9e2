package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	return checkValue(dec, "", 0)
}

// checkValue reads one value from dec, checking the objects in it.
func checkValue(dec *json.Decoder, path string, depth int) error {
	if depth > maxJSONDepth {
		return nil
	}
	tok, err := dec.Token()
	if err != nil {
		return nil //nolint:nilerr // not JSON: the decoder reports it
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			key, ok := kt.(string)
			if err != nil || !ok {
				return nil //nolint:nilerr // not JSON: the decoder reports it
			}
			field := fieldName(path, key)
			if seen[key] {
				return Invalid(field, "is given more than once: each key may appear once")
			}
			seen[key] = true
			if err := checkValue(dec, field, depth+1); err != nil {
				return err
			}
		}
		_, _ = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		_, _ = dec.Token()
	}
	return nil
}
