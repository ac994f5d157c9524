package bxml

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of a document. Past them Parse refuses it.
const (
	MaxDocumentBytes = 64 << 10 // a whole document
	MaxVerbs         = 100      // verbs in a Response (nested prompts included)
	MaxTextBytes     = 2048     // an attribute value or an element's text (a URL, a sentence)
	MaxDigitsLen     = 92       // SendDtmf's digits
)

// Error codes (Error.Code), stable: they reach the application in the
// error callback.
const (
	CodeSyntax        = "bxml_syntax"       // not well-formed XML, or not a <Response>
	CodeTooLarge      = "bxml_too_large"    // past MaxDocumentBytes, MaxVerbs or MaxTextBytes
	CodeUnknownVerb   = "unknown_verb"      // an element this package does not know
	CodeInvalidAttr   = "invalid_attribute" // an unknown attribute or a value out of range
	CodeInvalidText   = "invalid_text"      // an element's text (URL, digits, name) is wrong or missing
	CodeUnsupported   = "unsupported"       // known to Bandwidth, impossible here (a phone number target)
	CodeInvalidNested = "invalid_nesting"   // a verb where it may not be (only PlayAudio and SpeakSentence go in Gather…)
)

// Error is why a document was refused: the verb (and attribute) at fault,
// counted from 1 in document order, and a stable Code.
type Error struct {
	Code   string
	Verb   string // element name; "" for the document
	Index  int    // 1-based position of the verb among all verbs; 0 for the document
	Attr   string // attribute name; "" when the verb's text or children are at fault
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("bxml: ")
	if e.Verb != "" {
		fmt.Fprintf(&b, "<%s> (verb %d)", e.Verb, e.Index)
		if e.Attr != "" {
			fmt.Fprintf(&b, " attribute %s", e.Attr)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// node is one element as encoding/xml reads it.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []node     `xml:",any"`
	Text    string     `xml:",chardata"`
}

// Parse reads a BXML document. base is the URL the document came from:
// relative URLs in it are resolved against base (nil: every URL must be
// absolute). Every URL must be http or https. The first fault refuses the
// whole document with an *Error.
func Parse(doc []byte, base *url.URL) (*Response, error) {
	if len(doc) > MaxDocumentBytes {
		return nil, &Error{Code: CodeTooLarge, Reason: fmt.Sprintf("document is %d bytes, more than %d", len(doc), MaxDocumentBytes)}
	}
	root, err := decodeRoot(doc)
	if err != nil {
		return nil, err
	}
	if root.XMLName.Space != "" {
		return nil, &Error{Code: CodeSyntax, Reason: "namespaces are not part of BXML"}
	}
	if root.XMLName.Local != "Response" {
		return nil, &Error{Code: CodeSyntax, Reason: fmt.Sprintf("the root element must be <Response>, not <%s>", clip(root.XMLName.Local))}
	}
	if len(root.Attrs) > 0 {
		return nil, &Error{Code: CodeInvalidAttr, Attr: qname(root.Attrs[0].Name), Reason: "<Response> takes no attributes"}
	}
	if strings.TrimSpace(root.Text) != "" {
		return nil, &Error{Code: CodeInvalidText, Reason: "<Response> holds verbs, not text"}
	}
	p := &parser{base: base}
	r := &Response{}
	for _, n := range root.Nodes {
		v, err := p.verb(n, "")
		if err != nil {
			return nil, err
		}
		r.Verbs = append(r.Verbs, v)
	}
	return r, nil
}

// decodeRoot reads the one root element of doc. Before and after it only
// an XML declaration, comments and white space may stand; a DOCTYPE is
// refused (BXML has none, and no entity beyond XML's five is expanded).
func decodeRoot(doc []byte) (node, error) {
	var root node
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	seen := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if !seen {
				return root, &Error{Code: CodeSyntax, Reason: "no root element"}
			}
			return root, nil
		}
		if err != nil {
			return root, &Error{Code: CodeSyntax, Reason: "not well-formed XML: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if seen {
				return root, &Error{Code: CodeSyntax, Reason: "more than one root element"}
			}
			seen = true
			if err := d.DecodeElement(&root, &t); err != nil {
				return root, &Error{Code: CodeSyntax, Reason: "not well-formed XML: " + err.Error()}
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return root, &Error{Code: CodeSyntax, Reason: "text outside <Response>"}
			}
		case xml.Directive:
			return root, &Error{Code: CodeSyntax, Reason: "a DOCTYPE or other directive is not part of BXML"}
		case xml.Comment, xml.ProcInst:
		default:
			return root, &Error{Code: CodeSyntax, Reason: "unexpected XML outside <Response>"}
		}
	}
}

// qname is an attribute's name with its namespace (the prefix or URL
// encoding/xml resolved), so an error names the attribute as given.
func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// maxQuoted bounds a value quoted in an error's reason.
const maxQuoted = 80

