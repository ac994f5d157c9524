package protocol

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// docConst is a constant of this package as its source declares it.
type docConst struct {
	name, value string
	comment     string // the trailing line comment
}

// packageConsts reads the constants of the package's own (non-test) files.
// Every constant must have a literal value, so none escapes the checks.
func packageConsts(t *testing.T) []docConst {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []docConst
	fset := token.NewFileSet()
	for _, fn := range files {
		if strings.HasSuffix(fn, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, fn, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					var lit *ast.BasicLit
					if i < len(vs.Values) {
						lit, _ = vs.Values[i].(*ast.BasicLit)
					}
					if lit == nil {
						if isDocChecked(id.Name) {
							t.Fatalf("%s: constant %s has no literal value; the doc check cannot read it", fn, id.Name)
						}
						continue
					}
					v := lit.Value
					if lit.Kind == token.STRING {
						if v, err = strconv.Unquote(v); err != nil {
							t.Fatal(err)
						}
					}
					c := docConst{name: id.Name, value: v}
					if vs.Comment != nil {
						c.comment = strings.TrimSpace(vs.Comment.Text())
					}
					out = append(out, c)
				}
			}
		}
	}
	return out
}

func isDocChecked(name string) bool {
	for _, p := range []string{"Type", "Close", "Reason", "Data", "State", "Cause"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// constsWith returns value → name of the constants named prefix*.
func constsWith(consts []docConst, prefix string, except ...string) map[string]docConst {
	out := map[string]docConst{}
	for _, c := range consts {
		if strings.HasPrefix(c.name, prefix) && !slices.Contains(except, c.name) {
			out[c.value] = c
		}
	}
	return out
}

// docSections splits docs/protocol.md by its "## " headings.
func docSections(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	title := ""
	for line := range strings.Lines(string(b)) {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			title = strings.TrimSpace(h)
			continue
		}
		out[title] += line
	}
	return out
}

// section returns a section of the doc, failing when it is gone.
func section(t *testing.T, secs map[string]string, title string) string {
	t.Helper()
	s, ok := secs[title]
	if !ok {
		t.Fatalf("docs/protocol.md has no section %q (the doc check reads it)", title)
	}
	return s
}

// tableRows returns the rows of the table in text whose header row is header.
func tableRows(t *testing.T, text, header string) [][]string {
	t.Helper()
	var rows [][]string
	in := false
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		switch {
		case line == header:
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "|"):
			cells := strings.Split(strings.Trim(line, "|"), "|")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			rows = append(rows, cells)
		case in:
			in = false
		}
	}
	if len(rows) == 0 {
		t.Fatalf("docs/protocol.md has no table headed %q (the doc check reads it)", header)
	}
	return rows
}

var (
	backticked  = regexp.MustCompile("^`([A-Za-z_]+)`$")
	jsonType    = regexp.MustCompile(`^\s*\{"type":"([^"]*)"`)
	inlineType  = regexp.MustCompile(`"type":"([^"]*)"`)
	reasonCode  = regexp.MustCompile(`^(\d{3}):`)
	wordInTicks = regexp.MustCompile("`([a-z_]+)`")
)

// compare reports what is in code but not in the doc, and the reverse.
func compare(t *testing.T, what string, code map[string]docConst, doc map[string]bool) {
	t.Helper()
	for _, v := range slices.Sorted(maps.Keys(code)) {
		if !doc[v] {
			t.Errorf("%s %q (%s) is not documented in docs/protocol.md", what, v, code[v].name)
		}
	}
	for _, v := range slices.Sorted(maps.Keys(doc)) {
		if _, ok := code[v]; !ok {
			t.Errorf("docs/protocol.md documents %s %q, which package protocol does not have", what, v)
		}
	}
}

