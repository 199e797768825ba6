package elevator

import "regexp"

// This file holds what `elevator access` and the agent on an instance
// agree on about people: what a user name may be, and the orbit's SSH
// tables and bastion they meet in.

// userNamePattern is what a Linux user name may be (useradd's default
// NAME_REGEX, lower case only): the agent creates an account of that name
// on the instances the user may reach.
var userNamePattern = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// CheckUserName returns an EINVALID error unless name can be a Linux user
// name on an instance: 1 to 32 lower-case letters, digits, '_' or '-',
// starting with a letter or '_'.
func CheckUserName(name string) error {
	if !userNamePattern.MatchString(name) {
		return Errorf(EINVALID, "user name %q: want a Linux user name, 1 to 32 lower-case letters, digits, '_' or '-', starting with a letter or '_'", name)
	}
	return nil
}

// CheckName returns an EINVALID error unless name can be the name of an
// app or a service (what is the same as the manifests allow): 1 to 20
// lower-case letters, digits or '-', starting with a letter. what says
// which, for the message: "--app".
func CheckName(what, name string) error {
	if !namePattern.MatchString(name) {
		return Errorf(EINVALID, "%s %q: want 1 to 20 lower-case letters, digits or '-', starting with a letter", what, name)
	}
	return nil
}

// UsersTableName is the name of an orbit's SSH users table in each of its
// regions: an item per user, {name: S, keys: SS of OpenSSH public key
// lines}, as spacel wrote it.
func UsersTableName(orbit string) string { return orbit + "-users" }

// ServicesTableName is the name of an orbit's SSH services table in each of
// its regions: an item per scope, {name: S, admins: SS of user names},
// whose name is an app, "<app>/<service>", AgentOperators or
// AgentSpacelOperators.
func ServicesTableName(orbit string) string { return orbit + "-services" }

// BastionName is the Name tag of an orbit's bastion group and of the
// instances it launches, in each region.
func BastionName(orbit string) string { return orbit + "-bastion" }
