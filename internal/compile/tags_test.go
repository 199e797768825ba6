package compile

import (
	"fmt"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
)

func TestTagsOverAWSLimitsAreRefusedNamingTheResourceAndTheLimit(t *testing.T) {
	stack := map[string]string{elevator.TagOrbit: "prod", elevator.TagRegion: "us-east-1", elevator.TagManagedBy: elevator.ManagedBy}
	many := func(n int) []Tag {
		var tags []Tag
		for i := range n {
			tags = append(tags, Tag{fmt.Sprintf("k%02d", i), "v"})
		}
		return tags
	}
	tests := []struct {
		name  string
		props Props
		want  string // "" when within the limits
	}{
		{"tags within the limits", Props{"Tags": []Tag{{"Name", strings.Repeat("n", 256)}}}, ""},
		{"a value of 257 characters", Props{"Tags": []Tag{{"Name", strings.Repeat("n", 257)}}},
			"resource Thing: tag Name is 257 characters; AWS takes at most 256 in a tag value"},
		{"a value of 257 characters in a launch template's tag specification", Props{"LaunchTemplateData": Props{"TagSpecifications": []any{
			Props{"ResourceType": "instance", "Tags": []Tag{{"Name", strings.Repeat("é", 257)}}}}}},
			"resource Thing: tag Name is 257 characters"},
		{"a key of 129 characters", Props{"Tags": []Tag{{strings.Repeat("k", 129), "v"}}},
			"is 129 characters; AWS takes at most 128 in a tag key"},
		{"47 tags and the stack's 3", Props{"Tags": many(47)}, ""},
		{"48 tags and the stack's 3", Props{"Tags": many(48)},
			"resource Thing has 51 tags with the stack's; AWS takes at most 50 per resource"},
		{"an Auto Scaling group's tags", Props{"Tags": []any{Props{"Key": "Name", "Value": strings.Repeat("n", 300), "PropagateAtLaunch": true}}},
			"resource Thing: tag Name is 300 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := &Template{Resources: map[string]Resource{"Thing": {Type: "AWS::EC2::Thing", Properties: tt.props}}}
			err := checkTags(tmpl, stack)
			if tt.want == "" {
				if err != nil {
					t.Errorf("checkTags = %v, want nil", err)
				}
				return
			}
			if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkTags = %v, want EINVALID saying %q", err, tt.want)
			}
		})
	}
}

// TestAnAppWhoseCertificateDomainMakesTooLongATagIsRefused: the Name tag
// of a requested certificate is its domain, straight from the manifest.
func TestAnAppWhoseCertificateDomainMakesTooLongATagIsRefused(t *testing.T) {
	label := strings.Repeat("a", 63)
	domain := strings.Join([]string{label, label, label, label}, ".") + ".example.com" // 267 characters
	src := `name: shop
services:
  web:
    runtime:
      docker:
        image: ghcr.io/acme/shop
        ports: ["8080:8080"]
    port: 8080
    load_balancer:
      type: public
      listeners:
        - {protocol: HTTPS, port: 443, certificate: {domain: ` + domain + `}}
`
	production := loadAppOrbit(t, "production")
	a, err := manifest.ParseApp("app.yml", []byte(src), production.Name)
	if err != nil {
		t.Fatalf("parse the test's manifest:\n%v", err)
	}
	_, err = AppStacks(a, production, orbitAppFacts(t, production, nil))
	if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "tag Name is 267 characters; AWS takes at most 256 in a tag value") {
		t.Errorf("AppStacks = %v, want EINVALID naming the Name tag and the limit", err)
	}
}
