package api

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// The converter: how a YAML node becomes the JSON of a typed object, field by
// field, with an error that names the file, line and field path for every
// field that does not fit (unknown, duplicated, of the wrong type).

// converter walks a yaml.Node alongside a Go type and returns the same data
// as plain JSON values, collecting an error for every field that does not fit.
type converter struct {
	base DecodeError
	errs []error
	// exp counts the nodes converted in the whole document, aliases
	// expanded, against its limit.
	exp *expansion
	// active holds the collections being converted, outermost first, so an
	// alias back into one of them (a value containing itself) is refused
	// instead of recursing until the stack overflows.
	active map[*yaml.Node]bool
}

// Alias expansion bounds: what a document may expand to is aliasFloor nodes
// (aliasFloorBytes bytes of scalars) plus aliasRatio times the nodes (bytes)
// it is written with. Anchors used for what they are for (a shared block of
// labels or env vars, merged a few times) stay far below it.
const (
	aliasFloor      = 10000
	aliasFloorBytes = 1 << 20
	aliasRatio      = 4
)

// expansion is one document's node count: a document whose aliases expand
// past limit (a "billion laughs") is refused instead of growing the process.
// It is shared by the items of a List, which could otherwise each expand the
// same alias to the limit.
type expansion struct{ nodes, bytes, maxNodes, maxBytes int }

func newExpansion(doc *yaml.Node) *expansion {
	nodes, bytes := countNodes(doc)
	return &expansion{maxNodes: aliasFloor + aliasRatio*nodes, maxBytes: aliasFloorBytes + aliasRatio*bytes}
}

func (e *expansion) exceeded() bool { return e.nodes > e.maxNodes || e.bytes > e.maxBytes }

func newConverter(base DecodeError, exp *expansion) *converter {
	return &converter{base: base, exp: exp, active: map[*yaml.Node]bool{}}
}

// countNodes counts the nodes of n and the bytes of its scalars as written,
// not following aliases.
func countNodes(n *yaml.Node) (nodes, bytes int) {
	nodes, bytes = 1, len(n.Value)
	for _, c := range n.Content {
		cn, cb := countNodes(c)
		nodes += cn
		bytes += cb
	}
	return nodes, bytes
}

// enter resolves n's aliases and checks the two bounds before n is converted.
// It returns nil when n must not be converted; the caller then returns nil.
func (c *converter) enter(n *yaml.Node, path string) *yaml.Node {
	if c.exp.exceeded() {
		return nil // already reported
	}
	target := resolveAlias(n)
	if target != n && c.active[target] {
		c.fail(path, n, fmt.Sprintf("alias *%s refers to a value that contains it; a value cannot include itself", n.Value))
		return nil
	}
	c.exp.nodes++
	c.exp.bytes += len(target.Value)
	if c.exp.exceeded() {
		c.fail(path, n, fmt.Sprintf("aliases expand this document past %d YAML nodes or %d bytes; write the values out or nest fewer aliases",
			c.exp.maxNodes, c.exp.maxBytes))
		return nil
	}
	return target
}

func (c *converter) fail(path string, n *yaml.Node, msg string) {
	e := c.base
	e.Path, e.Line, e.Msg = path, n.Line, msg
	c.errs = append(c.errs, &e)
}

var (
	timeType        = reflect.TypeFor[Time]()
	intOrStringType = reflect.TypeFor[IntOrString]()
	quantityType    = reflect.TypeFor[Quantity]()
)

