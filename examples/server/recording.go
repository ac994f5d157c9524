package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/recording"
)

// recordingConfig is the recording's setting (-recording*, -demo-recording).
type recordingConfig struct {
	// account is the API client's account's setting (-recording).
	account recording.Type
	// demo is the demo account's setting (-demo-recording).
	demo recording.Type
	// composition: also mix each call's or room's audio into one file.
	composition bool
	// retention: recordings are deleted this long after they ended.
	retention time.Duration
}

// recordingFlags registers the recording's flags on fs.
func recordingFlags(fs *flag.FlagSet, c *recordingConfig) {
	c.account, c.demo = recording.TypeNone, recording.TypeAudio
	typeFlag := func(dst *recording.Type) func(string) error {
		return func(s string) error {
			t := recording.Type(strings.ToUpper(s))
			if !t.Valid() {
				return fmt.Errorf("not NONE, AUDIO or AUDIO_AND_VIDEO: %q", s)
			}
			*dst = t
			return nil
		}
	}
	fs.Func("recording", "the recording setting of the API account: NONE, AUDIO or AUDIO_AND_VIDEO (the ceiling of the recording policy; default NONE)", typeFlag(&c.account))
	fs.Func("demo-recording", "the recording setting of the demo account: NONE, AUDIO or AUDIO_AND_VIDEO (default AUDIO; the demo page records on demand)", typeFlag(&c.demo))
	fs.BoolVar(&c.composition, "recording-composition", true, "also mix each recorded call's or room's audio into one file")
	fs.DurationVar(&c.retention, "recording-retention", 30*24*time.Hour, "delete recordings this long after they ended")
}

// recordings composes package recording with calling: the recorder behind
// calling.Config.Recorder, the REST API, the retention sweeper. Safe for
// concurrent use.
type recordings struct {
	cfg      recordingConfig
	rec      *recording.Recorder
	api      *recording.Handler
	ctrl     *recordingController
	logger   *slog.Logger
	dir      string // removed at close when temporary
	temp     bool
	cancel   context.CancelFunc
	sweeping chan struct{}
}

var _ calling.Recorder = (*recordings)(nil)

// newRecordings opens the recordings folder (<data>/recordings, or a
// temporary one without -data), marks the recordings a killed process
// left as interrupted, and starts the sweeper.
func newRecordings(cfg config, logger *slog.Logger) (*recordings, error) {
	r := &recordings{cfg: cfg.recording, logger: logger, ctrl: &recordingController{}, sweeping: make(chan struct{})}
	if cfg.data != "" {
		r.dir = filepath.Join(cfg.data, "recordings")
	} else {
		dir, err := os.MkdirTemp("", "switchboard-recordings-")
		if err != nil {
			return nil, err
		}
		r.dir, r.temp = dir, true
	}
	store, err := recording.NewFileStorage(r.dir)
	if err != nil {
		r.removeTemp()
		return nil, err
	}
	r.rec, err = recording.New(recording.Config{Storage: store, Logger: logger})
	if err == nil {
		var fixed []*recording.Recording
		if fixed, err = r.rec.Open(context.Background()); len(fixed) > 0 {
			logger.Warn("recordings interrupted by the last stop marked", "count", len(fixed))
		}
	}
	if err == nil {
		r.api, err = recording.NewHandler(recording.HandlerConfig{Storage: store, Controller: r.ctrl})
	}
	var sweeper *recording.Sweeper
	if err == nil {
		sweeper, err = recording.NewSweeper(recording.SweeperConfig{Storage: store, Retention: r.cfg.retention, Logger: logger})
	}
	if err != nil {
		r.removeTemp()
		return nil, err
	}
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	go func() { defer close(r.sweeping); _ = sweeper.Run(ctx) }()
	return r, nil
}

// attach gives the REST API's on-demand requests to srv.
func (r *recordings) attach(srv *calling.Server) { r.ctrl.srv = srv }

// close stops the sweeper and what still records (after the calling
// server has closed, nothing does), and removes a temporary folder.
func (r *recordings) close() {
	r.cancel()
	<-r.sweeping
	if err := r.rec.Close(context.Background()); err != nil {
		r.logger.Error("closing the recorder", "err", err)
	}
	r.removeTemp()
}

func (r *recordings) removeTemp() {
	if r.temp {
		_ = os.RemoveAll(r.dir)
	}
}

// setting is an account's recording setting.
func (r *recordings) setting(account string) recording.AccountSetting {
	t := r.cfg.account
	if account == demoAccount {
		t = r.cfg.demo
	}
	return recording.AccountSetting{Type: t, Composition: r.cfg.composition}
}

