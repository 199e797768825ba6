package apply

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	yaml "go.yaml.in/yaml/v4"
)

// fakeCloudFormation is an in-memory CloudFormation that behaves like AWS
// where the emulator does not: per-resource events, resources that fail,
// stacks that take several looks to settle, and deletion that completes.
type fakeCloudFormation struct {
	mu         sync.Mutex
	clock      *fakeClock
	stacks     map[string]*fakeStack
	changeSets map[string]*fakeChangeSet
	calls      map[string]int
	nextID     int
	// failResource makes executing a template with this logical id fail.
	failResource string
	// pollsToSettle is how many Describe calls a change takes.
	pollsToSettle int
	// eventsSince are the since arguments of the Events calls.
	eventsSince []time.Time
}

type fakeStack struct {
	cloudformation.Stack
	body      string
	resources []string
	events    []cloudformation.Event
	pending   int    // Describe calls left before the change settles
	final     string // the status it settles in
}

type fakeChangeSet struct {
	stack, body  string
	params, tags map[string]string
	create       bool
	changes      []cloudformation.Change
	created      time.Time
	// execution is "" (AVAILABLE) until it is executed.
	execution   string
	description string
}

func newFake() *fakeCloudFormation {
	return &fakeCloudFormation{
		clock:      &fakeClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)},
		stacks:     map[string]*fakeStack{},
		changeSets: map[string]*fakeChangeSet{},
		calls:      map[string]int{},
	}
}

func (f *fakeCloudFormation) Region() string { return "us-east-1" }

func (f *fakeCloudFormation) call(name string) {
	f.calls[name]++
}

func (f *fakeCloudFormation) Describe(ctx context.Context, name string) (*cloudformation.Stack, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("Describe")
	s, ok := f.stacks[name]
	if !ok {
		return nil, cloudformation.ErrStackNotFound
	}
	if s.pending > 0 {
		s.pending--
		if s.pending == 0 {
			f.settle(s)
		}
	}
	if s.Status == "DELETE_COMPLETE" {
		delete(f.stacks, name)
		for id, cs := range f.changeSets {
			if cs.stack == name {
				delete(f.changeSets, id)
			}
		}
		return nil, cloudformation.ErrStackNotFound
	}
	st := s.Stack
	return &st, nil
}

// settle finishes a change: per-resource events, then the stack's.
func (f *fakeCloudFormation) settle(s *fakeStack) {
	for _, r := range s.resources {
		status := strings.Replace(s.final, "COMPLETE", "COMPLETE", 1)
		if strings.HasPrefix(s.final, "DELETE") {
			status = "DELETE_COMPLETE"
		}
		reason := ""
		if r == f.failResource && !strings.HasPrefix(s.final, "DELETE") {
			status, reason = "CREATE_FAILED", "Resource handler returned message: boom"
		}
		f.event(s, r, "AWS::EC2::Thing", status, reason)
	}
	s.Status = cloudformation.StackStatus(s.final)
	f.event(s, s.Name, "AWS::CloudFormation::Stack", s.final, "")
	// As AWS does, the executed change set stays, saying how it went.
	for _, cs := range f.changeSets {
		if cs.stack == s.Name && cs.execution == cloudformation.ExecutionInProgress {
			cs.execution = cloudformation.ExecutionComplete
			if s.Status.Failed() {
				cs.execution = cloudformation.ExecutionFailed
			}
		}
	}
}

func (f *fakeCloudFormation) event(s *fakeStack, logical, typ, status, reason string) {
	f.nextID++
	f.clock.Advance(time.Millisecond)
	s.events = append(s.events, cloudformation.Event{ID: fmt.Sprint(f.nextID), Time: f.clock.Now(), LogicalID: logical, Type: typ, Status: status, Reason: reason})
}

func (f *fakeCloudFormation) Template(ctx context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("Template")
	s, ok := f.stacks[name]
	if !ok {
		return "", cloudformation.ErrStackNotFound
	}
	return s.body, nil
}

func (f *fakeCloudFormation) CreateChangeSet(ctx context.Context, in cloudformation.ChangeSetInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("CreateChangeSet")
	if in.Token == "" {
		return "", fmt.Errorf("no client token")
	}
	old := map[string]bool{}
	if s, ok := f.stacks[in.Stack]; ok && !in.Create {
		for _, r := range s.resources {
			old[r] = true
		}
	} else if in.Create {
		if _, exists := f.stacks[in.Stack]; !exists {
			f.stacks[in.Stack] = &fakeStack{Stack: cloudformation.Stack{Name: in.Stack, ID: "arn:stack/" + in.Stack, Status: "REVIEW_IN_PROGRESS", Parameters: map[string]string{}, Tags: map[string]string{}}}
		}
	}
	f.clock.Advance(time.Millisecond)
	cs := &fakeChangeSet{stack: in.Stack, body: in.Body, params: in.Parameters, tags: in.Tags, create: in.Create, created: f.clock.Now(), description: in.Description}
	now := map[string]bool{}
	for _, r := range resourcesOf(in.Body) {
		now[r] = true
		if !old[r] {
			cs.changes = append(cs.changes, cloudformation.Change{Action: "Add", LogicalID: r, Type: "AWS::EC2::Thing"})
		} else {
			cs.changes = append(cs.changes, cloudformation.Change{Action: "Modify", LogicalID: r, Type: "AWS::EC2::Thing", Replacement: "True"})
		}
	}
	for r := range old {
		if !now[r] {
			cs.changes = append(cs.changes, cloudformation.Change{Action: "Remove", LogicalID: r, Type: "AWS::EC2::Thing"})
		}
	}
	id := "arn:changeSet/" + in.Name
	f.changeSets[id] = cs
	return id, nil
}

