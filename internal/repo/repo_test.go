package repo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// root is the module's root folder.
func root(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(string(bytes.TrimSpace(out)))
}

// run runs a command in the module root and returns its standard output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = root(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// maxTrackedBytes is the largest file the repository may track.
const maxTrackedBytes = 1 << 20

// No tracked file is over 1 MiB or an executable (ELF, Mach-O, PE): build
// outputs belong in .gitignore, not in git.
func TestTrackedFiles(t *testing.T) {
	dir := root(t)
	files := strings.Split(strings.TrimRight(run(t, "git", "ls-files", "-z"), "\x00"), "\x00")
	if len(files) < 10 {
		t.Fatalf("git ls-files listed %d files; is this a git checkout?", len(files))
	}
	for _, f := range files {
		p := filepath.Join(dir, f)
		info, err := os.Lstat(p)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if info.Size() > maxTrackedBytes {
			t.Errorf("%s is %d bytes, over the 1 MiB limit for tracked files", f, info.Size())
		}
		if kind := executableKind(p); kind != "" {
			t.Errorf("%s is a tracked %s executable: git rm --cached it and ignore it in .gitignore", f, kind)
		}
	}
}

// executableKind names the executable format of the file at p, or "".
func executableKind(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := f.Read(head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "ELF"
	case bytes.HasPrefix(head, []byte("MZ")):
		return "PE (Windows)"
	case bytes.Equal(head, []byte{0xcf, 0xfa, 0xed, 0xfe}), bytes.Equal(head, []byte{0xce, 0xfa, 0xed, 0xfe}),
		bytes.Equal(head, []byte{0xca, 0xfe, 0xba, 0xbe}):
		return "Mach-O"
	}
	return ""
}

func TestExecutableKind(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"elf": "\x7fELF\x02\x01\x01", "text": "package main\n", "empty": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if executableKind(filepath.Join(dir, "elf")) != "ELF" || executableKind(filepath.Join(dir, "text")) != "" ||
		executableKind(filepath.Join(dir, "empty")) != "" {
		t.Fatal("executableKind misreads its files")
	}
	// This test's own binary is an executable of the machine's format.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if executableKind(exe) == "" {
		t.Fatalf("the test binary %s is not recognised as an executable", exe)
	}
}

// The binary `go build` writes for every example program, in the module
// root or in the program's folder, is ignored by .gitignore.
func TestExampleBinariesIgnored(t *testing.T) {
	mains := strings.Fields(run(t, "go", "list", "-f", `{{if eq .Name "main"}}{{.Dir}}{{end}}`, "./..."))
	if len(mains) == 0 {
		t.Fatal("no main packages found")
	}
	dir := root(t)
	for _, m := range mains {
		rel, err := filepath.Rel(dir, m)
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Base(m)
		for _, p := range []string{bin, filepath.ToSlash(filepath.Join(rel, bin)), bin + ".test", "cover.out"} {
			cmd := exec.Command("git", "check-ignore", "-q", "--no-index", p)
			cmd.Dir = dir
			if err := cmd.Run(); err != nil {
				t.Errorf("%s (a build output of %s) is not ignored by .gitignore", p, rel)
			}
		}
	}
}
