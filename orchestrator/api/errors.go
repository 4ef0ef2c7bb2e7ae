package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// ErrorType is how a field is wrong, worded as Kubernetes words it, so that
// an error from mini-deploy reads like the one kubectl would have printed.
type ErrorType string

// Field error types.
const (
	ErrorTypeRequired     ErrorType = "Required value"
	ErrorTypeInvalid      ErrorType = "Invalid value"
	ErrorTypeNotSupported ErrorType = "Unsupported value"
	ErrorTypeDuplicate    ErrorType = "Duplicate value"
	ErrorTypeForbidden    ErrorType = "Forbidden"
	ErrorTypeTooMany      ErrorType = "Too many"
	ErrorTypeTooLong      ErrorType = "Too long"
)

// FieldError is one problem with one field of an object. Path is written the
// way a user would point at the field in YAML: spec.template.spec.containers[0].image.
type FieldError struct {
	Path   string
	Type   ErrorType
	Value  any
	Detail string
}

// Error prints `path: Type: value: detail`; Required and Forbidden carry no
// value, because there is none worth showing.
func (e FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	b.WriteString(": ")
	b.WriteString(string(e.Type))
	if e.Type != ErrorTypeRequired && e.Type != ErrorTypeForbidden && e.Type != ErrorTypeTooLong {
		b.WriteString(": ")
		b.WriteString(formatValue(e.Value))
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// formatValue prints scalars as Go literals and everything else as compact
// JSON, so a map of labels reads {"app":"kubia"} as kubectl shows it.
func formatValue(v any) string {
	if v == nil {
		return "null"
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "null"
		}
		v = rv.Elem().Interface()
	}
	switch t := v.(type) {
	case string:
		return strconv.Quote(t)
	case IntOrString:
		if t.IsString {
			return strconv.Quote(t.StrVal)
		}
		return strconv.Itoa(int(t.IntVal))
	case int, int32, int64, uint32, bool:
		return fmt.Sprint(t)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// ValidationError is every problem found in one object; an apply of an
// object with any of them stores nothing.
type ValidationError struct {
	Kind   string
	Name   string
	Errors []FieldError
}

// Error prints Kubernetes' `Kind "name" is invalid: ...`, with the field
// errors in brackets when there are several.
func (e *ValidationError) Error() string {
	prefix := fmt.Sprintf("%s %q is invalid: ", e.Kind, e.Name)
	if len(e.Errors) == 1 {
		return prefix + e.Errors[0].Error()
	}
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Error()
	}
	return prefix + "[" + strings.Join(msgs, ", ") + "]"
}

// Unwrap exposes each field error to errors.As.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		errs[i] = fe
	}
	return errs
}

// fieldErrors collects errors while a validator walks an object.
type fieldErrors []FieldError

func (l *fieldErrors) required(path, detail string) {
	*l = append(*l, FieldError{Path: path, Type: ErrorTypeRequired, Detail: detail})
}

func (l *fieldErrors) invalid(path string, value any, detail string) {
	*l = append(*l, FieldError{Path: path, Type: ErrorTypeInvalid, Value: value, Detail: detail})
}

func (l *fieldErrors) tooLong(path string, max int) {
	*l = append(*l, FieldError{Path: path, Type: ErrorTypeTooLong, Detail: fmt.Sprintf("may not be more than %d bytes", max)})
}

func (l *fieldErrors) forbidden(path, detail string) {
	*l = append(*l, FieldError{Path: path, Type: ErrorTypeForbidden, Detail: detail})
}

func (l *fieldErrors) duplicate(path string, value any) {
	*l = append(*l, FieldError{Path: path, Type: ErrorTypeDuplicate, Value: value})
}

func (l *fieldErrors) notSupported(path string, value any, supported ...string) {
	quoted := make([]string, len(supported))
	for i, s := range supported {
		quoted[i] = strconv.Quote(s)
	}
	*l = append(*l, FieldError{Path: path, Type: ErrorTypeNotSupported, Value: value,
		Detail: "supported values: " + strings.Join(quoted, ", ")})
}

// each reports every reason from one of the Is* checks against one value.
func (l *fieldErrors) each(path string, value any, reasons []string) {
	for _, r := range reasons {
		l.invalid(path, value, r)
	}
}

// child and index build field paths.
func child(path string, names ...string) string {
	for _, n := range names {
		if path == "" {
			path = n
		} else {
			path += "." + n
		}
	}
	return path
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func key(path, k string) string { return path + "[" + k + "]" }
