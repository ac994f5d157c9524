// Package push wakes a callee who has no live signaling connection: an
// APNs VoIP push to an iPhone, an FCM high-priority data message to an
// Android phone, so that the app can show the incoming call and connect.
// It imports no vendor SDK; adapters/apns and adapters/fcm implement its
// Notifier with the providers' client libraries.
//
// The pieces:
//   - Device and Registry: an app installation's push token, registered by
//     the identity signed in on it. MemoryRegistry is the bounded in-memory
//     Registry; a push token registered again moves to the new identity.
//   - Handler: the REST API a user manages its own devices with
//     (POST /devices, GET /devices, DELETE /devices/{id}), behind
//     auth middleware with the user's token.
//   - Notifier: one send of one Wakeup to one Device, answering nil or a
//     *SendError that says dead token, transient (with an optional
//     retry-after) or permanent.
//   - Waker: sends a Wakeup to all of the callee's devices at once and
//     succeeds when any provider accepted; removes devices whose token is
//     dead; retries transient failures with exponential backoff and jitter
//     until the wake-up expires (the ring timeout); cuts a send that hangs
//     after AttemptTimeout; reports every Outcome to Config.OnOutcome.
//
// A host wires it to calling with a few lines, since package calling defines
// its own Waker interface and push does not import calling:
//
//	waker, _ := push.New(push.Config{
//		Notifiers: map[push.Platform]push.Notifier{push.APNs: apnsNotifier, push.FCM: fcmNotifier},
//		OnOutcome: func(o push.Outcome) { /* a hook or a webhook */ },
//	})
//	defer waker.Close()
//	devices, _ := push.NewHandler(push.HandlerConfig{Registry: waker.Registry()})
//	mux.Handle("/v1/devices", http.StripPrefix("/v1", userAuth(devices)))
//	mux.Handle("/v1/devices/", http.StripPrefix("/v1", userAuth(devices)))
//	server, _ := calling.New(calling.Config{
//		Waker: calling.WakerFunc(func(ctx context.Context, w calling.Wakeup) error {
//			return waker.Wake(ctx, push.Wakeup{Account: w.Account, Identity: w.Identity,
//				CallID: w.CallID, From: w.From, DisplayName: w.DisplayName, HasVideo: w.HasVideo,
//				ExpiresAt: w.ExpiresAt})
//		}),
//		// ...
//	})
//
// docs/push.md tells app developers what arrives on iOS and Android.
package push