func (c *converter) convert(n *yaml.Node, t reflect.Type, path string) any {
	if n = c.enter(n, path); n == nil {
		return nil
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		c.active[n] = true
		defer delete(c.active, n)
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		tag := n.ShortTag()
		if n.Kind == yaml.ScalarNode && (tag == "!!str" || tag == "!!timestamp") {
			if _, err := time.Parse(time.RFC3339Nano, n.Value); err == nil {
				return n.Value
			}
		}
		c.fail(path, n, "expected an RFC 3339 time, got "+describe(n))
		return nil
	case quantityType:
		if n.Kind == yaml.ScalarNode {
			switch n.ShortTag() {
			case "!!str", "!!int", "!!float":
				return n.Value
			}
		}
		c.fail(path, n, "expected a quantity such as 500m or 128Mi, got "+describe(n))
		return nil
	case intOrStringType:
		switch {
		case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
			return n.Value
		case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int":
			return c.integer(n, reflect.TypeFor[int32](), path)
		}
		c.fail(path, n, "expected an integer or a string, got "+describe(n))
		return nil
	}

	switch t.Kind() {
	case reflect.Struct:
		return c.object(n, t, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.fail(path, n, "expected an object, got "+describe(n))
			return nil
		}
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolveAlias(n.Content[i])
			p := key(path, k.Value)
			if _, dup := out[k.Value]; dup {
				c.fail(p, k, "duplicate field")
				continue
			}
			out[k.Value] = c.convert(n.Content[i+1], t.Elem(), p)
		}
		return out
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.fail(path, n, "expected a list, got "+describe(n))
			return nil
		}
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			out[i] = c.convert(item, t.Elem(), index(path, i))
		}
		return out
	case reflect.String:
		if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!str" || n.ShortTag() == "!!timestamp") {
			return n.Value
		}
		c.fail(path, n, "expected a string, got "+describe(n))
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
			return c.integer(n, t, path)
		}
		c.fail(path, n, "expected an integer, got "+describe(n))
		return nil
	case reflect.Bool:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
			var b bool
			if err := n.Decode(&b); err == nil {
				return b
			}
		}
		c.fail(path, n, "expected true or false, got "+describe(n))
		return nil
	}
	c.fail(path, n, "field of unsupported type "+t.String())
	return nil
}

func (c *converter) integer(n *yaml.Node, t reflect.Type, path string) any {
	var v int64
	if err := n.Decode(&v); err != nil || reflect.New(t).Elem().OverflowInt(v) {
		c.fail(path, n, fmt.Sprintf("%s is out of range for %s", n.Value, t))
		return nil
	}
	return v
}

func (c *converter) object(n *yaml.Node, t reflect.Type, path string) any {
	if n.Kind != yaml.MappingNode {
		c.fail(path, n, "expected an object, got "+describe(n))
		return nil
	}
	fields := jsonFields(t)
	out := map[string]any{}
	var merged map[string]any
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolveAlias(n.Content[i]), n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			// `<<: *defaults` merges another mapping; keys written here win.
			if src := c.mergeSource(v, path); src != nil {
				merged, _ = c.object(src, t, path).(map[string]any)
			}
			continue
		}
		p := child(path, k.Value)
		ft, ok := fields[k.Value]
		if _, dup := out[k.Value]; dup {
			c.fail(p, k, "duplicate field")
			continue
		}
		if !ok {
			c.fail(p, k, "unknown field")
			continue
		}
		out[k.Value] = c.convert(v, ft, p)
	}
	for mk, mv := range merged {
		if _, set := out[mk]; !set {
			out[mk] = mv
		}
	}
	return out
}

// mergeSource flattens the value of a merge key, a mapping or a list of them
// (earlier ones win), into one mapping node.
func (c *converter) mergeSource(n *yaml.Node, path string) *yaml.Node {
	if n = c.enter(n, path); n == nil || n.Kind != yaml.SequenceNode {
		return n
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line}
	seen := map[string]bool{}
	for _, item := range n.Content {
		if item = c.enter(item, path); item == nil {
			return nil
		}
		for i := 0; i+1 < len(item.Content); i += 2 {
			if k := item.Content[i].Value; !seen[k] {
				seen[k] = true
				m.Content = append(m.Content, item.Content[i], item.Content[i+1])
			}
		}
	}
	return m
}

// jsonFields maps each JSON field name of a struct to its type, flattening
// embedded structs without a name (TypeMeta, ProbeHandler) as encoding/json
// does, and letting a struct's own fields win over embedded ones.
var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			embedded = append(embedded, ft)
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	for _, et := range embedded {
		for name, ft := range jsonFields(et) {
			if _, own := fields[name]; !own {
				fields[name] = ft
			}
		}
	}
	fieldCache.Store(t, fields)
	return fields
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe names what a node holds for "expected X, got Y": strings quoted,
// other scalars as written.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "nothing"
}

// scalarField returns the string value of key in mapping n, or "".
func scalarField(n *yaml.Node, key string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			if v := resolveAlias(n.Content[i+1]); v.Kind == yaml.ScalarNode {
				return v.Value
			}
		}
	}
	return ""
}

func mappingField(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			if v := resolveAlias(n.Content[i+1]); v.Kind == yaml.MappingNode {
				return v
			}
		}
	}
	return nil
}

// withoutField returns a shallow copy of mapping n without key.
func withoutField(n *yaml.Node, key string) *yaml.Node {
	cp := *n
	cp.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != key {
			cp.Content = append(cp.Content, n.Content[i], n.Content[i+1])
		}
	}
	return &cp
}
