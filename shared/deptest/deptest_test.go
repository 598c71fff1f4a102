package deptest

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pkg is the part of `go list -json` these tests read.
type pkg struct {
	ImportPath string
	Dir        string
	Name       string
	Doc        string
	GoFiles    []string
	Imports    []string
}

// listWorkspace lists every package of every module in the workspace.
func listWorkspace(t *testing.T) []pkg {
	t.Helper()
	root := workspaceRoot(t)
	var pkgs []pkg
	for _, mod := range []string{"shared", "proto", "migrations", "cloud", "desktop"} {
		cmd := exec.Command("go", "list", "-e", "-json", "./...")
		cmd.Dir = filepath.Join(root, mod)
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list in %s: %v", mod, err)
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var p pkg
			if err := dec.Decode(&p); err != nil {
				t.Fatalf("decoding go list output of %s: %v", mod, err)
			}
			if len(p.GoFiles) > 0 {
				pkgs = append(pkgs, p)
			}
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

func workspaceRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		t.Fatalf("go env GOWORK: %v", err)
	}
	w := strings.TrimSpace(string(out))
	if w == "" || w == "off" {
		t.Fatal("not in the workspace: go.work not found")
	}
	return filepath.Dir(w)
}

// TestModulesDoNotCross fails when the desktop imports the cloud, the cloud
// imports the desktop, or shared/ imports either (or proto: domain code never
// sees generated types).
func TestModulesDoNotCross(t *testing.T) {
	t.Parallel()
	forbidden := map[string][]string{
		"healthprep.dev/desktop/": {"healthprep.dev/cloud"},
		"healthprep.dev/cloud/":   {"healthprep.dev/desktop"},
		"healthprep.dev/shared/":  {"healthprep.dev/cloud", "healthprep.dev/desktop", "healthprep.dev/proto", "healthprep.dev/migrations"},
	}
	for _, p := range listWorkspace(t) {
		for prefix, bad := range forbidden {
			if !strings.HasPrefix(p.ImportPath+"/", prefix) {
				continue
			}
			for _, imp := range p.Imports {
				for _, b := range bad {
					if imp == b || strings.HasPrefix(imp, b+"/") {
						t.Errorf("%s imports %s: not allowed across modules", p.ImportPath, imp)
					}
				}
			}
		}
	}
}

// ioImports are the standard packages that do I/O or read ambient state;
// shared/ must take such things as parameters instead.
var ioImports = map[string]bool{
	"os": true, "os/exec": true, "os/signal": true, "net": true, "net/http": true,
	"database/sql": true, "io/ioutil": true, "syscall": true, "math/rand": true,
	"math/rand/v2": true, "crypto/rand": true, "log": true, "log/slog": true,
	"io/fs": true, "path/filepath": true, "unsafe": true,
}

// TestSharedIsPure fails when a non-test, non-command package under shared/
// imports an I/O package or reads the wall clock.
func TestSharedIsPure(t *testing.T) {
	t.Parallel()
	for _, p := range listWorkspace(t) {
		if !strings.HasPrefix(p.ImportPath, "healthprep.dev/shared/") || p.Name == "main" || strings.HasSuffix(p.ImportPath, "/deptest") {
			continue
		}
		for _, imp := range p.Imports {
			if ioImports[imp] {
				t.Errorf("%s imports %s: shared/ is I/O-free; pass what you need as a parameter", p.ImportPath, imp)
			}
		}
		fset := token.NewFileSet()
		for _, f := range p.GoFiles {
			file, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, 0)
			if err != nil {
				t.Fatalf("parsing %s: %v", f, err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && (sel.Sel.Name == "Now" || sel.Sel.Name == "Since" || sel.Sel.Name == "Until") {
					t.Errorf("%s: time.%s in shared/: time is a parameter", fset.Position(sel.Pos()), sel.Sel.Name)
				}
				return true
			})
		}
	}
}

// TestEveryPackageHasDoc fails when a package has no doc comment saying what
// it is for. Generated code is exempt.
func TestEveryPackageHasDoc(t *testing.T) {
	t.Parallel()
	for _, p := range listWorkspace(t) {
		if strings.Contains(p.ImportPath, "/gen/") {
			continue
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s (%s) has no package doc comment", p.ImportPath, p.Dir)
		}
	}
}
