package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestHelp: `--help` of every command exits 0 and gives an example or an
// explanation (more than the one-line summary).
func TestHelp(t *testing.T) {
	e := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	cmds := map[string]bool{}
	for _, c := range []string{"", "init", "backup", "snapshots", "ls", "diff", "restore", "check", "forget", "prune",
		"key", "key add", "key list", "key remove", "unlock", "demo", "version"} {
		cmds[c] = true
	}
	// Commands added later are covered too.
	for _, parent := range []string{"", "key"} {
		for _, c := range listCommands(t, e, parent) {
			cmds[strings.TrimSpace(parent+" "+c)] = true
		}
	}
	for c := range cmds {
		t.Run("rempart "+c, func(t *testing.T) {
			args := append(strings.Fields(c), "--help")
			r := e.ok(args...)
			if r.stderr != "" {
				t.Errorf("--help writes to stderr: %q", r.stderr)
			}
			head, _, ok := strings.Cut(r.stdout, "Usage:")
			if !ok || !strings.Contains(r.stdout, "rempart "+c) {
				t.Errorf("no usage line for %q:\n%s", c, r.stdout)
			}
			explained := len(strings.Split(strings.TrimSpace(head), "\n")) >= 2
			if !strings.Contains(r.stdout, "Examples:") && !explained {
				t.Errorf("`rempart %s --help` has neither an example nor an explanation beyond %q", c, strings.TrimSpace(head))
			}
		})
	}
}

var commandLineRE = regexp.MustCompile(`(?m)^  ([a-z][a-z-]*)\s{2,}\S`)

// listCommands reads "Available Commands" from a command's help.
func listCommands(t *testing.T, e *env, parent string) []string {
	r := e.ok(append(strings.Fields(parent), "--help")...)
	_, rest, ok := strings.Cut(r.stdout, "Available Commands:")
	if !ok {
		t.Fatalf("`rempart %s --help` lists no commands:\n%s", parent, r.stdout)
	}
	rest, _, _ = strings.Cut(rest, "\n\n")
	var out []string
	for _, m := range commandLineRE.FindAllStringSubmatch(rest, -1) {
		if m[1] != "help" && m[1] != "completion" {
			out = append(out, m[1])
		}
	}
	return out
}

// TestDemo: the one-minute tour runs, says the restore is identical, and
// leaves nothing behind in the temporary folder.
func TestDemo(t *testing.T) {
	e := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	r := e.ok("demo")
	mustContain(t, "rempart demo", r.stdout, "identical")
	left, err := os.ReadDir(e.tmp)
	must(t, err)
	if len(left) > 0 {
		t.Errorf("demo left %d entries in TMPDIR, e.g. %s", len(left), left[0].Name())
	}
	r = e.run("version")
	if r.code != 0 || !strings.Contains(r.stdout, "rempart") {
		t.Errorf("version:\n%s", r)
	}
}
