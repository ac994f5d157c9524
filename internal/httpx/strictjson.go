package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// checkKeys walks the first JSON value of body token by token against the
// Go type t it will be decoded into, and refuses what encoding/json would
// silently accept but another JSON reader (a validating proxy, a gateway)
// could read differently:
//
//   - a key repeated in one object, at any depth (encoding/json keeps the
//     last value; other readers keep the first): 400 duplicate_key;
//   - a key that names a struct field only case-insensitively (encoding/json
//     matches "NAME" or "ſcope" to the field "name" or "scope"; a reader
//     that matches exactly sees an unknown key): 400 key_case_mismatch;
//   - any other key that is not a field's exact name: 400 invalid_json, as
//     for unknown fields.
//
// Keys of maps and of types with their own UnmarshalJSON are only checked
// for duplicates. A syntax error ends the walk without an error: the
// decoder that runs next reports it.
func checkKeys(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := walkValue(dec, t)
	if errors.Is(err, errSyntax) {
		return nil
	}
	return err
}

var errSyntax = errors.New("httpx: syntax error")

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// target normalises t to the type whose shape the JSON must follow, or nil
// when nothing is known (interfaces, custom unmarshalers).
func target(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return nil
		}
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	return t
}

func walkValue(dec *json.Decoder, t reflect.Type) error {
	tok, err := dec.Token()
	if err != nil {
		return errSyntax
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	t = target(t)
	switch d {
	case '{':
		return walkObject(dec, t)
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkValue(dec, elem); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errSyntax
		}
	}
	return nil
}

func walkObject(dec *json.Decoder, t reflect.Type) error {
	var fields *structFields
	if t != nil && t.Kind() == reflect.Struct {
		fields = fieldsOf(t)
	}
	seen := make(map[string]struct{})
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errSyntax
		}
		key, _ := tok.(string)
		if _, dup := seen[key]; dup {
			return Errorf(http.StatusBadRequest, "duplicate_key", "key %s appears more than once in an object", quoteKey(key))
		}
		seen[key] = struct{}{}
		var next reflect.Type
		switch {
		case fields != nil:
			ft, ok := fields.byName[key]
			if !ok {
				for name := range fields.byName {
					if strings.EqualFold(name, key) {
						return Errorf(http.StatusBadRequest, "key_case_mismatch", "key %s must be spelled %q", quoteKey(key), name)
					}
				}
				return Errorf(http.StatusBadRequest, "invalid_json", "request body is not valid JSON: unknown field %s", quoteKey(key))
			}
			next = ft
		case t != nil && t.Kind() == reflect.Map:
			next = t.Elem()
		}
		if err := walkValue(dec, next); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return errSyntax
	}
	return nil
}

func quoteKey(k string) string {
	if len(k) > 64 {
		k = k[:64] + "…"
	}
	b, _ := json.Marshal(k)
	return string(b)
}

// structFields are the JSON names of a struct's fields (embedded structs
// promoted, as encoding/json does) and their types.
type structFields struct {
	byName map[string]reflect.Type
}

var fieldCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{byName: make(map[string]reflect.Type)}
	collectFields(t, f.byName, 0)
	actual, _ := fieldCache.LoadOrStore(t, f)
	return actual.(*structFields)
}

// collectFields adds t's fields to names; a shallower field wins over a
// promoted one of the same name.
func collectFields(t reflect.Type, names map[string]reflect.Type, depth int) {
	if depth > 8 {
		return
	}
	var embedded []reflect.Type
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if sf.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				embedded = append(embedded, et)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, ok := names[name]; !ok {
			names[name] = ft
		}
	}
	for _, et := range embedded {
		sub := make(map[string]reflect.Type)
		collectFields(et, sub, depth+1)
		for k, v := range sub {
			if _, ok := names[k]; !ok {
				names[k] = v
			}
		}
	}
}
