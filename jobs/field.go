package jobs

import "strconv"

// FieldKey spells key of the object at prefix as Error.Field names it, the
// one spelling every edge and the schemas share: "params.action", and
// `params.selector["rack a"]` for a key that is not a plain name (letters,
// digits, _ and -), so no key can pass for a path of others.
func FieldKey(prefix, key string) string {
	switch {
	case !plainName(key):
		return prefix + "[" + strconv.Quote(key) + "]"
	case prefix == "":
		return key
	}
	return prefix + "." + key
}

// FieldIndex spells item i of the array at prefix: "params.servers[0]".
func FieldIndex(prefix string, i int) string {
	return prefix + "[" + strconv.Itoa(i) + "]"
}

// FieldPath spells the path of keys below prefix: FieldPath("params",
// "selector", "rack a") is `params.selector["rack a"]`.
func FieldPath(prefix string, keys ...string) string {
	for _, k := range keys {
		prefix = FieldKey(prefix, k)
	}
	return prefix
}

func plainName(key string) bool {
	for _, r := range key {
		if !(r == '_' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return key != ""
}

// FieldUnder puts field, a path spelled from its own root, under prefix:
// FieldUnder("params", `selector["rack a"]`).
func FieldUnder(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case field[0] == '[':
		return prefix + field
	}
	return prefix + "." + field
}
