package api

import (
	"fmt"
	"regexp"
	"strings"
)

// The checks below answer "is this string acceptable as X?" with a list of
// reasons it is not, the way Kubernetes' validation helpers do, so a caller
// can wrap each reason in a FieldError with its own path. They live here
// rather than in package labels because api validates names and labels, and
// labels already depends on api for LabelSelector: one direction only.

const (
	// DNS1123LabelMaxLength is the longest DNS label: a hostname, a pod name.
	DNS1123LabelMaxLength = 63
	// DNS1123SubdomainMaxLength is the longest DNS name.
	DNS1123SubdomainMaxLength = 253
	// LabelValueMaxLength is the longest label value and label name part.
	LabelValueMaxLength = 63
)

const (
	dns1123LabelFmt   = `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
	dns1035LabelFmt   = `[a-z]([-a-z0-9]*[a-z0-9])?`
	qualifiedNameFmt  = `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
	dns1123SubdomFmt  = dns1123LabelFmt + `(\.` + dns1123LabelFmt + `)*`
	portNameCharsFmt  = `[-a-z0-9]+`
	portNameOneLetter = `[a-z]`
)

var (
	dns1123LabelRE  = regexp.MustCompile(`^` + dns1123LabelFmt + `$`)
	dns1035LabelRE  = regexp.MustCompile(`^` + dns1035LabelFmt + `$`)
	qualifiedNameRE = regexp.MustCompile(`^` + qualifiedNameFmt + `$`)
	labelValueRE    = regexp.MustCompile(`^(` + qualifiedNameFmt + `)?$`)
	dns1123SubRE    = regexp.MustCompile(`^` + dns1123SubdomFmt + `$`)
	portNameCharsRE = regexp.MustCompile(`^` + portNameCharsFmt + `$`)
	portNameLetter  = regexp.MustCompile(portNameOneLetter)
)

func maxLenError(n int) string { return fmt.Sprintf("must be no more than %d characters", n) }

// IsDNS1123Label checks a lowercase RFC 1123 label: object and container
// names, namespaces, hostnames.
func IsDNS1123Label(s string) []string {
	var errs []string
	if len(s) > DNS1123LabelMaxLength {
		errs = append(errs, maxLenError(DNS1123LabelMaxLength))
	}
	if !dns1123LabelRE.MatchString(s) {
		errs = append(errs, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "+
			"and must start and end with an alphanumeric character")
	}
	return errs
}

// IsDNS1035Label checks a DNS-1035 label, which Kubernetes requires of
// Service names because they become DNS names that must not look like numbers.
func IsDNS1035Label(s string) []string {
	var errs []string
	if len(s) > DNS1123LabelMaxLength {
		errs = append(errs, maxLenError(DNS1123LabelMaxLength))
	}
	if !dns1035LabelRE.MatchString(s) {
		errs = append(errs, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "+
			"start with an alphabetic character, and end with an alphanumeric character")
	}
	return errs
}

// IsDNS1123Subdomain checks a lowercase RFC 1123 subdomain, such as the
// prefix of a label key (`example.com/tier`).
func IsDNS1123Subdomain(s string) []string {
	var errs []string
	if len(s) > DNS1123SubdomainMaxLength {
		errs = append(errs, maxLenError(DNS1123SubdomainMaxLength))
	}
	if !dns1123SubRE.MatchString(s) {
		errs = append(errs, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "+
			"'-' or '.', and must start and end with an alphanumeric character")
	}
	return errs
}

// IsQualifiedName checks a label or annotation key: an optional DNS
// subdomain prefix and '/', then a name of at most 63 characters.
func IsQualifiedName(s string) []string {
	var errs []string
	parts := strings.Split(s, "/")
	var name string
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		var prefix string
		prefix, name = parts[0], parts[1]
		if prefix == "" {
			errs = append(errs, "prefix part must be non-empty")
		} else {
			for _, msg := range IsDNS1123Subdomain(prefix) {
				errs = append(errs, "prefix part "+msg)
			}
		}
	default:
		return append(errs, "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "+
			"and must start and end with an alphanumeric character, with an optional DNS subdomain prefix "+
			"and '/' (e.g. 'example.com/MyName')")
	}
	switch {
	case name == "":
		errs = append(errs, "name part must be non-empty")
	case len(name) > LabelValueMaxLength:
		errs = append(errs, "name part "+maxLenError(LabelValueMaxLength))
	}
	if name != "" && !qualifiedNameRE.MatchString(name) {
		errs = append(errs, "name part must consist of alphanumeric characters, '-', '_' or '.', "+
			"and must start and end with an alphanumeric character")
	}
	return errs
}

// IsValidLabelValue checks a label value; the empty string is a valid value.
func IsValidLabelValue(s string) []string {
	var errs []string
	if len(s) > LabelValueMaxLength {
		errs = append(errs, maxLenError(LabelValueMaxLength))
	}
	if !labelValueRE.MatchString(s) {
		errs = append(errs, "a valid label must be an empty string or consist of alphanumeric characters, "+
			"'-', '_' or '.', and must start and end with an alphanumeric character")
	}
	return errs
}

// IsValidPortName checks an IANA service name, the form Kubernetes requires
// of named ports so that a name can never be mistaken for a number.
func IsValidPortName(s string) []string {
	var errs []string
	if len(s) > 15 {
		errs = append(errs, "must be no more than 15 characters")
	}
	if !portNameCharsRE.MatchString(s) {
		errs = append(errs, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
	}
	if strings.Contains(s, "--") {
		errs = append(errs, "must not contain consecutive hyphens")
	}
	if !portNameLetter.MatchString(s) {
		errs = append(errs, "must contain at least one letter (a-z)")
	}
	if strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") {
		errs = append(errs, "must not begin or end with a hyphen")
	}
	return errs
}

// IsValidPortNum checks a TCP port number.
func IsValidPortNum(port int) []string {
	if port < 1 || port > 65535 {
		return []string{"must be between 1 and 65535, inclusive"}
	}
	return nil
}

// IsEnvVarName checks an environment variable name with Kubernetes' relaxed
// rule: any printable ASCII except '=', because Docker passes NAME=value.
func IsEnvVarName(s string) []string {
	for _, r := range s {
		if r < ' ' || r > '~' || r == '=' {
			return []string{"a valid environment variable name must consist only of printable ASCII characters other than '='"}
		}
	}
	if s == "" {
		return []string{"a valid environment variable name must consist only of printable ASCII characters other than '='"}
	}
	return nil
}
