package api

import (
	"embed"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"strings"
	"sync"
)

// The source of the types is embedded so that `explain` prints their own
// doc comments: the one description of a field is the comment beside it.
//
//go:embed types.go meta.go intorstr.go
var typeSources embed.FS

// Docs returns the doc comment of a type ("Deployment") or of a field of
// it ("DeploymentSpec.Replicas", by its Go name), as plain text; "" when
// it has none.
func Docs(name string) string { return typeDocs()[name] }

var typeDocs = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	entries, _ := typeSources.ReadDir(".")
	fset := token.NewFileSet()
	for _, e := range entries {
		src, err := typeSources.ReadFile(e.Name())
		if err != nil {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), src, parser.ParseComments)
		if err != nil {
			continue
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				cg := ts.Doc
				if cg == nil && len(gd.Specs) == 1 {
					cg = gd.Doc
				}
				out[ts.Name.Name] = commentText(cg)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, fld := range st.Fields.List {
					text := commentText(fld.Doc)
					if line := commentText(fld.Comment); line != "" {
						text = strings.TrimSpace(text + "\n" + line)
					}
					for _, n := range fld.Names {
						out[ts.Name.Name+"."+n.Name] = text
					}
				}
			}
		}
	}
	return out
})

func commentText(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	var p doc.Package
	return strings.TrimSpace(string(p.Printer().Text(p.Parser().Parse(cg.Text()))))
}
