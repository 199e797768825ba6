package emulator

import "syscall"

func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		// Its own session (and so its own process group, with no
		// controlling terminal): it survives the command that started it.
		return &syscall.SysProcAttr{Setsid: true}
	}
	// If whoever started it dies without stopping it (a test binary killed
	// on timeout), moto goes too instead of holding a port forever.
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
