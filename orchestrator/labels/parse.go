package labels

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The string form is small enough for a hand-written lexer and a
// recursive-descent parser, shaped like Kubernetes' so that the same input
// fails at the same token with the same complaint.

type tokenKind int

const (
	tokEnd tokenKind = iota
	tokIdent
	tokBang      // !
	tokNotEquals // !=
	tokEquals    // =
	tokDoubleEq  // ==
	tokOpenPar   // (
	tokClosePar  // )
	tokComma     // ,
	tokIn        // in
	tokNotIn     // notin
	tokOther     // < or >: Kubernetes' Gt and Lt, which label selectors here do not take
)

type token struct {
	kind tokenKind
	lit  string
}

// specialChars end an identifier.
const specialChars = "=!(),<>"

func lex(s string) []token {
	var toks []token
	for i := 0; i < len(s); {
		c, _ := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(c):
			i += utf8.RuneLen(c)
		case strings.HasPrefix(s[i:], "!="):
			toks = append(toks, token{tokNotEquals, "!="})
			i += 2
		case strings.HasPrefix(s[i:], "=="):
			toks = append(toks, token{tokDoubleEq, "=="})
			i += 2
		case c == '!':
			toks = append(toks, token{tokBang, "!"})
			i++
		case c == '=':
			toks = append(toks, token{tokEquals, "="})
			i++
		case c == '(':
			toks = append(toks, token{tokOpenPar, "("})
			i++
		case c == ')':
			toks = append(toks, token{tokClosePar, ")"})
			i++
		case c == ',':
			toks = append(toks, token{tokComma, ","})
			i++
		case c == '<' || c == '>':
			toks = append(toks, token{tokOther, string(c)})
			i++
		default:
			j := i
			for j < len(s) {
				r, size := utf8.DecodeRuneInString(s[j:])
				if strings.ContainsRune(specialChars, r) || unicode.IsSpace(r) {
					break
				}
				j += size
			}
			lit := s[i:j]
			kind := tokIdent
			switch lit {
			case "in":
				kind = tokIn
			case "notin":
				kind = tokNotIn
			}
			toks = append(toks, token{kind, lit})
			i = j
		}
	}
	return append(toks, token{tokEnd, ""})
}

type parser struct {
	toks []token
	pos  int
}

// peek and next read tokens; in a value position the keywords in and notin
// are plain identifiers (`env=in` is a label whose value is "in").
func (p *parser) peek(value bool) token {
	t := p.toks[p.pos]
	if value && (t.kind == tokIn || t.kind == tokNotIn) {
		t.kind = tokIdent
	}
	return t
}

func (p *parser) next(value bool) token {
	t := p.peek(value)
	if t.kind != tokEnd {
		p.pos++
	}
	return t
}

// Parse reads a selector in kubectl's `-l` form: comma-separated
// requirements, each `key=value`, `key==value`, `key!=value`,
// `key in (v1,v2)`, `key notin (v1,v2)`, `key` or `!key`. Whitespace around
// tokens is ignored. The empty string selects everything.
func Parse(s string) (Selector, error) {
	p := &parser{toks: lex(s)}
	var reqs []Requirement
	for {
		t := p.peek(true)
		switch t.kind {
		case tokEnd:
			return newSelector(reqs), nil
		case tokIdent, tokBang:
			r, err := p.requirement()
			if err != nil {
				return nil, fmt.Errorf("unable to parse requirement: %w", err)
			}
			reqs = append(reqs, r)
			switch t := p.next(true); t.kind {
			case tokEnd:
				return newSelector(reqs), nil
			case tokComma:
				if n := p.peek(true); n.kind != tokIdent && n.kind != tokBang {
					return nil, fmt.Errorf("found '%s', expected: identifier after ','", n.lit)
				}
			default:
				return nil, fmt.Errorf("found '%s', expected: ',' or 'end of string'", t.lit)
			}
		default:
			return nil, fmt.Errorf("found '%s', expected: !, identifier, or 'end of string'", t.lit)
		}
	}
}

func (p *parser) requirement() (Requirement, error) {
	var op Operator
	t := p.next(true)
	if t.kind == tokBang {
		op = DoesNotExist
		t = p.next(true)
	}
	if t.kind != tokIdent {
		return Requirement{}, fmt.Errorf("found '%s', expected: identifier", t.lit)
	}
	key := t.lit
	if err := ValidateKey(key); err != nil {
		return Requirement{}, err
	}
	if n := p.peek(true); n.kind == tokEnd || n.kind == tokComma {
		if op != DoesNotExist {
			op = Exists
		}
	}
	if op == Exists || op == DoesNotExist {
		return NewRequirement(key, op, nil)
	}

	var values []string
	var err error
	switch t := p.next(false); t.kind {
	case tokEquals, tokDoubleEq, tokNotEquals:
		op = Operator(t.lit)
		values, err = p.exactValue()
	case tokIn, tokNotIn:
		op = Operator(t.lit)
		values, err = p.valueList()
	default:
		return Requirement{}, fmt.Errorf("found '%s', expected: in, notin, =, ==, !=", t.lit)
	}
	if err != nil {
		return Requirement{}, err
	}
	return NewRequirement(key, op, values)
}

// exactValue reads the right side of =, == or !=; nothing there means the
// empty value, as in `tier=`.
func (p *parser) exactValue() ([]string, error) {
	switch t := p.peek(true); t.kind {
	case tokEnd, tokComma:
		return []string{""}, nil
	case tokIdent:
		p.next(true)
		return []string{t.lit}, nil
	default:
		return nil, fmt.Errorf("found '%s', expected: identifier", t.lit)
	}
}

// valueList reads `(v1,v2)`. Empty members are empty values: `()` and
// `(a,)` both include "", which is how Kubernetes reads them.
func (p *parser) valueList() ([]string, error) {
	if t := p.next(true); t.kind != tokOpenPar {
		return nil, fmt.Errorf("found '%s', expected: '('", t.lit)
	}
	var values []string
	expectValue := true
	for {
		t := p.next(true)
		switch {
		case t.kind == tokIdent && expectValue:
			values = append(values, t.lit)
			expectValue = false
		case t.kind == tokComma:
			if expectValue {
				values = append(values, "")
			}
			expectValue = true
		case t.kind == tokClosePar:
			if expectValue {
				values = append(values, "")
			}
			return values, nil
		case t.kind == tokIdent:
			return nil, fmt.Errorf("found '%s', expected: ',' or ')'", t.lit)
		default:
			return nil, fmt.Errorf("found '%s', expected: ',', ')' or identifier", t.lit)
		}
	}
}
