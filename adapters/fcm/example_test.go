package fcm_test

import (
	"fmt"
	"log"

	"github.com/switchboard-rtc/switchboard/adapters/fcm"
	"github.com/switchboard-rtc/switchboard/push"
)

// A host reads the service account from the file
// SWITCHBOARD_FCM_CREDENTIALS_FILE names and gives the notifier to a
// push.Waker.
func ExampleNew() {
	cfg, ok, err := fcm.ConfigFromEnv(nil)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		return // FCM not configured
	}
	n, err := fcm.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	waker, err := push.New(push.Config{Notifiers: map[push.Platform]push.Notifier{push.FCM: n}})
	if err != nil {
		log.Fatal(err)
	}
	defer waker.Close()
}

// Printing or logging a Config never shows the service account's key.
func ExampleConfig_String() {
	cfg := fcm.Config{
		ServiceAccountJSON: []byte(`{"type":"service_account","project_id":"my-project","client_email":"push@my-project.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\n..."}`),
		PackageName:        "com.example.phone",
	}
	fmt.Println(cfg)
	// Output:
	// fcm.Config{ProjectID:"my-project" ClientEmail:"push@my-project.iam.gserviceaccount.com" PackageName:"com.example.phone" Endpoint:"" Credentials:[REDACTED]}
}
