package manifest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/window"
)

// MaxApprovalExpiry bounds a stage approval's expiry.
const MaxApprovalExpiry = 90 * 24 * time.Hour

// pipeline reads the pipeline section: its stages, their gates, and the
// checks that need no orbit manifest (see CheckPipeline for the others).
func (b *appBuilder) pipeline(path string, m map[string]any) *elevator.Pipeline {
	p := &elevator.Pipeline{Path: path}
	stageAt := map[string]string{} // stage name -> its path
	orbitAt := map[string]string{} // orbit -> the path of the stage it is in
	for i, v := range list(m["stages"]) {
		sm := obj(v)
		sp := fmt.Sprintf("%s.stages[%d]", path, i)
		s := elevator.PipelineStage{
			Name:    str(sm["name"]),
			Outside: strOr(sm["outside"], elevator.OutsideWait),
			Bake:    b.duration(sp+".bake", sm["bake"], 0, 0, 24*time.Hour),
			Auto:    sm["auto"] == true,
			Path:    sp,
			// Checked against the orbits' stages by CheckPipeline.
			PromoteImages: str(sm["promote_images"]),
		}
		_, one := sm["orbit"]
		_, many := sm["orbits"]
		switch {
		case one && many:
			b.errorf(sp+".orbits#key", nil, "a stage names its orbit (orbit) or its parallel orbits (orbits), not both")
		case one:
			s.Orbits = []string{str(sm["orbit"])}
		case many:
			for _, o := range list(sm["orbits"]) {
				s.Orbits = append(s.Orbits, str(o))
			}
		default:
			b.errorf(sp, nil, "a stage needs orbit: NAME, or orbits: [A, B] for orbits released in parallel")
		}
		for j, o := range s.Orbits {
			op := sp + ".orbit"
			if many {
				op = fmt.Sprintf("%s.orbits[%d]", sp, j)
			}
			if first, dup := orbitAt[o]; dup && o != "" {
				b.errorf(op, o, "is listed twice, in %s too; an orbit is in one stage", first)
				continue
			}
			orbitAt[o] = sp
		}
		if s.Name == "" {
			if len(s.Orbits) > 1 {
				b.errorf(sp+".orbits#key", nil, "a stage of several orbits needs a name, such as name: production")
			} else if len(s.Orbits) == 1 {
				s.Name = s.Orbits[0]
			}
		}
		if first, dup := stageAt[s.Name]; dup && s.Name != "" {
			b.errorf(sp, s.Name, "is the name of %s too; each stage needs its own name (a stage of one orbit is named after it unless it has a name)", first)
		} else {
			stageAt[s.Name] = sp
		}
		if a, ok := sm["approval"].(map[string]any); ok {
			s.Approval = b.approval(sp+".approval", a)
		} else if _, ok := sm["approval"]; ok && sm["approval"] == nil {
			b.errorf(sp+".approval", nil, "say who may approve: roles: [approver], principals: [ARN], or both")
		}
		for j, w := range list(sm["windows"]) {
			wp := fmt.Sprintf("%s.windows[%d]", sp, j)
			if _, err := window.Parse(str(w)); err != nil {
				b.errorf(wp, str(w), "%v", err)
				continue
			}
			s.Windows = append(s.Windows, str(w))
		}
		for j, f := range list(sm["freeze"]) {
			fp := fmt.Sprintf("%s.freeze[%d]", sp, j)
			if _, err := window.ParseDate(str(f)); err != nil {
				b.errorf(fp, str(f), "%v", err)
				continue
			}
			s.Freeze = append(s.Freeze, str(f))
		}
		if _, ok := sm["freeze"]; ok && len(list(sm["windows"])) == 0 {
			b.errorf(sp+".freeze#key", nil, "freeze dates are days of a window's time zone; add windows, such as Mon-Sun 00:00-24:00 Europe/Berlin")
		}
		p.Stages = append(p.Stages, s)
	}
	return p
}

