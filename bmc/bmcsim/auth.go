package bmcsim

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// maxSessions bounds the session table; when full the oldest session is
// evicted, so long dev runs with clients that never log out stay bounded.
const maxSessions = 128

// session is one Redfish session created by POST to SessionService/Sessions.
type session struct {
	id, token, user string
	created         time.Time
}

// sessionStore holds open sessions. BMC.mu guards it.
type sessionStore struct {
	byID    map[string]*session
	byToken map[string]*session
	order   []string // ids, oldest first
}

func newSessionStore() sessionStore {
	return sessionStore{byID: map[string]*session{}, byToken: map[string]*session{}}
}

func (s *sessionStore) len() int { return len(s.byID) }

// create opens a session for user and returns it.
func (s *sessionStore) create(user string, now time.Time) *session {
	for len(s.order) >= maxSessions {
		s.remove(s.order[0])
	}
	ss := &session{id: rand.Text(), token: rand.Text() + rand.Text(), user: user, created: now}
	s.byID[ss.id] = ss
	s.byToken[ss.token] = ss
	s.order = append(s.order, ss.id)
	return ss
}

// remove deletes the session with id and reports whether it existed.
func (s *sessionStore) remove(id string) bool {
	ss, ok := s.byID[id]
	if !ok {
		return false
	}
	delete(s.byID, id)
	delete(s.byToken, ss.token)
	for i, v := range s.order {
		if v == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	return true
}

// ids returns open session ids, oldest first.
func (s *sessionStore) ids() []string { return append([]string(nil), s.order...) }

// sessionPath is the URI of the session with id.
func sessionPath(id string) string { return sessionsPath + "/" + id }

// isPublic reports whether the request may be served without credentials:
// the service root, the version document and session login.
func isPublic(r *http.Request, p string) bool {
	if p == sessionsPath {
		return r.Method == http.MethodPost
	}
	return (p == rootPath || p == "/redfish") && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}

// isLogin reports whether the request is a session login.
func isLogin(r *http.Request, p string) bool { return p == sessionsPath && r.Method == http.MethodPost }

// authorized checks X-Auth-Token first, then HTTP Basic auth.
func (b *BMC) authorized(r *http.Request) bool {
	if b.faults.AuthFailure() {
		return false
	}
	if tok := strings.TrimSpace(r.Header.Get("X-Auth-Token")); tok != "" {
		b.mu.Lock()
		_, ok := b.sessions.byToken[tok]
		b.mu.Unlock()
		return ok
	}
	if user, pass, ok := r.BasicAuth(); ok {
		return b.credentialsOK(user, pass)
	}
	return false
}

// handleLogin serves POST SessionService/Sessions: 201 Created with the
// X-Auth-Token and Location headers gofish reads.
func (b *BMC) handleLogin(w http.ResponseWriter, r *http.Request) {
	var body struct{ UserName, Password string }
	if err := decodeBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, "MalformedJSON", err.Error())
		return
	}
	if b.faults.AuthFailure() || !b.credentialsOK(body.UserName, body.Password) {
		writeUnauthorized(w)
		return
	}
	b.mu.Lock()
	if limit := b.faults.MaxSessions(); limit >= 0 && b.sessions.len() >= limit {
		b.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "SessionLimitExceeded",
			fmt.Sprintf("The session establishment failed due to the number of simultaneous sessions exceeding the limit of %d.", limit))
		return
	}
	ss := b.sessions.create(body.UserName, time.Now())
	b.mu.Unlock()
	b.logins.Add(1)
	w.Header().Set("X-Auth-Token", ss.token)
	w.Header().Set("Location", sessionPath(ss.id))
	writeDoc(w, http.StatusCreated, sessionDoc(ss))
}

// handleLogout serves DELETE SessionService/Sessions/{id}.
func (b *BMC) handleLogout(w http.ResponseWriter, id string) {
	b.mu.Lock()
	ok := b.sessions.remove(id)
	b.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "ResourceMissingAtURI", "no session "+id)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sessionDoc renders a Session resource.
func sessionDoc(ss *session) map[string]any {
	return map[string]any{
		"@odata.type": "#Session.v1_6_0.Session",
		"@odata.id":   sessionPath(ss.id),
		"Id":          ss.id,
		"Name":        "User Session",
		"Description": "Manager User Session",
		"UserName":    ss.user,
		"CreatedTime": ss.created.UTC().Format(time.RFC3339),
		"SessionType": "Redfish",
	}
}

// sessionsDoc renders the SessionCollection.
func (b *BMC) sessionsDoc() map[string]any {
	b.mu.Lock()
	ids := b.sessions.ids()
	b.mu.Unlock()
	return collectionDoc("#SessionCollection.SessionCollection", "Session Collection", sessionsPath, ids, sessionPath)
}

// singleSessionDoc renders one session, or nil if it does not exist.
func (b *BMC) singleSessionDoc(id string) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	ss, ok := b.sessions.byID[id]
	if !ok {
		return nil
	}
	return sessionDoc(ss)
}
