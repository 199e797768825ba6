package elevator

import (
	"strings"
	"testing"
)

func TestCheckUserNameTakesOnlyLinuxUserNames(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"alice", "svc_2", "a", "bob-smith", "ops_2", strings.Repeat("a", 32)} {
		if err := CheckUserName(ok); err != nil {
			t.Errorf("CheckUserName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Alice", "1bob", "-bob", "bob smith", "bob@x", "root\n", "root", "ec2-user", "ubuntu", "systemd-network", "_apt", strings.Repeat("a", 33), "élodie"} {
		if err := CheckUserName(bad); ErrorCode(err) != EINVALID {
			t.Errorf("CheckUserName(%q) = %v, want EINVALID", bad, err)
		}
	}
}
