// This file compiles the ECR repository of each Docker service that runs
// from its own repository (a Docker runtime without image).

package compile

import (
	"encoding/json"
	"fmt"

	elevator "github.com/elevatorhq/elevator"
)

// idRepository is the logical id of a service's own repository:
// Repository<Service>.
const idRepository = "Repository"

// RepositoryResource is the logical id, in the app stack, of a service's
// own repository: Repository<Service>.
func RepositoryResource(service string) string { return idRepository + camel(service) }

// RepositoryOutput is the key of the app stack's output that holds the URI
// of a service's own repository, such as WebRepository =
// 123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/shop/web.
func RepositoryOutput(service string) string { return ServiceOutput(service, "Repository") }

// RepositoryHost is the host of the account's ECR registry in a region:
// <account>.dkr.ecr.<region>.amazonaws.com (.com.cn in China).
func RepositoryHost(account, region string) string {
	suffix := "amazonaws.com"
	if partition(region) == "aws-cn" {
		suffix = "amazonaws.com.cn"
	}
	return account + ".dkr.ecr." + region + "." + suffix
}

// repository compiles the own repository of service s, when it has one:
// every push scanned, tags immutable (a version names one image for
// good), untagged images expired beyond the newest KeepUntagged, tagged
// with the orbit, app and service. CloudFormation keeps it when the stack
// is deleted or the resource replaced (DeletionPolicy and
// UpdateReplacePolicy Retain): `app down` must not throw released images
// away, and ECR would refuse to delete a repository with images anyway.
// A repository kept by an earlier stack (AppFacts.KeptRepositories) is
// not declared again, which CloudFormation would refuse as a name taken:
// the stack only outputs its URI, and the repository keeps its settings.
func (b *appBuilder) repository(s *elevator.Service) {
	repo := OwnRepository(s)
	if repo == nil || b.svcID[s.Name] == "" {
		return
	}
	name := elevator.AppRepositoryName(b.o.Name, b.a.Name, s.Name)
	host := RepositoryHost(b.f.AccountID, b.r.Name)
	if b.f.KeptRepositories[name] {
		b.output(RepositoryOutput(s.Name), repo.Path, "ECR repository of service "+s.Name+" (kept from an earlier stack)", host+"/"+name)
		return
	}
	id := RepositoryResource(s.Name)
	b.add(id, repo.Path, Resource{Type: "AWS::ECR::Repository", DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain", Properties: Props{
		"RepositoryName":             name,
		"ImageScanningConfiguration": Props{"ScanOnPush": true},
		"ImageTagMutability":         "IMMUTABLE",
		"LifecyclePolicy":            Props{"LifecyclePolicyText": lifecyclePolicy(repo.KeepUntagged)},
		"Tags":                       b.tags("", s.Name),
	}})
	// The URI is joined from the repository's Ref (its name) rather than
	// read with Fn::GetAtt, so that it can be resolved from the stack's
	// resources (see apply.Outputs).
	b.output(RepositoryOutput(s.Name), repo.Path, "ECR repository of service "+s.Name, Join("", []any{host + "/", Ref(id)}))
}

// lifecyclePolicy is the ECR lifecycle policy that expires untagged
// images beyond the newest keep. Tagged images are released versions and
// are never expired by it.
func lifecyclePolicy(keep int) string {
	p := map[string]any{"rules": []any{map[string]any{
		"rulePriority": 1,
		"description":  fmt.Sprintf("keep the newest %d untagged images", keep),
		"selection":    map[string]any{"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": keep},
		"action":       map[string]any{"type": "expire"},
	}}}
	out, _ := json.Marshal(p) // maps of strings and ints always marshal
	return string(out)
}
