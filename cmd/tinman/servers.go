package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// serverFlags names the flag that sets each field the API may refuse.
var serverFlags = map[string]string{
	"id": "ID", "bmc": "--bmc-address", "bmc.address": "--bmc-address", "bmc.provider": "--provider",
	"bmc.cipher_suite": "--cipher-suite", "bmc.verify_tls": "--verify-tls", "username": "--username",
	"password": "--password or --password-stdin", "labels": "--label", "maintenance": "--maintenance", "site": "--site",
	"selector": "--selector", "boot_mac": "--boot-mac",
}

func newServersCmd() *cobra.Command {
	cmd := groupCmd("servers", "Enrol, list, show, change and remove servers (over the HTTP API)")
	cmd.Long = "The server registry, over the HTTP API. Exit codes: 0 done; 1 the API refused the operation for\n" +
		"the server's state (a removal while a job holds the server); 2 bad usage, bad input, an unknown\n" +
		"server or a token that may not do this; 3 the API could not be reached or could not serve."
	cmd.AddCommand(newServersAddCmd(), newServersListCmd(), newServersShowCmd(), newServersUpdateCmd(), newServersRemoveCmd())
	return cmd
}

// groupCmd is a command that only holds others: alone it prints its help;
// with an unknown subcommand it is a usage error.
func groupCmd(name, short string) *cobra.Command {
	return &cobra.Command{Use: name, Short: short, RunE: runGroup}
}

// oneID checks that a command got exactly one id argument.
func oneID(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErr("%s needs one %s ID, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

func newServersAddCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add ID --bmc-address HOST[:PORT] --provider redfish|ipmi --username U (--password P | --password-stdin)",
		Short: "Enrol a server; prints it (never its credentials)",
		Example: "  echo \"$BMC_PASSWORD\" | tinman servers add srv-042 --bmc-address 10.0.0.42 --provider redfish \\\n" +
			"      --username admin --password-stdin --label rack=r12 --label role=db",
		Args:              oneID("server"),
		ValidArgsFunction: noCompletion,
		RunE:              runServersAdd,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	f := cmd.Flags()
	f.String("bmc-address", "", "the BMC's HOST or HOST:PORT")
	f.String("provider", "", "how the BMC is reached: redfish or ipmi")
	f.String("username", "", "BMC username")
	f.String("password", "", "BMC password (other users of this machine may see it: prefer --password-stdin)")
	f.Bool("password-stdin", false, "read the BMC password from the first line of stdin")
	f.Int("cipher-suite", 0, "IPMI cipher suite (0: the provider's default)")
	f.Bool("verify-tls", false, "check the Redfish certificate against the system roots (off: most BMCs are self-signed)")
	f.StringArray("label", nil, "a label KEY=VALUE (repeat the flag for more)")
	f.String("site", "", "the site of the server: its jobs wait for a worker of that site (default: default)")
	f.String("boot-mac", "", "the MAC the server boots from the network with (default: the first NIC an inspect finds)")
	_ = cmd.RegisterFlagCompletionFunc("provider", fixedValues(providers))
	return cmd
}

func runServersAdd(cmd *cobra.Command, args []string) error {
	e, err := enrolmentFromFlags(cmd, args[0])
	if err != nil {
		return err
	}
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	srv, ans, err := c.EnrolServer(cmd.Context(), e)
	if err != nil {
		return withFlags(err, serverFlags)
	}
	return printServerAnswer(o, srv, ans)
}

// enrolmentFromFlags builds the enrolment, checking that what is required
// was given.
func enrolmentFromFlags(cmd *cobra.Command, id string) (client.Enrolment, error) {
	f := cmd.Flags()
	e := client.Enrolment{ID: id, Username: mustString(cmd, "username"), BootMAC: mustString(cmd, "boot-mac"),
		BMC: jobs.BMC{Address: mustString(cmd, "bmc-address"), Provider: jobs.Provider(mustString(cmd, "provider"))}}
	e.BMC.CipherSuite, _ = f.GetInt("cipher-suite")
	e.BMC.VerifyTLS, _ = f.GetBool("verify-tls")
	e.Site = mustString(cmd, "site")
	for _, name := range []string{"bmc-address", "provider", "username"} {
		if mustString(cmd, name) == "" {
			return e, usageErr("--%s is required", name)
		}
	}
	var err error
	if e.Password, err = password(cmd); err != nil {
		return e, err
	}
	labels, _ := f.GetStringArray("label")
	e.Labels, err = parseLabels(labels)
	return e, err
}

// password is --password or the first line of stdin with --password-stdin.
func password(cmd *cobra.Command) (string, error) {
	fromStdin, _ := cmd.Flags().GetBool("password-stdin")
	given := mustString(cmd, "password")
	switch {
	case fromStdin && given != "":
		return "", usageErr("give either --password or --password-stdin, not both")
	case fromStdin:
		return readPassword(cmd.InOrStdin())
	case given == "":
		return "", usageErr("--password or --password-stdin is required")
	}
	if cmd.Flags().Changed("password") {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning: --password on the command line is visible to other users of this machine; prefer --password-stdin")
	}
	return given, nil
}

// readPassword reads the first line of r.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", usageErr("--password-stdin: read stdin: %v", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageErr("--password-stdin: stdin holds no password")
	}
	return line, nil
}

