package jobs

import "strings"

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
