package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// Every call the API serves is audited before it acts: an entry of action
// elevator.AuditCall with the caller's ARN (from STS's answer), its
// session name and the access key id it signed with. When the entry
// cannot be written the call is not served: nothing happens through the
// API that the audit log does not show.
//
// Every refused call (401, 403) is audited too, but a flood of them must
// not fill the bucket: refusals are written through a token bucket per
// source (the caller's ARN once STS named it, else the client's address)
// and one for all sources together. A refusal over the limit is counted,
// and the count goes into the source's next entry (Suppressed), so the
// log still says how many there were.

// RefusalLimit bounds the audit entries of refused calls.
type RefusalLimit struct {
	// Burst entries a source may write at once, then one more every
	// Every. Defaults: 20, 6s (10 a minute).
	Burst int
	Every time.Duration
	// GlobalBurst and GlobalEvery bound all sources together, so that
	// many addresses cannot fill the log either. Defaults: 100, 1s.
	GlobalBurst int
	GlobalEvery time.Duration
}

func (l RefusalLimit) withDefaults() RefusalLimit {
	if l.Burst <= 0 {
		l.Burst = 20
	}
	if l.Every <= 0 {
		l.Every = 6 * time.Second
	}
	if l.GlobalBurst <= 0 {
		l.GlobalBurst = 100
	}
	if l.GlobalEvery <= 0 {
		l.GlobalEvery = time.Second
	}
	return l
}

// maxSources bounds the sources the limiter tracks; past it, sources
// whose buckets are full again are forgotten (their suppressed counts
// kept), and if that is not enough, new sources share one more bucket.
const maxSources = 10_000

// otherSources is the shared bucket's key.
const otherSources = "other sources"

// tokens is a token bucket.
type tokens struct {
	n          float64
	at         time.Time
	suppressed int // refusals not written since the last entry
}

// take refills b to now and takes a token if there is one.
func (b *tokens) take(now time.Time, burst int, every time.Duration) bool {
	if b.at.IsZero() {
		b.n = float64(burst)
	} else if d := now.Sub(b.at); d > 0 {
		b.n = min(float64(burst), b.n+float64(d)/float64(every))
	}
	b.at = now
	if b.n >= 1 {
		b.n--
		return true
	}
	return false
}

// full reports whether b, refilled to now, is full again.
func (b *tokens) full(now time.Time, burst int, every time.Duration) bool {
	return b.n+float64(now.Sub(b.at))/float64(every) >= float64(burst)
}

// RefusalLimiter decides which refusals are written. One limiter may be
// shared by the API and the dashboard a deployer serves (Options.Refusals),
// so that the two together stay within the limit.
type RefusalLimiter struct {
	limit   RefusalLimit
	mu      sync.Mutex
	sources map[string]*tokens
	global  tokens
	// forgotten counts the suppressed refusals of sources forgotten
	// before they wrote again; the next entry of any source carries it.
	forgotten int
	pruned    time.Time // the last prune
}

// NewRefusalLimiter returns a limiter of l (zero fields take their
// defaults).
func NewRefusalLimiter(l RefusalLimit) *RefusalLimiter {
	return &RefusalLimiter{limit: l.withDefaults(), sources: map[string]*tokens{}}
}

// Admit reports whether a refusal of source at now is written, and if so
// how many of the source's refusals were suppressed before it, and how
// many of sources since forgotten.
func (l *RefusalLimiter) Admit(source string, now time.Time) (write bool, suppressed, others int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.sources[source]
	if !ok {
		// A prune reads every source: at most one per Every, so that a
		// stream of new sources cannot make each refusal cost that.
		if len(l.sources) >= maxSources && now.Sub(l.pruned) >= l.limit.Every {
			l.prune(now)
			l.pruned = now
		}
		if len(l.sources) >= maxSources {
			source = otherSources
			if b = l.sources[source]; b == nil {
				b = &tokens{}
				l.sources[source] = b
			}
		} else {
			b = &tokens{}
			l.sources[source] = b
		}
	}
	// The source's token is taken first: a source over its own limit
	// does not spend the tokens of the others.
	if !b.take(now, l.limit.Burst, l.limit.Every) {
		b.suppressed++
		return false, 0, 0
	}
	if !l.global.take(now, l.limit.GlobalBurst, l.limit.GlobalEvery) {
		b.n++ // not written: the source keeps its token
		b.suppressed++
		return false, 0, 0
	}
	suppressed, others = b.suppressed, l.forgotten
	b.suppressed, l.forgotten = 0, 0
	return true, suppressed, others
}

