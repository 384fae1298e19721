package continuity

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Example is the full plan of a small town, shown in docs/continuity.md
// and by `rempart plan example`.
//
//go:embed example.yaml
var Example []byte

// MaxFileSize bounds a plan file (a town's plan is a few kilobytes).
const MaxFileSize = 1 << 20

// typeNames turns the decoder's Go type names into the file's words.
var typeNames = map[string]string{
	"continuity.Plan":    "the plan",
	"continuity.Service": "a service",
	"continuity.Source":  "a source (host, path)",
	"continuity.Contact": "a contact (name, role, phone, email)",
}

var (
	unknownFieldRE = regexp.MustCompile(`field (\S+) not found in type (\S+)`)
	cannotRE       = regexp.MustCompile("cannot unmarshal (!!\\w+)(?: `([^`]*)`)? into (\\S+)")
)

// yamlError rewrites yaml.v3's messages for people: every problem on its
// own line, with its line number.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return fmt.Errorf("the plan is not valid YAML: %s", msg)
	}
	var out []string
	for _, e := range te.Errors {
		e = unknownFieldRE.ReplaceAllStringFunc(e, func(m string) string {
			sub := unknownFieldRE.FindStringSubmatch(m)
			where := typeNames[sub[2]]
			if where == "" {
				where = sub[2]
			}
			return fmt.Sprintf("unknown field %q in %s (check its spelling and indentation; the fields are listed in docs/continuity.md)", sub[1], where)
		})
		e = cannotRE.ReplaceAllStringFunc(e, func(m string) string {
			sub := cannotRE.FindStringSubmatch(m)
			what := map[string]string{"!!seq": "a list", "!!map": "a mapping", "!!str": "the text", "!!int": "the number",
				"!!bool": "the boolean", "!!float": "the number", "!!null": "an empty value"}[sub[1]]
			if what == "" {
				what = sub[1]
			}
			if sub[2] != "" {
				what += " " + sub[2]
			}
			want := map[string]string{"[]continuity.Service": "a list of services", "[]continuity.Source": "a list of sources",
				"[]continuity.Contact": "a list of contacts", "[]string": "a list of texts", "string": "a text", "int": "a number",
				"continuity.Plan": "a plan (a mapping)", "continuity.Service": "a service (a mapping)",
				"continuity.Source": "a source (host, path)", "continuity.Contact": "a contact (a mapping)"}[sub[3]]
			if want == "" {
				want = sub[3]
			}
			return fmt.Sprintf("%s where %s was expected", what, want)
		})
		out = append(out, e)
	}
	return &ValidationError{Problems: out}
}

// Decode reads a plan file (format 1), strictly: an unknown field, a
// second document or a value of the wrong kind is an error naming its
// line. The plan is validated (Validate), with each service's line.
func Decode(data []byte) (p *Plan, err error) {
	defer func() {
		// yaml.v3 turns its own failures into errors; this is a last
		// guard so that no input can take a server down.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("the plan cannot be read: %v", r)
		}
	}()
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("the plan is %d bytes, more than the %d a plan file may be", len(data), MaxFileSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("the plan is empty: start from the example in docs/continuity.md (first line `format: %d`)", FormatVersion)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("the plan is empty: start from the example in docs/continuity.md (first line `format: %d`)", FormatVersion)
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(err)
		}
		return nil, fmt.Errorf("line %d: a second YAML document (after `---`): a plan file holds one plan", extra.Line)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		line := doc.Line
		if len(doc.Content) > 0 {
			line = doc.Content[0].Line
		}
		return nil, fmt.Errorf("line %d: a plan is a mapping that starts with `format: %d` (see docs/continuity.md)", line, FormatVersion)
	}
	var plan Plan
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&plan); err != nil {
		return nil, yamlError(err)
	}
	plan.normalize()
	lines := serviceLines(doc.Content[0])
	if err := plan.validate(func(i int) string {
		if i < len(lines) {
			return fmt.Sprintf(" at line %d", lines[i])
		}
		return ""
	}); err != nil {
		return nil, err
	}
	return &plan, nil
}

// serviceLines returns the line of each entry of `services`.
func serviceLines(root *yaml.Node) []int {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "services" && root.Content[i+1].Kind == yaml.SequenceNode {
			var out []int
			for _, n := range root.Content[i+1].Content {
				out = append(out, n.Line)
			}
			return out
		}
	}
	return nil
}

// Encode writes a plan file, with header as leading comment lines (""
// for none). Decode(Encode(p)) gives back p.
func Encode(p *Plan, header string) ([]byte, error) {
	var b bytes.Buffer
	for _, l := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		if header == "" {
			break
		}
		b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
	}
	c := *p
	if c.Services == nil {
		c.Services = []Service{}
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("write the plan as YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write the plan as YAML: %w", err)
	}
	return b.Bytes(), nil
}
