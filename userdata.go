package elevator

import "strings"

// UserDataVars are the values of the placeholders in a service's user
// data (ReleaseService.UserData).
type UserDataVars struct {
	ReleaseID, App, Orbit, Service, Region, Version string
}

// ExpandUserData replaces {{RELEASE_ID}}, {{APP}}, {{ORBIT}}, {{SERVICE}},
// {{REGION}} and {{VERSION}} in s with v's values, everywhere (unit files
// and environment values included). Other text is left as it is.
//
// The placeholders sit inside text quoted for a shell or a systemd unit
// before the values are known, so a value must need no quoting anywhere:
// Release.Check admits only ids from NewReleaseID, names of lower-case
// letters, digits and '-', region names and OCI image tags (CheckVersion),
// none of which holds a space, a quote, '$', '%' or '\'. The engine checks
// every release before it expands anything.
func ExpandUserData(s string, v UserDataVars) string {
	return strings.NewReplacer(
		"{{RELEASE_ID}}", v.ReleaseID,
		"{{APP}}", v.App,
		"{{ORBIT}}", v.Orbit,
		"{{SERVICE}}", v.Service,
		"{{REGION}}", v.Region,
		"{{VERSION}}", v.Version,
	).Replace(s)
}
