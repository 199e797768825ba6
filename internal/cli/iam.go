package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/iam"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/iamfile"
	"github.com/elevatorhq/elevator/internal/image"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/spf13/cobra"
)

// iamOptions is what every `iam` verb shares: the files, and the orbit
// whose account and audit log to use, if any.
type iamOptions struct {
	*globals
	files     []string
	orbitName string
	orbitFile string

	// usersOnly reads the files' users and path only (keys): a problem
	// in a policy never stands in the way of deactivating a key.
	usersOnly bool

	file    *elevator.IAMFile
	orbit   *elevator.Orbit
	configs *awsConfigs
	region  string
	note    *progress.Printer
}

func (o *iamOptions) addFlags(c *cobra.Command) {
	c.Flags().StringArrayVarP(&o.files, "file", "f", nil, "an IAM file, or a directory of them (*.yml, *.yaml); repeat to merge several (required)")
	c.Flags().StringVar(&o.orbitName, "orbit", "", "act in this orbit's account and write the audit log there; without it, no audit log is written")
	c.Flags().StringVar(&o.orbitFile, "orbit-file", "", "the orbit's manifest (default: orbits/NAME.yml, NAME.orbit.yml or orbit.yml)")
}

// validate reads the files and the orbit; it calls nothing.
func (o *iamOptions) validate() error {
	if len(o.files) == 0 {
		return elevator.Errorf(elevator.EINVALID, "-f is required: an IAM file such as iam.yml, or a directory of them")
	}
	read := manifest.ReadIAM
	if o.usersOnly {
		read = manifest.ReadIAMUsers
	}
	var err error
	if o.file, err = read(o.files); err != nil {
		return err
	}
	account := o.file.Account
	o.region = cmpOr(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1")
	if o.orbitName != "" {
		path, err := findOrbitFile(o.orbitName, o.orbitFile)
		if err != nil {
			return err
		}
		if o.orbit, err = readOrbit(path, ""); err != nil {
			return err
		}
		if o.orbit.Name != o.orbitName {
			return elevator.Errorf(elevator.EINVALID, "--orbit %s, but %s describes orbit %s", o.orbitName, path, o.orbit.Name)
		}
		if !account.IsZero() && !o.orbit.Account.IsZero() && (account.ID != o.orbit.Account.ID || account.Role != o.orbit.Account.Role) {
			return elevator.Errorf(elevator.EINVALID, "the IAM files name account %s (role %s), but orbit %s lives in %s (role %s); give the same, or leave account out of the files",
				account.ID, account.Role, o.orbit.Name, o.orbit.Account.ID, o.orbit.Account.Role)
		}
		if account.IsZero() {
			account = o.orbit.Account
		}
		o.region = o.orbit.Regions[0].Name
	}
	o.configs = accountConfigs(o.globals, account)
	o.note = progress.New(o.stderr)
	return nil
}

func cmpOr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// connect returns the IAM adapter and who the caller is.
func (o *iamOptions) connect(ctx context.Context) (*iam.Client, sts.Identity, aws.Config, error) {
	cfg, err := o.configs.For(ctx, o.region)
	if err != nil {
		return nil, sts.Identity{}, cfg, err
	}
	id, err := sts.New(cfg).CallerIdentity(ctx)
	if err != nil {
		return nil, id, cfg, err
	}
	return iam.New(cfg), id, cfg, nil
}

// auditor returns where audit entries go: the orbit's audit log, or nil
// without --orbit.
func (o *iamOptions) auditor(ctx context.Context, cfg aws.Config) (func(context.Context, elevator.AuditEntry) error, error) {
	if o.orbit == nil {
		return nil, nil
	}
	backend, err := homeBackend(ctx, cfg, o.orbit)
	if err != nil {
		return nil, err
	}
	return backend.Store.Audit, nil
}

func partition(arn string) string {
	if p := strings.Split(arn, ":"); len(p) > 1 && p[1] != "" {
		return p[1]
	}
	return "aws"
}

func newIAMCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "iam",
		Short: "Keep IAM groups, users, roles and policies in files (plan, apply, keys)",
		Long: `IAM kept in files (see docs/iam.md and 'elevator schema iam'): groups, users,
roles, managed and inline policies and trust policies, all under one path
(such as /elevator-iam/) that Elevator owns. 'plan' shows what differs from
the account, 'apply' makes it, 'keys' lists and deactivates users' access
keys (Elevator never creates or deletes them). Anything outside the path is
never touched. Policies are checked before any call: their shape, that
every action exists for its service, and no "*" or "*:*" on every resource
unless the files say allow_admin: true.`,
	}
	cmd.AddCommand(newIAMPlanCmd(g), newIAMApplyCmd(g), newIAMKeysCmd(g))
	return cmd
}