// parseLabels reads KEY=VALUE flags.
func parseLabels(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	labels := make(map[string]string, len(flags))
	for _, l := range flags {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, usageErr("--label %q: must be KEY=VALUE", l)
		}
		labels[k] = v
	}
	return labels, nil
}

func newServersListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list [--selector k=v,...]",
		Aliases: []string{"ls"},
		Short:   "List servers: ID, STATE, POWER, MAINTENANCE, PROVIDER, ADDRESS, LABELS",
		Example: "  tinman servers list --selector rack=r1,role=db\n  tinman servers list -o json",
		Args:    requireNoArgs,
		RunE:    runServersList,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	cmd.Flags().String("selector", "", "only servers with all these labels: KEY=VALUE,KEY=VALUE")
	return cmd
}

func runServersList(cmd *cobra.Command, _ []string) error {
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	list, ans, err := c.Servers(cmd.Context(), mustString(cmd, "selector"))
	if err != nil {
		return withFlags(err, serverFlags)
	}
	return o.object(ans.Body, func(w io.Writer) error { return printServers(w, list.Servers, o.color) })
}

// printServers writes servers as a table, their ids in natural order.
func printServers(w io.Writer, list []jobs.Server, color bool) error {
	slices.SortFunc(list, func(a, b jobs.Server) int { return naturalCompare(a.ID, b.ID) })
	t := newTable(w, color)
	t.row("ID", t.head("STATE"), t.head("POWER"), "MAINTENANCE", "PROVIDER", "ADDRESS", "LABELS")
	for _, s := range list {
		maint := ""
		if s.Maintenance != nil {
			maint = truncate(s.Maintenance.Reason, 32)
		}
		t.row(s.ID, t.paint(string(s.State)), t.paint(string(s.PowerState)), maint, string(s.BMC.Provider), s.BMC.Address, formatLabels(s.Labels))
	}
	return t.flush()
}

func newServersShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "show ID",
		Aliases:           []string{"get"},
		Short:             "Show a server: state, power, maintenance, last error, BMC, labels",
		Args:              oneID("server"),
		ValidArgsFunction: firstArg(serverIDs),
		RunE:              runServersShow,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	return cmd
}

func runServersShow(cmd *cobra.Command, args []string) error {
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	srv, ans, err := c.Server(cmd.Context(), args[0])
	if err != nil {
		return err
	}
	return printServerAnswer(o, srv, ans)
}

// printServerAnswer prints a server the API answered with: its details,
// or its JSON as sent.
func printServerAnswer(o *output, srv client.Server, ans *client.Response) error {
	return o.object(ans.Body, func(w io.Writer) error { return printServer(w, srv, time.Now()) })
}

// printServer writes a server's details, one per line.
func printServer(w io.Writer, s client.Server, now time.Time) error {
	d := newDetails(w)
	d.add("ID", s.ID)
	state := string(s.State)
	if !s.StateSince.IsZero() {
		state += " since " + timestamp(s.StateSince, now)
	}
	d.add("State", state)
	d.add("Job", s.Job)
	d.add("Power", string(s.PowerState))
	d.add("Maintenance", maintenanceText(s.Maintenance, now))
	if e := s.LastError; e != nil {
		d.add("Last error", fmt.Sprintf("%s; job %s, at %s", e.Reason, orDash(e.JobID), timestamp(e.At, now)))
	}
	d.add("BMC", bmcText(s.BMC))
	d.add("Boot MAC", s.BootMAC)
	d.add("Image", s.Image)
	d.add("Labels", formatLabels(s.Labels))
	d.add("Inventory", inventoryText(s))
	d.add("Created", timestamp(s.CreatedAt, now))
	d.add("Updated", timestamp(s.UpdatedAt, now))
	return d.flush()
}

