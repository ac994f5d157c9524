package protocol

// Recording: the server tells every participant of a call or room when its
// recording starts and stops (as Infobip's SDK reports recording events).
// Server to client: recordingStarted (CallID or SessionID, RecordingType),
// recordingStopped (CallID or SessionID).
const (
	TypeRecordingStarted = "recordingStarted"
	TypeRecordingStopped = "recordingStopped"
)

// Recording types, as Message.RecordingType carries them.
const (
	RecordingAudio         = "AUDIO"
	RecordingAudioAndVideo = "AUDIO_AND_VIDEO"
)
