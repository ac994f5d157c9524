package httpx

import "unicode/utf8"

// SafeText reports whether s is valid UTF-8 free of characters that make
// text display differently from what it is: C0 and C1 control characters
// (U+0000–U+001F, U+007F–U+009F, which includes tab and newline), the
// bidirectional embeddings and overrides U+202A–U+202E, the isolates
// U+2066–U+2069, and the marks U+200E and U+200F. Names and tags that
// people read (room names, tags) must be SafeText.
func SafeText(s string) bool {
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			// Invalid UTF-8 (a literal U+FFFD is refused too: it is never
			// meaningful in a name).
			return false
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			return false
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f:
			return false
		}
	}
	return true
}