func maintenanceText(m *jobs.Maintenance, now time.Time) string {
	if m == nil {
		return "no"
	}
	return fmt.Sprintf("yes: %s; set by %s, since %s", m.Reason, orDash(m.SetBy), timestamp(m.Since, now))
}

func bmcText(b jobs.BMC) string {
	s := string(b.Provider) + " " + b.Address
	if b.CipherSuite != 0 {
		s += fmt.Sprintf(", cipher suite %d", b.CipherSuite)
	}
	if b.VerifyTLS {
		s += ", TLS verified"
	}
	return s
}

// inventoryText summarises the inventory, when the API gave one.
func inventoryText(s client.Server) string {
	sum := s.InventorySummary
	if sum == nil && s.Inventory != nil {
		v := s.Inventory.Summary()
		sum = &v
	}
	if sum == nil {
		return ""
	}
	return fmt.Sprintf("%s %s (serial %s): %d CPUs, %d cores, %.0f GiB memory, %d NICs, %d drives",
		orDash(sum.Vendor), orDash(sum.Model), orDash(sum.Serial), sum.CPUs, sum.Cores,
		float64(sum.MemoryBytes)/(1<<30), sum.NICs, sum.Drives)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newServersUpdateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update ID [--label k=v ...] [--remove-label k ...] [--bmc-address ...] [--username ...] [--password-stdin] [--boot-mac MAC | --clear-boot-mac] [--maintenance REASON | --clear-maintenance]",
		Short: "Change a server's labels, BMC settings, credentials, boot MAC or maintenance; prints it",
		Long: "Changes what is given and leaves the rest. Setting or clearing maintenance needs the operator role;\n" +
			"any other change needs admin.",
		Example: "  tinman servers update srv-042 --maintenance \"disk swap, ticket 1234\"\n" +
			"  tinman servers update srv-042 --clear-maintenance\n" +
			"  tinman servers update srv-042 --label role=web --remove-label canary",
		Args:              oneID("server"),
		ValidArgsFunction: firstArg(serverIDs),
		RunE:              runServersUpdate,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	f := cmd.Flags()
	f.StringArray("label", nil, "set a label KEY=VALUE (repeat the flag for more)")
	f.StringArray("remove-label", nil, "remove the label KEY (repeat the flag for more)")
	f.String("bmc-address", "", "the BMC's new HOST or HOST:PORT")
	f.String("provider", "", "how the BMC is reached: redfish or ipmi")
	f.Int("cipher-suite", 0, "IPMI cipher suite (0: the provider's default)")
	f.Bool("verify-tls", false, "check the Redfish certificate (--verify-tls=false to stop)")
	f.String("username", "", "new BMC username")
	f.Bool("password-stdin", false, "read a new BMC password from the first line of stdin")
	f.String("boot-mac", "", "the MAC the server boots from the network with")
	f.Bool("clear-boot-mac", false, "forget the server's boot MAC")
	f.String("maintenance", "", "hold jobs off the server, for this reason")
	f.Bool("clear-maintenance", false, "end the server's maintenance")
	_ = cmd.RegisterFlagCompletionFunc("provider", fixedValues(providers))
	return cmd
}

func runServersUpdate(cmd *cobra.Command, args []string) error {
	p, err := patchFromFlags(cmd)
	if err != nil {
		return err
	}
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	srv, ans, err := c.PatchServer(cmd.Context(), args[0], p)
	if err != nil {
		return withFlags(err, serverFlags)
	}
	return printServerAnswer(o, srv, ans)
}

