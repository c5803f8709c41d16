package lead_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// The domain types carry no struct tags: their JSON names (and any other encoding's) belong
// to the adapters (package wire), so renaming a field here cannot change an answer.
func TestDomainTypesCarryNoStructTags(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			if field, ok := n.(*ast.Field); ok && field.Tag != nil {
				t.Errorf("%s: struct tag %s on a domain type; put the wire form in package wire", fset.Position(field.Pos()), field.Tag.Value)
			}
			return true
		})
	}
	if files == 0 {
		t.Fatal("no source files read")
	}
}
