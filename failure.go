package elevator

// ReleaseFailure says why a release failed, in a word a program can check.
// The engine stores it in the release's record (ReleaseRecord.Failure), and
// ReleaseRecord.Err returns an error that wraps it, so that callers ask
// errors.Is(rec.Err(), elevator.FailureHalted) instead of reading the
// message. It is an error itself so that the engine's steps can wrap it in
// the errors they return.
type ReleaseFailure string

// Error returns the failure's word, such as "halted".
func (f ReleaseFailure) Error() string { return string(f) }

// Why releases fail.
const (
	// FailureInvalid: Validate, or a resume, refused the stored document
	// (its checksum, structure or age, or a region the engine cannot
	// reach).
	FailureInvalid ReleaseFailure = "invalid"
	// FailureLocked: another release holds the app's lock in the orbit.
	FailureLocked ReleaseFailure = "locked"
	// FailureUnusableResources: a resource the release uses is missing or
	// not tagged for it, or a group already carries the release's id.
	FailureUnusableResources ReleaseFailure = "unusable_resources"
	// FailureUnhealthy: the new groups were not healthy before the timeout.
	FailureUnhealthy ReleaseFailure = "unhealthy"
	// FailureTerminating: max_terms instances of a new group were
	// terminating.
	FailureTerminating ReleaseFailure = "terminating"
	// FailureConflict: someone else deleted, or is deleting, a group the
	// release made.
	FailureConflict ReleaseFailure = "conflict"
	// FailureHalted: an operator halted the release before cut-over.
	FailureHalted ReleaseFailure = "halted"
	// FailureLockLost: the lock was broken or taken by another release
	// while no engine ran this one.
	FailureLockLost ReleaseFailure = "lock_lost"
	// FailureSuperseded: the release was resumed after a release of the
	// same app and orbit, made after it, had taken the lock; moving on
	// would have put an older release over a newer one.
	FailureSuperseded ReleaseFailure = "superseded"
	// FailureTest: a smoke or integration test failed (its output is in
	// the record's tests).
	FailureTest ReleaseFailure = "test_failed"
	// FailureAlarm: a watched alarm went into ALARM (or had no data, when
	// missing data breaches) during the gates.
	FailureAlarm ReleaseFailure = "alarm"
	// FailureStep: a step kept failing until its attempts ran out, or AWS
	// refused one of its requests as invalid.
	FailureStep ReleaseFailure = "step_failed"
	// FailureLeftBehind: cleanup could not remove everything; the release
	// ends FailureDirty and names what is left (ReleaseRecord.Leftovers).
	FailureLeftBehind ReleaseFailure = "left_behind"
	// FailureInternal: the engine asked for a transition its table does
	// not have, a bug.
	FailureInternal ReleaseFailure = "internal"
)

// Err returns why the release failed, or nil when nothing went wrong (so
// far). Its message is the record's Error; it wraps the record's Failure,
// and FailureLeftBehind as well when cleanup left something behind.
func (r *ReleaseRecord) Err() error {
	var causes []error
	if r.Failure != "" {
		causes = append(causes, r.Failure)
	}
	if len(r.Leftovers) > 0 && r.Failure != FailureLeftBehind {
		causes = append(causes, FailureLeftBehind)
	}
	if !r.Failed && len(causes) == 0 {
		return nil
	}
	msg := r.Error
	if msg == "" && len(causes) > 0 {
		msg = causes[0].Error()
	}
	return &releaseError{msg: msg, causes: causes}
}

// releaseError is the error ReleaseRecord.Err returns.
type releaseError struct {
	msg    string
	causes []error
}

func (e *releaseError) Error() string   { return e.msg }
func (e *releaseError) Unwrap() []error { return e.causes }