// iamPlanJSON is what `iam plan|apply -o json` prints.
type iamPlanJSON struct {
	*iamfile.Plan
	Audit   string          `json:"audit"` // where the audit entries go, or "none"
	Applied *iamfile.Result `json:"applied,omitempty"`
}

func (o *iamOptions) auditWhere() string {
	if o.orbit == nil {
		return "none"
	}
	return "orbit " + o.orbit.Name
}

func (o *iamOptions) makePlan(ctx context.Context) (*iam.Client, sts.Identity, aws.Config, *iamfile.Plan, error) {
	client, id, cfg, err := o.connect(ctx)
	if err != nil {
		return nil, id, cfg, nil, err
	}
	o.note.Note("iam", fmt.Sprintf("reading account %s under %s", id.Account, o.file.Path))
	p, err := iamfile.MakePlan(ctx, client, iamfile.Input{File: o.file, AccountID: id.Account, Partition: partition(id.ARN)})
	o.note.Done()
	return client, id, cfg, p, err
}

func newIAMPlanCmd(g *globals) *cobra.Command {
	o := &iamOptions{globals: g}
	var exitCode bool
	c := &cobra.Command{
		Use:   "plan -f iam.yml",
		Short: "Show what apply would change in the account's IAM under the files' path",
		Long: `Read the account's groups, users, roles and managed policies under the files'
path and show what apply would create, update or delete, object by object.
Documents are compared as IAM reads them (key order, a string or a list of
one). Changes nothing. Exits 0, or with --detailed-exitcode 10 when there
are changes; a plan apply would refuse (a name taken outside the path, a
user with access keys to delete) exits 3.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			_, _, _, p, err := o.makePlan(cmd.Context())
			if err != nil {
				return err
			}
			if err := o.printPlan(p, nil); err != nil {
				return err
			}
			if len(p.Blockers) > 0 {
				return reported{elevator.Errorf(elevator.ECONFLICT, "apply would refuse: %s", strings.Join(p.Blockers, "; "))}
			}
			if exitCode && !p.Empty() {
				return exitStatus{10} // --detailed-exitcode: there are changes
			}
			return nil
		},
	}
	o.addFlags(c)
	c.Flags().BoolVar(&exitCode, "detailed-exitcode", false, "exit 10 when there are changes (0 when none)")
	return c
}

func newIAMApplyCmd(g *globals) *cobra.Command {
	o := &iamOptions{globals: g}
	c := &cobra.Command{
		Use:   "apply -f iam.yml",
		Short: "Make the account's IAM under the files' path match the files",
		Long: `Show the plan, ask (unless --yes), then make it in dependency order: managed
policies (a changed document becomes a new default version; the oldest other
version goes when the policy has IAM's five), then groups, users and roles,
then their policies and membership; deletions in reverse. Deleting a user
removes it from its groups, detaches its policies, deletes its inline
policies and console password; a user with access keys is never deleted
(delete the keys by hand first). With --orbit the changes are written to the
orbit's audit log. Access keys are never created.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := o.validate(); err != nil {
				return err
			}
			client, id, cfg, p, err := o.makePlan(ctx)
			if err != nil {
				return err
			}
			audit, err := o.auditor(ctx, cfg)
			if err != nil {
				return err
			}
			if len(p.Blockers) > 0 {
				if err := o.printPlan(p, nil); err != nil {
					return err
				}
				return reported{elevator.Errorf(elevator.ECONFLICT, "nothing was changed: %s", strings.Join(p.Blockers, "; "))}
			}
			if p.Empty() {
				return o.printPlan(p, &iamfile.Result{Done: []iamfile.Change{}})
			}
			if !g.yes {
				var b strings.Builder
				writePlan(&b, p, o.auditWhere())
				if err := confirmWord(g, b.String()+fmt.Sprintf("Apply these %d changes to account %s?", len(p.Changes), id.Account), "apply"); err != nil {
					return err
				}
			}
			res, applyErr := iamfile.Apply(ctx, client, p, func(c iamfile.Change, what string) {
				o.note.Note("iam", fmt.Sprintf("%s %s %s: %s", c.Op, c.Kind, c.Name, what))
			})
			o.note.Done()
			if audit != nil && len(res.Done)+boolInt(res.Failed != nil) > 0 {
				entry := elevator.AuditEntry{At: time.Now().UTC(), By: id.ARN, Action: elevator.AuditIAMApply, Orbit: o.orbit.Name, Outcome: "applied", Detail: auditDetail(p.Path, res)}
				if applyErr != nil {
					entry.Outcome = "failed"
				}
				applyErr = writeAudit(ctx, audit, entry, applyErr, "the changes were made")
			}
			if err := o.printPlan(p, &res); err != nil {
				return err
			}
			if applyErr != nil {
				return reported{applyErr}
			}
			return nil
		},
	}
	o.addFlags(c)
	return c
}

