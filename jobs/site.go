package jobs

import (
	"regexp"
	"strings"
)

// DefaultSite is the site of a server enrolled without one.
const DefaultSite = "default"

var sitePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidSite reports whether s can name a site: what a server id can be.
func ValidSite(s string) bool { return sitePattern.MatchString(s) }

// SiteOf is a server's site: its own, or DefaultSite.
func SiteOf(site string) string {
	if site == "" {
		return DefaultSite
	}
	return site
}

// The asynq queues of a job follow its server's site and its priority;
// none can be another's, as a site name has no dot:
//   - the default site keeps the bare priority names (critical, default,
//     low), as before sites existed, so that tasks queued then still run;
//   - another site's are site.<site>.<priority>;
//   - a job on no server (a deploy) goes to fleet.<priority>, served by
//     every worker whatever its sites.

// QueueName is the queue of a job at priority p on a server of site (""
// for a job on no server).
func QueueName(site string, p Priority, onServer bool) string {
	switch {
	case !onServer:
		return "fleet." + p.Queue()
	case SiteOf(site) == DefaultSite:
		return p.Queue()
	}
	return "site." + site + "." + p.Queue()
}

// Queue is the job's asynq queue.
func (j Job) Queue() string { return QueueName(j.Site, j.Priority, j.Type.TargetsServer()) }

// SiteOfQueue names the site a queue serves: ("", false) for a fleet queue
// or a queue that is not Tinman's.
func SiteOfQueue(queue string) (string, bool) {
	if rest, ok := strings.CutPrefix(queue, "site."); ok {
		site, p, ok := strings.Cut(rest, ".")
		return site, ok && Priority(p).valid() && p != "" && ValidSite(site)
	}
	if Priority(queue).valid() && queue != "" {
		return DefaultSite, true
	}
	return "", false
}
