package continuity

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Snapshot is what a caller knows about the backups of one source: the
// time of its latest snapshot. An empty Path stands for every path of the
// host (the server sees which machine sent a snapshot, not its folders).
type Snapshot struct {
	Host   string    `json:"host"`
	Path   string    `json:"path,omitempty"`
	Latest time.Time `json:"latest"`
}

// Problem kinds.
const (
	ProblemCycle             = "dependency_cycle"
	ProblemUnknownDependency = "unknown_dependency"
	ProblemNoSource          = "no_backup_source"
	ProblemNoSnapshot        = "no_snapshot"
	ProblemStale             = "snapshot_older_than_rpo"
)

// Severities: an error stops a recovery from following the plan; a
// warning means a service would come back with less than promised.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Problem is something that would stop or spoil a recovery.
type Problem struct {
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	// Service is the service concerned ("" for none).
	Service string `json:"service,omitempty"`
	// Cycle lists the services of a dependency cycle, the first repeated
	// at the end (a → b → a).
	Cycle      []string  `json:"cycle,omitempty"`
	Dependency string    `json:"dependency,omitempty"`
	Source     *Source   `json:"source,omitempty"`
	Latest     time.Time `json:"latest,omitzero"`
	Message    string    `json:"message"`
}

// Step is a service in the recovery order.
type Step struct {
	Position    int         `json:"position"` // 1, 2, 3... over all waves
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Criticality Criticality `json:"criticality"`
	RTO         Duration    `json:"rto"`
	RPO         Duration    `json:"rpo"`
	DependsOn   []string    `json:"depends_on,omitempty"`
}

// Wave is a set of services whose dependencies all come back in earlier
// waves: they can be restored in parallel.
type Wave struct {
	Number   int    `json:"number"`
	Services []Step `json:"services"`
}

// SourceStatus is one source of a service and its latest snapshot.
type SourceStatus struct {
	Service string    `json:"service"`
	Source  Source    `json:"source"`
	Latest  time.Time `json:"latest,omitzero"`
	// Age is how old the latest snapshot was at the time of the analysis.
	Age Duration `json:"age,omitempty"`
	// Status is ok, stale (older than the service's RPO) or missing.
	Status string `json:"status"`
}

// Analysis is the recovery order of a plan and what stands in its way.
type Analysis struct {
	Waves []Wave `json:"waves"`
	// Unordered are services that cannot be placed because they are in a
	// dependency cycle or depend on one, by ID.
	Unordered []string       `json:"unordered,omitempty"`
	Sources   []SourceStatus `json:"sources"`
	Problems  []Problem      `json:"problems"`
	At        time.Time      `json:"at"`
}

// Errors counts the problems of severity error.
func (a *Analysis) Errors() int {
	n := 0
	for _, p := range a.Problems {
		if p.Severity == SeverityError {
			n++
		}
	}
	return n
}

