package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/access"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/spf13/cobra"
)

// orbitEnv is what a command about an orbit's running apps needs: the
// orbit's manifest (limited to --region when given) and AWS.
type orbitEnv struct {
	*globals
	orbitName, orbitFile string
	// allRegions keeps every region of the orbit even with --region: the
	// command reads the orbit's first region, and uses --region itself.
	allRegions bool

	orbit   *elevator.Orbit
	configs *awsConfigs
}

func (e *orbitEnv) addFlags(c *cobra.Command) {
	c.Flags().StringVar(&e.orbitName, "orbit", "", "the orbit (required)")
	c.Flags().StringVar(&e.orbitFile, "orbit-file", "", "the orbit's manifest (default: orbits/NAME.yml, NAME.orbit.yml or orbit.yml)")
}

// validate reads the orbit's manifest. It calls nothing.
func (e *orbitEnv) validate() error {
	if e.orbitName == "" {
		return elevator.Errorf(elevator.EINVALID, "--orbit is required")
	}
	file, err := findOrbitFile(e.orbitName, e.orbitFile)
	if err != nil {
		return err
	}
	region := e.region
	if e.allRegions {
		region = ""
	}
	if e.orbit, err = readOrbit(file, region); err != nil {
		return err
	}
	if e.orbit.Name != e.orbitName {
		return elevator.Errorf(elevator.EINVALID, "--orbit %s, but %s describes orbit %s", e.orbitName, file, e.orbit.Name)
	}
	e.configs = orbitConfigs(e.globals, e.orbit)
	return nil
}

// tables returns the orbit's SSH tables in each of its regions.
func (e *orbitEnv) tables(ctx context.Context) (access.Tables, error) {
	t := access.Tables{Orbit: e.orbit.Name}
	for _, r := range e.orbit.Regions {
		cfg, err := e.configs.For(ctx, r.Name)
		if err != nil {
			return t, err
		}
		t.Regions = append(t.Regions, access.Region{Name: r.Name, Items: dynamodb.New(cfg)})
	}
	return t, nil
}

// orbitNotUp turns a missing SSH table into advice.
func (e *orbitEnv) orbitNotUp(err error) error {
	if errors.Is(err, dynamodb.ErrTableNotFound) {
		return elevator.Errorf(elevator.ENOTFOUND, "orbit %s has no SSH tables (%s, %s) in a region: run `elevator orbit up` first: %w",
			e.orbit.Name, elevator.UsersTableName(e.orbit.Name), elevator.ServicesTableName(e.orbit.Name), err)
	}
	return err
}

// checkAppService checks --app and --service (which needs --app).
func checkAppService(app, service string, appRequired bool) error {
	if app == "" {
		if appRequired {
			return elevator.Errorf(elevator.EINVALID, "--app is required")
		}
		if service != "" {
			return elevator.Errorf(elevator.EINVALID, "--service %s needs --app: a service belongs to an app", service)
		}
		return nil
	}
	if err := elevator.CheckName("--app", app); err != nil {
		return err
	}
	if service != "" {
		return elevator.CheckName("--service", service)
	}
	return nil
}

func newAccessCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "access",
		Short: "Grant, revoke and list SSH access to an orbit's instances",
		Long: `Who may log in to an orbit's instances is kept in two tables of the orbit, in
every region: ` + elevator.UsersTableName("<orbit>") + ` (an item per user: name, keys) and
` + elevator.ServicesTableName("<orbit>") + ` (an item per scope: name, admins). The agent on each instance
reads them at every login, so a grant or a revoke takes effect at the next
login, with no release. These commands write both tables in every region of
the orbit (or --region), and record who changed what and when.

Scopes: without --app, a grant makes the user an operator (every host of the
orbit, the item ` + elevator.AgentOperators + `; spacel's ` + elevator.AgentSpacelOperators + ` counts as the
same); --app A lets the user on app A's hosts, --app A --service S on that
service's only.`,
	}
	cmd.AddCommand(newAccessChangeCmd(g, true), newAccessChangeCmd(g, false), newAccessListCmd(g))
	return cmd
}

