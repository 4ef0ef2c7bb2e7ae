package main

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

func newExplainCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "explain TYPE[.FIELD...]",
		Short: "Describe the fields of a kind, from mini-deploy's own type documentation",
		Long: `Describe a kind or one of its fields, as kubectl explain does: the field's type,
its description (the doc comment of mini-deploy's Go type, so it says what
mini-deploy supports) and the fields below it.

Examples:
  mini-deploy explain deployment
  mini-deploy explain deployment.spec.strategy.rollingUpdate
  mini-deploy explain svc.spec.ports`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExplain(g.out, args[0])
		},
	}
}

func runExplain(w io.Writer, path string) error {
	parts := strings.Split(path, ".")
	rt, ok := lookupType(parts[0])
	if !ok {
		return fmt.Errorf("the server doesn't have a resource type %q", parts[0])
	}
	info, _ := api.InfoOf(rt.kind)
	typ := reflect.TypeOf(info.New()).Elem()
	field, fieldDoc := "", api.Docs(typ.Name())
	for _, name := range parts[1:] {
		f, ok := jsonField(elemType(typ), name)
		if !ok {
			return fmt.Errorf("field %q does not exist", name)
		}
		fieldDoc = api.Docs(elemType(typ).Name() + "." + f.Name)
		if fieldDoc == "" {
			fieldDoc = api.Docs(elemType(f.Type).Name())
		}
		typ, field = f.Type, name
	}
	if info.Group != "" {
		fmt.Fprintf(w, "GROUP:      %s\n", info.Group)
	}
	fmt.Fprintf(w, "KIND:       %s\nVERSION:    v1\n\n", info.Kind)
	if field != "" {
		fmt.Fprintf(w, "FIELD: %s <%s>\n\n", field, typeName(typ))
	}
	fmt.Fprintf(w, "DESCRIPTION:\n%s\n", indent(fieldDoc, "    "))
	st := elemType(typ)
	if st.Kind() != reflect.Struct || typeName(typ) == "Time" {
		return nil
	}
	fmt.Fprintln(w, "FIELDS:")
	for _, f := range jsonFields(st) {
		d := api.Docs(f.owner + "." + f.Name)
		if d == "" {
			d = api.Docs(elemType(f.Type).Name())
		}
		fmt.Fprintf(w, "  %s\t<%s>\n%s\n", f.json, typeName(f.Type), indent(d, "    "))
	}
	return nil
}

// elemType is t without pointers, slices and maps around it.
func elemType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	return t
}

type explainField struct {
	reflect.StructField
	json  string
	owner string // the Go type declaring it
}

// jsonFields are the fields of struct type t by their JSON names, those of
// embedded structs (TypeMeta, ObjectMeta inline) included.
func jsonFields(t reflect.Type) []explainField {
	var out []explainField
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && tag == "" {
			out = append(out, jsonFields(elemType(f.Type))...)
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		out = append(out, explainField{StructField: f, json: tag, owner: t.Name()})
	}
	return out
}

func jsonField(t reflect.Type, name string) (explainField, bool) {
	if t.Kind() != reflect.Struct {
		return explainField{}, false
	}
	for _, f := range jsonFields(t) {
		if f.json == name {
			return f, true
		}
	}
	return explainField{}, false
}

// typeName is kubectl explain's name of a field's type.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string"
		}
		return "[]" + typeName(t.Elem())
	case reflect.Map:
		return "map[" + typeName(t.Key()) + "]" + typeName(t.Elem())
	case reflect.String:
		if t.Name() != "" && t.Name() != "string" && t.PkgPath() != "" {
			return t.Name()
		}
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Struct:
		return t.Name()
	case reflect.Interface:
		return "Object"
	}
	return t.String()
}

func indent(text, prefix string) string {
	if text == "" {
		text = "<empty>"
	}
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if l == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}
