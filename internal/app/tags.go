package app

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/elevatorhq/elevator/internal/apply"
	yaml "go.yaml.in/yaml/v4"
)

// ELBv2 resource types whose tags releases rely on.
const (
	typeLoadBalancer = "AWS::ElasticLoadBalancingV2::LoadBalancer"
	typeTargetGroup  = "AWS::ElasticLoadBalancingV2::TargetGroup"
)

// ensureTags makes every load balancer and target group of an applied
// stack carry the tags its template declares, adding the missing ones.
// Releases authorize target groups by these tags, and not every
// CloudFormation implementation applies them (moto drops the Tags of ELBv2
// resources); on AWS this finds nothing to add.
func (s *Service) ensureTags(ctx context.Context, t apply.Target) error {
	want, err := declaredTags(t.Spec.Body)
	if err != nil {
		return err
	}
	stacks := t.Engine.Stacks
	resources, err := stacks.Resources(ctx, t.Spec.Name)
	if err != nil {
		return err
	}
	physical := map[string]string{} // ARN -> logical id
	for _, r := range resources {
		if (r.Type == typeLoadBalancer || r.Type == typeTargetGroup) && r.PhysicalID != "" && len(want[r.LogicalID]) > 0 {
			physical[r.PhysicalID] = r.LogicalID
		}
	}
	if len(physical) == 0 {
		return nil
	}
	c, err := s.Clients(stacks.Region())
	if err != nil {
		return err
	}
	arns := slices.Sorted(maps.Keys(physical))
	have, err := c.LoadBalancing.Tags(ctx, arns)
	if err != nil {
		return err
	}
	added := 0
	for _, arn := range arns {
		missing := map[string]string{}
		for k, v := range want[physical[arn]] {
			if have[arn][k] != v {
				missing[k] = v
			}
		}
		if len(missing) == 0 {
			continue
		}
		if err := c.LoadBalancing.AddTags(ctx, arn, missing); err != nil {
			return err
		}
		added++
	}
	if added > 0 {
		s.Progress.Note(stacks.Region(), fmt.Sprintf("%s: tagged %d load balancer resource(s) the stack left untagged", t.Spec.Name, added))
	}
	return nil
}

// declaredTags reads, from a template, the literal tags of each ELBv2
// resource, by logical id.
func declaredTags(body string) (map[string]map[string]string, error) {
	var tmpl struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				Tags []struct {
					Key   string `yaml:"Key"`
					Value any    `yaml:"Value"`
				} `yaml:"Tags"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal([]byte(body), &tmpl); err != nil {
		return nil, fmt.Errorf("read template tags: %w", err)
	}
	out := map[string]map[string]string{}
	for id, r := range tmpl.Resources {
		if r.Type != typeLoadBalancer && r.Type != typeTargetGroup {
			continue
		}
		tags := map[string]string{}
		for _, t := range r.Properties.Tags {
			if v, ok := t.Value.(string); ok { // a literal; intrinsic values are left to CloudFormation
				tags[t.Key] = v
			}
		}
		out[id] = tags
	}
	return out, nil
}

// resourcesOfType returns the physical ids of a stack's resources of type.
func resourcesOfType(ctx context.Context, stacks apply.Stacks, stack, typ string) ([]string, error) {
	resources, err := stacks.Resources(ctx, stack)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range resources {
		if r.Type == typ && r.PhysicalID != "" {
			ids = append(ids, r.PhysicalID)
		}
	}
	return ids, nil
}
