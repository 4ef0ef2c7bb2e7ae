package printer

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/client-go/util/jsonpath"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// FormatJSONPathPrefix starts kubectl's -o jsonpath=TEMPLATE.
const FormatJSONPathPrefix = "jsonpath="

// jsonPath renders a template as `kubectl get -o jsonpath` does, with
// kubectl's own jsonpath package (client-go's): fields, indexes and slices,
// {range}...{end}, filters ?(@.x=="y"), recursive descent and quoted
// literals ({"\n"}). As in kubectl, a missing key prints nothing and an
// index out of range is an error. v is marshalled to JSON first, so the
// paths are the JSON field names.
func jsonPath(template string, v any) (string, error) {
	doc, err := api.Generic(v)
	if err != nil {
		return "", err
	}
	j := jsonpath.New("out").AllowMissingKeys(true)
	if err := j.Parse(template); err != nil {
		return "", fmt.Errorf("error parsing jsonpath %s, %w", template, err)
	}
	var out strings.Builder
	if err := j.Execute(&out, doc); err != nil {
		return "", fmt.Errorf("error executing jsonpath %q: %w", template, err)
	}
	return out.String(), nil
}

// FormatCustomColumnsPrefix starts kubectl's -o custom-columns=SPEC, where
// SPEC is HEADER:PATH[,HEADER:PATH...], a path being a jsonpath expression
// with or without its braces (.metadata.name).
const FormatCustomColumnsPrefix = "custom-columns="

// customColumns prints one row per object, as kubectl does: each cell is
// the values its path finds, joined by commas, or <none>.
func (p *Printer) customColumns(spec string, objs []api.Object) error {
	if spec == "" {
		return fmt.Errorf("custom-columns format specified but no custom columns given")
	}
	var headers []string
	var paths []*jsonpath.JSONPath
	for _, col := range strings.Split(spec, ",") {
		header, path, ok := strings.Cut(col, ":")
		if !ok || header == "" || path == "" {
			return fmt.Errorf("unexpected custom-columns spec: %s, expected <header>:<json-path-expr>", col)
		}
		j, _, err := fieldPath(header, path)
		if err != nil {
			return err
		}
		headers, paths = append(headers, header), append(paths, j)
	}
	cols := newColumns(p.w)
	if !p.opts.NoHeaders {
		cols.add(headers)
	}
	for _, obj := range objs {
		doc, err := api.Generic(obj)
		if err != nil {
			return err
		}
		row := make([]string, len(paths))
		for i, j := range paths {
			results, err := j.FindResults(doc)
			if err != nil {
				return err
			}
			var vals []string
			for _, set := range results {
				for _, v := range set {
					vals = append(vals, fmt.Sprintf("%v", v.Interface()))
				}
			}
			row[i] = "<none>"
			if len(vals) > 0 {
				row[i] = strings.Join(vals, ",")
			}
		}
		cols.add(row)
	}
	return cols.flush()
}

// fieldPath compiles a path as a column, --sort-by and --field-selector
// write it (see relaxedPath); a missing key finds nothing. It returns the
// template it compiled too, for messages.
func fieldPath(name, path string) (*jsonpath.JSONPath, string, error) {
	expr, err := relaxedPath(path)
	if err != nil {
		return nil, "", err
	}
	j := jsonpath.New(name).AllowMissingKeys(true)
	if err := j.Parse(expr); err != nil {
		return nil, "", fmt.Errorf("error parsing jsonpath %s, %w", expr, err)
	}
	return j, expr, nil
}

// firstValue is the first value j finds in doc, if any.
func firstValue(j *jsonpath.JSONPath, doc any) (v any, found bool, err error) {
	results, err := j.FindResults(doc)
	if err != nil || len(results) == 0 || len(results[0]) == 0 {
		return nil, false, err
	}
	return results[0][0].Interface(), true, nil
}

// relaxedPath turns a column's path, written name.sub, .name.sub,
// {name.sub} or {.name.sub}, into the jsonpath template {.name.sub}.
func relaxedPath(path string) (string, error) {
	p := path
	if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
		p = p[1 : len(p)-1]
	}
	p = strings.TrimPrefix(p, ".")
	if p == "" || strings.ContainsAny(p, "{}") {
		return "", fmt.Errorf("unexpected path string %q, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'", path)
	}
	return "{." + p + "}", nil
}

