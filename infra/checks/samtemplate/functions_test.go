package samtemplate_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/app/lambdas"
)

// builderName is the name of the pkg/app function a builder refers to, like "Ingress".
func builderName(fn any) string {
	full := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	return full[strings.LastIndex(full, ".")+1:]
}

// mainBuilder returns the app.<Name> that functions/<folder>/main.go hands to app.ColdStart.
func mainBuilder(folder string) (string, error) {
	path := filepath.Join(repoRoot, "functions", folder, "main.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", path, err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "ColdStart" || len(call.Args) < 2 {
			return true
		}
		if arg, ok := call.Args[1].(*ast.SelectorExpr); ok {
			names = append(names, arg.Sel.Name)
		}
		return true
	})
	if len(names) != 1 {
		return "", fmt.Errorf("%s calls app.ColdStart with builders %v; want exactly one", path, names)
	}
	return names[0], nil
}

// TestFunctionTableMatchesTemplateMakefileAndMains checks the one table of functions
// (lambdas.Functions) against everything that depends on it: the template declares exactly its
// logical ids, an HttpApi function has an HTTP builder and the stream consumer a stream
// builder, the Makefile builds each logical id from the table's folder, every folder under
// functions/ is in the table, and each main hands the table's builder to app.ColdStart.
func TestFunctionTableMatchesTemplateMakefileAndMains(t *testing.T) {
	p := load(t)
	declared := map[string]map[string]bool{} // logical id -> event types
	for _, f := range effectiveFunctions(t, p) {
		declared[f.id] = map[string]bool{}
		for _, ev := range f.fn.Events {
			declared[f.id][ev.Type] = true
		}
	}
	table := map[string]lambdas.Function{}
	for _, fn := range lambdas.Functions() {
		if _, dup := table[fn.LogicalID]; dup {
			t.Errorf("lambdas.Functions lists %s twice", fn.LogicalID)
		}
		table[fn.LogicalID] = fn
	}
	if got, want := slices.Sorted(maps.Keys(table)), slices.Sorted(maps.Keys(declared)); !slices.Equal(got, want) {
		t.Errorf("lambdas.Functions logical ids = %v; template.yaml declares %v", got, want)
	}

	folders := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(table)) {
		fn := table[id]
		t.Run(id, func(t *testing.T) {
			folders[fn.Folder] = true
			events := declared[id]
			var builder any
			switch {
			case fn.HTTP != nil && fn.Stream == nil:
				builder = fn.HTTP
				if !events["HttpApi"] {
					t.Errorf("%s has an HTTP builder; template.yaml gives it no HttpApi event", id)
				}
			case fn.Stream != nil && fn.HTTP == nil:
				builder = fn.Stream
				if !events["DynamoDB"] {
					t.Errorf("%s has a stream builder; template.yaml gives it no DynamoDB event", id)
				}
			default:
				t.Fatalf("%s: HTTP set %t, Stream set %t; want exactly one builder", id, fn.HTTP != nil, fn.Stream != nil)
			}
			if _, err := exec.LookPath("make"); err == nil {
				if got, err := makeFolder(id); err != nil || got != fn.Folder {
					t.Errorf("make -n build-%s builds functions/%s (err %v); want functions/%s from lambdas.Functions", id, got, err, fn.Folder)
				}
			}
			got, err := mainBuilder(fn.Folder)
			if err != nil {
				t.Fatal(err)
			}
			if want := builderName(builder); got != want {
				t.Errorf("functions/%s/main.go builds app.%s; lambdas.Functions says app.%s", fn.Folder, got, want)
			}
		})
	}
	entries, err := os.ReadDir(filepath.Join(repoRoot, "functions"))
	if err != nil {
		t.Fatalf("read functions/: %v", err)
	}
	for _, e := range entries {
		if e.IsDir() && !folders[e.Name()] {
			t.Errorf("functions/%s is not in lambdas.Functions", e.Name())
		}
	}
}
