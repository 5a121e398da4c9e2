package bmcsim

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	pathpkg "path"
	"strings"
	"time"
)

// mockupFS holds the curated subset of the DMTF public-rackmount1 mockup
// (BSD-3-Clause, see mockup/LICENSE.md) the simulator serves.
//
//go:embed mockup
var mockupFS embed.FS

// Canonical resource paths (no trailing slash).
const (
	rootPath         = "/redfish/v1"
	sessionsPath     = rootPath + "/SessionService/Sessions"
	systemPath       = rootPath + "/Systems/1"
	systemResetPath  = systemPath + "/Actions/ComputerSystem.Reset"
	chassisPath      = rootPath + "/Chassis/1"
	managerResetPath = rootPath + "/Managers/1/Actions/Manager.Reset"
	cdPath           = rootPath + "/Managers/1/VirtualMedia/CD"
	cdInsertPath     = cdPath + "/Actions/VirtualMedia.InsertMedia"
	cdEjectPath      = cdPath + "/Actions/VirtualMedia.EjectMedia"
	accountPath      = rootPath + "/AccountService/Accounts/1"
	nicPath          = systemPath + "/EthernetInterfaces/NIC.Slot.1-1-1"
	nicPortPath      = chassisPath + "/NetworkAdapters/NIC.Slot.1/NetworkPorts/NIC.Slot.1-1"
)

// maxBodyBytes bounds request bodies.
const maxBodyBytes = 1 << 20

// catalog is the parsed mockup: static documents served verbatim and templates
// for documents with live fields. It is immutable once loaded and shared by
// every BMC of a fleet.
type catalog struct {
	static    map[string][]byte
	templates map[string]map[string]any
}

// isTemplate reports whether the document at p has live fields.
func isTemplate(p string) bool {
	switch p {
	case systemPath, chassisPath, cdPath, accountPath, nicPath, nicPortPath:
		return true
	}
	return false
}

// loadCatalog reads every mockup/**/index.json into a catalog keyed by its
// canonical Redfish path.
func loadCatalog() (*catalog, error) {
	c := &catalog{static: map[string][]byte{}, templates: map[string]map[string]any{}}
	c.static["/redfish"] = []byte(`{"v1":"/redfish/v1/"}`)
	err := fs.WalkDir(mockupFS, "mockup", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || pathpkg.Base(name) != "index.json" {
			return nil
		}
		return c.add(name)
	})
	if err != nil {
		return nil, fmt.Errorf("bmcsim: load embedded mockup: %w", err)
	}
	return c, nil
}

// add loads one embedded file into the catalog.
func (c *catalog) add(name string) error {
	data, err := mockupFS.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	p := canonical(rootPath + strings.TrimPrefix(pathpkg.Dir(name), "mockup"))
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", name, err)
	}
	if isTemplate(p) {
		c.templates[p] = doc
		return nil
	}
	compact, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("re-encode %s: %w", name, err)
	}
	c.static[p] = compact
	return nil
}

// canonical cleans a request path and strips the trailing slash, so that
// "/redfish/v1/" and "/redfish/v1" name the same resource.
func canonical(p string) string {
	if p == "" {
		return "/"
	}
	return pathpkg.Clean(p)
}

// document renders the resource at canonical path p, or returns nil if there
// is none.
func (b *BMC) document(p string) any {
	switch p {
	case systemPath:
		return b.systemDoc()
	case chassisPath:
		return b.chassisDoc()
	case cdPath:
		return b.cdDoc()
	case accountPath:
		return b.accountDoc()
	case nicPath:
		return b.nicDoc()
	case nicPortPath:
		return b.nicPortDoc()
	case sessionsPath:
		return b.sessionsDoc()
	}
	if id, ok := strings.CutPrefix(p, sessionsPath+"/"); ok && !strings.Contains(id, "/") {
		if doc := b.singleSessionDoc(id); doc != nil {
			return doc
		}
		return nil
	}
	if data, ok := b.shared.catalog.static[p]; ok {
		return json.RawMessage(data)
	}
	return nil
}

// fromTemplate returns a shallow copy of the template at p; callers may set
// top-level keys but must not mutate nested values (they are shared).
func (b *BMC) fromTemplate(p string) map[string]any {
	return maps.Clone(b.shared.catalog.templates[p])
}

// snapshot returns the settled machine state.
func (b *BMC) snapshot() machine {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.settle(time.Now())
	m := b.machine
	m.steps = nil
	return m
}