func resourcesOf(body string) []string {
	var t struct {
		Resources map[string]any `yaml:"Resources"`
	}
	_ = yaml.Unmarshal([]byte(body), &t)
	var names []string
	for n := range t.Resources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (f *fakeCloudFormation) ChangeSet(ctx context.Context, id string) (*cloudformation.ChangeSetStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("ChangeSet")
	cs, ok := f.changeSets[id]
	if !ok {
		return nil, fmt.Errorf("no change set %s: %w", id, cloudformation.ErrChangeSetNotFound)
	}
	execution := cs.execution
	if execution == "" {
		execution = cloudformation.ExecutionAvailable
	}
	return &cloudformation.ChangeSetStatus{ID: id, Stack: cs.stack, Done: true, Changes: cs.changes,
		Execution: execution, Created: cs.created}, nil
}

func (f *fakeCloudFormation) ChangeSets(ctx context.Context, stack string) ([]cloudformation.ChangeSetSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("ChangeSets")
	if _, ok := f.stacks[stack]; !ok {
		return nil, cloudformation.ErrStackNotFound
	}
	var out []cloudformation.ChangeSetSummary
	for id, cs := range f.changeSets {
		if cs.stack == stack {
			execution := cs.execution
			if execution == "" {
				execution = cloudformation.ExecutionAvailable
			}
			out = append(out, cloudformation.ChangeSetSummary{ID: id, Description: cs.description, Execution: execution})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeCloudFormation) DeleteChangeSet(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("DeleteChangeSet")
	delete(f.changeSets, id)
	return nil
}

func (f *fakeCloudFormation) ExecuteChangeSet(ctx context.Context, id, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("ExecuteChangeSet")
	cs, ok := f.changeSets[id]
	if !ok {
		return fmt.Errorf("no change set %s", id)
	}
	if cs.execution != "" {
		return fmt.Errorf("change set %s is %s, not AVAILABLE", id, cs.execution)
	}
	// As AWS does, executing a change set deletes every other change set
	// of its stack (executed ones too) and keeps this one.
	for other, c := range f.changeSets {
		if c.stack == cs.stack && other != id {
			delete(f.changeSets, other)
		}
	}
	cs.execution = cloudformation.ExecutionInProgress
	s := f.stacks[cs.stack]
	verb := "UPDATE"
	if cs.create {
		verb = "CREATE"
	}
	s.Status = cloudformation.StackStatus(verb + "_IN_PROGRESS")
	f.event(s, s.Name, "AWS::CloudFormation::Stack", string(s.Status), "User Initiated")
	s.events[len(s.events)-1].Token = token
	s.body, s.Parameters, s.Tags = cs.body, cs.params, cs.tags
	s.resources = resourcesOf(cs.body)
	s.final = verb + "_COMPLETE"
	for _, r := range s.resources {
		if r == f.failResource {
			s.final = "ROLLBACK_COMPLETE"
			if !cs.create {
				s.final = "UPDATE_ROLLBACK_COMPLETE"
			}
		}
	}
	s.pending = max(1, f.pollsToSettle)
	return nil
}

func (f *fakeCloudFormation) Events(ctx context.Context, stack string, since time.Time) ([]cloudformation.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("Events")
	f.eventsSince = append(f.eventsSince, since)
	s, ok := f.stacks[stack]
	if !ok {
		return nil, cloudformation.ErrStackNotFound
	}
	var out []cloudformation.Event
	for _, e := range s.events {
		if !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeCloudFormation) Resources(ctx context.Context, stack string) ([]cloudformation.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.stacks[stack]
	if !ok {
		return nil, cloudformation.ErrStackNotFound
	}
	var out []cloudformation.Resource
	for _, r := range s.resources {
		out = append(out, cloudformation.Resource{LogicalID: r, PhysicalID: "id-" + strings.ToLower(r)})
	}
	return out, nil
}

func (f *fakeCloudFormation) DeleteStack(ctx context.Context, name, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("DeleteStack")
	s, ok := f.stacks[name]
	if !ok {
		return nil
	}
	if s.Status == "REVIEW_IN_PROGRESS" {
		delete(f.stacks, name)
		return nil
	}
	s.Status = "DELETE_IN_PROGRESS"
	s.final = "DELETE_COMPLETE"
	s.pending = max(1, f.pollsToSettle)
	return nil
}

func (f *fakeCloudFormation) SetTerminationProtection(ctx context.Context, name string, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stacks[name].TerminationProtection = on
	return nil
}

// fakeClock's After fires at once and moves time on, so waits take no time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

// recorder is a Progress that keeps what it was told.
type recorder struct {
	mu     sync.Mutex
	events []cloudformation.Event
	notes  []string
}

func (r *recorder) Event(region string, e cloudformation.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) Note(region, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, message)
}
