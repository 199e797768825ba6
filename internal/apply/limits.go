package apply

import (
	elevator "github.com/elevatorhq/elevator"
)

// CloudFormation's limits on a template body: what a request carries
// inline (TemplateBody), and what it reads from S3 (TemplateURL).
const (
	MaxInlineBody = 51_200
	MaxS3Body     = 1 << 20
)

// checkBody returns an EINVALID error, naming the stack, the size and the
// limit, when spec's body is more than CloudFormation takes: MaxS3Body in
// any case, and MaxInlineBody when it is sent inline; or nil. It is
// checked before the first call, so that an oversized body (a huge
// manifest value, say) never reaches a change set.
func checkBody(spec Spec, region string, inline bool) error {
	n := len(spec.Body)
	switch {
	case n > MaxS3Body:
		return elevator.Errorf(elevator.EINVALID, "stack %s in %s: the template body is %d bytes; CloudFormation takes at most %d (1 MB, from S3)", spec.Name, region, n, MaxS3Body)
	case inline && n > MaxInlineBody:
		return elevator.Errorf(elevator.EINVALID, "stack %s in %s: the template body is %d bytes; CloudFormation takes at most %d in a request (more only from S3, up to 1 MB)", spec.Name, region, n, MaxInlineBody)
	}
	return nil
}
