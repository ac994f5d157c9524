package calling

import (
	"context"
	"errors"
)

// Requests between nodes for recordings on demand.
const (
	rpcStartRecording = "start-recording"
	rpcStopRecording  = "stop-recording"
)

// recordingErrors are the errors of StartRecording and StopRecording that
// travel between nodes by name, so the calls on another node return the
// same sentinels as here.
var recordingErrors = map[string]error{
	"no_recorder": ErrNoRecorder, "target_not_found": ErrRecordingTargetNotFound, "type": ErrRecordingType,
	"already_recording": ErrAlreadyRecording, "not_recording": ErrNotRecording,
	"automatic": ErrRecordingAutomatic, "refused": ErrRecordingRefused,
}

// recordingAnswer is the answer of another node to a recording request.
type recordingAnswer struct {
	ID    string `json:"id,omitempty"`
	Error string `json:"error,omitempty"`
}

func recordingAnswerOf(id string, err error) recordingAnswer {
	for name, e := range recordingErrors {
		if errors.Is(err, e) {
			return recordingAnswer{Error: name}
		}
	}
	if err != nil {
		return recordingAnswer{Error: "internal"}
	}
	return recordingAnswer{ID: id}
}

func (a recordingAnswer) result() (string, error) {
	if a.Error == "" {
		return a.ID, nil
	}
	if e, ok := recordingErrors[a.Error]; ok {
		return "", e
	}
	return "", errors.New("calling: another node failed to change a recording")
}

// remoteRecording sends a recording request for t to the node serving its
// room or call, if that is another node; ok is false when it is this one
// (or none, or there is no cluster).
func (s *Server) remoteRecording(ctx context.Context, kind string, t RecordingTarget, typ string) (id string, ok bool, err error) {
	cl := s.cfg.Cluster
	if cl == nil || (t.CallID == "") == (t.SessionID == "") {
		return "", false, nil
	}
	key := roomLease + t.SessionID
	if t.CallID != "" {
		key = callLease + t.CallID
	}
	node, addr, err := cl.Holder(ctx, t.Account, key)
	if err != nil {
		return "", true, clusterErr("finding a call or room", err)
	}
	if node == "" || node == cl.NodeID() {
		return "", false, nil
	}
	var ans recordingAnswer
	req := rpcRequest{Account: t.Account, SessionID: t.SessionID, CallID: t.CallID, Text: typ}
	if err := s.callRPC(ctx, addr, kind, req, &ans); err != nil {
		return "", true, err
	}
	id, err = ans.result()
	return id, true, err
}
