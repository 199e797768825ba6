package elevator

import "strings"

// PipelineSources are what a pipeline execution ships, as it was read
// when it started: the app manifest, as its file's name and text. Every
// stage's release is compiled from it — in any process, after any resume —
// not from whatever the file says later. Orbits are the manifests of the
// pipeline's orbits then: what the first orbit's deployer, which has only
// its own orbit's manifest, knows of the others (their regions, their
// deployer); the command line reads the orbits' files. They are kept as one JSON
// object under PipelineSourcesKey in the state bucket of the home region
// of the first stage's orbit, and the execution holds its sha256
// (PipelineExecution.Sources), checked on every read.
type PipelineSources struct {
	App    ManifestSource   `json:"app"`
	Orbits []ManifestSource `json:"orbits,omitempty"`
}

// ManifestSource is a manifest as read: its file's name (for the
// file:line:column of errors) and its text.
type ManifestSource struct {
	File string `json:"file"`
	Text string `json:"text"`
}

// PipelineSourcesRef names the sources of an execution: the key of their
// object in the first stage's orbit's state bucket and the sha256 of its
// body.
type PipelineSourcesRef struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// PipelinesPrefix is the prefix of the state bucket's keys that hold
// pipeline executions' sources.
const PipelinesPrefix = "pipelines/"

// PipelineSourcesKey is the key of the sources of execution id of app:
// pipelines/<app>/<id>/sources.json.
func PipelineSourcesKey(app, id string) string {
	return PipelinesPrefix + app + "/" + id + "/sources.json"
}

// PipelineIndexKey is the hash key ("app") of the index items of an
// orbit's releases table that list the pipeline executions that have not
// ended: one item per execution, whose range key is
// PipelineIndexEntry(app, id), written before the execution's first
// record and deleted after its last. A deployer queries this one
// partition to find the executions to drive, instead of scanning the
// table.
const PipelineIndexKey = PipelineKeyPrefix

// PipelineIndexEntry is the range key of execution id of app in the
// index: <app>/<id>.
func PipelineIndexEntry(app, id string) string { return app + "/" + id }

// ParsePipelineIndexEntry returns the app and execution id of an index
// entry, and false when entry is not of the form PipelineIndexEntry makes.
func ParsePipelineIndexEntry(entry string) (app, id string, ok bool) {
	app, id, ok = strings.Cut(entry, "/")
	return app, id, ok && app != "" && id != "" && !strings.Contains(id, "/")
}
