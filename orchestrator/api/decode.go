package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Manifests are read the way kubectl reads them, but stricter than a plain
// YAML-to-struct decode: a misspelt field in YAML is silently dropped by
// encoding/json, and `replicaz: 5` would quietly run one pod. So each
// document is first walked as a yaml.Node against the Go type it will become,
// following the json tags, and every field the type does not have is an error
// that names the file, the document and the field path, with its line. Only a
// document that passes is turned into JSON and decoded into its typed object.

// manifestKinds are the kinds an apply accepts (the registry's Manifest
// kinds, then List), with the apiVersion each must carry, in the order error
// messages list them.
var manifestKinds = func() []struct{ apiVersion, kind string } {
	var out []struct{ apiVersion, kind string }
	for _, k := range Kinds(Manifest) {
		out = append(out, struct{ apiVersion, kind string }{k.APIVersion, k.Kind})
	}
	return append(out, struct{ apiVersion, kind string }{"v1", KindList})
}()

// KindList is the kind of a document holding other objects in items.
const KindList = "List"

func supportedKinds() string {
	s := make([]string, len(manifestKinds))
	for i, k := range manifestKinds {
		s[i] = k.apiVersion + " " + k.kind
	}
	return strings.Join(s, ", ")
}

// Source is where a decoded object came from.
type Source struct {
	File     string // the name given to DecodeManifests
	Document int    // 1-based, counting every YAML document in the file, empty ones included
	Item     int    // position in a List document's items, or -1
}

// String prints `kubia.yaml: document 2`, with `: items[0]` inside a List.
func (s Source) String() string {
	out := s.File + ": document " + strconv.Itoa(s.Document)
	if s.Item >= 0 {
		out += ": items[" + strconv.Itoa(s.Item) + "]"
	}
	return out
}

func recordSource(obj Object, src Source) {
	obj.Meta().source = &src
}

// SourceOf returns where obj was decoded from, if DecodeManifests or
// ReadManifests made it. The source lives beside the object's metadata but
// not in its JSON, so a deep copy, a stored object or one sent over the wire
// has none, which is right: it was not read from a file.
func SourceOf(obj Object) (Source, bool) {
	if src := obj.Meta().source; src != nil {
		return *src, true
	}
	return Source{}, false
}

// DecodeError is one problem in one document of a manifest file.
type DecodeError struct {
	Source Source
	Kind   string // empty until the document's kind is known
	Name   string
	Path   string // field path, such as spec.template.spec.containers[0].image
	Line   int    // 0 when unknown
	Msg    string
}

// Error prints `kubia.yaml: document 1 (ReplicationController "kubia-bad"):
// spec.replicaz: unknown field (line 7)`.
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Source.String())
	if e.Kind != "" {
		b.WriteString(" (" + e.Kind)
		if e.Name != "" {
			b.WriteString(" " + strconv.Quote(e.Name))
		}
		b.WriteString(")")
	}
	if e.Path != "" {
		b.WriteString(": " + e.Path)
	}
	b.WriteString(": " + e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// DecodeManifests reads every object in a multi-document YAML (or JSON)
// file. Empty documents are skipped; a `kind: List` contributes its items.
// Any problem in any document fails the whole file, and every problem found
// is reported, so a user fixes a file in one round. Fields the server sets
// (status, uid, resourceVersion, generation, timestamps) are accepted, so
// that the output of `get -o yaml` can be applied again, and cleared.
func DecodeManifests(name string, data []byte) ([]Object, error) {
	var objs []Object
	var errs []error
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		src := Source{File: name, Document: doc, Item: -1}
		if err != nil {
			// The YAML parser cannot resume after a syntax error.
			errs = append(errs, &DecodeError{Source: src, Msg: strings.TrimPrefix(err.Error(), "yaml: ")})
			break
		}
		got, docErrs := decodeDocument(&root, src)
		objs = append(objs, got...)
		errs = append(errs, docErrs...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return objs, nil
}

func decodeDocument(root *yaml.Node, src Source) ([]Object, []error) {
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, nil
		}
		n = n.Content[0]
	}
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, []error{&DecodeError{Source: src, Line: n.Line,
			Msg: "expected an object with apiVersion and kind, got " + describe(n)}}
	}
	apiVersion, kind := scalarField(n, "apiVersion"), scalarField(n, "kind")
	if kind != KindList {
		obj, err := decodeObject(n, src, newExpansion(root))
		if err != nil {
			return nil, []error{err}
		}
		return []Object{obj}, nil
	}

	fail := func(path string, line int, msg string) error {
		return &DecodeError{Source: src, Kind: KindList, Path: path, Line: line, Msg: msg}
	}
	if apiVersion != "v1" {
		return nil, []error{fail("apiVersion", n.Line, fmt.Sprintf("%q is not supported for kind List; supported: %s", apiVersion, supportedKinds()))}
	}
	var objs []Object
	var errs []error
	exp := newExpansion(root)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		switch k.Value {
		case "apiVersion", "kind", "metadata":
			// A List's metadata is the server's (resourceVersion) and
			// says nothing about the items.
		case "items":
			if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
				continue
			}
			if v.Kind != yaml.SequenceNode {
				return nil, []error{fail("items", v.Line, "expected a list, got "+describe(v))}
			}
			for j, item := range v.Content {
				item = resolveAlias(item)
				itemSrc := src
				itemSrc.Item = j
				if item.Kind != yaml.MappingNode {
					errs = append(errs, &DecodeError{Source: itemSrc, Line: item.Line,
						Msg: "expected an object with apiVersion and kind, got " + describe(item)})
					continue
				}
				if scalarField(item, "kind") == KindList {
					errs = append(errs, &DecodeError{Source: itemSrc, Kind: KindList, Line: item.Line, Msg: "a List may not contain a List"})
					continue
				}
				obj, err := decodeObject(item, itemSrc, exp)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				objs = append(objs, obj)
			}
		default:
			errs = append(errs, fail(k.Value, k.Line, "unknown field"))
		}
	}
	return objs, errs
}

