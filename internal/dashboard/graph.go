package dashboard

import (
	"fmt"
	"html/template"
	"slices"
	"strings"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// Graph is the release state machine laid out for drawing, built from the
// engine's transition table (release.Transitions), so that a state or
// transition added there shows here.
type Graph struct {
	Nodes []GraphNode
	Edges []GraphEdge
	W, H  int
}

// GraphNode is a state at a place.
type GraphNode struct {
	State elevator.ReleaseState
	X, Y  int // centre
	Layer int
}

// GraphEdge is a transition; Back is set for a transition to an earlier
// layer (a loop: ScaleUp back to CheckHealthy, CutOver back to Deploy).
type GraphEdge struct {
	From, To elevator.ReleaseState
	Back     bool
}

// Layout sizes, in SVG user units.
const (
	nodeW, nodeH   = 150, 34
	colGap, rowGap = 24, 30
	margin         = 40
)

// NewGraph lays out the transition table top-down: a depth-first walk
// from Validate, taking each state's transitions in table order (the
// success path first), marks the transitions that close a loop; every
// state's layer is then the longest path to it without them, and the
// states of a layer are ordered by when the walk found them.
func NewGraph(transitions map[elevator.ReleaseState][]elevator.ReleaseState) Graph {
	var order []elevator.ReleaseState
	found := map[elevator.ReleaseState]bool{}
	onStack := map[elevator.ReleaseState]bool{}
	var g Graph
	var walk func(s elevator.ReleaseState)
	walk = func(s elevator.ReleaseState) {
		found[s], onStack[s] = true, true
		order = append(order, s)
		for _, n := range transitions[s] {
			g.Edges = append(g.Edges, GraphEdge{From: s, To: n, Back: onStack[n]})
			if !found[n] {
				walk(n)
			}
		}
		onStack[s] = false
	}
	walk(elevator.StateValidate)
	// States the walk cannot reach (none today) still show, after it.
	var rest []elevator.ReleaseState
	for s := range transitions {
		if !found[s] {
			rest = append(rest, s)
		}
	}
	slices.Sort(rest)
	for _, s := range rest {
		walk(s)
	}
	layer := map[elevator.ReleaseState]int{}
	// Longest path on the graph without back edges: relax in walk order
	// until nothing changes (the graph is small).
	for changed := true; changed; {
		changed = false
		for _, e := range g.Edges {
			if !e.Back && layer[e.To] < layer[e.From]+1 {
				layer[e.To] = layer[e.From] + 1
				changed = true
			}
		}
	}
	rows := map[int][]elevator.ReleaseState{}
	maxLayer, widest := 0, 0
	for _, s := range order {
		rows[layer[s]] = append(rows[layer[s]], s)
		maxLayer = max(maxLayer, layer[s])
		widest = max(widest, len(rows[layer[s]]))
	}
	g.W = 2*margin + widest*nodeW + (widest-1)*colGap
	g.H = 2*margin + (maxLayer+1)*nodeH + maxLayer*rowGap
	for _, s := range order {
		row := rows[layer[s]]
		i := slices.Index(row, s)
		rowW := len(row)*nodeW + (len(row)-1)*colGap
		x := (g.W-rowW)/2 + i*(nodeW+colGap) + nodeW/2
		y := margin + layer[s]*(nodeH+rowGap) + nodeH/2
		g.Nodes = append(g.Nodes, GraphNode{State: s, X: x, Y: y, Layer: layer[s]})
	}
	return g
}

// stateMachine is the graph of the engine's table, laid out once.
var stateMachine = NewGraph(release.Transitions())

func (g Graph) node(s elevator.ReleaseState) (GraphNode, bool) {
	for _, n := range g.Nodes {
		if n.State == s {
			return n, true
		}
	}
	return GraphNode{}, false
}

// SVG draws the graph with the path a release took highlighted: the
// states it visited, the transitions it made, and the state it is in. It
// is accessible: a title and a description list the path in words.
func (g Graph) SVG(path []elevator.ReleaseState) template.HTML {
	visited := map[elevator.ReleaseState]bool{}
	taken := map[[2]elevator.ReleaseState]bool{}
	for i, s := range path {
		visited[s] = true
		if i > 0 {
			taken[[2]elevator.ReleaseState{path[i-1], s}] = true
		}
	}
	var current elevator.ReleaseState
	if len(path) > 0 {
		current = path[len(path)-1]
	}
	var b strings.Builder
	words := make([]string, len(path))
	for i, s := range path {
		words[i] = string(s)
	}
	desc := "Not started."
	if len(words) > 0 {
		desc = "Path taken: " + strings.Join(words, " → ") + "."
	}
	fmt.Fprintf(&b, `<svg class="graph" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="graph-title graph-desc" xmlns="http://www.w3.org/2000/svg">`, g.W, g.H, g.W, g.H)
	fmt.Fprintf(&b, `<title id="graph-title">Release state machine</title><desc id="graph-desc">%s</desc>`, template.HTMLEscapeString(desc))
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker>` +
		`<marker id="arrow-taken" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead taken"/></marker></defs>`)
	for _, e := range g.Edges {
		from, _ := g.node(e.From)
		to, _ := g.node(e.To)
		class, marker := "edge", "arrow"
		if taken[[2]elevator.ReleaseState{e.From, e.To}] {
			class, marker = "edge taken", "arrow-taken"
		}
		var d string
		switch {
		case e.Back:
			// A loop goes out of the right of its state and back into
			// the right of the earlier one.
			x1, x2 := from.X+nodeW/2, to.X+nodeW/2
			bend := max(x1, x2) + 30
			d = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", x1, from.Y, bend, from.Y, bend, to.Y, x2, to.Y)
		case to.Layer == from.Layer:
			d = fmt.Sprintf("M%d,%d L%d,%d", from.X+nodeW/2, from.Y, to.X-nodeW/2, to.Y)
		default:
			d = fmt.Sprintf("M%d,%d L%d,%d", from.X, from.Y+nodeH/2, to.X, to.Y-nodeH/2)
		}
		fmt.Fprintf(&b, `<path class="%s" d="%s" marker-end="url(#%s)" data-from="%s" data-to="%s"/>`, class, d, marker, e.From, e.To)
	}
	for _, n := range g.Nodes {
		class := "node " + stateClass(n.State)
		if visited[n.State] {
			class += " visited"
		}
		if n.State == current {
			class += " current"
		}
		fmt.Fprintf(&b, `<g class="%s" data-state="%s"><rect x="%d" y="%d" width="%d" height="%d" rx="6"/><text x="%d" y="%d" text-anchor="middle" dominant-baseline="central">%s</text></g>`,
			class, n.State, n.X-nodeW/2, n.Y-nodeH/2, nodeW, nodeH, n.X, n.Y, template.HTMLEscapeString(string(n.State)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value in it is a state name, escaped, or a number
}

// stateClass is the CSS class of a state's colour: ok (Success), bad
// (the failures), run (any other).
func stateClass(s elevator.ReleaseState) string {
	switch s {
	case elevator.StateSuccess:
		return "ok"
	case elevator.StateFailureClean:
		return "warn"
	case elevator.StateFailureDirty:
		return "bad"
	case "":
		return "none"
	}
	return "run"
}
