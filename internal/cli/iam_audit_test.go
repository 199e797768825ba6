package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// TestIAMAuditIsWrittenAfterCtrlCAndItsFailureReported: the audit store
// is a fake that, like the real one, fails on a cancelled context. After
// Ctrl-C (the command's context cancelled) the entry is still written;
// a failure to write it is reported, with the apply's own error if any.
func TestIAMAuditIsWrittenAfterCtrlCAndItsFailureReported(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var written []elevator.AuditEntry
	store := func(ctx context.Context, e elevator.AuditEntry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		written = append(written, e)
		return nil
	}
	applyErr := elevator.Errorf(elevator.EINTERRUPTED, "create user alice: interrupted")
	entry := elevator.AuditEntry{Action: elevator.AuditIAMApply, Outcome: "failed"}
	if err := writeAudit(ctx, store, entry, applyErr, "the changes were made"); err != applyErr {
		t.Errorf("err = %v; want the apply's error alone", err)
	}
	if len(written) != 1 || written[0].Outcome != "failed" {
		t.Fatalf("entries written after Ctrl-C: %+v; want the failed apply's", written)
	}

	lost := errors.New("bucket unreachable")
	broken := func(context.Context, elevator.AuditEntry) error { return lost }
	err := writeAudit(ctx, broken, entry, applyErr, "the changes were made")
	if !errors.Is(err, lost) || !errors.Is(err, applyErr) || elevator.ErrorCode(err) != elevator.EINTERRUPTED {
		t.Errorf("err = %v (code %s); want the apply's error and the audit's, with the apply's code", err, elevator.ErrorCode(err))
	}
	err = writeAudit(ctx, broken, entry, nil, "the keys were deactivated")
	if !errors.Is(err, lost) || !strings.Contains(err.Error(), "the keys were deactivated, but the audit entry was not written") {
		t.Errorf("err = %v; want the audit's failure", err)
	}
}
