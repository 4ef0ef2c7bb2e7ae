// Package printer is where everything the CLI shows takes its shape.
//
// A user who knows kubectl should feel at home, so the shapes are
// kubectl's: tables with NAME first and upper-case headers, padded the way
// kubectl's tabwriter pads them; AGE counted the way kubectl counts
// it; `-o wide` adding columns at the right; `-o json|yaml` printing
// Kubernetes-shaped objects, several of them wrapped in a `kind: List`;
// `-o name` printing `deployment.apps/kubia`. A watch (`get -w`) prints a
// row per change, aligned with the rows before it.
//
// The verbs gather objects; the printer only formats them. It reads no
// clock of its own (Options.Now) so every table can be tested as text.
//
// Where a change goes: a new kind's table columns are a case in table.go
// (header and row); its `-o name` spelling comes from the api registry.
package printer

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Output formats, as given to -o.
const (
	FormatTable = ""
	FormatWide  = "wide"
	FormatJSON  = "json"
	FormatYAML  = "yaml"
	FormatName  = "name"
)

// Formats lists the -o values, for help and errors.
var Formats = []string{FormatWide, FormatJSON, FormatYAML, FormatName, FormatJSONPathPrefix + "TEMPLATE", FormatCustomColumnsPrefix + "SPEC"}

// ValidFormat reports whether f is a format the printer knows.
func ValidFormat(f string) bool {
	return strings.HasPrefix(f, FormatJSONPathPrefix) || strings.HasPrefix(f, FormatCustomColumnsPrefix) || f == FormatTable || f == FormatWide || f == FormatJSON || f == FormatYAML || f == FormatName
}

// Options shape the output.
type Options struct {
	Format string
	// NoHeaders leaves out the header row.
	NoHeaders bool
	// AllNamespaces adds a NAMESPACE column first, as `get -A` does.
	AllNamespaces bool
	// ShowLabels adds a LABELS column, as `get --show-labels` does.
	ShowLabels bool
	// ShowKind prefixes names with their type (pod/kubia-v1-x7k2p), as
	// kubectl does when several types are printed together.
	ShowKind bool
	// Address is the daemon's proxy address, for Service URLs.
	Address string
	// Now is the clock AGE is counted against (default time.Now).
	Now func() time.Time
}

// Printer writes objects to one writer.
type Printer struct {
	w    io.Writer
	opts Options
}

// New returns a printer writing to w.
func New(w io.Writer, opts Options) *Printer {
	return &Printer{w: w, opts: opts}
}

func (p *Printer) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}

// Column padding as kubectl's tabwriter has it: three spaces between
// columns, no column narrower than six.
const (
	cellPadding  = 3
	minCellWidth = 6
)

// columns pads rows into aligned columns like text/tabwriter with kubectl's
// settings, but remembers its widths across flushes (as kubectl's own fork
// of tabwriter does), so the rows of a watch stay under their header.
type columns struct {
	w      io.Writer
	rows   [][]string
	widths []int
}

func newColumns(w io.Writer) *columns { return &columns{w: w} }

func (c *columns) add(cells []string) {
	for i, cell := range cells[:max(0, len(cells)-1)] {
		n := max(utf8.RuneCountInString(cell)+cellPadding, minCellWidth)
		if i == len(c.widths) {
			c.widths = append(c.widths, 0)
		}
		c.widths[i] = max(c.widths[i], n)
	}
	c.rows = append(c.rows, cells)
}

func (c *columns) flush() error {
	var b strings.Builder
	for _, row := range c.rows {
		for i, cell := range row {
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", c.widths[i]-utf8.RuneCountInString(cell)))
			}
		}
		b.WriteByte('\n')
	}
	c.rows = c.rows[:0]
	_, err := io.WriteString(c.w, b.String())
	return err
}

// Print prints objs. With single, one object prints alone in json and yaml
// rather than inside a List, as `get TYPE NAME` does. Tables come one per
// kind, in the order the kinds first appear, separated by a blank line.
func (p *Printer) Print(objs []api.Object, single bool) error {
	switch p.opts.Format {
	case FormatJSON, FormatYAML:
		var v any = api.NewList(objs)
		if single && len(objs) == 1 {
			v = objs[0]
		}
		return p.encode(v)
	case FormatName:
		for _, obj := range objs {
			if _, err := fmt.Fprintln(p.w, Name(obj)); err != nil {
				return err
			}
		}
		return nil
	case FormatTable, FormatWide:
	default:
		if spec, ok := strings.CutPrefix(p.opts.Format, FormatCustomColumnsPrefix); ok {
			return p.customColumns(spec, objs)
		}
		if tmpl, ok := strings.CutPrefix(p.opts.Format, FormatJSONPathPrefix); ok {
			var v any = api.NewList(objs)
			if single && len(objs) == 1 {
				v = objs[0]
			}
			s, err := jsonPath(strings.Trim(tmpl, "'"), v)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(p.w, s)
			return err
		}
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: %s", p.opts.Format, strings.Join(Formats, ","))
	}
	var kinds []string
	byKind := map[string][]api.Object{}
	for _, obj := range objs {
		k := obj.GetTypeMeta().Kind
		if _, ok := byKind[k]; !ok {
			kinds = append(kinds, k)
		}
		byKind[k] = append(byKind[k], obj)
	}
	showKind := p.opts.ShowKind || len(kinds) > 1
	for i, k := range kinds {
		if i > 0 {
			fmt.Fprintln(p.w)
		}
		cols := newColumns(p.w)
		if !p.opts.NoHeaders {
			cols.add(p.header(k))
		}
		for _, obj := range byKind[k] {
			cols.add(p.row(obj, showKind))
		}
		if err := cols.flush(); err != nil {
			return err
		}
	}
	return nil
}

func (p *Printer) encode(v any) error {
	var b []byte
	var err error
	if p.opts.Format == FormatJSON {
		b, err = api.ToJSON(v)
	} else {
		b, err = api.ToYAML(v)
	}
	if err != nil {
		return err
	}
	_, err = p.w.Write(b)
	return err
}

// Stream prints the objects of a watch as they come: a header before the
// first one, then one row each, aligned with the ones before. In json and
// yaml it prints each object whole; yaml documents are separated by ---.
type Stream struct {
	p        *Printer
	cols     *columns
	started  bool
	showKind bool
}

// Stream returns a stream printer for one kind.
func (p *Printer) Stream() *Stream {
	return &Stream{p: p, cols: newColumns(p.w), showKind: p.opts.ShowKind}
}

// Print prints one object.
func (s *Stream) Print(obj api.Object) error {
	p := s.p
	switch p.opts.Format {
	case FormatJSON:
		return p.encode(obj)
	case FormatYAML:
		if s.started {
			io.WriteString(p.w, "---\n")
		}
		s.started = true
		return p.encode(obj)
	case FormatName:
		_, err := fmt.Fprintln(p.w, Name(obj))
		return err
	}
	if !s.started && !p.opts.NoHeaders {
		s.cols.add(p.header(obj.GetTypeMeta().Kind))
	}
	s.started = true
	s.cols.add(p.row(obj, s.showKind))
	return s.cols.flush()
}

// Resource returns the singular, group-qualified name kubectl prints for a
// kind: replicationcontroller, deployment.apps, service.
func Resource(kind string) string {
	if k, ok := api.InfoOf(kind); ok {
		return k.Name
	}
	return strings.ToLower(kind)
}

// Name prints obj as `-o name` does: deployment.apps/kubia.
func Name(obj api.Object) string {
	return Resource(obj.GetTypeMeta().Kind) + "/" + obj.Meta().Name
}
