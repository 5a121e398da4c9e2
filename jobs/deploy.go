package jobs

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// A deploy's provisions are jobs "<deploy>.<server>" requested by
// "deploy:<deploy>".

// DeployChildID names the provision a deploy runs on a server.
func DeployChildID(deploy, server string) string { return deploy + "." + server }

// DeployOf returns the deploy that requested job id on server, or "" for
// a job no deploy requested.
func DeployOf(id, server, requestedBy string) string {
	deploy, ok := strings.CutPrefix(requestedBy, "deploy:")
	if !ok || server == "" || id != DeployChildID(deploy, server) {
		return ""
	}
	return deploy
}

// TargetField names the param that chose a deploy's servers, for errors
// about them: params.selector or params.servers.
func (p *DeployParams) TargetField() string {
	if p.Selector != nil {
		return "params.selector"
	}
	return "params.servers"
}

// ServerLister finds the servers with labels.
type ServerLister interface {
	ListServers(ctx context.Context, selector map[string]string) ([]Server, error)
}

// DeployTargets returns the servers a deploy rolls, in batch order: its
// list as given, or the enrolled servers of its selector in the order the
// lister gives them. A selector that matches none is invalid.
func DeployTargets(ctx context.Context, st ServerLister, p *DeployParams) ([]string, error) {
	if p.Selector == nil {
		return p.Servers, nil
	}
	found, err := st.ListServers(ctx, p.Selector)
	if err != nil {
		return nil, fmt.Errorf("list the servers of the deploy's selector: %w", err)
	}
	if len(found) == 0 {
		return nil, Invalid("params.selector", "matches no enrolled server: "+selectorString(p.Selector))
	}
	servers := make([]string, len(found))
	for i, s := range found {
		servers[i] = s.ID
	}
	return servers, nil
}

func selectorString(sel map[string]string) string {
	pairs := make([]string, 0, len(sel))
	for k, v := range sel {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}
