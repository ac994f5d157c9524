package apns_test

import (
	"fmt"
	"log"

	"github.com/switchboard-rtc/switchboard/adapters/apns"
	"github.com/switchboard-rtc/switchboard/push"
)

// A host reads the APNs configuration from the environment (the .p8 key
// from the file SWITCHBOARD_APNS_KEY_FILE names) and gives the notifier to
// a push.Waker.
func ExampleNew() {
	cfg, ok, err := apns.ConfigFromEnv(nil)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		return // APNs not configured
	}
	n, err := apns.New(cfg) // a bad key fails here, not at the first push
	if err != nil {
		log.Fatal(err)
	}
	waker, err := push.New(push.Config{Notifiers: map[push.Platform]push.Notifier{push.APNs: n}})
	if err != nil {
		log.Fatal(err)
	}
	defer waker.Close()
}

// Printing or logging a Config never shows its secrets.
func ExampleConfig_String() {
	cfg := apns.Config{TeamID: "TEAM123456", KeyID: "KEY7654321", BundleID: "com.example.phone",
		AuthKey: []byte("-----BEGIN PRIVATE KEY-----\n...")}
	fmt.Println(cfg)
	// Output:
	// apns.Config{BundleID:"com.example.phone" TeamID:"TEAM123456" KeyID:"KEY7654321" Sandbox:false Host:"" Auth:token Secrets:[REDACTED]}
}