// StartRecording implements calling.Recorder with the recording policy
// (recording.Resolve) and the recorder.
func (r *recordings) StartRecording(ctx context.Context, req calling.RecordingRequest) (calling.Recording, error) {
	in := recording.PolicyInput{Account: r.setting(req.Account)}
	for _, p := range req.Parties {
		party := recording.Party{ID: cmp.Or(p.ParticipantID, p.Identity), Option: p.Option, Call: recording.CallOption(p.CallOption)}
		if req.OnDemand {
			party.Call = recording.CallOption(req.Type)
		}
		in.Parties = append(in.Parties, party)
	}
	t := recording.Target{Account: req.Account, CallID: req.CallID}
	if req.CallID == "" {
		t.SessionID = req.SessionID
	}
	a, err := r.rec.Start(ctx, t, recording.Resolve(in))
	if err != nil {
		if !req.OnDemand && errors.Is(err, recording.ErrNotPermitted) {
			return nil, nil // the policy records nothing
		}
		return nil, err
	}
	return activeRecording{a: a, logger: r.logger}, nil
}

// activeRecording is a recording.Active as calling drives it.
type activeRecording struct {
	a      *recording.Active
	logger *slog.Logger
}

func (a activeRecording) Type() string { return string(a.a.Type()) }

// RecordTrack attaches a track recorder to the track until it ends.
func (a activeRecording) RecordTrack(ctx context.Context, t calling.PublishedTrack) {
	tr, err := a.a.StartTrack(ctx, recording.TrackInfo{ParticipantID: t.ParticipantID, Identity: t.Identity, StreamAlias: t.StreamAlias,
		Kind: t.Kind.String(), Codec: t.Codec, RequestKeyframe: t.Track.RequestKeyframe}) // "audio" or "video"
	if err != nil {
		return // video of an AUDIO recording, a codec not recorded (the recording lists it), or stopped
	}
	detach, err := t.Track.Attach(tr)
	if err != nil {
		_ = tr.Close()
		return
	}
	context.AfterFunc(ctx, func() { detach(); _ = tr.Close() })
}

// Stop finishes the files and makes the mix.
func (a activeRecording) Stop(ctx context.Context) {
	recs, err := a.a.Stop(ctx)
	if err != nil {
		a.logger.Error("finishing a recording", "err", err)
	}
	a.logger.Info("recording finished", "call", a.a.Target().CallID, "session", a.a.Target().SessionID, "files", len(recs))
}

// recordingController implements recording.Controller (POST and DELETE of
// the REST API) with the calling server.
type recordingController struct{ srv *calling.Server }

var _ recording.Controller = (*recordingController)(nil)

func (c *recordingController) Start(ctx context.Context, t recording.Target, typ recording.Type) (recording.Type, error) {
	recorded, err := c.srv.StartRecording(ctx, calling.RecordingTarget{Account: t.Account, CallID: t.CallID, SessionID: t.SessionID}, string(typ))
	return recording.Type(recorded), recordingError(err)
}

func (c *recordingController) Stop(ctx context.Context, t recording.Target) error {
	return recordingError(c.srv.StopRecording(ctx, calling.RecordingTarget{Account: t.Account, CallID: t.CallID, SessionID: t.SessionID}))
}

// recordingError turns calling's answers into recording's, which the REST
// API maps; the policy's own errors pass as they are.
func recordingError(err error) error {
	switch {
	case errors.Is(err, calling.ErrRecordingTargetNotFound):
		return recording.ErrTargetNotFound
	case errors.Is(err, calling.ErrAlreadyRecording):
		return recording.ErrAlreadyRecording
	case errors.Is(err, calling.ErrNotRecording):
		return recording.ErrNotRecording
	case errors.Is(err, calling.ErrRecordingAutomatic):
		return &recording.PolicyError{Reason: recording.ReasonAutomatic}
	case errors.Is(err, calling.ErrRecordingRefused):
		return recording.ErrNotPermitted
	}
	return err
}

// demoHandler serves the demo page the demo account's recordings at
// /demo/recordings...: listing, one recording, its media, and starting and
// stopping on demand (never deleting), as the demo account's admin. Behind
// the demo's guard (loopback clients only); refused outright when the demo
// is public, where any visitor could otherwise fetch what others said.
func (r *recordings) demoHandler(public bool) http.Handler {
	api := http.StripPrefix("/demo", r.api)
	admin := &auth.Claims{Account: demoAccount, Grants: auth.Grants{Admin: true}}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if public {
			writeJSONError(w, http.StatusForbidden, "demo_recordings_loopback_only",
				"the demo's recordings are served only when the demo is not public (-demo-insecure-public)")
			return
		}
		if req.Method == http.MethodDelete && !strings.HasPrefix(req.URL.Path, "/demo/recordings/active/") {
			writeJSONError(w, http.StatusForbidden, "forbidden", "the demo does not delete recordings; use the API")
			return
		}
		api.ServeHTTP(w, req.WithContext(auth.NewContext(req.Context(), admin)))
	})
}