// clip shortens s for quoting in an error.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	for i := maxQuoted; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

// parser holds what the verbs of one document share.
type parser struct {
	base  *url.URL
	count int // verbs seen, for Error.Index and MaxVerbs
}

// verb parses one element; parent is the enclosing verb ("" at the top).
func (p *parser) verb(n node, parent string) (Verb, error) {
	p.count++
	name := n.XMLName.Local
	if p.count > MaxVerbs {
		return nil, &Error{Code: CodeTooLarge, Verb: name, Index: p.count, Reason: fmt.Sprintf("more than %d verbs", MaxVerbs)}
	}
	parse, ok := verbs[name]
	if n.XMLName.Space != "" {
		return nil, &Error{Code: CodeUnknownVerb, Verb: clip(name), Index: p.count, Reason: "namespaces are not part of BXML (" + clip(n.XMLName.Space) + ")"}
	}
	if !ok {
		return nil, &Error{Code: CodeUnknownVerb, Verb: clip(name), Index: p.count, Reason: "unknown verb"}
	}
	if parent != "" && name != "PlayAudio" && name != "SpeakSentence" {
		return nil, &Error{Code: CodeInvalidNested, Verb: name, Index: p.count, Reason: "only PlayAudio and SpeakSentence may be nested in <" + parent + ">"}
	}
	e := &element{p: p, n: n, index: p.count, seen: map[string]bool{}}
	v := parse(e)
	if e.err == nil {
		e.checkAttrs()
	}
	if e.err != nil {
		return nil, e.err
	}
	return v, nil
}

// verbs maps element names to their parsers.
var verbs map[string]func(*element) Verb

func init() {
	verbs = map[string]func(*element) Verb{
		"PlayAudio":      parsePlayAudio,
		"SpeakSentence":  parseSpeakSentence,
		"Pause":          parsePause,
		"Gather":         parseGather,
		"Transfer":       parseTransfer,
		"Conference":     parseConference,
		"StartRecording": parseStartRecording,
		"StopRecording":  func(e *element) Verb { e.noText(); e.noChildren(); return &StopRecording{} },
		"Record":         parseRecord,
		"SendDtmf":       parseSendDtmf,
		"Ring":           parseRing,
		"Redirect":       parseRedirect,
		"Hangup":         func(e *element) Verb { e.noText(); e.noChildren(); return &Hangup{} },
	}
}

// element reads one verb's attributes, text and children; the first fault
// is kept in err and every later read returns a zero value.
type element struct {
	p     *parser
	n     node
	index int
	seen  map[string]bool // attributes read (known)
	err   error
}

func (e *element) fail(code, attr, format string, args ...any) {
	if e.err == nil {
		e.err = &Error{Code: code, Verb: e.n.XMLName.Local, Index: e.index, Attr: attr, Reason: fmt.Sprintf(format, args...)}
	}
}

// attr returns the value of the attribute name ("" when absent) and marks
// it known.
func (e *element) attr(name string) (string, bool) {
	e.seen[name] = true
	for _, a := range e.n.Attrs {
		if a.Name.Local == name && a.Name.Space == "" {
			if len(a.Value) > MaxTextBytes {
				e.fail(CodeTooLarge, name, "longer than %d bytes", MaxTextBytes)
				return "", false
			}
			return a.Value, true
		}
	}
	return "", false
}

func (e *element) str(name string) string {
	v, _ := e.attr(name)
	return v
}

// ignore marks attributes Bandwidth defines that mean nothing here
// (docs/bxml.md lists them); they are accepted and have no effect.
func (e *element) ignore(names ...string) {
	for _, n := range names {
		e.seen[n] = true
	}
}

// checkAttrs refuses attributes that were not read.
func (e *element) checkAttrs() {
	dup := map[string]bool{}
	for _, a := range e.n.Attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			e.fail(CodeInvalidAttr, qname(a.Name), "namespaces are not part of BXML")
			return
		}
		if a.Name.Space != "" || !e.seen[a.Name.Local] {
			e.fail(CodeInvalidAttr, clip(qname(a.Name)), "unknown attribute")
			return
		}
		if dup[a.Name.Local] {
			e.fail(CodeInvalidAttr, a.Name.Local, "given twice")
			return
		}
		dup[a.Name.Local] = true
	}
}

// url resolves the attribute against the document's URL; it must end up
// an absolute http or https URL.
func (e *element) url(name string) string {
	v, ok := e.attr(name)
	if !ok {
		return ""
	}
	return e.resolve(name, strings.TrimSpace(v))
}

func (e *element) resolve(attr, v string) string {
	what := "URL"
	if attr == "" {
		what = "text (a URL)"
	}
	if v == "" {
		e.fail(CodeInvalidAttr, attr, "empty %s", what)
		return ""
	}
	u, err := url.Parse(v)
	if err != nil {
		e.fail(CodeInvalidAttr, attr, "%s does not parse", what)
		return ""
	}
	if !u.IsAbs() {
		if e.p.base == nil {
			e.fail(CodeInvalidAttr, attr, "%s must be absolute", what)
			return ""
		}
		u = e.p.base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.fail(CodeInvalidAttr, attr, "%s must be http or https", what)
		return ""
	}
	return u.String()
}

