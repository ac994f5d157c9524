// Package recording records calls and rooms: the recording policy, the
// recorders that write each participant's media to files that play
// anywhere, the mixed audio of a call or room, storage with crash
// recovery and retention, and the recordings REST API. It does not import
// calling: the host attaches a recorder to each published track, and
// implements Controller for on-demand requests.
//
// The pieces:
//   - Resolve is the policy, a pure function of the account setting
//     (NONE, AUDIO, AUDIO_AND_VIDEO, composition on or off), each
//     participant's token option (DISABLED, ALWAYS, ON_DEMAND, unset) and
//     the call option (UNDEFINED, AUDIO, AUDIO_AND_VIDEO). PolicyTable
//     prints it. A host replaces it through Resolver.
//   - Recorder.Start begins the recording of a call or room (an Active);
//     Active.StartTrack returns a TrackRecorder for one published track,
//     whose WriteRTP method is the SFU's sink: it copies the packet into a
//     pooled buffer and queues it, never blocking; a writer goroutine per
//     track puts packets back in order and writes them. Active.Stop
//     finishes every file and, with composition on, mixes the audio.
//   - Files: a participant recorded AUDIO gets Ogg Opus (our own writer:
//     pre-skip 312, pages of many packets, granule positions from RTP time
//     so lost packets keep their time as concealment); AUDIO_AND_VIDEO
//     gets WebM with Opus and VP8 (ebml-go). H.264 video is not recorded
//     (the recording's Unsupported field says so). Data reaches the disk
//     every FlushInterval (1 s): a whole page or block, then fsync.
//   - Recorder.Open, at start, marks recordings a killed process left as
//     interrupted, with the duration their file really holds, after
//     cutting the file after its last whole page or block.
//   - Storage keeps files and metadata (FileStorage: one folder, metadata
//     written atomically); Handler is the REST API; Sweeper deletes
//     recordings past retention (30 days).
//
// Compose it (the host, which owns calling, implements calling.Recorder
// with this; docs/recording.md has the whole adapter):
//
//	rec, _ := recording.New(recording.Config{Storage: store})
//	_, _ = rec.Open(ctx)                                  // repair what a crash left
//	d := recording.Resolve(recording.PolicyInput{...})    // calling.Recorder.StartRecording
//	active, _ := rec.Start(ctx, recording.Target{Account: acct, CallID: id}, d)
//	// for each published track (calling.Recording.RecordTrack):
//	tr, err := active.StartTrack(trackCtx, recording.TrackInfo{ParticipantID: pid, Kind: "audio", Codec: codec})
//	if err == nil { detach, _ := track.Attach(tr); context.AfterFunc(trackCtx, func() { detach(); tr.Close() }) }
//	// when the call ends (calling.Recording.Stop):
//	recs, _ := active.Stop(ctx)
//	api, _ := recording.NewHandler(recording.HandlerConfig{Storage: rec.Storage(), Controller: hostController})
//	mux.Handle("/v1/recordings", http.StripPrefix("/v1", admin(api)))
//	mux.Handle("/v1/recordings/", http.StripPrefix("/v1", admin(api)))
//	sweeper, _ := recording.NewSweeper(recording.SweeperConfig{Storage: rec.Storage()})
//	go sweeper.Run(ctx)
//
// Recorder, Active, TrackRecorder (see its doc), FileStorage, Handler and
// Sweeper are safe for concurrent use; OggWriter is not.
package recording
