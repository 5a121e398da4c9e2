package store

import (
	"strings"
	"testing"
)

// The key layout's two rules (keys.go): prefixes are prefix-free, and no
// fixed name starts with a prefix. Together they make every key of one kind
// unreachable from any id of another, whatever characters ids hold.
func TestKeyLayoutIsPrefixFree(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, k := range append(append([]string{}, keyLayout.fixed...), keyLayout.prefixes...) {
		if seen[k] {
			t.Errorf("%q is listed twice", k)
		}
		seen[k] = true
		if !strings.HasPrefix(k, "tinman:") {
			t.Errorf("%q is outside the tinman: namespace", k)
		}
	}
	for _, p := range keyLayout.prefixes {
		if !strings.HasSuffix(p, ":") {
			t.Errorf("prefix %q does not end with a colon", p)
		}
		for _, q := range keyLayout.prefixes {
			if p != q && strings.HasPrefix(q, p) {
				t.Errorf("prefix %q starts with prefix %q: an id of the second could name a key of the first", q, p)
			}
		}
		for _, f := range keyLayout.fixed {
			if strings.HasPrefix(f, p) {
				t.Errorf("fixed name %q starts with prefix %q: an id could name it", f, p)
			}
		}
	}
}

// Every key builder lands under its own listed prefix, with the id whole
// at its end, for ids made of the words of the layout itself.
func TestKeyBuildersUseTheirPrefix(t *testing.T) {
	t.Parallel()
	builders := map[string]func(string) string{
		jobPrefix: jobKey, seqPrefix: seqKey, submittedPrefix: submittedKey, cancelPrefix: cancelKey,
		waitingPrefix: waitingKey, callbacksPrefix: callbacksKey, serverJobsPrefix: serverJobsKey,
		serverPrefix: serverKey, leasePrefix: leaseKey, fencePrefix: fenceKey, pacePrefix: paceKey,
		breakerPrefix: breakerKey, probePrefix: probeKey, bootConfigPrefix: bootConfigKey, roundPrefix: roundKey,
		bootTokenPrefix: bootTokenKey, macPrefix: macKey, imagePrefix: imageKey,
		deployServersPrefix: deployServersKey, deployPendingPrefix: deployPendingKey,
		outboxJobPrefix:    func(id string) string { return jobStream(id).listKey() },
		outboxServerPrefix: func(id string) string { return serverStream(id).listKey() },
		labelPrefix:        func(id string) string { return labelKey("k", id) },
		githubDelivery:     func(id string) string { return deliveryKeys(WebhookGitHub, id, "", "") },
		genericDelivery:    func(id string) string { return deliveryKeys(WebhookGeneric, id, "", "") },
		githubBody:         func(id string) string { return deliveryKeys(WebhookGitHub, "", id, "") },
		genericBody:        func(id string) string { return deliveryKeys(WebhookGeneric, "", id, "") },
		githubEvent:        func(id string) string { return deliveryKeys(WebhookGitHub, "", "", id) },
	}
	if len(builders) != len(keyLayout.prefixes) {
		t.Fatalf("%d builders for %d prefixes: list each prefix's builder here", len(builders), len(keyLayout.prefixes))
	}
	for _, id := range collisionIDs() {
		for prefix, build := range builders {
			key := build(id)
			if !strings.HasPrefix(key, prefix) || !strings.HasSuffix(key, id) {
				t.Errorf("key %q for id %q is not %q followed by the id", key, id, prefix)
			}
		}
	}
}

// collisionIDs are the words of every key name, and ids shaped like the
// layout's own stream names.
func collisionIDs() []string {
	ids := map[string]bool{"server.sim-01": true, "job.x": true, "rejected.x": true, "server:x": true, "job:x": true}
	for _, k := range append(append([]string{}, keyLayout.fixed...), keyLayout.prefixes...) {
		for _, w := range strings.FieldsFunc(k, func(r rune) bool { return r == ':' || r == '-' }) {
			ids[w] = true
		}
	}
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	return out
}

// deliveryKeys is the one key of a delivery known by one name.
func deliveryKeys(source, id, body, event string) string {
	keys, err := Delivery{Source: source, ID: id, BodySHA256: body, Event: event}.keys()
	if err != nil || len(keys) != 1 {
		return ""
	}
	return keys[0]
}
