package bmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"slices"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/redfish"

	"github.com/tinmanhq/tinman/jobs"
)

// mediaKind is the virtual media drive Tinman uses: bmclib's "CD".
const mediaKind = "CD"

// InsertMedia inserts the ISO at url in the BMC's virtual CD (bmclib's
// VirtualMediaSetter, which ejects what was there first). Redfish only.
func (s *Session) InsertMedia(ctx context.Context, url string) error {
	if err := s.needRedfish("insert virtual media"); err != nil {
		return err
	}
	return s.call(ctx, "insert virtual media", func(ctx context.Context) error {
		ok, err := s.client.SetVirtualMedia(ctx, mediaKind, url)
		if err == nil && !ok {
			return errors.New("BMC did not confirm the virtual media")
		}
		return err
	})
}

// EjectMedia ejects the virtual CD; an empty drive is left as it is, and
// is no error. Redfish only.
func (s *Session) EjectMedia(ctx context.Context) error {
	if err := s.needRedfish("eject virtual media"); err != nil {
		return err
	}
	return s.call(ctx, "eject virtual media", func(ctx context.Context) error {
		ok, err := s.client.SetVirtualMedia(ctx, mediaKind, "")
		if err == nil && !ok {
			return errors.New("BMC did not confirm the eject")
		}
		return err
	})
}

// VirtualMedia reads the virtual CD back: its image and whether it is
// inserted. bmclib v2.3.5 has no reader, so it asks the Redfish service
// with gofish (bmclib's own Redfish library), over HTTP Basic auth: no
// session is opened, none is left behind. Redfish only.
func (s *Session) VirtualMedia(ctx context.Context) (jobs.VirtualMedia, error) {
	var got jobs.VirtualMedia
	if err := s.needRedfish("read virtual media"); err != nil {
		return got, err
	}
	err := s.call(ctx, "read virtual media", func(ctx context.Context) (err error) {
		got, err = s.redfish.virtualMedia(ctx)
		return err
	})
	return got, err
}

func (s *Session) needRedfish(op string) error {
	if s.redfish == nil {
		return jobs.Errorf(jobs.CodeUnsupportedOperation, false, "%s: %s has no virtual media", op, s.provider)
	}
	return nil
}

// redfishReader reads Redfish resources bmclib does not.
type redfishReader struct {
	endpoint string
	creds    jobs.Credentials
	roots    *x509.CertPool // nil: the BMC's certificate is not checked
}

func newRedfishReader(host, port string, creds jobs.Credentials, roots *x509.CertPool) *redfishReader {
	if port == "" {
		port = "443"
	}
	return &redfishReader{endpoint: "https://" + net.JoinHostPort(host, port), creds: creds, roots: roots}
}

// virtualMedia finds the CD drive as bmclib's setter does (under the
// manager first, then under the system) and returns its state.
func (r *redfishReader) virtualMedia(ctx context.Context) (jobs.VirtualMedia, error) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: r.roots == nil, RootCAs: r.roots}} //nolint:gosec // as bmclib: most BMCs are self-signed
	defer tr.CloseIdleConnections()
	c, err := gofish.ConnectContext(ctx, gofish.ClientConfig{Endpoint: r.endpoint, Username: r.creds.Username,
		Password: r.creds.Password, BasicAuth: true, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		return jobs.VirtualMedia{}, err
	}
	drives, err := findMedia(c.Service)
	if err != nil {
		return jobs.VirtualMedia{}, err
	}
	for _, vm := range drives {
		if slices.Contains(vm.MediaTypes, redfish.CDMediaType) {
			return jobs.VirtualMedia{Image: vm.Image, Inserted: vm.Inserted}, nil
		}
	}
	return jobs.VirtualMedia{}, errors.New("the BMC has no virtual CD")
}

func findMedia(svc *gofish.Service) ([]*redfish.VirtualMedia, error) {
	managers, err := svc.Managers()
	if err != nil {
		return nil, err
	}
	if vm := firstMedia(managers, (*redfish.Manager).VirtualMedia); vm != nil {
		return vm, nil
	}
	systems, err := svc.Systems()
	if err != nil {
		return nil, err
	}
	if vm := firstMedia(systems, (*redfish.ComputerSystem).VirtualMedia); vm != nil {
		return vm, nil
	}
	return nil, errors.New("the BMC has no virtual media")
}

// firstMedia returns the virtual media of the first of owners that has some.
func firstMedia[T any](owners []T, media func(T) ([]*redfish.VirtualMedia, error)) []*redfish.VirtualMedia {
	for _, o := range owners {
		if vm, err := media(o); err == nil && len(vm) > 0 {
			return vm
		}
	}
	return nil
}
