package elevator

import (
	"regexp"
	"strings"
)

// This file holds what `elevator access` and the agent on an instance
// agree on about people: what a user name may be, and the orbit's SSH
// tables and bastion they meet in.

// userNamePattern is what a Linux user name may be (useradd's default
// NAME_REGEX, lower case only): the agent creates an account of that name
// on the instances the user may reach.
var userNamePattern = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// reservedUserNames are accounts images already have, or that name a
// system's own service: granting one would hand out root, or the keys of
// an account the agent did not make.
var reservedUserNames = map[string]bool{
	"root": true, "daemon": true, "bin": true, "sys": true, "sync": true, "games": true, "man": true,
	"lp": true, "mail": true, "news": true, "uucp": true, "proxy": true, "www-data": true,
	"backup": true, "list": true, "irc": true, "gnats": true, "nobody": true, "sshd": true,
	"messagebus": true, "polkitd": true, "adm": true, "halt": true, "shutdown": true,
	"operator": true, "ftp": true, "chrony": true, "ec2-user": true, "ec2-instance-connect": true,
	"ssm-user": true, "admin": true, "ubuntu": true, "debian": true, "elevator": true,
}

// CheckUserName returns an EINVALID error unless name can be a Linux user
// name on an instance (1 to 32 lower-case letters, digits, '_' or '-',
// starting with a letter or '_') that is not an account the image has
// already (root, ec2-user, ubuntu, admin, system accounts, names starting
// with systemd- or _).
func CheckUserName(name string) error {
	if !userNamePattern.MatchString(name) {
		return Errorf(EINVALID, "user name %q: want a Linux user name, 1 to 32 lower-case letters, digits, '_' or '-', starting with a letter or '_'", name)
	}
	if reservedUserNames[name] || strings.HasPrefix(name, "systemd-") || strings.HasPrefix(name, "_") {
		return Errorf(EINVALID, "user name %q: an account the image has already (root, ec2-user, ubuntu, admin, system accounts); choose a person's name", name)
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
