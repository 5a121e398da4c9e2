package qemu_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// bootServer stands in for Tinman's boot service (built on another branch)
// in these tests only, speaking its contract: the chain script the DHCP
// boot file names, a per-MAC iPXE script (the installer's kernel and initrd
// with tinman.meta=, or "exit" to boot the disk), the metadata as shell
// lines, the callback, and files with Range. It listens on 127.0.0.1; a
// virtual machine reaches it as 10.0.2.2.
type bootServer struct {
	url   string // as the virtual machine sees it
	files string // the folder /boot/files/ serves

	mu      sync.Mutex
	jobs    map[string]bootJob // by MAC, lower case
	hits    []hit
	reports chan report
}

// bootJob is what the boot service tells one machine to do.
type bootJob struct {
	JobID, Server, Purpose, Image string
	File, SHA256                  string // the image under files, its catalogue sha256
	Token                         string
}

// hit is one request the server answered.
type hit struct {
	path       string
	start, end time.Time
}

// report is a callback the server received.
type report struct {
	at      time.Time
	JobID   string `json:"job_id"`
	Token   string `json:"token"`
	Event   string `json:"event"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Image   string `json:"image"`
}

// startBootServer serves the contract on 127.0.0.1 with files from dir,
// until the test ends.
func startBootServer(t *testing.T, dir string) *bootServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	s := &bootServer{url: "http://10.0.2.2:" + port, files: dir, jobs: map[string]bootJob{}, reports: make(chan report, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boot/chain.ipxe", s.chain)
	mux.HandleFunc("GET /boot/ipxe", s.ipxe)
	mux.HandleFunc("GET /boot/meta/{token}", s.meta)
	mux.HandleFunc("POST /boot/callback", s.callback)
	mux.Handle("GET /boot/files/", http.StripPrefix("/boot/files/", http.FileServer(http.Dir(dir))))
	srv := &http.Server{Handler: s.timed(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends at Close
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// bootFile is the DHCP boot file of a machine served by s.
func (s *bootServer) bootFile() string { return s.url + "/boot/chain.ipxe" }

// set gives the machine with mac a job; it returns the job with its token.
func (s *bootServer) set(mac string, job bootJob) bootJob {
	job.Token = strings.ToLower(rand.Text())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[strings.ToLower(mac)] = job
	return job
}

func (s *bootServer) timed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hit{path: r.URL.Path, start: time.Now()}
		next.ServeHTTP(w, r)
		h.end = time.Now()
		s.mu.Lock()
		s.hits = append(s.hits, h)
		s.mu.Unlock()
	})
}

// hitAfter returns the first request for path that started after from.
func (s *bootServer) hitAfter(path string, from time.Time) (hit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hits {
		if h.path == path && h.start.After(from) {
			return h, true
		}
	}
	return hit{}, false
}

func (s *bootServer) chain(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintf(w, "#!ipxe\nchain %s/boot/ipxe?mac=${net0/mac}\n", s.url)
}

func (s *bootServer) ipxe(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	job, ok := s.jobs[strings.ToLower(r.URL.Query().Get("mac"))]
	s.mu.Unlock()
	if !ok {
		fmt.Fprint(w, "#!ipxe\nexit\n")
		return
	}
	files := s.url + "/boot/files/"
	fmt.Fprintf(w, "#!ipxe\nkernel %skernel tinman.meta=%s/boot/meta/%s console=ttyS0\ninitrd %sinitrd\nboot\n",
		files, s.url, job.Token, files)
}

func (s *bootServer) meta(w http.ResponseWriter, r *http.Request) {
	job, ok := s.jobByToken(r.PathValue("token"))
	if !ok || r.URL.Query().Get("format") != "sh" {
		http.NotFound(w, r)
		return
	}
	fmt.Fprintf(w, "JOB_ID='%s'\nSERVER='%s'\nPURPOSE='%s'\nIMAGE='%s'\nIMAGE_URL='%s'\nSHA256='%s'\nCALLBACK_URL='%s'\nTOKEN='%s'\n",
		job.JobID, job.Server, job.Purpose, job.Image, s.url+"/boot/files/"+job.File, job.SHA256,
		s.url+"/boot/callback", job.Token)
}

func (s *bootServer) jobByToken(token string) (bootJob, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if j.Token == token {
			return j, true
		}
	}
	return bootJob{}, false
}

func (s *bootServer) callback(w http.ResponseWriter, r *http.Request) {
	var rep report
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, &rep)
	}
	if err != nil {
		http.Error(w, "bad callback: "+err.Error(), http.StatusBadRequest)
		return
	}
	if job, ok := s.jobByToken(rep.Token); !ok || job.JobID != rep.JobID {
		http.Error(w, "wrong job or token", http.StatusUnauthorized)
		return
	}
	rep.at = time.Now()
	select {
	case s.reports <- rep:
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "too many reports", http.StatusServiceUnavailable)
	}
}

// errOtherReport is a report other than the one awaited.
var errOtherReport = errors.New("another report")

// await returns the next report, failing the test unless it is event.
func (s *bootServer) await(t *testing.T, event string, timeout time.Duration) report {
	t.Helper()
	rep, err := s.next(timeout)
	if err == nil && rep.Event != event {
		err = fmt.Errorf("%w: %+v", errOtherReport, rep)
	}
	if err != nil {
		t.Fatalf("awaiting %q: %v", event, err)
	}
	return rep
}

// next returns the next report within timeout.
func (s *bootServer) next(timeout time.Duration) (report, error) {
	select {
	case rep := <-s.reports:
		return rep, nil
	case <-time.After(timeout):
		return report{}, fmt.Errorf("no report within %s", timeout)
	}
}
