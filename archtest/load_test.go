package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// pkg is one of the module's own packages, parsed and type-checked.
type pkg struct {
	Path  string
	Files []*ast.File
	Info  *types.Info
	Fset  *token.FileSet
	// Imports are the packages it imports directly.
	Imports []string
}

// listed is what `go list -json` says of a package.
type listed struct {
	ImportPath string
	Dir        string
	Export     string
	GoFiles    []string
	Imports    []string
	DepOnly    bool
	Standard   bool
	Module     *struct{ Main bool }
}

var (
	loadOnce sync.Once
	loaded   []*pkg
	loadErr  error
)

// modulePackages returns the module's non-test packages, type-checked
// against the export data `go list -export` builds (the build cache makes
// that cheap after the first run).
func modulePackages(t *testing.T) []*pkg {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = load() })
	if loadErr != nil {
		t.Fatalf("load the module's packages: %v", loadErr)
	}
	return loaded
}

func load() ([]*pkg, error) {
	cmd := exec.Command("go", "list", "-export", "-deps", "-json", "./...")
	cmd.Dir = ".." // the module root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New("go list: " + err.Error() + ": " + stderr.String())
	}
	exports := map[string]string{}
	var own []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var l listed
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		exports[l.ImportPath] = l.Export
		if l.Module != nil && l.Module.Main && !l.DepOnly {
			own = append(own, l)
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, errors.New("no export data for " + path)
		}
		return os.Open(file)
	})
	var pkgs []*pkg
	for _, l := range own {
		p := &pkg{Path: l.ImportPath, Fset: fset, Imports: l.Imports, Info: &types.Info{
			Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{},
		}}
		for _, name := range l.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(l.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			p.Files = append(p.Files, f)
		}
		conf := types.Config{Importer: imp}
		if _, err := conf.Check(l.ImportPath, fset, p.Files, p.Info); err != nil {
			return nil, errors.New("type-check " + l.ImportPath + ": " + err.Error())
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}
