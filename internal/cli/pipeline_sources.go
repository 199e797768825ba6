package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/pipeline"
	"github.com/elevatorhq/elevator/internal/pipeline/stagerelease"
)

// readSources reads the app manifest and the manifests of the pipeline's
// orbits as they are now: what `pipeline start` pins for the execution.
func (p *pipelineEnv) readSources() (*elevator.PipelineSources, error) {
	text, err := manifest.ReadFile(p.file)
	if err != nil {
		return nil, elevator.Errorf(elevator.EINVALID, "read app manifest %s: %w", p.file, err)
	}
	src := &elevator.PipelineSources{App: elevator.ManifestSource{File: p.file, Text: string(text)}}
	for _, name := range slices.Sorted(maps.Keys(p.orbitFileOf)) {
		f := p.orbitFileOf[name]
		text, err := manifest.ReadFile(f)
		if err != nil {
			return nil, elevator.Errorf(elevator.EINVALID, "read orbit manifest %s: %w", f, err)
		}
		src.Orbits = append(src.Orbits, elevator.ManifestSource{File: f, Text: string(text)})
	}
	return src, nil
}

// useSources makes the stages of execution e compile from the manifests
// it pinned, and warns when the app manifest on disk differs: the
// execution ships what it started with. An execution that pinned none
// (it started before executions kept them) reads the files, as then.
func (p *pipelineEnv) useSources(ctx context.Context, e *elevator.PipelineExecution) error {
	for _, s := range e.Pipeline.Stages {
		for _, o := range s.Orbits {
			if p.orbits[o] == nil {
				return elevator.Errorf(elevator.EINVALID, "pipeline %s releases into orbit %s (stage %s), which the pipeline of %s no longer names: pass its manifest with --orbit-file", e.ID, o, s.Name, p.file)
			}
		}
	}
	if e.Sources == nil {
		fmt.Fprintf(p.stderr, "warning: pipeline %s keeps no manifests (it started before executions kept them); its stages compile from %s as it is now\n", e.ID, p.file)
		return nil
	}
	src, err := p.store.Sources(ctx, e)
	if err != nil {
		return err
	}
	p.sources = src
	if now, err := manifest.ReadFile(p.file); err == nil && string(now) != src.App.Text {
		fmt.Fprintf(p.stderr, "warning: %s differs from the app manifest pipeline %s started with (sha256 of the sources %s); the execution ships the one it started with — start a new execution to ship the new one\n",
			p.file, e.ID, e.Sources.SHA256[:12])
	}
	return nil
}

// stageApp is the app manifest merged for orbit that a stage ships: the
// execution's pinned one, or the file's when it pinned none.
func (p *pipelineEnv) stageApp(orbit string) (*elevator.App, error) {
	if p.sources != nil {
		return stagerelease.App(p.sources, orbit)
	}
	return readApp(p.file, orbit)
}

// pinnedExecutor pins the manifests as they are now for execution id (in
// the first orbit's state bucket) and returns the executor that records
// them at Start.
func (p *pipelineEnv) pinnedExecutor(ctx context.Context, id string) (*pipeline.Executor, error) {
	src, err := p.readSources()
	if err != nil {
		return nil, err
	}
	ref, err := p.store.PutSources(ctx, p.app.Name, id, src)
	if err != nil {
		return nil, err
	}
	p.sources = src
	x := p.executor()
	x.Sources = ref
	return x, nil
}

// startOptions are the flags of `pipeline start` that say where the
// execution runs.
type startOptions struct {
	inProcess, watch bool
	// deployer is the URL of the first stage's orbit's deployer, which
	// drives the execution ("": this process does).
	deployer string
	w        watchOptions
}

func (s *startOptions) addFlags(c *cobra.Command) {
	c.Flags().BoolVar(&s.inProcess, "in-process", false, "run the execution in this process even when the first stage's orbit has a deployer")
	c.Flags().BoolVar(&s.watch, "watch", false, "when the deployer drives the execution, follow it as 'pipeline watch' does")
	s.w.addFlags(c)
}

func (s *startOptions) validate(p *pipelineEnv) error {
	if err := s.w.validate(); err != nil {
		return err
	}
	if s.inProcess {
		if s.watch {
			return elevator.Errorf(elevator.EINVALID, "--watch follows an execution a deployer drives; with --in-process this command runs it and prints its progress")
		}
		return nil
	}
	first := p.orbits[p.app.Pipeline.Stages[0].Orbits[0]]
	var err error
	if s.deployer, err = elevator.Deployer(p.globals.deployer, p.deployerEnv, first); err != nil {
		return err
	}
	if s.watch && s.deployer == "" {
		return elevator.Errorf(elevator.EINVALID, "--watch: orbit %s has no deployer (--deployer, $%s or its manifest's deployer:), so this command runs the execution and prints its progress itself", first.Name, elevator.DeployerEnv)
	}
	return nil
}

// leave leaves the execution it started to the first orbit's deployer:
// it prints it, or follows it with --watch.
func (s *startOptions) leave(ctx context.Context, p *pipelineEnv, e *elevator.PipelineExecution) error {
	fmt.Fprintf(p.stderr, "pipeline %s of %s %s: the deployer of orbit %s (%s) drives it (follow it with: elevator pipeline watch %s -f %s)\n",
		e.ID, e.App, e.Version, e.Pipeline.Stages[0].Orbits[0], s.deployer, e.ID, p.file)
	if s.watch {
		return s.w.run(ctx, p, e.ID)
	}
	return p.finishExecution(e)
}

// continues says who goes on with execution id after a decision: the
// first orbit's deployer when it has one, else `pipeline resume`.
func (p *pipelineEnv) continues(id string) string {
	first := p.orbits[p.app.Pipeline.Stages[0].Orbits[0]]
	if url, err := elevator.Deployer(p.globals.deployer, p.deployerEnv, first); err == nil && url != "" {
		return fmt.Sprintf("the deployer of orbit %s continues it ('elevator pipeline watch %s' follows it)", first.Name, id)
	}
	return fmt.Sprintf("'elevator pipeline resume %s' continues it", id)
}
