package elevator

import (
	"encoding/json"
	"fmt"
	"time"
)

// OrbitSettingsKey is the key, in the state bucket of an orbit's home
// region, of the orbit's settings as `orbit up` last applied them
// (OrbitSettings, as JSON). Pipeline decisions read who holds which role
// and whether the starter may approve from it, never from a manifest the
// caller hands in. No prefix the submitter or deployer policies may write
// holds it: only principals allowed to write the whole bucket (the orbit's
// admins, who run `orbit up`) can change it.
const OrbitSettingsKey = "orbit/settings.json"

// OrbitSettings are the parts of an orbit's manifest that say who may
// decide what in pipelines, as `orbit up` applied them.
type OrbitSettings struct {
	Orbit        string              `json:"orbit"`
	Access       []OrbitSettingsRule `json:"access,omitempty"`
	SelfApproval bool                `json:"self_approval,omitempty"`
	// IdentityCenterRoles are the roles on IdentityCenterRolePath of the
	// orbit's account that `orbit up` found, as pathless role ARNs
	// (arn:aws:iam::ACCOUNT:role/AWSReservedSSO_...).
	IdentityCenterRoles []string  `json:"identity_center_roles,omitempty"`
	AppliedAt           time.Time `json:"applied_at,omitzero"`
}

// OrbitSettingsRule is an AccessRule as OrbitSettings store it.
type OrbitSettingsRule struct {
	Role       AccessRole `json:"role"`
	Principals []string   `json:"principals"`
	Apps       []string   `json:"apps,omitempty"`
}

// Settings returns the orbit's settings that OrbitSettingsKey stores,
// applied at at.
func (o *Orbit) Settings(at time.Time) OrbitSettings {
	s := OrbitSettings{Orbit: o.Name, SelfApproval: o.SelfApproval, AppliedAt: at.UTC()}
	for _, r := range o.Access {
		s.Access = append(s.Access, OrbitSettingsRule{Role: r.Role, Principals: r.Principals, Apps: r.Apps})
	}
	return s
}

// ParseOrbitSettings reads the settings of orbit stored under
// OrbitSettingsKey. It returns an EINVALID error for a document that is
// not OrbitSettings of that orbit, or that names an unknown role.
func ParseOrbitSettings(orbit string, body []byte) (*OrbitSettings, error) {
	var s OrbitSettings
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, Errorf(EINVALID, "the settings of orbit %s (%s): %v", orbit, OrbitSettingsKey, err)
	}
	if s.Orbit != orbit {
		return nil, Errorf(EINVALID, "the settings of orbit %s (%s) are those of orbit %q", orbit, OrbitSettingsKey, s.Orbit)
	}
	for i, r := range s.Access {
		if !r.Role.Valid() {
			return nil, Errorf(EINVALID, "the settings of orbit %s (%s): access[%d] role %q: not a role", orbit, OrbitSettingsKey, i, r.Role)
		}
	}
	return &s, nil
}

// Deployed returns an Orbit that holds only what the settings say: its
// name, access rules and self-approval. Its RoleOf answers as the orbit
// as applied does.
func (s *OrbitSettings) Deployed() *Orbit {
	o := &Orbit{Name: s.Orbit, SelfApproval: s.SelfApproval, IdentityCenterRoles: s.IdentityCenterRoles}
	for i, r := range s.Access {
		o.Access = append(o.Access, AccessRule{Role: r.Role, Principals: r.Principals, Apps: r.Apps, Path: fmt.Sprintf("%s access[%d]", OrbitSettingsKey, i)})
	}
	return o
}