// approval reads a stage's approval gate.
func (b *appBuilder) approval(path string, m map[string]any) *elevator.StageApproval {
	a := &elevator.StageApproval{
		Expiry: b.duration(path+".expiry", m["expiry"], elevator.DefaultApprovalExpiry, time.Minute, MaxApprovalExpiry),
		Path:   path,
	}
	for i, v := range list(m["roles"]) {
		r := elevator.AccessRole(str(v))
		rp := fmt.Sprintf("%s.roles[%d]", path, i)
		switch {
		case !r.Valid():
			b.errorf(rp, string(r), "no such role; roles are %s", roleNames())
		case slices.Contains(a.Roles, r):
			b.errorf(rp, string(r), "is listed twice")
		default:
			a.Roles = append(a.Roles, r)
		}
	}
	for i, v := range list(m["principals"]) {
		p := str(v)
		pp := fmt.Sprintf("%s.principals[%d]", path, i)
		if !strings.HasPrefix(p, "arn:") || elevator.CheckPrincipal(p) != nil {
			b.errorf(pp, p, "not an IAM or STS ARN; want one with a 12-digit account id, where * stands for any characters but ':', such as arn:aws:iam::123456789012:role/release-managers")
			continue
		}
		a.Principals = append(a.Principals, p)
	}
	if len(list(m["roles"])) == 0 && len(list(m["principals"])) == 0 {
		b.errorf(path, nil, "say who may approve: roles: [approver], principals: [ARN], or both")
	}
	if v, ok := m["auto"]; ok {
		if auto := str(v); auto == elevator.ApproveSafeChanges {
			a.Auto = auto
		} else {
			b.errorf(path+".auto", v, "no such policy; the one policy is %s: approve when no change set removes or may replace a stateful resource (data stores, log groups, buckets, queues)", elevator.ApproveSafeChanges)
		}
	}
	return a
}

func roleNames() string {
	var names []string
	for _, r := range elevator.AccessRoles {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

// CheckPipeline checks an app's pipeline against the orbits it may be
// released into, given by name (their orbit manifests): each stage's
// orbits must be among them, and when a stage's approval names roles, each
// of its orbits must grant one of them (or a role above it) to someone,
// or nobody could approve. It returns nil when the app has no pipeline,
// else elevator.FieldErrors with the app manifest's positions.
func CheckPipeline(a *elevator.App, orbits map[string]*elevator.Orbit) error {
	if a.Pipeline == nil {
		return nil
	}
	known := make([]string, 0, len(orbits))
	for name := range orbits {
		known = append(known, name)
	}
	slices.Sort(known)
	var errs elevator.FieldErrors
	for _, s := range a.Pipeline.Stages {
		for j, name := range s.Orbits {
			op := s.Path + ".orbit"
			if len(s.Orbits) > 1 || a.Source.Positions[op] == (elevator.Pos{}) {
				op = fmt.Sprintf("%s.orbits[%d]", s.Path, j)
			}
			o, ok := orbits[name]
			if !ok {
				errs = append(errs, a.Source.Errorf(op, name, "no such orbit; the orbits given are %s", strings.Join(known, ", ")))
				continue
			}
			if s.PromoteImages != "" && o.ImageStageIndex(s.PromoteImages) < 0 {
				errs = append(errs, a.Source.Errorf(s.Path+".promote_images", s.PromoteImages,
					"not an image stage of orbit %s; its stages are %s", name, strings.Join(o.ImageStages(), ", ")))
			}
			if s.Approval == nil || len(s.Approval.Roles) == 0 {
				continue
			}
			if !grantsAny(o.Access, s.Approval.Roles, a.Name) {
				errs = append(errs, a.Source.Errorf(s.Approval.Path+".roles", nil,
					"orbit %s grants none of these roles (or one above them) in app %s to anyone, so nobody could approve; add an access rule to the orbit or name principals", name, a.Name))
			}
		}
	}
	if len(errs) > 0 {
		return errs.Sorted()
	}
	return nil
}

// grantsAny reports whether an access rule of an orbit gives app's
// callers a role that covers one of roles.
func grantsAny(rules []elevator.AccessRule, roles []elevator.AccessRole, app string) bool {
	for _, r := range rules {
		if len(r.Apps) > 0 && !slices.Contains(r.Apps, app) {
			continue
		}
		for _, need := range roles {
			if r.Role.Covers(need) {
				return true
			}
		}
	}
	return false
}
