package api

import (
	"maps"
	"slices"
)

// Label selector operators accepted in matchExpressions.
const (
	LabelSelectorOpIn           = "In"
	LabelSelectorOpNotIn        = "NotIn"
	LabelSelectorOpExists       = "Exists"
	LabelSelectorOpDoesNotExist = "DoesNotExist"
)

// ValidateLabelSelector checks a set-based selector; path names where it sits
// in its object (spec.selector), or is empty for a selector on its own.
// Package labels builds on it, so a selector is judged the same way whether
// it arrives in a manifest or on the command line.
func ValidateLabelSelector(sel *LabelSelector, path string) []FieldError {
	if sel == nil {
		return nil
	}
	var errs fieldErrors
	validateLabels(&errs, sel.MatchLabels, child(path, "matchLabels"))
	for i, req := range sel.MatchExpressions {
		p := index(child(path, "matchExpressions"), i)
		switch req.Operator {
		case LabelSelectorOpIn, LabelSelectorOpNotIn:
			if len(req.Values) == 0 {
				errs.required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
			}
		case LabelSelectorOpExists, LabelSelectorOpDoesNotExist:
			if len(req.Values) > 0 {
				errs.forbidden(child(p, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
			}
		default:
			errs.invalid(child(p, "operator"), req.Operator, "not a valid selector operator")
		}
		errs.each(child(p, "key"), req.Key, IsQualifiedName(req.Key))
		for j, v := range req.Values {
			errs.each(index(child(p, "values"), j), v, IsValidLabelValue(v))
		}
	}
	return errs
}

// validateLabels checks the keys and values of a label map.
func validateLabels(errs *fieldErrors, labels map[string]string, path string) {
	for _, k := range sortedKeys(labels) {
		errs.each(path, k, IsQualifiedName(k))
		errs.each(path, labels[k], IsValidLabelValue(labels[k]))
	}
}

// selectorMatches evaluates a set-based selector the way
// labels.SelectorFromLabelSelector does (a nil selector matches nothing, an
// empty one everything). It is repeated here, a dozen lines, because package
// labels imports api and validation needs the answer; a test in labels keeps
// the two in agreement.
func selectorMatches(sel *LabelSelector, set map[string]string) bool {
	if sel == nil {
		return false
	}
	for k, v := range sel.MatchLabels {
		if got, ok := set[k]; !ok || got != v {
			return false
		}
	}
	for _, req := range sel.MatchExpressions {
		got, ok := set[req.Key]
		switch req.Operator {
		case LabelSelectorOpIn:
			if !ok || !slices.Contains(req.Values, got) {
				return false
			}
		case LabelSelectorOpNotIn:
			if ok && slices.Contains(req.Values, got) {
				return false
			}
		case LabelSelectorOpExists:
			if !ok {
				return false
			}
		case LabelSelectorOpDoesNotExist:
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
