package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmpTimeout bounds one QMP exchange when the caller's context has no
// sooner deadline.
const qmpTimeout = 10 * time.Second

// qmpError is QEMU's answer to a command it refused.
type qmpError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

// qmpMessage is any message QEMU sends: a greeting, an answer or an event.
type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Return json.RawMessage `json:"return"`
	Error  *qmpError       `json:"error"`
	Event  string          `json:"event"`
}

// QMP runs one QMP command on the running machine and returns its answer's
// "return" value: for tests and tools that look inside (query-block, ...).
func (m *Machine) QMP(ctx context.Context, command string, args any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", m.QMPPath())
	if err != nil {
		return nil, fmt.Errorf("qemu: QMP %s: %w", command, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	s := qmpSession{enc: json.NewEncoder(c), dec: json.NewDecoder(bufio.NewReader(c))}
	if _, err := s.read(); err != nil { // the greeting
		return nil, fmt.Errorf("qemu: QMP greeting: %w", err)
	}
	if _, err := s.execute("qmp_capabilities", nil); err != nil {
		return nil, err
	}
	return s.execute(command, args)
}

type qmpSession struct {
	enc *json.Encoder
	dec *json.Decoder
}

// execute sends a command and reads until its answer, skipping events.
func (s qmpSession) execute(command string, args any) (json.RawMessage, error) {
	req := map[string]any{"execute": command}
	if args != nil {
		req["arguments"] = args
	}
	if err := s.enc.Encode(req); err != nil {
		return nil, fmt.Errorf("qemu: QMP %s: %w", command, err)
	}
	for {
		msg, err := s.read()
		if err != nil {
			return nil, fmt.Errorf("qemu: QMP %s: %w", command, err)
		}
		switch {
		case msg.Error != nil:
			return nil, fmt.Errorf("qemu: QMP %s: %s: %s", command, msg.Error.Class, msg.Error.Desc)
		case msg.Return != nil:
			return msg.Return, nil
		}
	}
}

func (s qmpSession) read() (qmpMessage, error) {
	var msg qmpMessage
	if err := s.dec.Decode(&msg); err != nil {
		return msg, fmt.Errorf("read: %w", err)
	}
	return msg, nil
}