// patchFromFlags builds the merge patch of what the flags change.
func patchFromFlags(cmd *cobra.Command) (client.ServerPatch, error) {
	var p client.ServerPatch
	f := cmd.Flags()
	labels, err := labelChanges(cmd)
	if err != nil {
		return p, err
	}
	if labels != nil {
		p.Labels, _ = json.Marshal(labels)
	}
	p.BMC = bmcPatch(cmd)
	if f.Changed("username") {
		u := mustString(cmd, "username")
		p.Username = &u
	}
	if stdin, _ := f.GetBool("password-stdin"); stdin {
		pw, err := readPassword(cmd.InOrStdin())
		if err != nil {
			return p, err
		}
		p.Password = &pw
	}
	if p.Maintenance, err = maintenanceChange(cmd); err != nil {
		return p, err
	}
	if p.BootMAC, err = setOrClear(cmd, "boot-mac", "clear-boot-mac", func(v string) any { return v }); err != nil {
		return p, err
	}
	if p.Labels == nil && p.BMC == nil && p.Username == nil && p.Password == nil && p.Maintenance == nil && p.BootMAC == nil {
		return p, usageErr("nothing to change: give --label, --remove-label, --bmc-address, --provider, --cipher-suite, " +
			"--verify-tls, --username, --password-stdin, --boot-mac, --clear-boot-mac, --maintenance or --clear-maintenance")
	}
	return p, nil
}

// labelChanges is the labels part of the patch: a value sets, nil removes.
func labelChanges(cmd *cobra.Command) (map[string]*string, error) {
	set, _ := cmd.Flags().GetStringArray("label")
	remove, _ := cmd.Flags().GetStringArray("remove-label")
	if len(set) == 0 && len(remove) == 0 {
		return nil, nil
	}
	labels, err := parseLabels(set)
	if err != nil {
		return nil, err
	}
	change := map[string]*string{}
	for k, v := range labels {
		change[k] = &v
	}
	for _, k := range remove {
		if _, ok := labels[k]; ok {
			return nil, usageErr("--label and --remove-label both name %q", k)
		}
		if k == "" || strings.Contains(k, "=") {
			return nil, usageErr("--remove-label %q: must be a label KEY", k)
		}
		change[k] = nil
	}
	return change, nil
}

// bmcPatch is the bmc part of the patch, or nil when no BMC flag was given.
func bmcPatch(cmd *cobra.Command) *client.BMCPatch {
	f := cmd.Flags()
	var b client.BMCPatch
	changed := false
	if f.Changed("bmc-address") {
		a := mustString(cmd, "bmc-address")
		b.Address, changed = &a, true
	}
	if f.Changed("provider") {
		p := jobs.Provider(mustString(cmd, "provider"))
		b.Provider, changed = &p, true
	}
	if f.Changed("cipher-suite") {
		n, _ := f.GetInt("cipher-suite")
		b.CipherSuite, changed = &n, true
	}
	if f.Changed("verify-tls") {
		v, _ := f.GetBool("verify-tls")
		b.VerifyTLS, changed = &v, true
	}
	if !changed {
		return nil
	}
	return &b
}

// maintenanceChange is the maintenance part of the patch: {"reason": ...}
// to set it, null to clear it, nil to leave it.
func maintenanceChange(cmd *cobra.Command) (json.RawMessage, error) {
	return setOrClear(cmd, "maintenance", "clear-maintenance", func(v string) any { return map[string]string{"reason": v} })
}

// setOrClear is one member of the patch: value(--set) when --set is given,
// null with --clear, nil when neither is.
func setOrClear(cmd *cobra.Command, set, clear string, value func(string) any) (json.RawMessage, error) {
	given := cmd.Flags().Changed(set)
	unset, _ := cmd.Flags().GetBool(clear)
	switch {
	case given && unset:
		return nil, usageErr("give either --%s or --%s, not both", set, clear)
	case unset:
		return json.RawMessage("null"), nil
	case given:
		return json.Marshal(value(mustString(cmd, set)))
	}
	return nil, nil
}

func newServersRemoveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "remove ID",
		Aliases: []string{"rm"},
		Short:   "Remove a server from the registry",
		Long: "Removes the server and its credentials. The API refuses while a job holds the server or it is in a\n" +
			"transitional state (provisioning...): that refusal is exit 1, the operation failed; wait for the\n" +
			"job or cancel it (tinman jobs cancel ID --wait), then remove again. An unknown server is exit 2.",
		Args:              oneID("server"),
		ValidArgsFunction: firstArg(serverIDs),
		RunE:              runServersRemove,
	}
	operatorFlags(cmd)
	return cmd
}

func runServersRemove(cmd *cobra.Command, args []string) error {
	c, err := newRESTClient(cmd)
	if err != nil {
		return err
	}
	if err := c.RemoveServer(cmd.Context(), args[0]); err != nil {
		return asFailure(err, 409)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "server %s removed\n", args[0])
	return nil
}
