package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// resourceType is one TYPE the verbs accept, with kubectl's names for it.
type resourceType struct {
	kind    string
	plural  string   // the name listed in help and errors
	aliases []string // every other spelling, short names first
}

// resourceTypes are the kinds the API serves, in api's order, with the
// spellings kubectl accepts: the short names, the singular and, for a kind of
// the apps group, both names qualified by it (deployments.apps).
var resourceTypes = func() []*resourceType {
	var out []*resourceType
	for _, k := range api.Kinds(api.Served) {
		aliases := slices.Clone(k.ShortNames)
		if k.Singular != k.Plural {
			aliases = append(aliases, k.Singular)
		}
		if k.Group == "apps" {
			aliases = append(aliases, k.Singular+".apps", k.Plural+".apps")
		}
		out = append(out, &resourceType{kind: k.Kind, plural: k.Plural, aliases: aliases})
	}
	return out
}()

// allTypes is what `get all` lists, in kubectl's order.
var allTypes = []string{api.KindPod, api.KindReplicationController, api.KindService, api.KindDeployment, api.KindReplicaSet}

func typeOfKind(kind string) *resourceType {
	for _, rt := range resourceTypes {
		if rt.kind == kind {
			return rt
		}
	}
	return nil
}

func lookupType(name string) (*resourceType, bool) {
	n := strings.ToLower(name)
	for _, rt := range resourceTypes {
		if n == rt.plural {
			return rt, true
		}
		for _, a := range rt.aliases {
			if n == a {
				return rt, true
			}
		}
	}
	return nil, false
}

// validTypes lists the types for error messages: pods (po), services (svc), ...
func validTypes(withAll bool) string {
	var parts []string
	if withAll {
		parts = append(parts, "all")
	}
	for _, rt := range resourceTypes {
		s := rt.plural
		if short := rt.aliases[0]; len(short) <= 3 {
			s += " (" + short + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func unknownType(name string, withAll bool) error {
	return fmt.Errorf("the server doesn't have a resource type %q; valid types are: %s", name, validTypes(withAll))
}

// target is one object (name set) or every object of a type (name empty).
type target struct {
	typ  *resourceType
	name string
}

// parseTargets reads kubectl's argument forms:
//
//	TYPE                every object of a type (TYPE1,TYPE2 for several)
//	TYPE NAME...        named objects of one type
//	TYPE/NAME...        named objects, each with its type
//
// all expands to allTypes when allowAll is set.
func parseTargets(verb string, args []string, allowAll bool) ([]target, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("you must specify the type of resource to %s. Valid resource types: %s", verb, validTypes(allowAll))
	}
	if strings.Contains(args[0], "/") {
		var out []target
		for _, a := range args {
			typ, name, ok := strings.Cut(a, "/")
			if !ok {
				return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'mini-deploy %s resource/<resource_name>' instead of 'mini-deploy %s resource resource/<resource_name>')", verb, verb)
			}
			if name == "" {
				return nil, fmt.Errorf("arguments in resource/name form must have a single resource and name, got %q", a)
			}
			rt, ok := lookupType(typ)
			if !ok {
				return nil, unknownType(typ, false)
			}
			out = append(out, target{rt, name})
		}
		return out, nil
	}
	var types []*resourceType
	for _, t := range strings.Split(args[0], ",") {
		if t == "all" && allowAll {
			for _, k := range allTypes {
				types = append(types, typeOfKind(k))
			}
			continue
		}
		rt, ok := lookupType(t)
		if !ok {
			return nil, unknownType(t, allowAll)
		}
		types = append(types, rt)
	}
	names := args[1:]
	if len(names) == 0 {
		out := make([]target, 0, len(types))
		for _, rt := range types {
			out = append(out, target{rt, ""})
		}
		return out, nil
	}
	if len(types) != 1 || strings.Contains(args[0], ",") || args[0] == "all" {
		return nil, fmt.Errorf("you may only specify a single resource type when naming objects: %q", args[0])
	}
	var out []target
	for _, n := range names {
		if strings.Contains(n, "/") {
			return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'mini-deploy %s resource/<resource_name>' instead of 'mini-deploy %s resource resource/<resource_name>')", verb, verb)
		}
		out = append(out, target{types[0], n})
	}
	return out, nil
}

// parseOne reads exactly one named object: TYPE/NAME or TYPE NAME, of one of
// the kinds given. It returns the arguments left over.
func parseOne(verb string, args []string, kinds ...string) (target, []string, error) {
	if len(args) == 0 {
		return target{}, nil, fmt.Errorf("you must specify the resource to %s, as TYPE/NAME or TYPE NAME", verb)
	}
	var t target
	rest := args[1:]
	if typ, name, ok := strings.Cut(args[0], "/"); ok {
		rt, found := lookupType(typ)
		if !found {
			return target{}, nil, unknownType(typ, false)
		}
		t = target{rt, name}
	} else {
		rt, found := lookupType(args[0])
		if !found {
			return target{}, nil, unknownType(args[0], false)
		}
		if len(rest) == 0 {
			return target{}, nil, fmt.Errorf("you must specify the name of the %s to %s", rt.aliases[len(rt.aliases)-1], verb)
		}
		t, rest = target{rt, rest[0]}, rest[1:]
	}
	if t.name == "" {
		return target{}, nil, fmt.Errorf("you must specify the name of the resource to %s", verb)
	}
	if len(kinds) > 0 && !contains(kinds, t.typ.kind) {
		var names []string
		for _, k := range kinds {
			names = append(names, typeOfKind(k).plural)
		}
		return target{}, nil, fmt.Errorf("cannot %s %s: only %s", verb, t.typ.plural, strings.Join(names, ", "))
	}
	return t, rest, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
