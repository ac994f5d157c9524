package calling_test

import (
	"testing"

	gojwt "github.com/golang-jwt/jwt/v5"
)

func signHS256(t *testing.T, kid string, secret []byte, claims map[string]any) string {
	t.Helper()
	tk := gojwt.NewWithClaims(gojwt.SigningMethodHS256, gojwt.MapClaims(claims))
	tk.Header["kid"] = kid
	s, err := tk.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
