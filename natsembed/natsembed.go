// Package natsembed runs the real nats-server, with JetStream, inside the
// process: `tinman dev` uses it, and so do tests that need a private broker.
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// Config configures an embedded server.
type Config struct {
	// Host to listen on (default 127.0.0.1).
	Host string
	// Port to listen on; -1 picks a free one. 0 means the NATS default, 4222.
	Port int
	// StoreDir keeps JetStream's files; required, so a restart on the same
	// folder finds its streams.
	StoreDir string
	// Name of the server (default "tinman-dev"); unique in a cluster.
	Name string
	// Cluster, when set, makes the server a node of a JetStream cluster.
	Cluster *Cluster
	// Logger, when set, receives the server's warnings and errors (its
	// notices at debug level), component nats-server; without it the
	// server logs nothing.
	Logger *zerolog.Logger
}

// Cluster is a server's place in a cluster: the cluster's name, the port
// its routes listen on, and the route URLs of the other nodes
// (nats-route://host:port).
type Cluster struct {
	Name   string
	Port   int
	Routes []string
}

// Server is a running embedded NATS server.
type Server struct {
	ns *server.Server
}

// ErrNotReady says the server did not accept connections in time.
var ErrNotReady = errors.New("embedded NATS did not become ready")

// Start starts a server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("start embedded NATS: store dir is required")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Name == "" {
		cfg.Name = "tinman-dev"
	}
	opts := &server.Options{
		ServerName: cfg.Name, Host: cfg.Host, Port: cfg.Port,
		JetStream: true, StoreDir: cfg.StoreDir,
		NoSigs: true, NoLog: true,
		MaxPayload: 8 << 20,
	}
	if c := cfg.Cluster; c != nil {
		opts.Cluster = server.ClusterOpts{Name: c.Name, Host: cfg.Host, Port: c.Port}
		opts.Routes = server.RoutesFromStr(strings.Join(c.Routes, ","))
	}
	if cfg.Logger != nil {
		opts.NoLog = false
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded NATS: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(serverLog{cfg.Logger.With().Str("component", "nats-server").Logger()}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("start embedded NATS on %s:%d: %w", cfg.Host, cfg.Port, ErrNotReady)
	}
	return &Server{ns: ns}, nil
}

// URL is the client URL, nats://HOST:PORT.
func (s *Server) URL() string { return s.ns.ClientURL() }

// Port is the port the server listens on.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.ns.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// Shutdown stops the server and waits until it has.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// PortFree reports whether host:port can be listened on now.
func PortFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// Name is the server's name, as JetStream names a stream's leader.
func (s *Server) Name() string { return s.ns.Name() }

// serverLog feeds nats-server's logs to zerolog.
type serverLog struct{ l zerolog.Logger }

func (s serverLog) Noticef(format string, v ...any) { s.l.Debug().Msgf(format, v...) } // start-up chatter
func (s serverLog) Warnf(format string, v ...any)   { s.l.Warn().Msgf(format, v...) }
func (s serverLog) Fatalf(format string, v ...any)  { s.l.Error().Msgf(format, v...) }
func (s serverLog) Errorf(format string, v ...any)  { s.l.Error().Msgf(format, v...) }
func (s serverLog) Debugf(format string, v ...any)  { s.l.Debug().Msgf(format, v...) }
func (s serverLog) Tracef(format string, v ...any)  { s.l.Trace().Msgf(format, v...) }