func newAccessChangeCmd(g *globals, grant bool) *cobra.Command {
	e := &orbitEnv{globals: g}
	var user, app, service string
	var keyFiles []string
	var all bool
	var keys []access.Key
	c := &cobra.Command{Use: "grant", Args: noArgs,
		Short: "Let a user log in to an orbit's instances: add their public keys and a scope, in every region",
		Example: `  elevator access grant --orbit production --user alice --key ~/.ssh/id_ed25519.pub              # operator: every host
  elevator access grant --orbit production --user bob --key bob.pub --app shop --service web   # shop's web hosts only`,
	}
	if !grant {
		c.Use = "revoke"
		c.Short = "Take access away: a scope, a key (--key), or everything (--all), in every region"
		c.Example = `  elevator access revoke --orbit production --user bob --app shop      # bob no longer reaches shop's hosts
  elevator access revoke --orbit production --user bob --key old.pub   # that key no longer logs in
  elevator access revoke --orbit production --user bob --all           # bob is gone everywhere`
	}
	validate := func() error {
		if err := e.validate(); err != nil {
			return err
		}
		if user == "" {
			return elevator.Errorf(elevator.EINVALID, "--user is required")
		}
		if err := elevator.CheckUserName(user); err != nil {
			return elevator.Errorf(elevator.EINVALID, "--user: %w", err)
		}
		if err := checkAppService(app, service, false); err != nil {
			return err
		}
		if all && (len(keyFiles) > 0 || app != "") {
			return elevator.Errorf(elevator.EINVALID, "--all takes every key and scope away: give it without --key or --app")
		}
		keys = nil
		for _, f := range keyFiles {
			data, err := os.ReadFile(f)
			if err != nil {
				return elevator.Errorf(elevator.EINVALID, "--key %s: %v", f, err)
			}
			ks, err := access.ParseKeys(f, data)
			if err != nil {
				return err
			}
			keys = append(keys, ks...)
		}
		return nil
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := validate(); err != nil {
			return err
		}
		ctx := cmd.Context()
		change := access.Change{User: user, Grant: grant, Keys: keys, All: all, At: time.Now().UTC()}
		// A grant always has a scope (operators without --app); a revoke
		// takes away the scope it names, or, given only keys, only them.
		if !all && (grant || app != "" || len(keys) == 0) {
			change.Scope = &access.Scope{App: app, Service: service}
		}
		tables, err := e.tables(ctx)
		if err != nil {
			return err
		}
		home, err := e.configs.For(ctx, e.orbit.Regions[0].Name)
		if err != nil {
			return err
		}
		id, err := sts.New(home).CallerIdentity(ctx)
		if err != nil {
			return err
		}
		change.By = id.ARN
		if grant && app != "" {
			if err := checkAppExists(ctx, cloudformation.New(home), e.orbit, app, service); err != nil {
				return err
			}
		}
		results, err := tables.Apply(ctx, change)
		if err != nil {
			return e.orbitNotUp(err)
		}
		if g.json() {
			return g.printJSON(map[string]any{"orbit": e.orbit.Name, "user": user, "action": c.Name(), "regions": results})
		}
		printAccessResults(g.stdout, c.Name(), user, results)
		return nil
	}
	e.addFlags(c)
	c.Flags().StringVar(&user, "user", "", "the user: their Linux user name on the instances (required)")
	c.Flags().StringArrayVar(&keyFiles, "key", nil, "a file of OpenSSH public keys, one per line (# comments allowed); may be repeated")
	c.Flags().StringVar(&app, "app", "", "the app whose hosts (default: every host of the orbit: an operator)")
	c.Flags().StringVar(&service, "service", "", "only this service of --app")
	if !grant {
		c.Flags().BoolVar(&all, "all", false, "take every key and scope of the user away")
	}
	return c
}

// checkAppExists returns an EINVALID error unless app is up in the orbit's
// first region and, when service is set, has that service.
func checkAppExists(ctx context.Context, stacks *cloudformation.Client, o *elevator.Orbit, app, service string) error {
	a := &elevator.App{Name: app}
	out, err := (&apply.Engine{Stacks: stacks}).Outputs(ctx, a.StackName(o.Name))
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return elevator.Errorf(elevator.EINVALID, "--app %s: orbit %s has no app %s (no stack %s in %s); apps are brought up with `elevator app up`", app, o.Name, app, a.StackName(o.Name), stacks.Region())
	}
	if err != nil {
		return err
	}
	if service == "" {
		return nil
	}
	if _, ok := out[compile.ServiceOutput(service, "SecurityGroup")]; !ok {
		var have []string
		for k := range out {
			if s, ok := strings.CutSuffix(k, "SecurityGroup"); ok && s != "" {
				have = append(have, s)
			}
		}
		slices.Sort(have)
		return elevator.Errorf(elevator.EINVALID, "--service %s: app %s in orbit %s has no service %s (its stack %s in %s has services %s)", service, app, o.Name, service, a.StackName(o.Name), stacks.Region(), strings.Join(have, ", "))
	}
	return nil
}

