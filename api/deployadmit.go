package api

import (
	"context"
	"errors"

	"github.com/tinmanhq/tinman/jobs"
)

// admitDeploy refuses at once (409) a deploy on servers another live
// deploy holds, naming it; the dispatcher takes the hold, and checks again.
func (a *API) admitDeploy(ctx context.Context, req jobs.Request) error {
	if req.Type != jobs.Deploy {
		return nil
	}
	params, err := req.DecodeParams()
	if err != nil {
		return err
	}
	p := params.(*jobs.DeployParams)
	servers, err := jobs.DeployTargets(ctx, a.cfg.Store, p)
	if err != nil {
		return err
	}
	err = a.cfg.Store.CheckServersFree(ctx, req.ID, servers)
	if e := new(jobs.Error); errors.As(err, &e) && e.Code == jobs.CodeConflict {
		e.Field = p.TargetField()
	}
	return err
}
