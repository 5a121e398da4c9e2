package main

import (
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

// natsAuthFlags adds how a process proves itself to NATS and checks the
// servers: a .creds file, a user and password, or a token, and TLS. Secrets
// are best given by variable (TINMAN_NATS_PASSWORD, TINMAN_NATS_TOKEN).
func natsAuthFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("nats-creds", "", "NATS credentials file (JWT and NKey seed, .creds)")
	f.String("nats-user", "", "NATS user name (its password: --nats-password or TINMAN_NATS_PASSWORD)")
	f.String("nats-password", "", "NATS password (prefer TINMAN_NATS_PASSWORD)")
	f.String("nats-token", "", "NATS token (prefer TINMAN_NATS_TOKEN)")
	f.String("nats-ca", "", "CA file that verifies the NATS servers' TLS certificates")
	f.String("nats-cert", "", "client certificate file, for NATS servers that verify clients (with --nats-key)")
	f.String("nats-key", "", "client key file of --nats-cert")
}

// natsTarget is where and how a process connects to NATS.
type natsTarget struct {
	// URLs is the comma-separated list of servers, as nats.Connect takes it.
	URLs string
	// Options carry the credentials and TLS; never logged.
	Options []nats.Option
}

// natsTargetOf checks --nats-url (a comma-separated list of nats://, tls://,
// ws:// or wss:// URLs; empty: fallback) and the auth flags of cmd, and
// returns the connection's URLs and options. A mistake is a usage error
// naming the flag.
func natsTargetOf(cmd *cobra.Command, fallback string) (natsTarget, error) {
	raw := mustString(cmd, "nats-url")
	if raw == "" {
		raw = fallback
	}
	if err := checkNATSURLs(raw); err != nil {
		return natsTarget{}, err
	}
	t := natsTarget{URLs: raw}
	if cmd.Flags().Lookup("nats-creds") == nil {
		return t, nil
	}
	creds, user, pass, token := mustString(cmd, "nats-creds"), mustString(cmd, "nats-user"), mustString(cmd, "nats-password"), mustString(cmd, "nats-token")
	ways := 0
	for _, given := range []bool{creds != "", user != "", token != ""} {
		if given {
			ways++
		}
	}
	switch {
	case ways > 1:
		return t, usageErr("give one of --nats-creds, --nats-user or --nats-token")
	case pass != "" && user == "":
		return t, usageErr("--nats-password needs --nats-user")
	case user != "" && pass == "":
		return t, usageErr("--nats-user %q needs a password (--nats-password or TINMAN_NATS_PASSWORD)", user)
	case creds != "":
		if err := readable("--nats-creds", creds); err != nil {
			return t, err
		}
		t.Options = append(t.Options, nats.UserCredentials(creds))
	case user != "":
		t.Options = append(t.Options, nats.UserInfo(user, pass))
	case token != "":
		t.Options = append(t.Options, nats.Token(token))
	}
	ca, cert, key := mustString(cmd, "nats-ca"), mustString(cmd, "nats-cert"), mustString(cmd, "nats-key")
	if ca != "" {
		if err := readable("--nats-ca", ca); err != nil {
			return t, err
		}
		t.Options = append(t.Options, nats.RootCAs(ca))
	}
	switch {
	case (cert == "") != (key == ""):
		return t, usageErr("--nats-cert and --nats-key go together")
	case cert != "":
		for flag, path := range map[string]string{"--nats-cert": cert, "--nats-key": key} {
			if err := readable(flag, path); err != nil {
				return t, err
			}
		}
		t.Options = append(t.Options, nats.ClientCert(cert, key))
	}
	return t, nil
}

// checkNATSURLs refuses a list with an empty entry, or an entry that is not
// a NATS URL, naming it.
func checkNATSURLs(list string) error {
	for entry := range strings.SplitSeq(list, ",") {
		entry = strings.TrimSpace(entry)
		u, err := url.Parse(entry)
		switch {
		case entry == "":
			return usageErr("--nats-url %q: an empty entry in the list", list)
		case err != nil:
			return usageErr("--nats-url %q: %v", redactURL(entry), err)
		case u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss"):
			return usageErr("--nats-url %q: each entry must be nats://, tls://, ws:// or wss://host:port", redactURL(entry))
		}
	}
	return nil
}

// redactURL hides the password of a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// readable refuses a file flag whose file cannot be read.
func readable(flag, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return usageErr("%s: %v", flag, err)
	}
	_ = f.Close()
	return nil
}

// describeNATS names the servers of a connection for logs and errors,
// without credentials.
func describeNATS(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		parts[i] = redactURL(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}