func newAccessListCmd(g *globals) *cobra.Command {
	e := &orbitEnv{globals: g}
	var user string
	var withHistory bool
	c := &cobra.Command{Use: "list", Args: noArgs,
		Short: "List who may log in where: users, their keys' fingerprints and scopes, in every region"}
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := e.validate(); err != nil {
			return err
		}
		if user != "" {
			if err := elevator.CheckUserName(user); err != nil {
				return elevator.Errorf(elevator.EINVALID, "--user: %w", err)
			}
		}
		tables, err := e.tables(cmd.Context())
		if err != nil {
			return err
		}
		users, err := tables.List(cmd.Context(), user, withHistory)
		if err != nil {
			return e.orbitNotUp(err)
		}
		if g.json() {
			return g.printJSON(map[string]any{"orbit": e.orbit.Name, "regions": regionNames(e.orbit), "users": users})
		}
		printAccessList(g.stdout, e.orbit, user, users)
		return nil
	}
	e.addFlags(c)
	c.Flags().StringVar(&user, "user", "", "only this user")
	c.Flags().BoolVar(&withHistory, "history", false, "show each user's last changes (who, when, what)")
	return c
}

// printAccessResults says what a grant or revoke did in each region.
func printAccessResults(w io.Writer, verb, user string, results []access.Result) {
	for _, r := range results {
		if len(r.Changes) == 0 {
			fmt.Fprintf(w, "%s  %s: nothing to %s (so already)\n", r.Region, user, verb)
			continue
		}
		for _, c := range r.Changes {
			fmt.Fprintf(w, "%s  %s\n", r.Region, describeEntry(c))
		}
		if r.Keys == 0 && verb == "grant" {
			fmt.Fprintf(w, "%s  %s has no key there: they cannot log in until granted one with --key FILE\n", r.Region, user)
		}
	}
}

// describeEntry says what a history entry did, for people.
func describeEntry(e access.Entry) string {
	switch e.Action {
	case access.ActionGrant:
		return fmt.Sprintf("%s granted %s", e.User, access.ScopeOf(e.Scope))
	case access.ActionRevoke:
		return fmt.Sprintf("%s revoked from %s (item %s)", e.User, access.ScopeOf(e.Scope), e.Scope)
	case access.ActionAddKey:
		return fmt.Sprintf("%s key %s added", e.User, e.Key)
	case access.ActionRemoveKey:
		return fmt.Sprintf("%s key %s removed", e.User, e.Key)
	}
	return e.User + " " + e.Action
}

// printAccessList writes each user, keys and scopes, naming the regions
// of whatever is not in every region of the orbit.
func printAccessList(w io.Writer, o *elevator.Orbit, user string, users []access.User) {
	if len(users) == 0 && user != "" {
		fmt.Fprintf(w, "%s has no key and no scope in orbit %s\n", user, o.Name)
		return
	}
	if len(users) == 0 {
		fmt.Fprintf(w, "nobody may log in to orbit %s's instances (grant with: elevator access grant --orbit %s --user NAME --key FILE)\n", o.Name, o.Name)
		return
	}
	all := regionNames(o)
	where := func(regions []string) string {
		if slices.Equal(regions, all) {
			return ""
		}
		return "  (only in " + strings.Join(regions, ", ") + ")"
	}
	for i, u := range users {
		if i > 0 {
			fmt.Fprintln(w)
		}
		line := u.Name
		if u.UpdatedBy != "" {
			line += fmt.Sprintf("  (changed %s by %s)", u.UpdatedAt.Format(time.RFC3339), u.UpdatedBy)
		}
		fmt.Fprintln(w, line)
		if len(u.Keys) == 0 {
			fmt.Fprintln(w, "  key    none: this user cannot log in")
		}
		for _, k := range u.Keys {
			fmt.Fprintf(w, "  key    %s  %s  %s%s\n", k.Fingerprint, k.Type, k.Comment, where(k.Regions))
		}
		if len(u.Scopes) == 0 {
			fmt.Fprintln(w, "  scope  none: this user reaches no host")
		}
		for _, s := range u.Scopes {
			fmt.Fprintf(w, "  scope  %s%s\n", s.Scope, where(s.Regions))
		}
		for _, h := range u.History {
			fmt.Fprintf(w, "  %s  %s  by %s\n", h.At.Format(time.RFC3339), describeEntry(h), h.By)
		}
	}
}