// decodeObject checks one object's mapping against its Go type and decodes it.
func decodeObject(n *yaml.Node, src Source, exp *expansion) (Object, error) {
	apiVersion, kind := scalarField(n, "apiVersion"), scalarField(n, "kind")
	var name string
	if md := mappingField(n, "metadata"); md != nil {
		name = scalarField(md, "name")
	}
	base := DecodeError{Source: src, Kind: kind, Name: name, Line: n.Line}
	fail := func(msg string) error { e := base; e.Msg = msg; return &e }
	switch {
	case kind == "":
		return nil, fail("kind is missing; supported: " + supportedKinds())
	case apiVersion == "":
		return nil, fail("apiVersion is missing")
	}
	var want string
	for _, k := range manifestKinds {
		if k.kind == kind && kind != KindList {
			want = k.apiVersion
		}
	}
	if want == "" {
		base.Kind = ""
		return nil, fail(fmt.Sprintf("unsupported kind %q; supported: %s", kind, supportedKinds()))
	}
	if apiVersion != want {
		return nil, fail(fmt.Sprintf("apiVersion %q is not supported for kind %s, use %s; supported: %s",
			apiVersion, kind, want, supportedKinds()))
	}

	obj, err := New(kind)
	if err != nil {
		return nil, fail(err.Error())
	}
	// status is the server's to write; a copy of `get -o yaml` carries it.
	spec := withoutField(n, "status")
	c := newConverter(base, exp)
	generic := c.convert(spec, reflect.TypeOf(obj).Elem(), "")
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	data, err := json.Marshal(generic)
	if err != nil {
		return nil, fail(err.Error())
	}
	jd := json.NewDecoder(bytes.NewReader(data))
	jd.DisallowUnknownFields()
	if err := jd.Decode(obj); err != nil {
		return nil, fail(err.Error())
	}
	ClearServerFields(obj)
	recordSource(obj, src)
	return obj, nil
}

// ClearServerFields drops what only the server may set: uid,
// resourceVersion, generation, timestamps and status. Applying the output of
// `get -o yaml` is then the same as applying the file it came from.
func ClearServerFields(obj Object) {
	m := obj.Meta()
	m.UID = ""
	m.ResourceVersion = ""
	m.Generation = 0
	m.CreationTimestamp = Time{}
	m.DeletionTimestamp = nil
	v := reflect.ValueOf(obj)
	if v.Kind() == reflect.Pointer {
		if st := v.Elem().FieldByName("Status"); st.IsValid() && st.CanSet() {
			st.SetZero()
		}
	}
}

// DecodeStrict decodes one object sent to the API (JSON, or YAML) with the
// same strictness as a manifest file: unknown fields, duplicate keys and
// values of the wrong type are errors. name says where it came from in the
// errors ("object 2"). Whoever the client is, the server stores nothing the
// CLI would have refused.
func DecodeStrict(name string, data []byte) (Object, error) {
	objs, err := DecodeManifests(name, data)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("%s: expected one object, got %d", name, len(objs))
	}
	return objs[0], nil
}

// manifestExts are the files a directory contributes, as kubectl picks them.
var manifestExts = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// ReadManifests decodes files and directories (their *.yaml, *.yml and
// *.json files, in name order, not recursing), as `apply -f` takes them.
// Reading "-" from stdin is the CLI's business: it calls DecodeManifests.
// Every file is read and every problem reported before it fails, and it
// returns objects only when all of them decoded: an apply is all or nothing.
func ReadManifests(paths []string) ([]Object, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		found := false
		for _, e := range entries {
			if !e.IsDir() && manifestExts[strings.ToLower(filepath.Ext(e.Name()))] {
				files = append(files, filepath.Join(p, e.Name()))
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s: no .yaml, .yml or .json files in the directory", p)
		}
	}
	var objs []Object
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got, err := DecodeManifests(f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, got...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return objs, nil
}