// docs/protocol.md and this package agree: every message type is in the
// doc's table of message types, with the direction the decoder enforces,
// and has a JSON example; every error reason, close code and data-channel
// message kind is in the doc and the doc names no other; every call state
// and cause is named in the section on calls.
func TestProtocolDoc(t *testing.T) {
	consts := packageConsts(t)
	secs := docSections(t)

	t.Run("message types", func(t *testing.T) {
		types := constsWith(consts, "Type")
		table := map[string]bool{}
		for _, row := range tableRows(t, section(t, secs, "Message types"), "| type | direction | what |") {
			m := backticked.FindStringSubmatch(row[0])
			if m == nil || len(row) != 3 {
				t.Errorf("docs/protocol.md, message types: row %q is not | `type` | direction | what |", row)
				continue
			}
			typ, dir := m[1], row[1]
			table[typ] = true
			if _, ok := types[typ]; !ok {
				continue // reported by compare
			}
			_, err := DecodeClientMessage([]byte(`{"type":"` + typ + `"}`))
			var pe *Error
			unknown := errors.As(err, &pe) && pe.Message == "unknown message type"
			switch dir {
			case "client → server", "both":
				if unknown {
					t.Errorf("docs/protocol.md says a client sends %q, but DecodeClientMessage refuses it", typ)
				}
			case "server → client":
				if !unknown {
					t.Errorf("docs/protocol.md says only the server sends %q, but DecodeClientMessage accepts it from a client", typ)
				}
			default:
				t.Errorf("docs/protocol.md, message types: %q has direction %q, not client → server, server → client or both", typ, dir)
			}
		}
		compare(t, "message type", types, table)

		examples := map[string]bool{}
		for title, text := range secs {
			if title == "Data channel" {
				continue // data-channel messages, checked below
			}
			inJSON := false
			for line := range strings.Lines(text) {
				switch {
				case strings.HasPrefix(line, "```json"):
					inJSON = true
				case strings.HasPrefix(line, "```"):
					inJSON = false
				case inJSON:
					if m := jsonType.FindStringSubmatch(line); m != nil {
						examples[m[1]] = true
					}
				}
			}
		}
		for _, v := range slices.Sorted(maps.Keys(types)) {
			if !examples[v] {
				t.Errorf("message type %q (%s) has no JSON example in docs/protocol.md", v, types[v].name)
			}
		}
		for _, v := range slices.Sorted(maps.Keys(examples)) {
			if _, ok := types[v]; !ok {
				t.Errorf("docs/protocol.md has a JSON example of type %q, which package protocol does not have", v)
			}
		}
	})

	t.Run("error reasons", func(t *testing.T) {
		reasons := constsWith(consts, "Reason")
		doc := map[string]bool{}
		for _, row := range tableRows(t, section(t, secs, "Server → client"), "| code | reason | when |") {
			if len(row) != 3 {
				t.Errorf("docs/protocol.md, errors: row %q is not | code | reason | when |", row)
				continue
			}
			for r := range strings.SplitSeq(row[1], ",") {
				m := backticked.FindStringSubmatch(strings.TrimSpace(r))
				if m == nil {
					t.Errorf("docs/protocol.md, errors: %q is not a `reason`", r)
					continue
				}
				doc[m[1]] = true
				c, ok := reasons[m[1]]
				if !ok {
					continue // reported by compare
				}
				if cm := reasonCode.FindStringSubmatch(c.comment); cm == nil || cm[1] != row[0] {
					t.Errorf("reason %q: docs/protocol.md gives code %s, %s's comment %q", m[1], row[0], c.name, c.comment)
				}
			}
		}
		compare(t, "error reason", reasons, doc)
	})

	t.Run("close codes", func(t *testing.T) {
		closes := constsWith(consts, "Close")
		doc := map[string]bool{}
		for _, row := range tableRows(t, section(t, secs, "Limits and closing"), "| code | meaning |") {
			code, err := strconv.Atoi(row[0])
			switch {
			case err != nil:
				t.Errorf("docs/protocol.md, close codes: %q is not a code", row[0])
			case code >= 4000 && code < 5000:
				doc[row[0]] = true
			case code < 1000 || code > 1015:
				t.Errorf("docs/protocol.md, close codes: %d is neither a WebSocket code nor an application one (4000-4999)", code)
			}
		}
		compare(t, "close code", closes, doc)
	})

	t.Run("data channel", func(t *testing.T) {
		text := section(t, secs, "Data channel")
		if !strings.Contains(text, "labelled `"+DataChannelLabel+"`") {
			t.Errorf("docs/protocol.md does not say the data channel is labelled `%s`", DataChannelLabel)
		}
		doc := map[string]bool{}
		for _, m := range inlineType.FindAllStringSubmatch(text, -1) {
			doc[m[1]] = true
		}
		compare(t, "data-channel message kind", constsWith(consts, "Data", "DataChannelLabel"), doc)
	})

	t.Run("call states and causes", func(t *testing.T) {
		named := map[string]bool{}
		for _, m := range wordInTicks.FindAllStringSubmatch(section(t, secs, "1:1 calls"), -1) {
			named[m[1]] = true
		}
		for _, prefix := range []string{"State", "Cause"} {
			for v, c := range constsWith(consts, prefix) {
				if !named[v] {
					t.Errorf("%s %q is not named in docs/protocol.md's section on calls", c.name, v)
				}
			}
		}
	})
}
