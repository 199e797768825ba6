package elevator

import "strings"

// SubmissionsPrefix is the prefix of the keys under which releases are
// submitted to an orbit's deployers: a submission is an object in the
// state bucket of the orbit's first region whose key is SubmissionKey of
// the release id, whose body is the release's canonical JSON
// (Release.Canonical), and whose metadata SubmissionChecksumMeta holds its
// ChecksumOf. The orbit stack sends the bucket's notifications of objects
// created under it to the queue SubmissionsQueueName.
const SubmissionsPrefix = "submissions/"

// SubmissionChecksumMeta is the name of the object metadata
// (x-amz-meta-sha256) holding a submission's checksum.
const SubmissionChecksumMeta = "sha256"

// SubmissionKey is the key of the submission of the release id:
// submissions/<id>.json.
func SubmissionKey(id string) string { return SubmissionsPrefix + id + ".json" }

// SubmissionID returns the release id a submission key names, and false
// when key is not of the form SubmissionKey makes (the id is not checked:
// see CheckReleaseID).
func SubmissionID(key string) (string, bool) {
	id, ok := strings.CutPrefix(key, SubmissionsPrefix)
	if !ok {
		return "", false
	}
	id, ok = strings.CutSuffix(id, ".json")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// RejectedKey is where a deployer moves the submission of release id it
// refused: rejected/<id>.json, with the submission's metadata and
// RejectedReasonMeta.
func RejectedKey(id string) string { return RejectedPrefix + id + ".json" }

// RejectedReasonMeta is the name of the object metadata
// (x-amz-meta-rejected-reason) of a rejected submission that says why the
// deployer refused it: the first line of the reason, printable ASCII only,
// at most MaxRejectedReason bytes (the audit log keeps it whole).
const RejectedReasonMeta = "rejected-reason"

// MaxRejectedReason caps RejectedReasonMeta: S3 allows 2 KB of user
// metadata in all.
const MaxRejectedReason = 512

// RejectedReason is reason as RejectedReasonMeta keeps it.
func RejectedReason(reason string) string {
	if i := strings.IndexByte(reason, '\n'); i >= 0 {
		reason = reason[:i]
	}
	b := []byte(reason)
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	if len(b) > MaxRejectedReason {
		b = b[:MaxRejectedReason]
	}
	return string(b)
}

// SubmissionsQueueName is the name of the SQS queue that receives the
// notifications of an orbit's submissions: <orbit>-elevator-submissions.
func SubmissionsQueueName(orbit string) string { return orbit + "-elevator-submissions" }

// SubmissionsDLQName is the name of the dead-letter queue of
// SubmissionsQueueName: messages received SubmissionsMaxReceives times
// without being deleted end there.
func SubmissionsDLQName(orbit string) string { return SubmissionsQueueName(orbit) + "-dlq" }

// SubmissionsMaxReceives is how many times the submissions queue hands out
// a message before it moves it to the dead-letter queue.
const SubmissionsMaxReceives = 5

// Prefixes of the state bucket's keys besides submissions: the release
// engine's documents (releases/<id>/release.json and its checksum), the
// audit log (audit/<yyyy>/<mm>/<dd>/...), and the submissions a deployer
// refused (rejected/<name>).
const (
	ReleasesPrefix = "releases/"
	AuditPrefix    = "audit/"
	RejectedPrefix = "rejected/"
)
