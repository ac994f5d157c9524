package repo

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rule is one line of docs/architecture.md's imports block: packages
// matching from may import, within the module, only packages matching one
// of to.
type rule struct {
	from string
	to   []string
}

// match reports whether the module-relative package path p matches pattern
// ("internal/*" is every package under internal/).
func match(pattern, p string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/*"); ok {
		return strings.HasPrefix(p, prefix+"/")
	}
	return p == pattern
}

// parseRules reads the ```imports block of docs/architecture.md.
func parseRules(doc string) ([]rule, error) {
	_, block, ok := strings.Cut(doc, "```imports\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		return nil, fmt.Errorf("no ```imports block")
	}
	var rules []rule
	for line := range strings.Lines(block) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		from, to, ok := strings.Cut(line, "->")
		if !ok {
			return nil, fmt.Errorf("line %q has no ->", line)
		}
		r := rule{from: strings.TrimSpace(from)}
		for t := range strings.SplitSeq(to, ",") {
			if t = strings.TrimSpace(t); t != "" && t != "none" {
				r.to = append(r.to, t)
			}
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// allowed reports whether pkg may import dep (module-relative paths); for
// test imports, the package itself and calling/client are added where the
// package is or may import calling, and netquality for calling (its
// quality seam is tested with the real monitor, composed as a host does).
func allowed(rules []rule, pkg, dep string, test bool) (bool, error) {
	var r *rule
	for i := range rules {
		if match(rules[i].from, pkg) {
			r = &rules[i]
			break
		}
	}
	if r == nil {
		return false, fmt.Errorf("package %s is not in docs/architecture.md's direction of imports", pkg)
	}
	ok := func(p string) bool { return slices.ContainsFunc(r.to, func(to string) bool { return match(to, p) }) }
	if ok(dep) {
		return true, nil
	}
	if test && (dep == pkg || dep == "internal/redistest" || dep == "calling/client" && (pkg == "calling" || ok("calling")) || dep == "netquality" && pkg == "calling") {
		return true, nil
	}
	return false, nil
}

// Every package of the module imports only what docs/architecture.md's
// direction of imports allows (its own and its tests' imports).
func TestImportDirection(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root(t), "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := parseRules(string(doc))
	if err != nil {
		t.Fatalf("docs/architecture.md: %v", err)
	}
	module := strings.TrimSpace(run(t, "go", "list", "-m"))
	out := run(t, "go", "list", "-f",
		`{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`, "./...")
	rel := func(p string) (string, bool) {
		if p == module {
			return "", true
		}
		r, ok := strings.CutPrefix(p, module+"/")
		return r, ok
	}
	checked := 0
	for line := range strings.Lines(strings.TrimSpace(out)) {
		parts := strings.Split(strings.TrimSpace(line), "|")
		pkg, _ := rel(parts[0])
		for i, imports := range parts[1:] {
			for _, imp := range strings.Fields(imports) {
				dep, inModule := rel(imp)
				if !inModule {
					continue
				}
				ok, err := allowed(rules, pkg, dep, i == 1)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					what := "imports"
					if i == 1 {
						what = "has tests that import"
					}
					t.Errorf("%s %s %s, which docs/architecture.md's direction of imports forbids", pkg, what, dep)
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no imports checked")
	}
}

// The rules catch the imports the picture forbids.
func TestImportRules(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root(t), "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := parseRules(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pkg, dep string
		test     bool
		want     bool
	}{
		{"rooms", "calling", false, false},
		{"rooms", "calling/client", true, false},
		{"auth", "rooms", false, false},
		{"auth", "internal/httpx", false, true},
		{"internal/httpx", "auth", false, false},
		{"examples/server", "internal/httpx", false, false},
		{"calling", "calling/client", false, false},
		{"calling", "calling/client", true, true},
		{"calling", "rooms", false, true},
		{"examples/embed", "calling/client", true, true},
		{"calling/client", "calling", false, false},
		{"calling/client", "calling", true, false},
		{"calling/client", "calling/protocol", false, true},
		{"calling/protocol", "calling", false, false},
		{"calling/protocol", "calling/client", true, false},
		{"calling", "calling/protocol", false, true},
		{"auth", "auth", true, true},
		{"calling", "netquality", false, false},
		{"calling", "netquality", true, true},
		{"netquality", "calling", true, false},
		{"calling/client", "netquality", true, false},
	} {
		got, err := allowed(rules, tc.pkg, tc.dep, tc.test)
		if err != nil || got != tc.want {
			t.Errorf("%s -> %s (test %v): %v %v, want %v", tc.pkg, tc.dep, tc.test, got, err, tc.want)
		}
	}
	if _, err := allowed(rules, "newpkg", "auth", false); err == nil {
		t.Error("a package missing from the picture was accepted")
	}
}