// method reads an HTTP method attribute: POST (default) or GET.
func (e *element) method(name string) string {
	v, ok := e.attr(name)
	if !ok {
		return "POST"
	}
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "POST":
		return "POST"
	case "GET":
		return "GET"
	}
	e.fail(CodeInvalidAttr, name, "must be POST or GET")
	return ""
}

// seconds reads a number of seconds (decimals allowed) within [lo, hi].
func (e *element) seconds(name string, def, lo, hi float64) time.Duration {
	v, ok := e.attr(name)
	if !ok {
		return time.Duration(def * float64(time.Second))
	}
	v = strings.TrimSpace(v)
	f, err := strconv.ParseFloat(v, 64)
	if !decimal.MatchString(v) || err != nil || math.IsNaN(f) || f < lo || f > hi {
		e.fail(CodeInvalidAttr, name, "must be a number of seconds from %g to %g", lo, hi)
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// decimal is a plain decimal number: digits, at most one point.
var decimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// millis reads a whole number of milliseconds within [lo, hi].
func (e *element) millis(name string, def, lo, hi int) time.Duration {
	return time.Duration(e.integer(name, def, lo, hi)) * time.Millisecond
}

func (e *element) integer(name string, def, lo, hi int) int {
	v, ok := e.attr(name)
	if !ok {
		return def
	}
	v = strings.TrimSpace(v)
	i, err := strconv.Atoi(v)
	if !decimal.MatchString(v) || strings.Contains(v, ".") || err != nil || i < lo || i > hi {
		e.fail(CodeInvalidAttr, name, "must be a whole number from %d to %d", lo, hi)
		return 0
	}
	return i
}

func (e *element) boolean(name string, def bool) bool {
	v, ok := e.attr(name)
	if !ok {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true
	case "false":
		return false
	}
	e.fail(CodeInvalidAttr, name, "must be true or false")
	return false
}

// dtmfDigits are the digits a caller can press.
const dtmfDigits = "0123456789*#ABCD"

func (e *element) digits(name string) string {
	v, ok := e.attr(name)
	if !ok {
		return ""
	}
	for _, r := range v {
		if !strings.ContainsRune(dtmfDigits, r) {
			e.fail(CodeInvalidAttr, name, "must hold only 0-9, *, #, A-D")
			return ""
		}
	}
	return v
}

// text returns the element's text, trimmed; required refuses it empty.
func (e *element) text(required bool) string {
	t := strings.TrimSpace(e.n.Text)
	switch {
	case len(t) > MaxTextBytes:
		e.fail(CodeTooLarge, "", "text longer than %d bytes", MaxTextBytes)
		return ""
	case required && t == "":
		e.fail(CodeInvalidText, "", "text is required")
	case !utf8.ValidString(t):
		e.fail(CodeInvalidText, "", "text is not UTF-8")
	}
	return t
}

func (e *element) noText() {
	if strings.TrimSpace(e.n.Text) != "" {
		e.fail(CodeInvalidText, "", "takes no text")
	}
}

func (e *element) noChildren() {
	if len(e.n.Nodes) > 0 {
		e.fail(CodeInvalidNested, "", "takes no nested elements (found <%s>)", e.n.Nodes[0].XMLName.Local)
	}
}

// callback reads a verb's callback attributes: <prefix>Url,
// <prefix>Method, <prefix>FallbackUrl, <prefix>FallbackMethod, and the
// credentials username, password, fallbackUsername, fallbackPassword.
func (e *element) callback(prefix string, required bool) Callback {
	c := Callback{
		URL:              e.url(prefix + "Url"),
		Method:           e.method(prefix + "Method"),
		FallbackURL:      e.url(prefix + "FallbackUrl"),
		FallbackMethod:   e.method(prefix + "FallbackMethod"),
		Username:         e.str("username"),
		Password:         e.str("password"),
		FallbackUsername: e.str("fallbackUsername"),
		FallbackPassword: e.str("fallbackPassword"),
	}
	if required && c.URL == "" {
		e.fail(CodeInvalidAttr, prefix+"Url", "is required")
	}
	if c.URL == "" && c.FallbackURL != "" {
		e.fail(CodeInvalidAttr, prefix+"FallbackUrl", "needs %sUrl", prefix)
	}
	return c
}

// textURL reads the element's text as a URL.
func (e *element) textURL() string {
	t := e.text(true)
	if e.err != nil {
		return ""
	}
	u := e.resolve("", t)
	if err, ok := e.err.(*Error); ok && err.Attr == "" && err.Code == CodeInvalidAttr {
		err.Code = CodeInvalidText
	}
	return u
}
