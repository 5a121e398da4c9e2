package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
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
	return checkJSON(data, false)
}

// CheckJSON refuses JSON that encoding/json would read otherwise than it
// is written: a key given twice (CheckDuplicateKeys), and a string, key or
// value, that is not text: bytes that are not UTF-8, or an escaped lone
// surrogate ("\ud800"), both of which encoding/json turns into U+FFFD
// without a word, so that what is stored is not what was sent. Refusals
// name the field. Input that is not valid JSON passes, as above.
func CheckJSON(data []byte) error {
	return checkJSON(data, !utf8.Valid(data) || bytes.Contains(data, []byte(`\u`)))
}

func checkJSON(data []byte, text bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := walker{dec: dec, data: data, text: text}
	if err := w.value("", 0); !errors.Is(err, errNotJSON) {
		return err
	}
	return nil // not JSON: the decoder that follows says what is wrong
}

// errNotJSON stops the walk at input that is not JSON (or too deep): every
// level returns at once, so no loop waits on a token that never comes.
var errNotJSON = errors.New("not JSON")

// walker reads JSON token by token; with text, it checks every string
// against the bytes it was read from.
type walker struct {
	dec  *json.Decoder
	data []byte
	text bool
}

// token reads the next token; a string that is not text is refused,
// naming field (for a key, the key's own field).
func (w walker) token(field func(string) string) (json.Token, error) {
	start := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return nil, errNotJSON
	}
	if s, ok := tok.(string); ok && w.text && !sameText(w.data[start:w.dec.InputOffset()], s) {
		return nil, Invalid(field(s), "is not valid UTF-8 text: bytes that are not UTF-8, or an escaped lone surrogate")
	}
	return tok, nil
}

// value reads one value, checking the objects in it.
func (w walker) value(path string, depth int) error {
	if depth > maxJSONDepth {
		return errNotJSON
	}
	tok, err := w.token(func(string) string { return path })
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		return w.object(path, depth)
	case json.Delim('['):
		for i := 0; w.dec.More(); i++ {
			if err := w.value(FieldIndex(path, i), depth+1); err != nil {
				return err
			}
		}
		return w.end()
	}
	return nil
}

// object reads an object's members, after its '{'.
func (w walker) object(path string, depth int) error {
	seen := map[string]bool{}
	for w.dec.More() {
		kt, err := w.token(func(key string) string { return FieldKey(path, key) })
		if err != nil {
			return err
		}
		key, ok := kt.(string)
		if !ok {
			return errNotJSON
		}
		field := FieldKey(path, key)
		if seen[key] {
			return Invalid(field, "is given more than once: each key may appear once")
		}
		seen[key] = true
		if err := w.value(field, depth+1); err != nil {
			return err
		}
	}
	return w.end()
}

// end reads the closing delimiter of an object or array.
func (w walker) end() error {
	if _, err := w.dec.Token(); err != nil {
		return errNotJSON
	}
	return nil
}

// sameText reports whether decoded, read from raw (the string's bytes, with
// the separators before it), is what raw says: every U+FFFD in it was
// written so, as the character or as \ufffd, not made of bytes that are not
// UTF-8 or of a lone surrogate.
func sameText(raw []byte, decoded string) bool {
	made := bytes.Count([]byte(decoded), []byte("\uFFFD"))
	if made == 0 {
		return true
	}
	written := bytes.Count(raw, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(raw), []byte(`\ufffd`))
	return made <= written
}