// auditTimeout bounds the writing of an audit entry once the command's
// context is gone.
const auditTimeout = 30 * time.Second

// writeAudit writes entry even when ctx was cancelled (Ctrl-C part way
// through an apply still leaves its entry), and returns err joined with
// the audit's failure, if any: a lost entry is always reported. done says
// what happened, for when err is nil.
func writeAudit(ctx context.Context, audit func(context.Context, elevator.AuditEntry) error, entry elevator.AuditEntry, err error, done string) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	aerr := audit(actx, entry)
	switch {
	case aerr == nil:
		return err
	case err == nil:
		return fmt.Errorf("%s, but the audit entry was not written: %w", done, aerr)
	default:
		return errors.Join(err, fmt.Errorf("the audit entry was not written either: %w", aerr))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func auditDetail(path string, r iamfile.Result) string {
	var parts []string
	for _, c := range r.Done {
		parts = append(parts, c.Op+" "+c.Kind+" "+c.Name)
	}
	s := "under " + path + ": " + strings.Join(parts, ", ")
	if r.Failed != nil {
		s += "; failed: " + r.Failed.Op + " " + r.Failed.Kind + " " + r.Failed.Name + ": " + r.Error
	}
	return s
}

// confirmWord asks the user to type word.
func confirmWord(g *globals, what, word string) error {
	fmt.Fprintf(g.stderr, "%s\nType %s to confirm: ", what, word)
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	answer := strings.TrimSpace(line)
	switch {
	case answer == word:
		return nil
	case err != nil && answer == "":
		return elevator.Errorf(elevator.EINTERRUPTED, "no answer: nothing was changed (pass --yes to skip the question)")
	default:
		return elevator.Errorf(elevator.EINTERRUPTED, "not confirmed: nothing was changed")
	}
}

func (o *iamOptions) printPlan(p *iamfile.Plan, applied *iamfile.Result) error {
	if o.json() {
		return o.printJSON(iamPlanJSON{Plan: p, Audit: o.auditWhere(), Applied: applied})
	}
	if applied == nil {
		writePlan(o.stdout, p, o.auditWhere())
		return nil
	}
	if p.Empty() {
		fmt.Fprintf(o.stdout, "IAM under %s in account %s is up to date: no changes (%d objects as the files say)\n", p.Path, p.Account, p.Unchanged)
		return nil
	}
	for _, c := range applied.Done {
		fmt.Fprintf(o.stdout, "%s %s\n", sign(c.Op), c)
	}
	if applied.Failed != nil {
		fmt.Fprintf(o.stdout, "! %s: FAILED: %s\n", applied.Failed, applied.Error)
	}
	fmt.Fprintf(o.stdout, "%d of %d changes made under %s in account %s; audit log: %s\n", len(applied.Done), len(p.Changes), p.Path, p.Account, o.auditWhere())
	return nil
}

func sign(op string) string {
	switch op {
	case iamfile.OpCreate:
		return "+"
	case iamfile.OpDelete:
		return "-"
	default:
		return "~"
	}
}

func writePlan(w io.Writer, p *iamfile.Plan, audit string) {
	if p.Empty() {
		fmt.Fprintf(w, "IAM under %s in account %s is up to date: no changes (%d objects as the files say)\n", p.Path, p.Account, p.Unchanged)
	} else {
		counts := map[string]int{}
		for _, c := range p.Changes {
			counts[c.Op]++
			fmt.Fprintf(w, "%s %s\n", sign(c.Op), c)
		}
		fmt.Fprintf(w, "Plan for %s in account %s: %d to create, %d to update, %d to delete, %d unchanged\n",
			p.Path, p.Account, counts[iamfile.OpCreate], counts[iamfile.OpUpdate], counts[iamfile.OpDelete], p.Unchanged)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, b := range p.Blockers {
		fmt.Fprintf(w, "refused: %s\n", b)
	}
	if audit == "none" {
		fmt.Fprintln(w, "audit log: none (pass --orbit to write apply's changes to an orbit's audit log)")
	}
}

// keysJSON is one access key in `iam keys -o json`.
type keyJSON struct {
	User        string     `json:"user"`
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	Created     time.Time  `json:"created"`
	Age         string     `json:"age"`
	LastUsed    *time.Time `json:"last_used,omitempty"`
	LastService string     `json:"last_service,omitempty"`
	LastRegion  string     `json:"last_region,omitempty"`
	Deactivated bool       `json:"deactivated,omitempty"`
}

func newIAMKeysCmd(g *globals) *cobra.Command {
	o := &iamOptions{globals: g, usersOnly: true}
	var olderThan string
	var deactivate []string
	var deactivateOlder bool
	c := &cobra.Command{
		Use:   "keys -f iam.yml",
		Short: "List the access keys of the files' users; deactivate old or named ones",
		Long: `List the access keys of the users the files name (under their path) with
their age, status and last use. --older-than keeps only keys older than it;
--deactivate KEYID deactivates the named keys and --deactivate-older every
active key older than --older-than. Keys are never created or deleted (a
deactivated key can be activated again). Deactivations are written to the
orbit's audit log with --orbit.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var age time.Duration
			if olderThan != "" {
				var err error
				if age, err = image.ParseAge(olderThan); err != nil {
					return elevator.Errorf(elevator.EINVALID, "--older-than: %w", err)
				}
			}
			if deactivateOlder && olderThan == "" {
				return elevator.Errorf(elevator.EINVALID, "--deactivate-older needs --older-than, such as --older-than 90d")
			}
			if deactivateOlder && len(deactivate) > 0 {
				return elevator.Errorf(elevator.EINVALID, "--deactivate and --deactivate-older both say which keys; give one")
			}
			for _, k := range deactivate {
				if !accessKeyID(k) {
					return elevator.Errorf(elevator.EINVALID, "--deactivate %q: want an access key id, 16 to 128 capital letters and digits, such as AKIAIOSFODNN7EXAMPLE", k)
				}
			}
			if err := o.validate(); err != nil {
				return err
			}
			client, id, cfg, err := o.connect(ctx)
			if err != nil {
				return err
			}
			users, err := client.UsersUnder(ctx, o.file.Path)
			if err != nil {
				return err
			}
			owned := map[string]bool{}
			for _, u := range users {
				owned[u] = true
			}
			now := time.Now()
			var keys []keyJSON
			byID := map[string]*iam.AccessKey{}
			var all []iam.AccessKey
			for _, u := range o.file.Users {
				if !owned[u.Name] {
					continue // not created yet
				}
				list, err := client.AccessKeys(ctx, u.Name)
				if err != nil {
					return err
				}
				all = append(all, list...)
			}
			sort.Slice(all, func(i, j int) bool { return all[i].Created.Before(all[j].Created) })
			for i := range all {
				byID[all[i].ID] = &all[i]
			}
			for _, k := range deactivate {
				if byID[k] == nil {
					return elevator.Errorf(elevator.EINVALID, "--deactivate %s: not a key of a user of the files under %s; nothing was changed", k, o.file.Path)
				}
			}
			var targets []*iam.AccessKey
			for i := range all {
				k := &all[i]
				if (deactivateOlder && k.Active && now.Sub(k.Created) > age) || (contains(deactivate, k.ID) && k.Active) {
					targets = append(targets, k)
				}
			}
			var audit func(context.Context, elevator.AuditEntry) error
			if len(targets) > 0 {
				if audit, err = o.auditor(ctx, cfg); err != nil {
					return err
				}
			}
			done := map[string]bool{}
			var failed error
			for _, k := range targets {
				o.note.Note("iam", "deactivating key "+k.ID+" of user "+k.User)
				if err := client.DeactivateKey(ctx, k.User, k.ID); err != nil {
					failed = err
					break
				}
				done[k.ID] = true
				k.Active = false
			}
			o.note.Done()
			if audit != nil && len(done) > 0 {
				var names []string
				for _, k := range targets {
					if done[k.ID] {
						names = append(names, k.ID+" ("+k.User+")")
					}
				}
				entry := elevator.AuditEntry{At: time.Now().UTC(), By: id.ARN, Action: elevator.AuditIAMKeys, Orbit: o.orbit.Name, Outcome: "deactivated", Detail: "deactivated " + strings.Join(names, ", ")}
				if failed != nil {
					entry.Outcome = "partly deactivated"
				}
				failed = writeAudit(ctx, audit, entry, failed, "the keys were deactivated")
			}
			for _, k := range all {
				if olderThan != "" && now.Sub(k.Created) <= age && !done[k.ID] {
					continue
				}
				j := keyJSON{User: k.User, ID: k.ID, Status: "Active", Created: k.Created, Age: ageString(now.Sub(k.Created)), LastService: k.LastService, LastRegion: k.LastRegion, Deactivated: done[k.ID]}
				if !k.Active {
					j.Status = "Inactive"
				}
				if !k.LastUsed.IsZero() {
					t := k.LastUsed
					j.LastUsed = &t
				}
				keys = append(keys, j)
			}
			if err := o.printKeys(keys); err != nil {
				return err
			}
			if failed != nil {
				return reported{failed}
			}
			return nil
		},
	}
	o.addFlags(c)
	c.Flags().StringVar(&olderThan, "older-than", "", "only keys older than this: days (90d) or a duration (36h)")
	c.Flags().StringSliceVar(&deactivate, "deactivate", nil, "deactivate these access keys (comma-separated, or repeat the flag)")
	c.Flags().BoolVar(&deactivateOlder, "deactivate-older", false, "deactivate every active key older than --older-than")
	return c
}

func (o *iamOptions) printKeys(keys []keyJSON) error {
	if o.json() {
		if keys == nil {
			keys = []keyJSON{}
		}
		return o.printJSON(map[string]any{"path": o.file.Path, "keys": keys, "audit": o.auditWhere()})
	}
	if len(keys) == 0 {
		fmt.Fprintf(o.stdout, "no access keys of the files' users under %s\n", o.file.Path)
		return nil
	}
	fmt.Fprintf(o.stdout, "%-20s %-24s %-9s %-6s %s\n", "USER", "KEY", "STATUS", "AGE", "LAST USED")
	for _, k := range keys {
		last := "never"
		if k.LastUsed != nil {
			last = k.LastUsed.Format(time.RFC3339)
			if k.LastService != "" {
				last += " " + k.LastService
			}
			if k.LastRegion != "" {
				last += " in " + k.LastRegion
			}
		}
		status := k.Status
		if k.Deactivated {
			status += " (deactivated now)"
		}
		fmt.Fprintf(o.stdout, "%-20s %-24s %-9s %-6s %s\n", k.User, k.ID, status, k.Age, last)
	}
	if o.auditWhere() == "none" {
		fmt.Fprintln(o.stdout, "audit log: none (pass --orbit to write deactivations to an orbit's audit log)")
	}
	return nil
}

func ageString(d time.Duration) string {
	if d >= 24*time.Hour {
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("%dh", int(d/time.Hour))
}

func accessKeyID(s string) bool {
	if len(s) < 16 || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
