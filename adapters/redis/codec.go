package redis

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// encodeRecord writes the struct v points to as one JSON object keyed by
// its Go field names, every exported field included: the records' own JSON
// tags are for the REST API and leave fields out ("-") that a store must
// keep (a session's members, its account). Nested values use their own
// JSON encoding. A field added to a record is stored without a change here.
func encodeRecord(v any) ([]byte, error) {
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	m := make(map[string]json.RawMessage, rt.NumField())
	for i := range rt.NumField() {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		b, err := json.Marshal(rv.Field(i).Interface())
		if err != nil {
			return nil, fmt.Errorf("redis: encoding %s.%s: %w", rt.Name(), f.Name, err)
		}
		m[f.Name] = b
	}
	return json.Marshal(m)
}

// decodeRecord reads what encodeRecord wrote into the struct v points to.
// Fields the JSON lacks (stored before the field existed) keep their zero
// value; names the struct lacks are ignored.
func decodeRecord(b []byte, v any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("redis: decoding a record: %w", err)
	}
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	for i := range rt.NumField() {
		f := rt.Field(i)
		raw, ok := m[f.Name]
		if !ok || !f.IsExported() {
			continue
		}
		if err := json.Unmarshal(raw, rv.Field(i).Addr().Interface()); err != nil {
			return fmt.Errorf("redis: decoding %s.%s: %w", rt.Name(), f.Name, err)
		}
	}
	return nil
}
