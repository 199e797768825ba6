package elevator

import (
	"context"
	"strings"
)

// Where a service's image parameter (ami: {ssm: NAME}) may live: AWS's
// public parameters (the newest AMI ids), or the account's under
// ImageParameterPrefix. Compiling a release reads it with the orbit's
// submitter policy, which may read no other parameter of the account:
// the others may hold secrets (docs/deployer.md).
const (
	AWSParameterPrefix   = "/aws/service/"
	ImageParameterPrefix = "/elevator/images/"
)

// ImageParameterAllowed reports whether name may be a service's image
// parameter: under AWSParameterPrefix or ImageParameterPrefix, with a
// name after it.
func ImageParameterAllowed(name string) bool {
	for _, p := range []string{AWSParameterPrefix, ImageParameterPrefix} {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" {
			return true
		}
	}
	return false
}

// ImageLookup is what resolving an AMISelector needs: images by id and by
// name, and SSM parameters.
type ImageLookup interface {
	ImageExists(ctx context.Context, id string) error
	NewestImage(ctx context.Context, pattern string, owners []string) (string, error)
	Parameter(ctx context.Context, name string) (string, error)
}

// Resolve finds the image the selector names: its ID after checking it
// exists, the value of its SSM parameter, or the newest image matching its
// name. Errors are the lookup's (ENOTFOUND when there is no such image or
// parameter).
func (s AMISelector) Resolve(ctx context.Context, l ImageLookup) (string, error) {
	switch {
	case s.ID != "":
		return s.ID, l.ImageExists(ctx, s.ID)
	case s.SSMParameter != "":
		return l.Parameter(ctx, s.SSMParameter)
	default:
		return l.NewestImage(ctx, s.Name, s.Owners)
	}
}

// ImageSources is an ImageLookup made of an image service (EC2) and a
// parameter store (SSM).
type ImageSources struct {
	Images interface {
		ImageExists(ctx context.Context, id string) error
		NewestImage(ctx context.Context, pattern string, owners []string) (string, error)
	}
	Parameters interface {
		Parameter(ctx context.Context, name string) (string, error)
	}
}

// ImageExists asks the image service.
func (s ImageSources) ImageExists(ctx context.Context, id string) error {
	return s.Images.ImageExists(ctx, id)
}

// NewestImage asks the image service.
func (s ImageSources) NewestImage(ctx context.Context, pattern string, owners []string) (string, error) {
	return s.Images.NewestImage(ctx, pattern, owners)
}

// Parameter asks the parameter store.
func (s ImageSources) Parameter(ctx context.Context, name string) (string, error) {
	return s.Parameters.Parameter(ctx, name)
}
