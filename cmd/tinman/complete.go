package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// Shell completion (tinman completion bash|zsh|fish, cobra's): fixed
// values from the lists below, and ids and names asked of the API. The
// API is asked under completionTimeout; when it does not answer, nothing
// is completed and nothing is said: a shell prompt is no place for errors.

// completionTimeout bounds one call to the API for a completion.
const completionTimeout = 2 * time.Second

// The values of the enum flags, for completion and for "did you mean".
var (
	jobStates = []string{string(jobs.StateQueued), string(jobs.StateRunning), string(jobs.StateRetrying),
		string(jobs.StateSucceeded), string(jobs.StateFailed), string(jobs.StateCanceled)}
	priorities = enumNames([]jobs.Priority{jobs.PriorityCritical, jobs.PriorityDefault, jobs.PriorityLow})
	providers  = enumNames([]jobs.Provider{jobs.ProviderRedfish, jobs.ProviderIPMI})
	// paramEnums are the publish flags whose values are a fixed list, with
	// what a value is called in an error.
	paramEnums = []struct {
		flag, what string
		values     []string
	}{
		{"action", "power action (--action)", enumNames(jobs.PowerActions())},
		{"device", "boot device (--device)", enumNames(jobs.BootDevices())},
		{"boot", "boot method (--boot)", enumNames(jobs.BootMethods())},
		{"kind", "BMC reset kind (--kind)", enumNames([]jobs.BMCResetKind{jobs.BMCResetWarm, jobs.BMCResetCold})},
		{"priority", "priority (--priority)", priorities},
	}
)

// fixedValues completes a flag or argument from a fixed list.
func fixedValues(values []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return withPrefix(values, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// withPrefix are the values that start with what was typed.
func withPrefix(values []string, typed string) []string {
	var out []string
	for _, v := range values {
		if strings.HasPrefix(v, typed) {
			out = append(out, v)
		}
	}
	return out
}

// noCompletion completes nothing, not even file names.
func noCompletion(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// firstArg completes the first argument only: a command that takes one id.
func firstArg(complete cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return complete(cmd, args, toComplete)
	}
}

// serverIDs completes the ids of the enrolled servers, in natural order.
var serverIDs = fromAPI(func(ctx context.Context, c *client.Client) ([]string, error) {
	list, _, err := c.Servers(ctx, "")
	ids := make([]string, 0, len(list.Servers))
	for _, s := range list.Servers {
		ids = append(ids, s.ID)
	}
	slices.SortFunc(ids, naturalCompare)
	return ids, err
})

// jobIDs completes the ids of the 100 most recent jobs, newest first.
var jobIDs = fromAPI(func(ctx context.Context, c *client.Client) ([]string, error) {
	list, _, err := c.Jobs(ctx, client.JobQuery{Limit: 100})
	ids := make([]string, 0, len(list.Jobs))
	for _, j := range list.Jobs {
		ids = append(ids, j.ID)
	}
	return ids, err
})

// imageNames completes the names of the catalogue's images.
var imageNames = fromAPI(func(ctx context.Context, c *client.Client) ([]string, error) {
	list, _, err := c.Images(ctx)
	names := make([]string, 0, len(list.Images))
	for _, img := range list.Images {
		names = append(names, img.Name)
	}
	slices.SortFunc(names, naturalCompare)
	return names, err
})

// fromAPI completes from what list reads of the API, in its order, silent
// when the API cannot be reached or refuses.
func fromAPI(list func(context.Context, *client.Client) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := completionClient(cmd)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		values, err := list(ctx, c)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(values, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// completionClient is the API client of a completion: the command's
// --api-url and --token when it has them, else TINMAN_API_URL and
// TINMAN_TOKEN, else the running `tinman dev`. Cobra completes without
// running PersistentPreRunE, so the variables are read here.
func completionClient(cmd *cobra.Command) (*client.Client, error) {
	url, token := os.Getenv(envKey("api-url")), os.Getenv(envKey("token"))
	if f := cmd.Flags().Lookup("api-url"); f != nil && f.Changed {
		url = f.Value.String()
	}
	if f := cmd.Flags().Lookup("token"); f != nil && f.Changed {
		token = f.Value.String()
	}
	target, err := resolveAPI(url, token, devContextPath())
	if err != nil {
		return nil, err
	}
	return client.New(client.Config{URL: target.URL, Token: target.Token, Timeout: completionTimeout, UserAgent: "tinman-cli/" + version})
}
