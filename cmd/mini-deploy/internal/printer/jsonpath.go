package printer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// FormatJSONPathPrefix starts kubectl's -o jsonpath=TEMPLATE.
const FormatJSONPathPrefix = "jsonpath="

// jsonPath renders kubectl's jsonpath subset that scripts use most: literal
// text with {.field.sub[0].x} expressions, and {.items[*].field} over a List.
// Filters and recursive descent are not supported and say so.
func jsonPath(template string, v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "", err
	}
	var out strings.Builder
	rest := template
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			out.WriteString(rest)
			break
		}
		out.WriteString(rest[:open])
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return "", fmt.Errorf("jsonpath %q: unclosed {", template)
		}
		expr := strings.TrimSpace(rest[open+1 : open+end])
		rest = rest[open+end+1:]
		vals, err := evalPath(expr, doc)
		if err != nil {
			return "", fmt.Errorf("jsonpath %q: %w", template, err)
		}
		for i, val := range vals {
			if i > 0 {
				out.WriteByte(' ')
			}
			out.WriteString(scalar(val))
		}
	}
	return out.String(), nil
}

// evalPath walks .a.b[0].c or .items[*].x from doc.
func evalPath(expr string, doc any) ([]any, error) {
	if expr == "" || expr[0] != '.' {
		return nil, fmt.Errorf("%q: want an expression starting with '.'", expr)
	}
	if strings.Contains(expr, "..") || strings.Contains(expr, "?(") {
		return nil, fmt.Errorf("%q: filters and recursive descent are not supported", expr)
	}
	cur := []any{doc}
	for _, part := range strings.Split(expr[1:], ".") {
		if part == "" {
			continue
		}
		name, index, hasIndex := strings.Cut(part, "[")
		var next []any
		for _, c := range cur {
			if name != "" {
				m, ok := c.(map[string]any)
				if !ok {
					continue
				}
				v, ok := m[name]
				if !ok {
					continue
				}
				c = v
			}
			if !hasIndex {
				next = append(next, c)
				continue
			}
			list, ok := c.([]any)
			if !ok {
				continue
			}
			index = strings.TrimSuffix(index, "]")
			if index == "*" {
				next = append(next, list...)
				continue
			}
			i, err := strconv.Atoi(index)
			if err != nil {
				return nil, fmt.Errorf("%q: bad index [%s]", expr, index)
			}
			if i < 0 {
				i += len(list)
			}
			if i >= 0 && i < len(list) {
				next = append(next, list[i])
			}
		}
		cur = next
	}
	return cur, nil
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
