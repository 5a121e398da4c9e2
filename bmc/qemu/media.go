package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

// MaxMediaBytes bounds the image a virtual CD takes.
const MaxMediaBytes = 4 << 30

// InsertMedia puts image in the virtual CD, as a BMC's virtual media does:
// an http(s) URL is downloaded into media.iso first (under ctx), a file://
// URL or a path is used where it is. A running machine sees the new medium
// at once; otherwise it is there at the next power-on.
func (m *Machine) InsertMedia(ctx context.Context, image string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	file, err := m.fetchMedia(ctx, image)
	if err != nil {
		return err
	}
	m.media = file
	if !m.Powered() {
		return nil
	}
	_, err = m.QMP(ctx, "blockdev-change-medium", map[string]any{
		"id": cdID, "filename": file, "format": "raw", "read-only-mode": "read-only"})
	return err
}

// EjectMedia empties the virtual CD.
func (m *Machine) EjectMedia(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.media = ""
	if !m.Powered() {
		return nil
	}
	_, err := m.QMP(ctx, "eject", map[string]any{"id": cdID, "force": true})
	return err
}

// Media returns the file in the virtual CD, "" when it is empty.
func (m *Machine) Media() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.media
}

// fetchMedia returns the local file that holds image.
func (m *Machine) fetchMedia(ctx context.Context, image string) (string, error) {
	u, err := url.Parse(image)
	if err != nil {
		return "", fmt.Errorf("qemu: media %q: %w", image, err)
	}
	switch u.Scheme {
	case "http", "https":
		return m.download(ctx, image)
	case "file":
		return u.Path, nil
	case "":
		return filepath.Abs(image)
	}
	return "", fmt.Errorf("qemu: media %q: scheme %s is not http, https or file", image, u.Scheme)
}

// download copies an http(s) image into media.iso, whole or not at all.
func (m *Machine) download(ctx context.Context, image string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, image, nil)
	if err != nil {
		return "", fmt.Errorf("qemu: media %q: %w", image, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("qemu: download media: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("qemu: download media %s: %s", image, resp.Status)
	}
	dst := filepath.Join(m.cfg.Dir, "media.iso")
	tmp, err := os.CreateTemp(m.cfg.Dir, ".media-*.iso")
	if err != nil {
		return "", fmt.Errorf("qemu: download media: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, MaxMediaBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return "", fmt.Errorf("qemu: download media %s: %w", image, err)
	case n > MaxMediaBytes:
		return "", errors.New("qemu: download media: larger than 4 GiB")
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("qemu: download media: %w", err)
	}
	return dst, nil
}
