package elevator

import "time"

// Pipeline is how a version of an app is promoted through orbits: stages
// in order, each released when the one before it has succeeded and its own
// gates are open. It is the app manifest's pipeline section.
type Pipeline struct {
	Stages []PipelineStage // in manifest order; at least one
	Path   string
}

// PipelineStage is one step of a pipeline: a release of the version into
// one orbit, or into several orbits in parallel, behind the stage's gates.
type PipelineStage struct {
	// Name identifies the stage in commands (pipeline approve --stage);
	// it is the orbit's name when the manifest gives none for a
	// one-orbit stage.
	Name string
	// Orbits are released in parallel; no orbit is in two stages.
	Orbits []string
	// Approval, when set, must be given before the stage releases.
	Approval *StageApproval
	// Windows are the time windows the stage may start in, such as
	// "Mon-Thu 09:00-16:00 Europe/Berlin" (see internal/window); none
	// means any time. Freeze lists dates (YYYY-MM-DD, in each window's
	// zone) on which no window opens.
	Windows []string
	Freeze  []string
	// Outside is what a stage does when it is due outside its windows:
	// OutsideWait (the default) or OutsideFail.
	Outside string
	// Bake is how long the stage's releases stay watched after they
	// succeed before the next stage may start; whole seconds.
	Bake time.Duration
	// Auto starts the stage as soon as the one before it succeeds; the
	// first stage starts with the pipeline either way. Without it someone
	// runs `pipeline resume` to start it.
	Auto bool
	Path string
}

// What a stage does when it is due outside its windows.
const (
	OutsideWait = "wait"
	OutsideFail = "fail"
)

// StageApproval says who may approve a stage: callers whose role in each of
// the stage's orbits (the access rules of its orbit manifest) covers one
// of Roles, or who match one of Principals (IAM or STS ARNs, '*' as in
// access rules). The approver is never the principal who started the
// pipeline.
type StageApproval struct {
	Roles      []AccessRole
	Principals []string
	// Expiry is how long an approval stays good; DefaultApprovalExpiry
	// when the manifest gives none.
	Expiry time.Duration
	Path   string
}

// DefaultApprovalExpiry is how long a stage's approval stays good when the
// manifest does not say.
const DefaultApprovalExpiry = 7 * 24 * time.Hour

// Stage returns the pipeline's stage called name, or nil.
func (p *Pipeline) Stage(name string) *PipelineStage {
	for i := range p.Stages {
		if p.Stages[i].Name == name {
			return &p.Stages[i]
		}
	}
	return nil
}
