package archtest

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"strings"
	"testing"
)

// TestNoTypedNilInterfaces guards against the typed nil: a function that
// returns an interface and an error must not hand back a concrete pointer
// (or map, slice, chan, func) that may be nil next to a failure. The nil
// pointer becomes a non-nil interface, passes every "!= nil" check, and
// panics at its first method call: every BMC login failure once did exactly
// that (`return dialer.Open(ctx, srv, creds)` as a (workers.Session, error)).
// Write instead:
//
//	s, err := dialer.Open(ctx, srv, creds)
//	if err != nil {
//		return nil, err
//	}
//	return s, nil
func TestNoTypedNilInterfaces(t *testing.T) {
	t.Parallel()
	var found []string
	for _, p := range modulePackages(t) {
		found = append(found, typedNils(p.Fset, p.Info, p.Files)...)
	}
	for _, f := range found {
		t.Error(f)
	}
}

// TestTypedNilCheckFindsThePattern proves the check on the shapes it must
// catch, and on those it must leave alone.
func TestTypedNilCheckFindsThePattern(t *testing.T) {
	t.Parallel()
	const src = `package fixture

import "errors"

type Conn interface{ Close() error }
type session struct{}
func (*session) Close() error { return nil }
func open(fail bool) (*session, error) {
	if fail { return nil, errors.New("refused") }
	return &session{}, nil
}

func forwarded() (Conn, error) { return open(true) }              // want
var literal = func() (Conn, error) { return open(true) }          // want
func variable() (Conn, error) { s, err := open(true); return s, err } // want
func wrapped() (Conn, error) {
	s, err := open(true)
	if err != nil { return s, errors.New("open: " + err.Error()) }  // want
	return s, nil
}
func checked() (Conn, error) {
	s, err := open(true)
	if err != nil { return nil, err }
	return s, nil
}
func fresh() (Conn, error) { return &session{}, errors.New("x") }
func concrete() (*session, error) { return open(true) }
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "fixture.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}}
	if _, err := (&types.Config{Importer: importer.Default()}).Check("fixture", fset, []*ast.File{f}, info); err != nil {
		t.Fatal(err)
	}
	var want []int
	for i, line := range strings.Split(src, "\n") {
		if strings.HasSuffix(strings.TrimSpace(line), "// want") {
			want = append(want, i+1)
		}
	}
	got := typedNils(fset, info, []*ast.File{f})
	if len(got) != len(want) {
		t.Fatalf("found %d typed nils, want %d (lines %v):\n%s", len(got), len(want), want, strings.Join(got, "\n"))
	}
	for i, line := range want {
		if !strings.Contains(got[i], fmt.Sprintf("fixture.go:%d:", line)) {
			t.Errorf("finding %q, want one at line %d", got[i], line)
		}
	}
}

// typedNils lists every return statement that may put a nil concrete value
// into an interface result beside an error.
func typedNils(fset *token.FileSet, info *types.Info, files []*ast.File) []string {
	var found []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			var sig *types.Signature
			var body *ast.BlockStmt
			switch fn := n.(type) {
			case *ast.FuncDecl:
				if obj, ok := info.Defs[fn.Name].(*types.Func); ok && fn.Body != nil {
					sig, body = obj.Type().(*types.Signature), fn.Body
				}
			case *ast.FuncLit:
				sig, _ = info.Types[fn].Type.(*types.Signature)
				body = fn.Body
			}
			if sig == nil || body == nil || !returnsInterfaceAndError(sig) {
				return true
			}
			for _, ret := range returnsOf(body) {
				if what := typedNilIn(info, sig.Results(), ret); what != "" {
					found = append(found, fmt.Sprintf("%s: returns a %s that may be nil as an interface beside an error: check the error and return a nil interface",
						fset.Position(ret.Pos()), what))
				}
			}
			return true
		})
	}
	return found
}

// returnsOf lists body's return statements, leaving out those of the
// function literals inside it (they are checked on their own).
func returnsOf(body *ast.BlockStmt) []*ast.ReturnStmt {
	var rets []*ast.ReturnStmt
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			rets = append(rets, n)
		}
		return true
	})
	return rets
}

var errorType = types.Universe.Lookup("error").Type()

func returnsInterfaceAndError(sig *types.Signature) bool {
	var iface, err bool
	for i := range sig.Results().Len() {
		t := sig.Results().At(i).Type()
		switch {
		case types.Identical(t, errorType):
			err = true
		case types.IsInterface(t):
			iface = true
		}
	}
	return iface && err
}

// typedNilIn names the type of the value that may be a typed nil in ret,
// or returns "".
func typedNilIn(info *types.Info, results *types.Tuple, ret *ast.ReturnStmt) string {
	if len(ret.Results) == 1 && results.Len() > 1 { // return f(...)
		tuple, ok := info.Types[ret.Results[0]].Type.(*types.Tuple)
		if !ok {
			return ""
		}
		for i := range results.Len() {
			if isPlainInterface(results.At(i).Type()) && nillable(tuple.At(i).Type()) {
				return tuple.At(i).Type().String()
			}
		}
		return ""
	}
	if len(ret.Results) != results.Len() || !failing(info, results, ret) {
		return ""
	}
	for i, e := range ret.Results {
		if isPlainInterface(results.At(i).Type()) && nillable(info.Types[e].Type) && !surelyNonNil(e) {
			return info.Types[e].Type.String()
		}
	}
	return ""
}

// failing reports whether an error result of ret may be non-nil.
func failing(info *types.Info, results *types.Tuple, ret *ast.ReturnStmt) bool {
	for i, e := range ret.Results {
		if types.Identical(results.At(i).Type(), errorType) && !info.Types[e].IsNil() {
			return true
		}
	}
	return false
}

func isPlainInterface(t types.Type) bool {
	return types.IsInterface(t) && !types.Identical(t, errorType)
}

// nillable: a concrete type whose zero value is nil.
func nillable(t types.Type) bool {
	if t == nil || types.IsInterface(t) {
		return false
	}
	switch t.Underlying().(type) {
	case *types.Pointer, *types.Map, *types.Slice, *types.Chan, *types.Signature:
		return true
	}
	return false
}

// surelyNonNil: &T{...}, new(T), a composite literal.
func surelyNonNil(e ast.Expr) bool {
	switch e := ast.Unparen(e).(type) {
	case *ast.UnaryExpr:
		return e.Op == token.AND
	case *ast.CompositeLit:
		return true
	case *ast.CallExpr:
		id, ok := e.Fun.(*ast.Ident)
		return ok && (id.Name == "new" || id.Name == "make")
	}
	return false
}
