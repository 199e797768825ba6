package cli

import (
	"reflect"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// TestOwnRepositoriesAreDockerAndECSServices: `image allow -f --version`
// allows the tag in the own repository of every service that has one, an
// ECS service's as a Docker service's, and in no other.
func TestOwnRepositoriesAreDockerAndECSServices(t *testing.T) {
	a := &elevator.App{Name: "shop", Services: []elevator.Service{
		{Name: "web", Runtime: elevator.Runtime{Docker: &elevator.Docker{Repository: &elevator.Repository{KeepUntagged: 10}}}},
		{Name: "cron", Runtime: elevator.Runtime{Docker: &elevator.Docker{Image: "ghcr.io/acme/cron"}}},
		{Name: "api", Runtime: elevator.Runtime{ECS: &elevator.ECS{CPU: 256, Memory: 512, Repository: &elevator.Repository{KeepUntagged: 3}}}},
		{Name: "proxy", Runtime: elevator.Runtime{ECS: &elevator.ECS{CPU: 256, Memory: 512, Image: "public.ecr.aws/nginx/nginx"}}},
		{Name: "legacy"},
	}}
	want := []string{"prod/shop/web", "prod/shop/api"}
	if got := ownRepositories(a, "prod"); !reflect.DeepEqual(got, want) {
		t.Errorf("ownRepositories = %v, want %v", got, want)
	}
}

func TestParseContainerRefReadsOnlyAnECRImageWithATag(t *testing.T) {
	tests := []struct {
		in   string
		want containerRef
		ok   bool
	}{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/shop/web:1.4.2", containerRef{"123456789012", "us-east-1", "prod/shop/web", "1.4.2"}, true},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/prod/shop/web:v2_rc.1", containerRef{"123456789012", "cn-north-1", "prod/shop/web", "v2_rc.1"}, true},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/shop/web", containerRef{}, false},             // no tag
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/shop/web@sha256:abc", containerRef{}, false},  // a digest, not a tag
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com/prod/shop/web:1", containerRef{}, false},  // not ECR's host
		{"ghcr.io/acme/shop:1.4.2", containerRef{}, false},                                                // not ECR
		{"ami-0abcdef1234567890", containerRef{}, false},                                                  // an AMI id
		{"12345678901.dkr.ecr.us-east-1.amazonaws.com/prod/shop/web:1", containerRef{}, false},            // an 11-digit account
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/Prod/shop/web:1", containerRef{}, false},           // ECR names are lower case
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/shop/web:1.4.2:extra", containerRef{}, false}, // two tags
	}
	for _, tt := range tests {
		got, ok := parseContainerRef(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseContainerRef(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