// less is the order among services ready at the same time: more critical
// first, then the shorter RTO, then by name, then by ID.
func less(a, b Service) bool {
	if a.Criticality != b.Criticality {
		return a.Criticality < b.Criticality
	}
	if a.RTO != b.RTO {
		return a.RTO < b.RTO
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.ID < b.ID
}

// Analyse computes the recovery order of p and its problems. snaps gives
// the latest snapshot known for each source (nil: snapshots are not
// checked); now is the time ages are measured at.
func Analyse(p *Plan, snaps []Snapshot, now time.Time) *Analysis {
	a := &Analysis{Waves: []Wave{}, Sources: []SourceStatus{}, Problems: []Problem{}, At: now}
	byID := map[string]Service{}
	for _, s := range p.Services {
		if _, dup := byID[s.ID]; !dup {
			byID[s.ID] = s
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return less(byID[ids[i]], byID[ids[j]]) })

	// The graph, without unknown dependencies (reported).
	deps := map[string][]string{}
	for _, id := range ids {
		s := byID[id]
		for _, d := range s.DependsOn {
			if _, ok := byID[d]; !ok {
				a.Problems = append(a.Problems, Problem{Kind: ProblemUnknownDependency, Severity: SeverityError, Service: id, Dependency: d,
					Message: fmt.Sprintf("%s depends on %q, which is not a service of the plan: add it, or fix the id in depends_on", label(s), d)})
				continue
			}
			deps[id] = append(deps[id], d)
		}
	}

	// Waves (Kahn's algorithm, one layer at a time).
	placed := map[string]bool{}
	pos := 0
	for {
		var ready []string
		for _, id := range ids {
			if placed[id] {
				continue
			}
			ok := true
			for _, d := range deps[id] {
				if !placed[d] {
					ok = false
					break
				}
			}
			if ok {
				ready = append(ready, id)
			}
		}
		if len(ready) == 0 {
			break
		}
		w := Wave{Number: len(a.Waves) + 1}
		for _, id := range ready { // ids is already in tie-break order
			s := byID[id]
			pos++
			w.Services = append(w.Services, Step{Position: pos, ID: id, Name: s.Name, Criticality: s.Criticality,
				RTO: s.RTO, RPO: s.RPO, DependsOn: s.DependsOn})
		}
		for _, id := range ready {
			placed[id] = true
		}
		a.Waves = append(a.Waves, w)
	}

	// What is left is in a cycle or waits for one.
	if len(placed) < len(ids) {
		left := map[string]bool{}
		for _, id := range ids {
			if !placed[id] {
				left[id] = true
				a.Unordered = append(a.Unordered, id)
			}
		}
		sort.Strings(a.Unordered)
		inCycle := map[string]bool{}
		for _, cyc := range cycles(a.Unordered, deps, left) {
			for _, id := range cyc[:len(cyc)-1] {
				inCycle[id] = true
			}
			a.Problems = append(a.Problems, Problem{Kind: ProblemCycle, Severity: SeverityError, Service: cyc[0], Cycle: cyc,
				Message: fmt.Sprintf("dependency cycle: %s (each depends on the next): none of these can be restored first; remove one of these dependencies (depends_on)", strings.Join(cyc, " → "))})
		}
		for _, id := range a.Unordered {
			if inCycle[id] {
				continue
			}
			var on []string
			for _, d := range deps[id] {
				if left[d] {
					on = append(on, d)
				}
			}
			a.Problems = append(a.Problems, Problem{Kind: ProblemCycle, Severity: SeverityError, Service: id,
				Message: fmt.Sprintf("%s cannot be placed in the recovery order: it depends on %s, caught in a dependency cycle", label(byID[id]), strings.Join(on, ", "))})
		}
	}

	// Backups of each service, in recovery order.
	order := make([]string, 0, len(ids))
	for _, w := range a.Waves {
		for _, s := range w.Services {
			order = append(order, s.ID)
		}
	}
	order = append(order, a.Unordered...)
	for _, id := range order {
		s := byID[id]
		if len(s.Sources) == 0 {
			a.Problems = append(a.Problems, Problem{Kind: ProblemNoSource, Severity: SeverityWarning, Service: id,
				Message: fmt.Sprintf("%s has no backup source: list the folders it needs under sources (host and path), or say in assets why none is needed", label(s))})
			continue
		}
		if snaps == nil {
			continue
		}
		for _, src := range s.Sources {
			st := SourceStatus{Service: id, Source: src, Status: "ok"}
			latest, ok := latestOf(src, snaps)
			switch {
			case !ok:
				st.Status = "missing"
				a.Problems = append(a.Problems, Problem{Kind: ProblemNoSnapshot, Severity: SeverityWarning, Service: id, Source: &src,
					Message: fmt.Sprintf("%s: no snapshot of %s: back it up (rempart backup %s on %s), or check that the host is the name its agent enrolled with (rempart agent list)", label(s), src, src.Path, src.Host)})
			default:
				st.Latest = latest
				st.Age = Duration(now.Sub(latest).Truncate(time.Second))
				if st.Age < 0 {
					st.Age = 0
				}
				if st.Age > s.RPO {
					st.Status = "stale"
					a.Problems = append(a.Problems, Problem{Kind: ProblemStale, Severity: SeverityWarning, Service: id, Source: &src, Latest: latest,
						Message: fmt.Sprintf("%s: the latest snapshot of %s is %s old, more than the RPO of %s: back it up at least every %s", label(s), src, roundAge(st.Age), s.RPO, s.RPO)})
				}
			}
			a.Sources = append(a.Sources, st)
		}
	}
	return a
}

// latestOf finds the newest snapshot that covers src: same host (case
// does not matter), and the same path or no path.
func latestOf(src Source, snaps []Snapshot) (time.Time, bool) {
	var best time.Time
	found := false
	for _, sn := range snaps {
		if !strings.EqualFold(sn.Host, src.Host) || (sn.Path != "" && sn.Path != src.Path) {
			continue
		}
		if !found || sn.Latest.After(best) {
			best, found = sn.Latest, true
		}
	}
	return best, found
}

// roundAge drops what is below the minute.
func roundAge(d Duration) Duration {
	if d >= Duration(time.Minute) {
		return Duration(time.Duration(d).Truncate(time.Minute))
	}
	return Duration(time.Duration(d).Truncate(time.Second))
}

func label(s Service) string {
	if s.Name != "" && s.Name != s.ID {
		return fmt.Sprintf("%s (%s)", s.ID, s.Name)
	}
	return s.ID
}

// cycles finds the dependency cycles among the services left (Tarjan's
// strongly connected components): one named cycle per component, starting
// from its smallest ID, the first repeated at the end.
func cycles(left []string, deps map[string][]string, in map[string]bool) [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var comps [][]string
	n := 0
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = n, n
		n++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range sortedDeps(deps[v], in) {
			if _, seen := index[w]; !seen {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			comps = append(comps, comp)
		}
	}
	for _, v := range left {
		if _, seen := index[v]; !seen {
			strong(v)
		}
	}
	var out [][]string
	for _, comp := range comps {
		member := map[string]bool{}
		for _, v := range comp {
			member[v] = true
		}
		sort.Strings(comp)
		start := comp[0]
		if len(comp) == 1 && !contains(deps[start], start) {
			continue // not a cycle: waits for one
		}
		out = append(out, cyclePath(start, deps, member))
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// cyclePath is a shortest cycle through start inside a component (breadth
// first, smallest IDs first).
func cyclePath(start string, deps map[string][]string, member map[string]bool) []string {
	prev := map[string]string{}
	queue := []string{start}
	seen := map[string]bool{start: true}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range sortedDeps(deps[v], member) {
			if w == start {
				path := []string{start}
				for x := v; x != start; x = prev[x] {
					path = append(path, x)
				}
				// path is start, v, ..., back towards start: reverse the tail.
				tail := path[1:]
				for i, j := 0, len(tail)-1; i < j; i, j = i+1, j-1 {
					tail[i], tail[j] = tail[j], tail[i]
				}
				return append(path, start)
			}
			if !seen[w] {
				seen[w] = true
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []string{start, start}
}

func sortedDeps(ds []string, in map[string]bool) []string {
	var out []string
	for _, d := range ds {
		if in[d] {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// InRecoveryOrder lists the plan's services wave after wave (the order
// drills of every service follow), then those a cycle leaves unordered,
// in the plan's order.
func (p *Plan) InRecoveryOrder() []Service {
	a := Analyse(p, nil, time.Time{})
	var out []Service
	seen := map[string]bool{}
	for _, w := range a.Waves {
		for _, s := range w.Services {
			if sv, ok := p.Service(s.ID); ok && !seen[s.ID] {
				out, seen[s.ID] = append(out, sv), true
			}
		}
	}
	for _, sv := range p.Services {
		if !seen[sv.ID] {
			out, seen[sv.ID] = append(out, sv), true
		}
	}
	return out
}
