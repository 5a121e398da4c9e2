package bmc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

// The errors below are what bmclib v2.3.5 returned in the conformance suite
// (bmctest) against ipmi_sim and the Redfish simulator, byte for byte.
const (
	ipmiWrongPassword = "2 errors occurred:\n\t* provider: ipmitool: Error: Unable to establish IPMI v2 / RMCP+ session: exit status 1\n\t* no Opener implementations found\n\n"
	// Without a cipher suite bmclib tries 3, then 17, and reports 17's failure.
	ipmiWrongPasswordCipher17 = "2 errors occurred:\n\t* provider: ipmitool: Error in open session response message : invalid authentication algorithm\n\nError: Unable to establish IPMI v2 / RMCP+ session: exit status 1\n\t* no Opener implementations found\n\n"
	ipmiDeadline              = "2 errors occurred:\n\t* provider: ipmitool: context deadline exceeded\n\t* no Opener implementations found\n\n"
	ipmiKilled                = "2 errors occurred:\n\t* provider: ipmitool: : signal: killed\n\t* no Opener implementations found\n\n"
	ipmiUnknownHost           = "2 errors occurred:\n\t* provider: ipmitool: Address lookup for nosuchhost.invalid failed\nCould not open socket!\nError: Unable to establish IPMI v2 / RMCP+ session: exit status 1\n\t* no Opener implementations found\n\n"
	ipmiWarmReset             = "2 errors occurred:\n\t* provider: ipmitool: MC reset command failed: Invalid command: exit status 1: MC reset command failed: Invalid command\n\n\t* failed to reset BMC\n\n"
	ipmiInventory             = "2 errors occurred:\n\t* not a InventoryGetter implementation: *ipmitool.Conn\n\t* no InventoryGetter implementations found: error in provider implementation\n\n"
	redfishWrongPassword      = "2 errors occurred:\n\t* provider: gofish: 401: {\"error\":{\"@Message.ExtendedInfo\":[{\"Message\":\"authentication required\",\"MessageId\":\"Base.1.8.InsufficientPrivilege\",\"Severity\":\"Critical\"}],\"code\":\"Base.1.8.InsufficientPrivilege\",\"message\":\"authentication required\"}}\n\t* no Opener implementations found\n\n"
	redfishRefused            = "2 errors occurred:\n\t* provider: gofish: Get \"https://127.0.0.1:37621/redfish/v1/\": dial tcp 127.0.0.1:37621: connect: connection refused\n\t* no Opener implementations found\n\n"
	redfishGone               = "2 errors occurred:\n\t* provider: gofish: failed to retrieve some items: [{\"link\":\"/redfish/v1/Systems\",\"error\":\"Get \\\"https://127.0.0.1:44163/redfish/v1/Systems\\\": dial tcp 127.0.0.1:44163: connect: connection refused\"}]\n\t* failed to get power state\n\n"
	redfishClientTimeout      = "2 errors occurred:\n\t* provider: gofish: Get \"https://127.0.0.1:36459/redfish/v1/\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)\n\t* no Opener implementations found\n\n"
	redfishOpen500            = "2 errors occurred:\n\t* provider: gofish: 500: {\"error\":{\"@Message.ExtendedInfo\":[{\"Message\":\"injected fault\",\"MessageId\":\"Base.1.8.InternalError\",\"Severity\":\"Critical\"}],\"code\":\"Base.1.8.InternalError\",\"message\":\"injected fault\"}}\n\t* no Opener implementations found\n\n"
	redfishPower500           = "2 errors occurred:\n\t* provider: gofish: failed to retrieve some items: [{\"link\":\"/redfish/v1/Systems\",\"error\":\"500: {\\\"error\\\":{\\\"message\\\":\\\"injected fault\\\"}}\"}]\n\t* failed to get power state\n\n"
	redfishSoft               = "2 errors occurred:\n\t* provider: gofish, failed to set power state\n\t* failed to set power state\n\n"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	live := context.Background()
	expired, cancelExpired := context.WithDeadline(live, time.Now().Add(-time.Second))
	t.Cleanup(cancelExpired)
	canceled, cancel := context.WithCancel(live)
	cancel()

	tests := []struct {
		name      string
		ctx       context.Context
		err       error
		code      jobs.Code
		retryable bool
	}{
		{"ipmi wrong password, cipher suite 3", live, errors.New(ipmiWrongPassword), jobs.CodeBMCAuthFailed, false},
		{"ipmi wrong password, cipher 17 retry", live, errors.New(ipmiWrongPasswordCipher17), jobs.CodeBMCAuthFailed, false},
		{"ipmi dead port under a deadline", expired, errors.New(ipmiDeadline), jobs.CodeBMCTimeout, true},
		{"ipmi deadline, context not yet done", live, fmt.Errorf("provider: ipmitool: %w", context.DeadlineExceeded), jobs.CodeBMCTimeout, true},
		{"ipmi call canceled by the caller", canceled, errors.New(ipmiKilled), jobs.CodeCanceled, true},
		{"ipmi unknown host", live, errors.New(ipmiUnknownHost), jobs.CodeBMCUnreachable, true},
		{"ipmi warm reset not implemented", live, errors.New(ipmiWarmReset), jobs.CodeUnsupportedOperation, false},
		{"ipmi provider has no inventory", live, errors.New(ipmiInventory), jobs.CodeUnsupportedOperation, false},
		{"redfish wrong password", live, errors.New(redfishWrongPassword), jobs.CodeBMCAuthFailed, false},
		{"redfish dead port", live, errors.New(redfishRefused), jobs.CodeBMCUnreachable, true},
		{"redfish BMC gone under a session", live, errors.New(redfishGone), jobs.CodeBMCUnreachable, true},
		{"redfish HTTP client timeout", live, errors.New(redfishClientTimeout), jobs.CodeBMCTimeout, true},
		{"redfish HTTP client timeout after the caller canceled", canceled, errors.New(redfishClientTimeout), jobs.CodeCanceled, true},
		{"redfish open answered 500", live, errors.New(redfishOpen500), jobs.CodeBMCError, true},
		{"redfish power answered 500", live, errors.New(redfishPower500), jobs.CodeBMCError, true},
		{"redfish soft off unconfirmed", live, errors.New(redfishSoft), jobs.CodeBMCError, true},
		{"redfish busy", live, errors.New("provider: gofish: 503: service unavailable"), jobs.CodeBMCBusy, true},
		{"redfish session limit", live, errors.New(`provider: gofish: failed to open connection: 503: {"error":{"code":"Base.1.8.SessionLimitExceeded"}}`), jobs.CodeBMCBusy, true},
		{"idrac session limit", live, errors.New("provider: gofish: 400: RAC0218: The maximum number of user sessions is reached."), jobs.CodeBMCBusy, true},
		{"typed connection refused", live, fmt.Errorf("open: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), jobs.CodeBMCUnreachable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := classify(tt.ctx, "op", tt.err)
			if got.Code != tt.code || got.Retryable != tt.retryable {
				t.Errorf("classify = %s retryable %v, want %s retryable %v\nerror: %q", got.Code, got.Retryable, tt.code, tt.retryable, tt.err)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("classify lost the cause %v", tt.err)
			}
		})
	}
}