// prune forgets the sources whose buckets are full again, keeping count
// of what they had suppressed.
func (l *RefusalLimiter) prune(now time.Time) {
	for k, b := range l.sources {
		if k != otherSources && b.full(now, l.limit.Burst, l.limit.Every) {
			l.forgotten += b.suppressed
			delete(l.sources, k)
		}
	}
}

// refusalSource names who a refusal counts against: the caller STS named,
// or the client's address (without its port) when none was proven.
func refusalSource(r *http.Request, ref *Refusal) string {
	if ref.Caller.ARN != "" {
		return ref.Caller.ARN
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "address " + host
}

// auditTimeout bounds an audit write: the answer does not wait on a slow
// audit log for long.
const auditTimeout = 10 * time.Second

// auditCall writes the audit entry of an accepted call, before the call
// acts. It returns an error when the entry could not be written.
func (s *Server) auditCall(r *http.Request, c *call, app string) error {
	has := s.o.Orbit.RoleOf(c.caller.ARN, app)
	e := elevator.AuditEntry{At: s.o.Now().UTC(), By: c.caller.ARN, Action: elevator.AuditCall, App: app, Orbit: s.o.Orbit.Name,
		ReleaseID: r.PathValue("id"), Outcome: "allowed", Detail: c.route.Pattern + " as " + string(has),
		SessionName: c.caller.SessionName, AccessKeyID: c.caller.AccessKeyID}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	if err := s.o.Releases.Audit(ctx, e); err != nil {
		return fmt.Errorf("audit call %s: %w", c.route.Pattern, err)
	}
	return nil
}

// auditRefusal writes the audit entry of a refused call, unless its
// source is over the limit; it reports whether it wrote one.
func (s *Server) auditRefusal(r *http.Request, rt Route, ref *Refusal, app string) bool {
	now := s.o.Now().UTC()
	write, suppressed, others := s.refusals.Admit(refusalSource(r, ref), now)
	if !write {
		return false
	}
	by := ref.Caller.ARN
	if by == "" {
		by = "unauthenticated caller at " + r.RemoteAddr
	}
	detail := rt.Pattern + ": " + ref.Message
	if suppressed > 0 {
		detail += fmt.Sprintf(" (and %d earlier refusals of this source not written, over the limit)", suppressed)
	}
	if others > 0 {
		detail += fmt.Sprintf(" (and %d refusals of other sources not written, over the limit)", others)
	}
	session, key := ref.Caller.SessionName, ref.Caller.AccessKeyID
	if ref.Caller.ARN == "" && key != "" {
		// STS never vouched for it: anyone may name anyone's key.
		detail += fmt.Sprintf(" (the request claimed access key id %s, unverified)", key)
		session, key = "", ""
	}
	e := elevator.AuditEntry{At: now, By: by, Action: elevator.AuditRefused, App: app, Orbit: s.o.Orbit.Name,
		ReleaseID: r.PathValue("id"), Outcome: strconv.Itoa(ref.Status), Detail: detail,
		SessionName: session, AccessKeyID: key, Suppressed: suppressed + others}
	// The entry is written before the caller hears: a refusal within
	// the limit is never unrecorded because the caller hung up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	if err := s.o.Releases.Audit(ctx, e); err != nil {
		s.o.Log.Error("audit refused call", "route", rt.Pattern, "caller", by, "error", err)
	}
	s.o.Log.Warn("refused call", "route", rt.Pattern, "status", ref.Status, "caller", by, "app", app,
		"session", ref.Caller.SessionName, "access_key_id", ref.Caller.AccessKeyID, "reason", ref.Message, "suppressed", suppressed+others)
	return true
}
