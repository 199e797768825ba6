// Package lookup finds, in AWS, the facts that building a release
// document needs (see compile.ReleaseDocument): in every region of the
// orbit, the orbit's and the app's stack outputs and each service's image
// (the AMI of its instances; an ECS service has none), and, for an app with
// ECS services, the full ARNs of its Secrets Manager secrets. It only
// reads.
package lookup

import (
	"context"
	"strings"
	"sync"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/compile"
)

// Clients are what looking up a release's facts needs in one region.
type Clients struct {
	Stacks apply.Stacks
	Images elevator.ImageLookup
	// OrbitOutputs are the orbit stack's outputs in the region when the
	// caller has read them already; nil means read them.
	OrbitOutputs map[string]string
	// Secrets finds Secrets Manager secrets' full ARNs, for an app with
	// ECS services.
	Secrets SecretARNs
}

// SecretARNs finds the full ARN of a Secrets Manager secret by its name
// or ARN (secretsmanager.Client.SecretARN).
type SecretARNs interface {
	SecretARN(ctx context.Context, id string) (string, error)
}

// ReleaseFacts looks up, in every region of orbit o, the orbit's and the
// app's stack outputs and each service's image; and, when the app has an
// ECS service, the full ARN of each Secrets Manager secret the app names
// (and of the database's secret where the app stack outputs its name):
// ECS takes a secret by its full ARN, and reads a name that ends like the
// suffix Secrets Manager adds as one, which finds nothing. It returns
// ENOTFOUND naming the region when the orbit or the app is not up there,
// or an image or a secret is missing.
func ReleaseFacts(ctx context.Context, a *elevator.App, o *elevator.Orbit, clients func(region string) (Clients, error)) (map[string]compile.ReleaseFacts, error) {
	facts := map[string]compile.ReleaseFacts{}
	var mu sync.Mutex
	err := apply.Parallel(len(o.Regions), func(i int) error {
		region := o.Regions[i].Name
		c, err := clients(region)
		if err != nil {
			return err
		}
		e := &apply.Engine{Stacks: c.Stacks}
		orbitOut, err := c.OrbitOutputs, error(nil)
		if orbitOut == nil {
			orbitOut, err = e.OrbitOutputs(ctx, o)
		}
		if err != nil {
			return err
		}
		appOut, err := e.AppOutputs(ctx, a, o)
		if err != nil {
			return err
		}
		images := map[string]string{}
		for _, svc := range a.Services {
			if svc.Runtime.ECS != nil {
				continue // tasks run a container image, no AMI
			}
			id, err := svc.AMI.Resolve(ctx, c.Images)
			if err != nil {
				if elevator.ErrorCode(err) == elevator.ENOTFOUND {
					return a.Source.Errorf(svc.Path+".ami", nil, "%v", err)
				}
				return err
			}
			images[svc.Name] = id
		}
		secrets, err := secretARNs(ctx, a, appOut, c.Secrets, region)
		if err != nil {
			return err
		}
		mu.Lock()
		facts[region] = compile.ReleaseFacts{Orbit: orbitOut, App: appOut, Images: images, SecretARNs: secrets}
		mu.Unlock()
		return nil
	})
	return facts, err
}

// secretARNs looks up the full ARNs of the Secrets Manager secrets an app
// with ECS services gives its containers, by the name (or ARN) the app
// manifest, or the app stack's database output, gives: nil for an app
// without ECS services. It returns an ENOTFOUND error naming the secret's
// position for a secret that is not in the region.
func secretARNs(ctx context.Context, a *elevator.App, appOut map[string]string, c SecretARNs, region string) (map[string]string, error) {
	ecs := false
	for _, s := range a.Services {
		ecs = ecs || s.Runtime.ECS != nil
	}
	if !ecs {
		return nil, nil
	}
	type secret struct{ id, path string }
	var ids []secret
	for _, s := range a.Secrets {
		if s.SecretsManager != "" && !strings.HasPrefix(s.SecretsManager, "arn:") { // an ARN is taken as given
			ids = append(ids, secret{s.SecretsManager, s.Path + ".secretsmanager"})
		}
	}
	if db := appOut[elevator.AppOutputDatabaseSecret]; a.Data.Database != nil && db != "" && !strings.HasPrefix(db, "arn:") {
		ids = append(ids, secret{db, "data.database"})
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if c == nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "no Secrets Manager client to look up the secrets of app %s in %s", a.Name, region)
	}
	arns := make(map[string]string, len(ids))
	for _, s := range ids {
		if arns[s.id] != "" {
			continue
		}
		arn, err := c.SecretARN(ctx, s.id)
		if err != nil {
			if elevator.ErrorCode(err) == elevator.ENOTFOUND {
				fe := a.Source.Errorf(s.path, s.id, "no such secret in %s, where the app's ECS services read it: %v", region, err)
				return nil, &elevator.Error{Code: elevator.ENOTFOUND, Message: fe.Error()}
			}
			return nil, err
		}
		arns[s.id] = arn
	}
	return arns, nil
}