// systemDoc renders Systems/1 with the live PowerState, Boot and Actions.
func (b *BMC) systemDoc() map[string]any {
	m := b.snapshot()
	doc := b.fromTemplate(systemPath)
	doc["PowerState"] = m.power
	if r, ok := b.faults.takePowerReading(); ok {
		doc["PowerState"] = r
	}
	doc["SerialNumber"] = b.id.SerialNumber
	doc["UUID"] = b.id.UUID
	doc["Boot"] = map[string]any{
		"BootSourceOverrideTarget":                         m.boot.Target,
		"BootSourceOverrideEnabled":                        m.boot.Enabled,
		"BootSourceOverrideMode":                           m.boot.Mode,
		"BootSourceOverrideTarget@Redfish.AllowableValues": bootTargets(),
		"BootSourceOverrideMode@Redfish.AllowableValues":   bootModes(),
	}
	doc["Actions"] = map[string]any{
		"#ComputerSystem.Reset": map[string]any{
			"target":                            systemResetPath,
			"ResetType@Redfish.AllowableValues": systemResetTypes(),
		},
	}
	return doc
}

// chassisDoc renders Chassis/1 with the live PowerState.
func (b *BMC) chassisDoc() map[string]any {
	doc := b.fromTemplate(chassisPath)
	doc["PowerState"] = b.PowerState()
	doc["SerialNumber"] = b.id.SerialNumber
	return doc
}

// nicDoc renders the host's EthernetInterface with the BMC's MAC address.
func (b *BMC) nicDoc() map[string]any {
	doc := b.fromTemplate(nicPath)
	doc["MACAddress"] = b.id.MACAddress
	doc["PermanentMACAddress"] = b.id.MACAddress
	return doc
}

// nicPortDoc renders the host's NetworkPort with the BMC's MAC address.
func (b *BMC) nicPortDoc() map[string]any {
	doc := b.fromTemplate(nicPortPath)
	doc["AssociatedNetworkAddresses"] = []string{b.id.MACAddress}
	return doc
}

// cdDoc renders the virtual CD with its live image.
func (b *BMC) cdDoc() map[string]any {
	b.mu.Lock()
	media := b.machine.media
	b.mu.Unlock()
	doc := b.fromTemplate(cdPath)
	doc["Image"] = nullable(media.Image)
	doc["ImageName"] = nullable(pathpkg.Base(media.Image))
	doc["Inserted"] = media.Inserted
	doc["WriteProtected"] = media.WriteProtected
	doc["ConnectedVia"] = "NotConnected"
	if media.Inserted {
		doc["ConnectedVia"] = "URI"
	}
	return doc
}

// nullable maps "" (and the "." of path.Base("")) to JSON null.
func nullable(s string) any {
	if s == "" || s == "." {
		return nil
	}
	return s
}

// accountDoc renders the single account, named after the configured user.
func (b *BMC) accountDoc() map[string]any {
	doc := b.fromTemplate(accountPath)
	doc["UserName"] = b.user
	return doc
}

// collectionDoc renders a Redfish resource collection.
func collectionDoc(odataType, name, self string, ids []string, member func(string) string) map[string]any {
	members := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		members = append(members, map[string]string{"@odata.id": member(id)})
	}
	return map[string]any{
		"@odata.type":         odataType,
		"@odata.id":           self,
		"Name":                name,
		"Members@odata.count": len(members),
		"Members":             members,
	}
}

// writeDoc writes doc as a JSON response with Redfish headers.
func writeDoc(w http.ResponseWriter, status int, doc any) {
	data, err := json.Marshal(doc)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", fmt.Sprintf("encode response: %v", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// writeError writes a Redfish error response with a Base message id.
func writeError(w http.ResponseWriter, status int, messageID, msg string) {
	id := "Base.1.8." + messageID
	writeDoc(w, status, map[string]any{
		"error": map[string]any{
			"code":    id,
			"message": msg,
			"@Message.ExtendedInfo": []map[string]string{
				{"MessageId": id, "Message": msg, "Severity": "Critical"},
			},
		},
	})
}

// writeUnauthorized answers 401 with a Basic challenge.
func writeUnauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="bmcsim"`)
	writeError(w, http.StatusUnauthorized, "InsufficientPrivilege", "authentication required")
}

// decodeBody decodes a JSON request body into v.
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(data) > maxBodyBytes {
		return errors.New("request body too large")
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}
