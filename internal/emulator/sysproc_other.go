//go:build !linux

package emulator

import "syscall"

func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		// Its own session (and so its own process group, with no
		// controlling terminal): it survives the command that started it.
		return &syscall.SysProcAttr{Setsid: true}
	}
	return nil
}