// SortBy orders objs by the value at path, as `get --sort-by` does: path is
// a jsonpath expression with or without braces (.metadata.creationTimestamp);
// numbers compare as numbers, everything else as text, and an object without
// the field comes first; a field no object has is an error. The sort is
// stable.
func SortBy(objs []api.Object, path string) error {
	j, expr, err := fieldPath("sort-by", path)
	if err != nil {
		return err
	}
	type keyed struct {
		obj     api.Object
		present bool
		num     float64
		isNum   bool
		text    string
	}
	keys := make([]keyed, len(objs))
	for i, obj := range objs {
		doc, err := api.Generic(obj)
		if err != nil {
			return err
		}
		v, found, err := firstValue(j, doc)
		if err != nil {
			return err
		}
		k := keyed{obj: obj, present: found}
		if found {
			switch n := v.(type) {
			case int64:
				k.num, k.isNum = float64(n), true
			case float64:
				k.num, k.isNum = n, true
			default:
				k.text = fmt.Sprint(v)
			}
		}
		keys[i] = k
	}
	if len(keys) > 0 && !slices.ContainsFunc(keys, func(k keyed) bool { return k.present }) {
		// A path no object has is a typo, as kubectl reports it.
		return fmt.Errorf("couldn't find any field with path %q in the list of objects", expr)
	}
	slices.SortStableFunc(keys, func(a, b keyed) int {
		switch {
		case a.present != b.present:
			if a.present {
				return 1
			}
			return -1
		case a.isNum && b.isNum:
			return cmp.Compare(a.num, b.num)
		}
		return strings.Compare(a.text, b.text)
	})
	for i, k := range keys {
		objs[i] = k.obj
	}
	return nil
}

// FieldSelector filters objects as `get --field-selector` does:
// "status.phase=Running,metadata.name!=kubia-x", each term a field path, = or
// == or !=, and a value. Kubernetes' servers support a few fields per kind;
// here any field of the object can be named. A missing field has the value "".
type FieldSelector struct {
	terms []fieldTerm
}

type fieldTerm struct {
	path   *jsonpath.JSONPath
	value  string
	negate bool
}

// ParseFieldSelector reads a --field-selector value.
func ParseFieldSelector(s string) (*FieldSelector, error) {
	fs := &FieldSelector{}
	for _, term := range strings.Split(s, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		op := ""
		for _, o := range []string{"!=", "==", "="} {
			if strings.Contains(term, o) {
				op = o
				break
			}
		}
		if op == "" {
			return nil, fmt.Errorf("invalid selector: '%s'; can't understand '%s'", s, term)
		}
		field, value, _ := strings.Cut(term, op)
		j, _, err := fieldPath(field, strings.TrimSpace(field))
		if err != nil {
			return nil, fmt.Errorf("invalid field selector %q: %w", term, err)
		}
		fs.terms = append(fs.terms, fieldTerm{path: j, value: strings.TrimSpace(value), negate: op == "!="})
	}
	return fs, nil
}

// Filter returns the objects every term matches.
func (fs *FieldSelector) Filter(objs []api.Object) ([]api.Object, error) {
	var out []api.Object
	for _, obj := range objs {
		doc, err := api.Generic(obj)
		if err != nil {
			return nil, err
		}
		keep := true
		for _, t := range fs.terms {
			v, found, err := firstValue(t.path, doc)
			if err != nil {
				return nil, err
			}
			got := ""
			if found {
				got = fmt.Sprint(v)
			}
			if (got == t.value) == t.negate {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, obj)
		}
	}
	return out, nil
}

// JSONPathValue is the value at path in obj, printed as kubectl's
// jsonpath prints it, for `wait --for=jsonpath`: path is written with or
// without braces ({.status.phase}, .status.phase); found is false when the
// path finds nothing.
func JSONPathValue(path string, obj any) (value string, found bool, err error) {
	j, _, err := fieldPath("value", path)
	if err != nil {
		return "", false, err
	}
	doc, err := api.Generic(obj)
	if err != nil {
		return "", false, err
	}
	v, found, err := firstValue(j, doc)
	if err != nil || !found {
		return "", false, err
	}
	if s, ok := v.(string); ok {
		return s, true, nil
	}
	return fmt.Sprint(v), true, nil
}
