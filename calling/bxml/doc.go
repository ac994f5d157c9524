// Package bxml reads BXML, the XML an application answers a programmable
// call with (Bandwidth's Voice API markup): a <Response> holding verbs that
// the server executes in order — PlayAudio, SpeakSentence, Pause, Gather,
// Transfer, Conference, StartRecording, StopRecording, Record, SendDtmf,
// Ring, Redirect, Hangup.
//
// Parse turns a document into typed verbs (PlayAudio, Gather, …), with
// every attribute it uses checked against the range Bandwidth documents
// (attributes that mean nothing here are accepted unchecked and ignored)
// and every default filled in, and URLs resolved against the document's
// own URL. A
// document that is not well formed, holds a verb or attribute this package
// does not know, or a value out of range, is refused as a whole with an
// *Error naming the verb and attribute: nothing of it runs. The supported
// subset beside Bandwidth's, attribute by attribute, is in docs/bxml.md.
//
// The package is pure: it fetches nothing and executes nothing. It imports
// nothing of calling, so an application's own tests can check their BXML
// with it. All functions are safe for concurrent use; a parsed Response is
// immutable by convention (nothing in this package changes it).
package bxml
